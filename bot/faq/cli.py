"""The ``faq`` command of ``ngo-bot``: ``faq ask`` and ``faq check``.

``add_faq_parser`` plugs the command into the main parser; each sub-command
stores its handler as ``args.handler`` (a function returning the exit code).
``python -m bot.faq.cli faq ask ...`` runs it on its own.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import TextIO

from bot.faq.content import (
    ANSWER_LANGUAGES,
    CONTENT_DIR_ENV,
    ELSEWHERE_FILE,
    FaqContentError,
    content_dir_from_env,
    load_faq,
)
from bot.faq.matcher import FaqMatcher, FaqResult
from bot.faq.render import render_answer
from bot.faq.scope import own_wording_conflicts

_DEFAULT_LANGUAGE_ENV = "BOT_DEFAULT_LANGUAGE"


def add_faq_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``faq ask`` and ``faq check`` to an argparse sub-command set."""
    faq = subparsers.add_parser(
        "faq",
        help="answer questions from the FAQ or validate its content",
        description=f"FAQ tools. The content comes from ${CONTENT_DIR_ENV} when set.",
    )
    commands = faq.add_subparsers(dest="faq_command", metavar="{ask,check}", required=True)

    ask = commands.add_parser(
        "ask",
        help="answer one question, or each line of stdin",
        description="Answer QUESTION, or every line of standard input when it is omitted.",
    )
    ask.add_argument(
        "question", nargs="?", metavar="QUESTION", help="the question (default: read stdin)"
    )
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")
    ask.add_argument(
        "--lang",
        choices=("auto", *ANSWER_LANGUAGES),
        default="auto",
        help="answer language (default: detected from the question)",
    )
    ask.set_defaults(handler=run_faq_ask)

    check = commands.add_parser(
        "check",
        help="validate the FAQ content and print counts per language",
        description="Validate the FAQ content; exit 1 naming the broken entry.",
    )
    check.set_defaults(handler=run_faq_check)


def run_faq_ask(args: argparse.Namespace) -> int:
    """Handle ``faq ask``: answer the argument or each stdin line."""
    try:
        content = load_faq(content_dir_from_env())
    except FaqContentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    matcher = FaqMatcher(content)
    fallback = _default_language()
    questions: Iterable[str] = (
        [args.question] if args.question is not None else _stdin_lines(_lenient(sys.stdin))
    )
    first = True
    for question in questions:
        result = matcher.ask(question, lang=args.lang, fallback_lang=fallback)
        text = render_answer(content, result)
        if args.json:
            print(json.dumps(_result_json(result, text), ensure_ascii=False), flush=True)
        else:
            print(text if first else f"\n{text}", flush=True)
        first = False
    return 0


def run_faq_check(args: argparse.Namespace) -> int:
    """Handle ``faq check``: validate the content and print counts per language."""
    directory = content_dir_from_env()
    try:
        content = load_faq(directory)
        FaqMatcher(content)
    except FaqContentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"content: {content.source}")
    for lang, count in content.count_by_language().items():
        print(f"{lang}: {count} entries")
    extra = sum(len(entry.extra_phrases) for entry in content.entries.values())
    print(f"index-only wordings: {extra}")
    print(f"out-of-scope topics: {len(content.out_of_scope)}")
    conflicts = own_wording_conflicts(content)
    for faq_id, lang, phrase, listed in conflicts:
        print(
            f"error: {ELSEWHERE_FILE}: {listed!r} refuses {faq_id}'s own {lang} wording {phrase!r}",
            file=sys.stderr,
        )
    print(
        f"other places and owners ({ELSEWHERE_FILE}): {sum(map(len, content.elsewhere.values()))}"
    )
    return 1 if conflicts else 0


def _result_json(result: FaqResult, text: str) -> dict[str, object]:
    """The fixed ``faq ask --json`` object (docs: ARCHITECTURE.md, JSON outputs)."""
    return {
        "id": result.id,
        "lang": result.lang,
        "score": result.score,
        "answer": text,
        "candidates": list(result.candidates),
    }


def _lenient(stream: TextIO) -> TextIO:
    """``stream`` decoding bytes that are not valid in its encoding as U+FFFD, not raising.

    With ``PYTHONIOENCODING=utf-8`` (or a UTF-8 locale other than C.UTF-8) stdin is
    strict, and one stray byte would end the whole run with a traceback.
    """
    if isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(errors="replace")
    return stream


def _stdin_lines(stream: TextIO) -> Iterable[str]:
    """Each input line without its line ending (blank lines included, to keep order)."""
    for line in stream:
        yield line.rstrip("\r\n")


def _default_language() -> str:
    """The language for questions that do not show one (BOT_DEFAULT_LANGUAGE, else pl)."""
    value = os.environ.get(_DEFAULT_LANGUAGE_ENV, "pl").strip()
    return value if value in ANSWER_LANGUAGES else "pl"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``faq`` command standalone: ``python -m bot.faq.cli faq ask ...``."""
    parser = argparse.ArgumentParser(prog="ngo-bot")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_faq_parser(subparsers)
    args = parser.parse_args(argv)
    handler = args.handler
    code: int = handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
