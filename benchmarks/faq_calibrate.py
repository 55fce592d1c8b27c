"""Calibrate the FAQ matcher's decision constants per language on the development sets.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/faq_calibrate.py [SETS.jsonl ...] [--top N]

SETS default to the development questions only (``../shared/faq/dev_questions.jsonl``,
``tests/data/faq_heldout.jsonl``, ``tests/data/faq_offtopic.jsonl``,
``tests/data/faq_dev_hard.jsonl``); the blind sets (``faq_blind.jsonl``,
``faq_hard.jsonl``, ``faq_hard2.jsonl``) are never used here, so that their numbers stay honest.

For every question the lexical ranking and the n-gram similarities are
computed once; then a grid over (n-gram weight, n-gram floor, threshold,
choice margin, choice threshold) is scored per question language by

    right answers - 4 x wrong answers - 4 x answered out-of-scope questions
    + 0.5 x choices that contain the right id - 0.5 x choices offered out of scope

(a wrong answer is worse than "I don't know"). Among settings with the best
value the most cautious one (highest threshold, then widest margin) is printed,
ready to paste into ``bot.faq.matcher._default_calibrations``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The steering repository's shared/ folder beside the checkout (or a worktree's)."""
    for candidate in (REPO_ROOT.parent / "shared", REPO_ROOT.parent.parent / "shared"):
        if candidate.is_dir():
            return candidate
    return REPO_ROOT.parent / "shared"


DEV_SETS = (
    shared_dir() / "faq" / "dev_questions.jsonl",
    REPO_ROOT / "tests" / "data" / "faq_heldout.jsonl",
    REPO_ROOT / "tests" / "data" / "faq_offtopic.jsonl",
    REPO_ROOT / "tests" / "data" / "faq_dev_hard.jsonl",
)
BLIND_SETS = ("faq_blind.jsonl", "faq_hard.jsonl", "faq_hard2.jsonl")
NGRAM_WEIGHTS = (0.0, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3)
NGRAM_FLOORS = (0.5, 1.0, 1.5, 2.0, 2.5)
THRESHOLDS = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
MARGINS = (0.01, 0.03, 0.05, 0.07)
CHOICE_THRESHOLDS = (0.45, 0.6)
MIN_LEXICAL = (0.0, 0.1, 0.2, 0.25, 0.3)


@dataclass(frozen=True)
class Prepared:
    """One question with the matcher's lexical ranking and n-gram similarities."""

    gold: str | None
    lexical: dict[str, float]
    similarities: dict[str, float]


def prepare(paths: Sequence[Path]) -> dict[str, list[Prepared]]:
    """Questions by detected answer language, with their precomputed scores."""
    from bot.faq import FaqMatcher, load_faq
    from bot.faq.langdetect import detect_language, is_romanised

    matcher = FaqMatcher(load_faq())
    by_lang: dict[str, list[Prepared]] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            lang = detect_language(item["q"], "pl")
            romanised = lang == "uk" and is_romanised(item["q"])
            prepared = Prepared(
                item["id"],
                dict(matcher.lexical_rank(item["q"], romanised)),
                matcher.ngram_scores(item["q"], romanised),
            )
            by_lang.setdefault(lang, []).append(prepared)
    return by_lang


def value_of(questions: Sequence[Prepared], docs: Sequence[str], c: object) -> tuple[float, str]:
    """The objective and a summary of right/wrong/answered-out-of-scope for one setting."""
    from bot.faq.matcher import Calibration, MatcherSettings, decide_hybrid, fuse

    assert isinstance(c, Calibration)
    lexical_choice = MatcherSettings().lexical_choice
    right = wrong = oos = choice_hit = choice_oos = 0
    for question in questions:
        fused = fuse(question.lexical, question.similarities, docs, c)
        lexical = sorted(question.lexical.items(), key=lambda item: (-item[1], item[0]))
        status, candidates = decide_hybrid(lexical, fused, c, lexical_choice)
        if question.gold is None:
            oos += status == "answer"
            choice_oos += status == "choice"
        elif status == "answer":
            right += candidates[0] == question.gold
            wrong += candidates[0] != question.gold
        elif status == "choice":
            choice_hit += question.gold in candidates
    value = right - 4 * wrong - 4 * oos + 0.5 * choice_hit - 0.5 * choice_oos
    in_scope = sum(question.gold is not None for question in questions)
    summary = (
        f"right {right}/{in_scope}, wrong {wrong}, out-of-scope answered {oos}/"
        f"{len(questions) - in_scope}, choices with the right id {choice_hit}"
    )
    return value, summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", type=Path, default=list(DEV_SETS))
    parser.add_argument("--top", type=int, default=3, help="settings shown per language")
    args = parser.parse_args(argv)
    for path in args.sets:
        if path.name in BLIND_SETS:
            print(f"refusing to calibrate on a blind set: {path}", file=sys.stderr)
            return 2
    from bot.faq import FaqMatcher, load_faq
    from bot.faq.matcher import Calibration

    docs = FaqMatcher(load_faq()).documents
    for lang, questions in sorted(prepare(args.sets).items()):
        results = []
        for weight, floor, threshold, margin, choice, least in itertools.product(
            NGRAM_WEIGHTS, NGRAM_FLOORS, THRESHOLDS, MARGINS, CHOICE_THRESHOLDS, MIN_LEXICAL
        ):
            c = Calibration(threshold, margin, choice, weight, floor, least)
            value, summary = value_of(questions, docs, c)
            row = (value, least, threshold, margin, choice, -weight, floor, c, summary)
            results.append(row)
        results.sort(key=lambda row: row[:7], reverse=True)
        lexical_only = value_of(questions, docs, Calibration())
        print(f"{lang}: {len(questions)} questions; lexical only: {lexical_only[1]}")
        for value, *_, c, summary in results[: args.top]:
            print(f"  {value:6.1f}  {c}\n          {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
