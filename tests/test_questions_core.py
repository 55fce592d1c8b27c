"""Ask the office in the core over a real SQLite file: asking, limits, blocking, answering,
closing, the reminder of old questions on an injected clock, privacy, purge, the CLI."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, QuietHours, Settings, parse_question_remind, parse_staff_chats
from bot.core.messages import ChatKind, ChatRef, Reply
from bot.core.registry import Audience
from bot.core.service import Core
from bot.delivery import Dispatcher
from bot.questions.service import QuestionService
from bot.storage import Storage
from bot.transports.console import ConsoleTransport
from tests.conftest import BOT_COMMAND, Say, bot_env

# Date-sensitive: .ci/run runs these again at its fixed moments (`pytest -m dated`).
pytestmark = pytest.mark.dated

QUESTION = "Чи можна отримати компенсацію за оренду приміщення для гуртка вишивки?"
OFFICE = ChatRef("console", "office")
# A Wednesday and the Saturday after it, in Warsaw: fixed moments, whatever today is.
WEDNESDAY_10 = datetime(2026, 6, 17, 8, 0, tzinfo=UTC)
SATURDAY_10 = datetime(2026, 6, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        db_path=tmp_path / "bot.sqlite3",
        admins=frozenset({"console:office"}),
        quiet_hours=None,
        staff_chats=("console:office",),
    )


async def delivered(core: Core, storage: Storage, chat: ChatRef) -> list[str]:
    dispatcher = Dispatcher(
        storage, core.settings, core.topics, {"console": ConsoleTransport(storage)}
    )
    await dispatcher.start()
    try:
        await dispatcher.deliver_due()
    finally:
        await dispatcher.stop()
    return [message.text for message in await storage.inbox.take_unshown(chat)]


def ask_button(reply: Reply) -> str:
    return next(b.command for b in reply.all_buttons() if b.command.startswith("askdraft "))


async def test_the_button_files_the_question_after_a_confirmation(
    say: Say, core: Core, storage: Storage
) -> None:
    (abstained,) = await say(QUESTION, chat="olena", hint="uk")
    button = ask_button(abstained)
    (confirm,) = await say("/" + button, chat="olena")
    assert QUESTION in confirm.text and confirm.confirmation is not None
    assert await storage.questions.in_state(None) == []
    (filed,) = await say("так", chat="olena")  # a typed yes answers the confirmation
    assert "#1" in filed.text and "українська" in filed.text
    (post,) = await delivered(core, storage, OFFICE)
    assert "#1" in post and QUESTION in post and "olena" not in post
    (again,) = await say("/" + button, chat="olena")  # an old button files nothing twice
    assert "/ask" in again.text
    (declined,) = await say("/askdraft ffff no", chat="olena")
    assert len(await storage.questions.in_state(None)) == 1 and declined.text


async def test_limits_three_open_2000_characters_and_a_blocked_chat(
    say: Say, core: Core, storage: Storage
) -> None:
    for n in range(3):
        (filed,) = await say(f"/ask Питання {n}?", chat="olena", hint="uk")
        assert f"#{n + 1}" in filed.text
    (too_many,) = await say("/ask Ще одне?", chat="olena")
    assert "#1, #2, #3" in too_many.text
    (too_long,) = await say("/ask " + "я" * 2001, chat="anna", hint="uk")
    assert "2" in too_long.text and await storage.questions.in_state(None) != []
    (exactly,) = await say("/ask " + "я" * 2000, chat="anna")
    assert "#4" in exactly.text
    (blocked,) = await say("/questions block 4", chat="office")
    assert "/questions unblock 4" in blocked.text
    (refused,) = await say("/ask Ще?", chat="anna")
    assert "#" not in refused.text
    (abstained,) = await say(QUESTION, chat="anna")
    assert not [b for b in abstained.all_buttons() if b.command.startswith("askdraft")]
    log = await storage.staff.audit_log("console:office")
    assert [e.action for e in log][:1] == ["questions block"] and log[0].detail == "console:anna"
    await say("/questions unblock 4", chat="office")
    assert "#5" in (await say("/ask Ще?", chat="anna"))[0].text


async def test_answer_close_and_who_may(say: Say, core: Core, storage: Storage) -> None:
    await say("/ask Як зареєструвати фундацію?", chat="olena", hint="uk")
    await say("/ask Де подати заяву?", chat="olena")
    await delivered(core, storage, OFFICE)
    (refused,) = await say("/answer 1 Ні", chat="olena")
    assert "працівникам" in refused.text
    assert (await storage.staff.audit_log("console:olena"))[0].action == "denied"
    # in the staff chat the note "✅ #1 ..." says it is done; elsewhere a short confirmation
    assert await say("/answer 1 Через портал.", chat="office") == []
    await say("/ask Коли засідання ради?", chat="olena")
    (elsewhere,) = await say("/answer 3 У четвер.", chat="office-phone", sender="office")
    third = await storage.questions.get(3)
    assert "#3" in elsewhere.text and third is not None and third.answer == "У четвер."
    (twice,) = await say("/answer #1 Знову", chat="office")
    assert "#1" in twice.text
    (closed,) = await say("/close 2", chat="office")
    assert "#2" in closed.text
    (missing,) = await say("/close 99", chat="office")
    assert "#99" in missing.text
    answer, third_answer, closing = await delivered(core, storage, ChatRef("console", "olena"))
    assert "Через портал." in answer and "#1" in answer and "У четвер." in third_answer
    assert "#2" in closing and "/faq contact" in closing
    notes = await delivered(core, storage, OFFICE)
    assert any("✅ #1" in note for note in notes) and any("#2" in note for note in notes[-1:])
    (listing,) = await say("/questions", chat="office")
    assert "#1" not in listing.text


async def test_reminder_once_a_working_day_on_an_injected_clock(
    storage: Storage, settings: Settings
) -> None:
    chat = await storage.chats.ensure(ChatRef("console", "olena"), ChatKind.PRIVATE, "uk")
    service = QuestionService(storage, settings)
    await service.file(chat, "Старе питання?", "uk", WEDNESDAY_10 - timedelta(hours=49))
    await service.file(chat, "Нове питання?", "uk", WEDNESDAY_10 - timedelta(hours=47))
    assert await service.remind(WEDNESDAY_10.replace(hour=6)) == 0  # 08:00 Warsaw: not yet
    assert await service.remind(SATURDAY_10) == 0  # not a working day
    quiet = replace(settings, quiet_hours=QuietHours(time(21), time(10, 30)))
    assert await QuestionService(storage, quiet).remind(WEDNESDAY_10) == 0  # quiet hours
    assert await service.remind(WEDNESDAY_10) == 1
    assert await service.remind(WEDNESDAY_10 + timedelta(hours=3)) == 0  # once a day
    rows = await storage.db.fetch_all(
        "SELECT detail FROM broadcasts WHERE purpose = 'office' ORDER BY id"
    )
    (text,) = [row["detail"] for row in rows]
    assert "#1" in text and "#2" not in text and "Старе" not in text  # numbers, not texts
    assert await service.remind(WEDNESDAY_10 + timedelta(days=1)) == 1  # Thursday again


async def test_scheduler_runs_the_reminder_and_the_purge(
    storage: Storage, settings: Settings
) -> None:
    from bot.core.topics import load_topics
    from bot.scheduler import ReminderScheduler

    chat = await storage.chats.ensure(ChatRef("console", "olena"), ChatKind.PRIVATE, "uk")
    service = QuestionService(storage, settings)
    old = WEDNESDAY_10 - timedelta(days=100)
    await service.file(chat, "Давнє питання?", "uk", old)
    await service.answer(1, "Відповідь", "console:office", "office", old)
    await service.file(chat, "Питання?", "uk", WEDNESDAY_10 - timedelta(days=3))
    scheduler = ReminderScheduler(storage, settings, load_topics(), clock=lambda: WEDNESDAY_10)
    assert await scheduler.questions_housekeeping() == 1
    assert [q.id for q in await storage.questions.in_state(None)] == [2]
    details = [r["detail"] for r in await storage.db.fetch_all("SELECT detail FROM broadcasts")]
    assert not any("Давнє" in detail or "Відповідь" in detail for detail in details)


async def test_privacy_export_forget(say: Say, core: Core, storage: Storage) -> None:
    (privacy,) = await say("/privacy", chat="olena", hint="uk")
    assert "90" in privacy.text and "/ask" in privacy.text
    await say("/ask Як зареєструвати фундацію?", chat="olena")
    await say("/answer 1 Через портал.", chat="office")
    (export,) = await say("/export", chat="olena")
    assert export.attachment is not None
    (item,) = json.loads(export.attachment.data)["questions"]
    assert item["text"] == "Як зареєструвати фундацію?" and item["answer"] == "Через портал."
    await say("/forget yes", chat="olena")
    assert await storage.questions.in_state(None) == []
    details = [r["detail"] for r in await storage.db.fetch_all("SELECT detail FROM broadcasts")]
    assert not any("фундацію" in detail or "портал" in detail for detail in details)


async def test_unanswered_marks_lines_that_became_questions(say: Say) -> None:
    (abstained,) = await say(QUESTION, chat="olena", hint="uk")
    await say("/" + ask_button(abstained) + " yes", chat="olena")
    await say("Zupełnie inne pytanie o smoki?", chat="anna")
    (listing,) = await say("/unanswered", chat="office")
    marked = [line for line in listing.text.splitlines() if "→ #1" in line]
    assert len(marked) == 1 and "вишивки" in marked[0]


async def test_help_names_every_form_of_questions(say: Say) -> None:
    """`questions block` takes a question's number or a chat (platform:id); the help says both."""
    for language, usage in (
        ("pl", "/questions [block|unblock &lt;numer&gt;|&lt;platforma&gt;:&lt;ID czatu&gt;]"),
        ("uk", "/questions [block|unblock &lt;номер&gt;|&lt;платформа&gt;:&lt;ID чату&gt;]"),
        ("en", "/questions [block|unblock &lt;number&gt;|&lt;platform&gt;:&lt;chat id&gt;]"),
    ):
        await say(f"/language {language}", chat="office")
        (listing,) = await say("/help", chat="office")
        assert usage in listing.text, listing.text


async def test_block_a_chat_by_its_platform_and_id(say: Say, storage: Storage) -> None:
    assert "#1" in (await say("/ask Де подати заяву?", chat="olena", hint="uk"))[0].text
    (blocked,) = await say("/questions block console:olena", chat="office")
    assert "/questions unblock console:olena" in blocked.text
    assert "#" not in (await say("/ask Ще?", chat="olena"))[0].text
    log = await storage.staff.audit_log("console:office")
    assert log[0].action == "questions block" and log[0].detail == "console:olena"
    await say("/questions unblock console:olena", chat="office")
    assert "#2" in (await say("/ask Ще?", chat="olena"))[0].text
    (unknown,) = await say("/questions block console:nobody", chat="office")
    assert "/questions block 12" in unknown.text
    assert "/questions block telegram:123456" in unknown.text


async def test_off_without_staff_chats(say: Say, core: Core) -> None:
    (with_feature,) = await say("/help", chat="office")
    assert "/ask" in with_feature.text and "/answer" in with_feature.text
    core.settings = replace(core.settings, staff_chats=())
    (without,) = await say("/help", chat="office")
    assert "/ask" not in without.text and "/questions" not in without.text
    assert "ask" not in [name for name, _summary in core.command_menu("pl", Audience.ADMIN)]
    (abstained,) = await say(QUESTION, chat="olena", hint="uk")
    assert not [b for b in abstained.all_buttons() if b.command.startswith("askdraft")]
    (off,) = await say("/ask Питання?", chat="olena")
    assert "#" not in off.text and "/faq contact" in off.text


def test_settings() -> None:
    assert parse_staff_chats("telegram:-100123, matrix:!room:example.org,console:office") == (
        "telegram:-100123",
        "matrix:!room:example.org",
        "console:office",
    )
    assert parse_staff_chats("telegram:-100123#45") == ("telegram:-100123#45",)
    for bad in ("telegram:abc", "slack:x", "console:", "telegram:-100#x"):
        with pytest.raises(ConfigError, match="BOT_STAFF_CHATS"):
            parse_staff_chats(bad)
    assert parse_question_remind("48h") == timedelta(hours=48)
    assert parse_question_remind("3d") == timedelta(days=3)
    for bad in ("3x", "2d@09:00", "0h", "mondays@10:00"):
        with pytest.raises(ConfigError, match="BOT_QUESTION_REMIND"):
            parse_question_remind(bad)
    assert Settings.from_env({}).question_remind == timedelta(hours=48)
    assert not Settings.from_env({}).questions_enabled


def test_cli_lists_answers_and_closes(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    env = bot_env(db, BOT_STAFF_CHATS="console:office")
    chat = subprocess.run(
        [*BOT_COMMAND, "chat", "--user", "olena"],
        input="/ask Як зареєструвати фундацію?\n/ask Де подати заяву?\n",
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=tmp_path,
    )
    assert "#2" in chat.stdout

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*BOT_COMMAND, "questions", *args], capture_output=True, text=True, env=env
        )

    assert cli("answer", "1", "--text", "Через портал.").returncode == 0
    assert cli("close", "2").returncode == 0
    assert cli("close", "2").returncode == 1
    assert cli("answer", "9", "--text", "x").returncode == 2
    rows = [json.loads(line) for line in cli("list", "--json").stdout.splitlines()]
    assert [(r["id"], r["state"]) for r in rows] == [(1, "answered"), (2, "closed")]
    assert all(r["asked_at"] and r["answered_at"] and "+" in r["asked_at"] for r in rows)
    assert rows[0]["answer"] == "Через портал."
    answered = cli("list", "--state", "answered").stdout
    assert "Як зареєструвати" in answered and "Через портал." in answered
    assert "Де подати" not in answered
    with_chat = subprocess.run(
        [*BOT_COMMAND, "chat", "--user", "olena"],
        input="",
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=tmp_path,
    )
    assert "Через портал." in with_chat.stdout and "#2" in with_chat.stdout


async def test_in_a_group_anyone_may_ask_and_the_answer_goes_to_the_group(
    say: Say, storage: Storage
) -> None:
    group = {"chat": "-100777", "platform": "telegram", "kind": ChatKind.GROUP, "admin": False}
    (filed,) = await say("/ask Чи можна взяти зал на суботу?", sender="55", **group)  # type: ignore[arg-type]
    assert "#1" in filed.text
    assert await say("/answer 1 Так.", chat="office") == []
    rows = await storage.db.fetch_all(
        "SELECT c.platform, c.chat_id FROM outbox o JOIN broadcasts b ON b.id = o.broadcast_id"
        " JOIN chats c ON c.id = o.chat_ref WHERE b.purpose = 'answer'"
    )
    assert [(r["platform"], r["chat_id"]) for r in rows] == [("telegram", "-100777")]


async def test_forget_in_a_forum_group_erases_its_topics_questions(
    say: Say, storage: Storage
) -> None:
    topic = {"platform": "telegram", "kind": ChatKind.GROUP, "sender": "7"}
    await say("/ask Питання з теми?", chat="-100999#12", **topic)  # type: ignore[arg-type]
    await say("/ask Питання з групи?", chat="-100999", **topic)  # type: ignore[arg-type]
    assert len(await storage.questions.in_state(None)) == 2
    await say("/forget yes", chat="-100999", **topic)  # type: ignore[arg-type]
    assert await storage.questions.in_state(None) == []
    details = [r["detail"] for r in await storage.db.fetch_all("SELECT detail FROM broadcasts")]
    assert not any("Питання з" in detail for detail in details)  # the posts' text is blanked
