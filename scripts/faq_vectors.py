"""Precompute the FAQ phrase vectors shipped in bot/faq/data/e5_vectors.npz.

    python scripts/faq_vectors.py            # embed new phrases, drop unused ones, write the file
    python scripts/faq_vectors.py --check    # exit 1 when a phrase of the content has no vector

Run it after changing titles, variants or out-of-scope examples in
bot/content/faq/*.toml. Only phrases whose vector is missing are embedded
(~10-40 per second on two cores), so a small edit takes seconds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.faq.content import load_faq  # noqa: E402
from bot.faq.semantic import (  # noqa: E402
    VECTORS_FILE,
    Embedder,
    load_shipped_vectors,
    phrase_key,
    save_vectors,
    semantic_phrases,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report missing vectors")
    parser.add_argument("--content-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    texts = sorted({text for _, text in semantic_phrases(load_faq(args.content_dir))})
    shipped = load_shipped_vectors()
    missing = [text for text in texts if phrase_key(text) not in shipped]
    if args.check:
        for text in missing:
            print(f"no vector: {text}")
        print(f"{len(texts) - len(missing)}/{len(texts)} phrases have a shipped vector")
        return 1 if missing else 0
    if missing:
        for text, vector in zip(missing, Embedder().embed(missing), strict=True):
            shipped[phrase_key(text)] = vector
    used = {phrase_key(text) for text in texts}
    save_vectors(VECTORS_FILE, {key: shipped[key] for key in used})
    print(f"{len(missing)} embedded, {len(used)} written to {VECTORS_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
