"""Regression floors on every evaluation set (measured numbers are in the README).

The floors sit a little below what the matcher measured when they were set,
so that a change that costs answers, or gives one wrong answer more, fails
here; speed is measured in benchmarks/faq_eval.py, not asserted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.faq_eval import (
    Outcome,
    Report,
    evaluate,
    has_language,
    load_questions,
    matcher_system,
    shared_dir,
)

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Floors:
    """Minimum top-1 per language, maximum wrong answers, minimum abstention and language."""

    top1: dict[str, float]
    max_wrong: int
    abstention: float
    language: float


SETS: dict[str, tuple[Path, Floors]] = {
    "dev": (
        shared_dir() / "faq" / "dev_questions.jsonl",
        Floors({"pl": 0.95, "uk": 0.95}, max_wrong=0, abstention=1.0, language=1.0),
    ),
    "heldout": (
        DATA / "faq_heldout.jsonl",
        Floors({"pl": 0.93, "uk": 0.97}, max_wrong=0, abstention=0.98, language=0.99),
    ),
    "blind": (
        DATA / "faq_blind.jsonl",
        Floors({"pl": 0.95, "uk": 0.95}, max_wrong=0, abstention=0.95, language=0.98),
    ),
    "offtopic": (
        DATA / "faq_offtopic.jsonl",
        Floors({}, max_wrong=0, abstention=1.0, language=1.0),
    ),
    "dev_hard": (
        DATA / "faq_dev_hard.jsonl",
        Floors({"pl": 0.87, "uk": 0.93}, max_wrong=1, abstention=0.97, language=1.0),
    ),
    # Indirect and long questions (the need, not the mechanism's name), written
    # apart from the variants; measured pl 0.789, uk 0.944, 1 wrong of 37.
    "dev_indirect": (
        DATA / "faq_dev_indirect.jsonl",
        Floors({"pl": 0.75, "uk": 0.9}, max_wrong=1, abstention=0.66, language=1.0),
    ),
    # Written blind (235 questions by two helpers who saw neither the content nor
    # our sets, labels agreed 100 % by a third); measured untouched: pl 0.893,
    # uk 0.892, 3 wrong, abstention 0.955; a development set since (now pl 0.933,
    # uk 0.957, 0 wrong, abstention 1.0).
    "dev_blind2": (
        DATA / "faq_dev_blind2.jsonl",
        Floors({"pl": 0.9, "uk": 0.93}, max_wrong=1, abstention=0.97, language=0.98),
    ),
    # Written blind (near-misses, chit-chat, romanised Ukrainian); measured untouched:
    # uk 0.900, abstention 0.867, language 0.956; a development set since (uk 0.925,
    # abstention 0.992, language 0.988).
    "dev_nearmiss": (
        DATA / "faq_dev_nearmiss.jsonl",
        Floors({"uk": 0.9}, max_wrong=0, abstention=0.97, language=0.98),
    ),
    # Written blind (100 near-misses and chit-chat, deliberately close to the FAQ);
    # measured untouched: abstention 0.870; 0.940 after the fifth decoy round.
    "dev_nearmiss2": (
        DATA / "faq_dev_nearmiss2.jsonl",
        Floors({}, max_wrong=0, abstention=0.9, language=0.98),
    ),
    # Written blind (90 near-misses deliberately close to the FAQ, 40 indirect and 40
    # long questions); measured untouched: pl 0.875, uk 0.900, 1 wrong, abstention
    # 0.744; after the fifth decoy round (written blind too) pl 0.875, uk 0.925,
    # 0 wrong, abstention 0.789; its misses read for the scope rule (elsewhere.toml):
    # abstention 0.978.
    "dev_nearmiss3": (
        DATA / "faq_dev_nearmiss3.jsonl",
        Floors({"pl": 0.85, "uk": 0.87}, max_wrong=1, abstention=0.95, language=0.98),
    ),
    # Written blind (100 indirect and long questions, 45 near-misses, chit-chat and junk);
    # measured untouched: pl 0.880, uk 0.960, 2 wrong of 100, abstention 0.867; it judged a
    # round of everyday-need variants (dropped: abstention -1); its misses read for the scope
    # rule: abstention 0.967.
    "dev_blind7": (
        DATA / "faq_dev_blind7.jsonl",
        Floors({"pl": 0.84, "uk": 0.92}, max_wrong=2, abstention=0.93, language=0.98),
    ),
    # Written blind to judge the scope rule (40 questions about the same mechanisms
    # elsewhere, 30 in-scope ones that mention another place in passing, 30 near-misses,
    # 20 indirect, 10 romanised; labels agreed 130/130 by a second reader); measured
    # untouched: pl 0.741, uk 0.967, 2 wrong, abstention 0.849; read for the [abroad] and
    # [anywhere] tables since: pl 0.852, uk 1.0, 2 wrong, abstention 0.945.
    "dev_blind8": (
        DATA / "faq_dev_blind8.jsonl",
        Floors({"pl": 0.74, "uk": 0.93}, max_wrong=2, abstention=0.91, language=0.98),
    ),
    # The blind hard set (never used for tuning): floors below its measured numbers
    # (top-1 pl 0.903, uk 0.937; 3 wrong of 157; abstention 0.947; language 1.0).
    "hard": (
        DATA / "faq_hard.jsonl",
        Floors({"pl": 0.87, "uk": 0.87}, max_wrong=3, abstention=0.92, language=0.98),
    ),
    # The second blind hard set (186 questions, sealed until measured; labels agreed
    # 100 % by a second reader): pl 0.966, uk 0.959, 1 wrong of 133, abstention
    # 0.981, language 0.984.
    "hard2": (
        DATA / "faq_hard2.jsonl",
        Floors({"pl": 0.91, "uk": 0.9}, max_wrong=3, abstention=0.9, language=0.96),
    ),
}


@pytest.fixture(scope="module")
def ask() -> Callable[[str], Outcome]:
    return matcher_system(None, "pl")


@pytest.mark.parametrize("name", sorted(SETS))
def test_set_keeps_its_floors(name: str, ask: Callable[[str], Outcome]) -> None:
    path, floors = SETS[name]
    if not path.is_file():
        pytest.skip(f"{path} is not beside this checkout")
    report: Report = evaluate("matcher", load_questions(path), ask)
    for lang, floor in floors.top1.items():
        hits = report.top1[lang]
        assert sum(hits) / len(hits) >= floor, (lang, report.failures)
    assert sum(report.wrong.values()) <= floors.max_wrong, report.failures
    if report.out_of_scope:
        share = sum(report.out_of_scope) / len(report.out_of_scope)
        assert share >= floors.abstention, report.failures
    assert sum(report.lang_match) / len(report.lang_match) >= floors.language, report.failures


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("🤔🤔🤔", False),
        ("12345", False),
        ("https://www.youtube.com/watch?v=abc", False),
        ("?!", False),
        ("ok", True),
        ("jak zapisać się do bota", True),
        ("що це https://example.org", True),
    ],
)
def test_only_texts_with_words_count_for_the_answer_language(text: str, expected: bool) -> None:
    assert has_language(text) is expected
