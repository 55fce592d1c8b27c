"""`ngo-bot questions list|answer|close`: the office's questions on the command line.

The operator acts as an admin; answers and closings are audited as `cli:<OS user>` and reach
the asking chat through the outbox (a running `ngo-bot run` delivers them).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, EXTENSIONS, default_user
from bot.clock import utcnow
from bot.config import Settings
from bot.questions.service import QuestionService, Settle
from bot.storage import Storage
from bot.storage.questions import Question, QuestionState


def add_commands(commands: Any) -> None:
    """Register `questions` on the `ngo-bot` parser."""
    questions = commands.add_parser(
        "questions",
        help="questions sent to the office: list, answer, close",
        description="Questions residents sent to the office (BOT_STAFF_CHATS). Answers reach the "
        "asking chat through the outbox; a running 'ngo-bot run' delivers them.",
    )
    actions = questions.add_subparsers(dest="questions_command", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list", help="questions, oldest first", description="Questions, oldest first."
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument(
        "--state", choices=[state.value for state in QuestionState], help="only this state"
    )
    listing.set_defaults(func=cmd_list)

    answer = actions.add_parser(
        "answer",
        help="answer a question",
        description="Send an answer to the chat that asked (the text as written).",
    )
    answer.add_argument("id", type=int, help="the question's number")
    answer.add_argument("--text", required=True, help="the answer")
    answer.set_defaults(func=cmd_answer)

    close = actions.add_parser(
        "close",
        help="close a question without an answer",
        description="Close a question; the chat that asked is told politely.",
    )
    close.add_argument("id", type=int, help="the question's number")
    close.set_defaults(func=cmd_close)


def iso(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return None if moment is None else moment.astimezone(tz).isoformat(timespec="seconds")


def as_json(question: Question, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": question.id,
        "lang": question.language,
        "platform": question.chat.platform,
        "state": question.state.value,
        "asked_at": iso(question.asked_at, tz),
        "answered_at": iso(question.answered_at, tz),
        "text": question.text,
        "answer": question.answer,
    }


async def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    storage = await Storage.open(settings.db_path)
    try:
        state = QuestionState(args.state) if args.state else None
        found = await storage.questions.in_state(state, limit=1_000_000)
    finally:
        await storage.close()
    tz = settings.timezone
    for question in found:
        if args.json:
            print(json.dumps(as_json(question, tz), ensure_ascii=False))
            continue
        asked = question.asked_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        print(
            f"#{question.id}  {question.state.value}  {question.language}  "
            f"{question.chat.platform}  {asked}"
        )
        print("  Q: " + question.text.replace("\n", "\n     "))
        if question.answer is not None:
            print("  A: " + question.answer.replace("\n", "\n     "))
    if not found and not args.json:
        print("no questions")
    return EXIT_OK


def actor() -> str:
    return f"cli:{default_user()}"


async def settle(args: argparse.Namespace, settings: Settings, answer: str | None) -> int:
    storage = await Storage.open(settings.db_path, writable=True)
    try:
        service = QuestionService(storage, settings)
        who = actor()
        if answer is None:
            status, _question = await service.close(args.id, who, default_user(), utcnow())
        else:
            status, _question = await service.answer(args.id, answer, who, default_user(), utcnow())
    finally:
        await storage.close()
    if status is Settle.DONE:
        print(f"question #{args.id} " + ("closed" if answer is None else "answered"))
        return EXIT_OK
    if status is Settle.EMPTY:
        print("ngo-bot: --text: the answer is empty", file=sys.stderr)
        return EXIT_USAGE
    if status is Settle.MISSING:
        print(f"ngo-bot: there is no question #{args.id}", file=sys.stderr)
        return EXIT_USAGE
    print(f"ngo-bot: question #{args.id} is {status.value} already", file=sys.stderr)
    return EXIT_FAILURE


async def cmd_answer(args: argparse.Namespace, settings: Settings) -> int:
    return await settle(args, settings, args.text)


async def cmd_close(args: argparse.Namespace, settings: Settings) -> int:
    return await settle(args, settings, None)


EXTENSIONS.append(add_commands)
