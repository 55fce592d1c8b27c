"""`ngo-bot announce ...` and `ngo-bot deliveries` as real subprocesses: the fixed contract."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import BotRuntime, build_core
from bot.config import Settings
from bot.core.messages import ChatRef
from bot.storage import Storage
from tests.delivery_helpers import add_chats
from tests.test_cli import ngo_bot

WARSAW = ZoneInfo("Europe/Warsaw")
LIST_KEYS = {"id", "kind", "topic", "title_pl", "deadline", "starts_at", "publish_at", "status"}
COUNT_KEYS = {"total", "pending", "sent", "retrying", "failed", "gone", "cancelled"}


def ahead(days: float = 0, seconds: float = 0) -> str:
    """A time ahead of now: `days` calendar days in BOT_TIMEZONE, then `seconds` of real time.

    ISO 8601 with its offset, so that it means one instant in a DST change's repeated hour too.
    """
    day = datetime.now(WARSAW) + timedelta(days=days)
    moment = (day.astimezone(UTC) + timedelta(seconds=seconds)).astimezone(WARSAW)
    return moment.isoformat(timespec="seconds")


def create(tmp_path: Path, *args: str) -> int:
    result = ngo_bot(tmp_path, "announce", "create", "--json", *args)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"id"} and isinstance(data["id"], int)
    return int(data["id"])


def listing(tmp_path: Path) -> list[dict[str, object]]:
    result = ngo_bot(tmp_path, "announce", "list", "--json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def deliveries(tmp_path: Path, announcement_id: int) -> dict[str, object]:
    result = ngo_bot(tmp_path, "deliveries", str(announcement_id), "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def subscribe_console_chats(tmp_path: Path, names: list[str], topic: str) -> None:
    async def run() -> None:
        storage = await Storage.open(tmp_path / "bot.sqlite3")
        await add_chats(storage, "console", names, topics=[topic])
        await storage.close()

    asyncio.run(run())


@pytest.mark.parametrize(
    "command",
    [
        ["announce"],
        ["announce", "create"],
        ["announce", "list"],
        ["announce", "edit"],
        ["announce", "cancel"],
        ["deliveries"],
    ],
)
def test_help(tmp_path: Path, command: list[str]) -> None:
    result = ngo_bot(tmp_path, *command, "--help")
    assert result.returncode == 0 and "usage: ngo-bot" in result.stdout


@pytest.mark.dated
def test_create_list_and_deliveries_json_shapes(tmp_path: Path) -> None:
    first = ngo_bot(tmp_path, "announce", "list", "--json")
    assert first.returncode == 0 and first.stdout == "" and first.stderr == ""
    subscribe_console_chats(tmp_path, ["a", "b", "c"], "grants")
    grant = create(
        tmp_path,
        "--kind=grant-deadline",
        "--title-pl=Nabór wniosków",
        "--text-pl=Treść",
        f"--deadline={ahead(days=20)[:10]}",
        "--title-uk=Конкурс",
        "--text-uk=Текст",
    )
    meeting = create(
        tmp_path,
        "--kind=meeting",
        "--title-pl=Spotkanie",
        "--text-pl=Zapraszamy",
        f"--starts-at={ahead(days=5)}",
        f"--ends-at={ahead(days=5, seconds=7200)}",
        "--location=Dekerta 24",
        f"--publish-at={ahead(days=1)}",
    )
    tax = create(tmp_path, "--kind", "tax-campaign", "--title-pl", "1,5%", "--text-pl", "x")
    rows = listing(tmp_path)
    assert [row["id"] for row in rows] == [tax, meeting, grant]
    assert all(set(row) == LIST_KEYS for row in rows)
    by_id = {row["id"]: row for row in rows}
    assert by_id[grant]["kind"] == "grant-deadline" and by_id[grant]["topic"] == "grants"
    assert by_id[grant]["status"] == "sending" and by_id[grant]["starts_at"] is None
    assert str(by_id[grant]["deadline"]).endswith(("+01:00", "+02:00"))
    assert "T23:59:00" in str(by_id[grant]["deadline"])
    assert by_id[meeting]["status"] == "scheduled" and by_id[meeting]["deadline"] is None
    assert by_id[meeting]["topic"] == "meetings"
    for row in rows:
        for key in ("deadline", "starts_at", "publish_at"):
            if row[key] is not None:
                assert datetime.fromisoformat(str(row[key])).tzinfo is not None
    assert "-04-30T23:59:00+02:00" in str(by_id[tax]["deadline"])
    assert by_id[tax]["topic"] == "tax"

    report = deliveries(tmp_path, grant)
    assert set(report) == {"id", "reminders"} | COUNT_KEYS
    assert report["id"] == grant and report["reminders"] == []
    assert report["total"] == 3 and report["pending"] == 3 and report["sent"] == 0
    assert deliveries(tmp_path, meeting)["total"] == 0


@pytest.mark.dated
def test_deliveries_lists_each_due_reminder(tmp_path: Path) -> None:
    subscribe_console_chats(tmp_path, ["a", "b"], "grants")
    grant = create(
        tmp_path,
        "--kind=grant-deadline",
        "--title-pl=Nabór",
        "--text-pl=Treść",
        f"--deadline={ahead(days=20)}",
    )

    async def remind() -> None:
        storage = await Storage.open(tmp_path / "bot.sqlite3")
        now = datetime.now(WARSAW)
        await storage.announcements.send_reminder(grant, now, now=now)
        await storage.close()

    asyncio.run(remind())
    report = deliveries(tmp_path, grant)
    (reminder,) = report["reminders"]  # type: ignore[misc]
    assert set(reminder) == {"at"} | COUNT_KEYS
    assert reminder["total"] == 2 and reminder["pending"] == 2
    assert datetime.fromisoformat(reminder["at"]).tzinfo is not None
    text = ngo_bot(tmp_path, "deliveries", str(grant))
    assert text.returncode == 0 and "reminder at" in text.stdout


@pytest.mark.dated
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["announce", "create", "--kind", "news", "--text-pl", "x"], "--title-pl"),
        (["announce", "create", "--kind", "party", "--title-pl", "x", "--text-pl", "x"], "--kind"),
        (["announce", "create", "--title-pl", "x", "--text-pl", "x"], "--kind"),
        (
            ["announce", "create", "--kind", "grant-deadline", "--title-pl", "x", "--text-pl", "x"],
            "--deadline",
        ),
        (
            [
                "announce",
                "create",
                "--kind=grant-deadline",
                "--title-pl=x",
                "--text-pl=x",
                "--deadline=2020-01-01",
            ],
            "past",
        ),
        (
            ["announce", "create", "--kind=news", "--title-pl=x", "--text-pl=x", "--url=ftp://x"],
            "--url",
        ),
        (
            ["announce", "create", "--kind=news", "--title-pl=x", "--text-pl=x", "--remind=3x"],
            "--remind",
        ),
        (
            [
                "announce",
                "create",
                "--kind=news",
                "--title-pl=x",
                "--text-pl=x",
                "--publish-at=soon",
            ],
            "--publish-at",
        ),
        (
            ["announce", "create", "--kind=news", "--title-pl=" + "x" * 201, "--text-pl=x"],
            "too long",
        ),
        (
            ["announce", "create", "--kind=news", "--title-pl=x", "--text-pl=x", "--topic=weather"],
            "weather",
        ),
        (
            ["announce", "create", "--kind=news", "--title-pl=x", "--text-pl=x", "--title-uk=y"],
            "--title-uk",
        ),
        (["announce", "edit", "7", "--title-pl", "x"], "no announcement #7"),
        (["announce", "edit", "seven", "--title-pl", "x"], "invalid int"),
        (["announce", "cancel", "7"], "no announcement #7"),
        (["deliveries", "7"], "no announcement #7"),
        (["announce"], "ACTION"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = ngo_bot(tmp_path, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr


@pytest.mark.dated
def test_edit_with_notify_cancel_and_the_audit_trail(tmp_path: Path) -> None:
    subscribe_console_chats(tmp_path, ["a", "b"], "news")
    news = create(tmp_path, "--kind=news", "--title-pl=Stare", "--text-pl=Treść")
    no_change = ngo_bot(tmp_path, "announce", "edit", str(news))
    assert no_change.returncode == 2 and "at least one option" in no_change.stderr
    with sqlite3.connect(tmp_path / "bot.sqlite3") as conn:
        conn.execute("UPDATE outbox SET state = 'sent'")  # as if the dispatcher had delivered
    edited = ngo_bot(
        tmp_path, "announce", "edit", str(news), "--title-pl", "Nowe", "--notify", "--json"
    )
    assert edited.returncode == 0, edited.stderr
    assert json.loads(edited.stdout) == {"id": news}
    fixed = ngo_bot(tmp_path, "announce", "edit", str(news), "--topic", "grants")
    assert fixed.returncode == 2 and "cannot change" in fixed.stderr
    with sqlite3.connect(tmp_path / "bot.sqlite3") as conn:
        purposes = [r[0] for r in conn.execute("SELECT purpose FROM broadcasts ORDER BY id")]
        correction_rows = conn.execute(
            "SELECT COUNT(*) FROM outbox o JOIN broadcasts b ON b.id = o.broadcast_id"
            " WHERE b.purpose = 'correction'"
        ).fetchone()[0]
    assert purposes == ["publication", "correction"] and correction_rows == 2
    assert listing(tmp_path)[0]["title_pl"] == "Nowe"

    later = create(
        tmp_path,
        "--kind=news",
        "--title-pl=Później",
        "--text-pl=x",
        f"--publish-at={ahead(days=2)}",
    )
    cancelled = ngo_bot(tmp_path, "announce", "cancel", str(later))
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    assert {row["id"]: row["status"] for row in listing(tmp_path)}[later] == "cancelled"
    too_late = ngo_bot(tmp_path, "announce", "edit", str(later), "--title-pl", "x")
    assert too_late.returncode == 2 and too_late.stderr == (
        "ngo-bot: This announcement is cancelled.\n"
    )
    with sqlite3.connect(tmp_path / "bot.sqlite3") as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
        actors = {r[0] for r in conn.execute("SELECT actor FROM audit_log")}
    assert actions == ["announce publish", "announce edit", "announce schedule", "announce cancel"]
    assert all(actor.startswith("cli:") for actor in actors)


@pytest.mark.dated
async def test_a_running_bot_picks_up_cli_announcements_within_2_seconds(
    settings: Settings, tmp_path: Path
) -> None:
    storage = await Storage.open(settings.db_path)
    await add_chats(storage, "console", ["ala"], topics=["news"])
    runtime = BotRuntime(settings, storage, build_core(storage, settings))
    task = asyncio.create_task(runtime.run())
    try:
        now_id = await asyncio.to_thread(
            create, tmp_path, "--kind=news", "--title-pl=Teraz", "--text-pl=Treść"
        )
        await wait_for_inbox(storage, "Teraz", timeout=2.0)

        # Far enough ahead that the CLI process (its start included) is done before it is due.
        due = (datetime.now(UTC) + timedelta(seconds=8)).astimezone(WARSAW)
        later_id = await asyncio.to_thread(
            create,
            tmp_path,
            "--kind=news",
            "--title-pl=Za chwilę",
            "--text-pl=Treść",
            f"--publish-at={due.isoformat(timespec='seconds')}",
        )
        announcement = await storage.announcements.get(later_id)
        assert announcement is not None and announcement.status.value == "scheduled"
        wait = (due.replace(microsecond=0) - datetime.now(WARSAW)).total_seconds()
        await asyncio.sleep(max(0.0, wait))
        await wait_for_inbox(storage, "Za chwilę", timeout=2.0)
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, timeout=10)
        await storage.close()
    assert now_id != later_id


async def wait_for_inbox(storage: Storage, needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chat = await storage.chats.get(ChatRef("console", "ala"))
        assert chat is not None
        if any(needle in message.text for message in await storage.inbox.all_for(chat.id)):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{needle!r} did not arrive within {timeout} s")


@pytest.mark.dated
def test_console_staff_publish_and_a_console_reader_receives(tmp_path: Path) -> None:
    from tests.test_console import chat

    admins = {"BOT_ADMINS": "console:boss"}
    assert chat(tmp_path, "/subscribe news\n", "--user", "ala", "--lang", "en").returncode == 0
    session = "\n".join(
        [
            "/announce",
            "/announce pick kind news",
            "Dzień otwarty <NGO>",
            "Zapraszamy w sobotę.",
            "skip",
            "skip",
            "skip",
            "/announce pick topic news",
            "/announce publish",
        ]
    )
    boss = chat(tmp_path, session + "\n", "--user", "boss", **admins)
    assert boss.returncode == 0, boss.stderr
    assert "Opublikowano ogłoszenie #1. Liczba odbiorców: 1." in boss.stdout
    reader = chat(tmp_path, "", "--user", "ala")
    assert "📬 📢 Dzień otwarty <NGO>" in reader.stdout
    assert "has no English version yet" in reader.stdout and "/unsubscribe news" in reader.stdout
    summary = chat(tmp_path, "", "--user", "boss", **admins)
    assert "📊" in summary.stdout and "Wysłane: 1." in summary.stdout
