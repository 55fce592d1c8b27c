"""Evaluate the FAQ matcher on a question set, side by side with a naive baseline.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/faq_eval.py [QUESTIONS.jsonl] [--content-dir DIR] [--failures]

QUESTIONS defaults to ``../shared/faq/dev_questions.jsonl`` relative to the
repository root; each line is ``{"q": ..., "id": <faq id> | null, "lang": "pl" | "uk"}``.

Reported, for the matcher and for the baseline:
- top-1 accuracy on in-scope questions, per language (only an exact "answer" counts);
- "choice" offers that contain the right id (reported apart, not counted as top-1);
- wrong answers (a confident answer with the wrong id: the costly error);
- correct abstention on out-of-scope questions;
- answer language == question language;
- latency per question (median, p99) and the first answer of a fresh process.

The baseline is rapidfuzz ``token_set_ratio`` of the question against every
question variant of the same content; it answers with the best variant's id
and language when the similarity reaches a threshold. That threshold is tuned
on the evaluated questions themselves (the best balanced score it can reach),
which flatters the baseline: its numbers are an upper bound.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process, utils

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_QUESTIONS = REPO_ROOT / ".." / "shared" / "faq" / "dev_questions.jsonl"
FIRST_ANSWER_RUNS = 5


@dataclass(frozen=True)
class Question:
    """One labelled question."""

    text: str
    gold: str | None
    lang: str


@dataclass(frozen=True)
class Outcome:
    """What a system did with one question."""

    status: str  # "answer" | "choice" | "abstain"
    answer_id: str | None
    candidates: tuple[str, ...]
    lang: str
    seconds: float


@dataclass
class Report:
    """Aggregated metrics of one system."""

    name: str
    top1: dict[str, list[bool]] = field(default_factory=dict)
    choice_hits: dict[str, int] = field(default_factory=dict)
    wrong: dict[str, int] = field(default_factory=dict)
    abstained_in_scope: dict[str, int] = field(default_factory=dict)
    out_of_scope: list[bool] = field(default_factory=list)
    out_of_scope_choice: int = 0
    lang_match: list[bool] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def load_questions(path: Path) -> list[Question]:
    """Read a JSON-lines question file."""
    questions = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                item = json.loads(line)
                questions.append(Question(item["q"], item["id"], item["lang"]))
    return questions


def evaluate(name: str, questions: Sequence[Question], ask: Callable[[str], Outcome]) -> Report:
    """Run every question through ``ask`` and collect the metrics."""
    report = Report(name)
    for question in questions:
        outcome = ask(question.text)
        report.latencies.append(outcome.seconds)
        report.lang_match.append(outcome.lang == question.lang)
        if question.gold is None:
            report.out_of_scope.append(outcome.status == "abstain")
            if outcome.status == "choice":
                report.out_of_scope_choice += 1
            if outcome.status != "abstain":
                shown = outcome.answer_id or ", ".join(outcome.candidates)
                report.failures.append(
                    f"[out-of-scope -> {outcome.status} {shown}] {question.text}"
                )
            continue
        lang = question.lang
        hit = outcome.status == "answer" and outcome.answer_id == question.gold
        report.top1.setdefault(lang, []).append(hit)
        if outcome.status == "choice" and question.gold in outcome.candidates:
            report.choice_hits[lang] = report.choice_hits.get(lang, 0) + 1
        if outcome.status == "answer" and not hit:
            report.wrong[lang] = report.wrong.get(lang, 0) + 1
        if outcome.status == "abstain":
            report.abstained_in_scope[lang] = report.abstained_in_scope.get(lang, 0) + 1
        if not hit:
            got = outcome.answer_id if outcome.status == "answer" else outcome.candidates
            report.failures.append(f"[{question.gold} -> {outcome.status} {got}] {question.text}")
        elif outcome.lang != question.lang:
            report.failures.append(f"[language {outcome.lang} != {question.lang}] {question.text}")
    return report


def matcher_system(content_dir: Path | None, fallback_lang: str) -> Callable[[str], Outcome]:
    """The real matcher, answering in auto-detected language."""
    from bot.faq import FaqMatcher, load_faq

    matcher = FaqMatcher(load_faq(content_dir))

    def ask(text: str) -> Outcome:
        start = time.perf_counter()
        result = matcher.ask(text, lang="auto", fallback_lang=fallback_lang)
        elapsed = time.perf_counter() - start
        return Outcome(result.status, result.id, result.candidates, result.lang, elapsed)

    return ask


class Baseline:
    """rapidfuzz token_set_ratio against every question variant of the content."""

    def __init__(self, content_dir: Path | None) -> None:
        from bot.faq import load_faq

        content = load_faq(content_dir)
        self.choices: list[str] = []
        self.labels: list[tuple[str, str]] = []
        for faq_id, entry in content.entries.items():
            for lang, localized in entry.localized.items():
                for variant in (localized.answer.title, *localized.variants):
                    self.choices.append(utils.default_process(variant))
                    self.labels.append((faq_id, lang))
        self.threshold = 0.0

    def best(self, text: str) -> tuple[str, str, float]:
        """(id, language, similarity 0..100) of the closest variant."""
        found = process.extractOne(
            utils.default_process(text), self.choices, scorer=fuzz.token_set_ratio
        )
        if found is None:
            return "", "pl", 0.0
        _, score, index = found
        faq_id, lang = self.labels[index]
        return faq_id, lang, float(score)

    def tune(self, questions: Sequence[Question]) -> float:
        """Pick the threshold that maximises (top-1 accuracy + correct abstention) / 2."""
        scored = [(q, *self.best(q.text)) for q in questions]
        in_scope = [s for s in scored if s[0].gold is not None]
        out_scope = [s for s in scored if s[0].gold is None]
        best_threshold, best_value = 0.0, -1.0
        for threshold in range(0, 101):
            right = sum(1 for q, i, _, s in in_scope if s >= threshold and i == q.gold)
            refused = sum(1 for _, _, _, s in out_scope if s < threshold)
            accuracy = right / max(1, len(in_scope))
            abstain = refused / max(1, len(out_scope))
            value = (accuracy + abstain) / 2
            if value > best_value:
                best_threshold, best_value = float(threshold), value
        self.threshold = best_threshold
        return best_threshold

    def ask(self, text: str) -> Outcome:
        start = time.perf_counter()
        faq_id, lang, score = self.best(text)
        elapsed = time.perf_counter() - start
        if score >= self.threshold and faq_id:
            return Outcome("answer", faq_id, (faq_id,), lang, elapsed)
        return Outcome("abstain", None, (), lang, elapsed)


def first_answer_seconds(question: str, content_dir: Path | None) -> list[float]:
    """Wall time of fresh processes: start, import, load, index, answer one question."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from bot.faq import FaqMatcher, load_faq\n"
        "directory = Path(sys.argv[2]) if len(sys.argv) > 2 else None\n"
        "result = FaqMatcher(load_faq(directory)).ask(sys.argv[1])\n"
        "print(result.status)\n"
    )
    argv = [sys.executable, "-c", code, question]
    if content_dir is not None:
        argv.append(str(content_dir))
    env = {"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"}
    times = []
    for _ in range(FIRST_ANSWER_RUNS):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env, cwd=REPO_ROOT)
        times.append(time.perf_counter() - start)
    return times


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary_rows(report: Report) -> dict[str, str]:
    """Formatted metrics of one report, keyed by row label."""
    rows: dict[str, str] = {}
    for lang in sorted(report.top1):
        hits = report.top1[lang]
        rows[f"top-1 accuracy {lang}"] = f"{sum(hits) / len(hits):.3f} ({sum(hits)}/{len(hits)})"
        rows[f"  right id in a choice {lang}"] = str(report.choice_hits.get(lang, 0))
        rows[f"  wrong answers {lang}"] = str(report.wrong.get(lang, 0))
        rows[f"  abstained (in scope) {lang}"] = str(report.abstained_in_scope.get(lang, 0))
    all_hits = [hit for hits in report.top1.values() for hit in hits]
    if all_hits:
        rows["top-1 accuracy all"] = (
            f"{sum(all_hits) / len(all_hits):.3f} ({sum(all_hits)}/{len(all_hits)})"
        )
    if report.out_of_scope:
        oos = report.out_of_scope
        rows["correct abstention (out of scope)"] = (
            f"{sum(oos) / len(oos):.3f} ({sum(oos)}/{len(oos)})"
        )
        rows["  out of scope offered a choice"] = str(report.out_of_scope_choice)
    match = report.lang_match
    rows["answer language == question language"] = (
        f"{sum(match) / len(match):.3f} ({sum(match)}/{len(match)})"
    )
    rows["latency median (ms)"] = f"{statistics.median(report.latencies) * 1000:.2f}"
    rows["latency p99 (ms)"] = f"{percentile(report.latencies, 0.99) * 1000:.2f}"
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="?", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument(
        "--content-dir", type=Path, default=None, help="content folder (default: packaged)"
    )
    parser.add_argument(
        "--fallback-lang", default="pl", help="chat language for neutral texts (default: pl)"
    )
    parser.add_argument("--failures", action="store_true", help="list every miss")
    parser.add_argument(
        "--no-subprocess", action="store_true", help="skip the fresh-process timing"
    )
    args = parser.parse_args(argv)

    questions = load_questions(args.questions.resolve())
    matcher = evaluate("matcher", questions, matcher_system(args.content_dir, args.fallback_lang))
    baseline = Baseline(args.content_dir)
    threshold = baseline.tune(questions)
    naive = evaluate("baseline", questions, baseline.ask)

    left, right = summary_rows(matcher), summary_rows(naive)
    width = max(len(label) for label in left) + 2
    print(f"questions: {args.questions} ({len(questions)})")
    print(f"{'':{width}}{'matcher':>22}  {'baseline':>22}")
    for label, value in left.items():
        print(f"{label:{width}}{value:>22}  {right.get(label, '-'):>22}")
    print(f"baseline threshold (tuned on these questions): {threshold:.0f}/100")
    if not args.no_subprocess:
        first = questions[0].text if questions else "1,5%"
        times = first_answer_seconds(first, args.content_dir)
        print(
            f"first answer of a fresh process (s, {len(times)} runs): "
            f"median {statistics.median(times):.3f}, max {max(times):.3f}"
        )
    if args.failures:
        for report in (matcher, naive):
            print(f"\n{report.name} misses ({len(report.failures)}):")
            for line in report.failures:
                print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
