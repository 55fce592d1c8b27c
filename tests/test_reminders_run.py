"""The issue's done-when with the real `ngo-bot run`: a reminder about 40 s after the
announcement, delivered exactly once although the bot is restarted in between.

The bot runs on the fake Bot API (a network must be configured for `ngo-bot run`); the
recipient is a console chat, whose deliveries land in the console inbox in the database.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import utcnow
from tests.conftest import BOT_COMMAND, bot_env
from tests.fakebotapi import FakeBotApi
from tests.test_telegram_run import BotProcess

# Date-sensitive: .ci/run runs these again at its fixed moments (`pytest -m dated`).
pytestmark = pytest.mark.dated

WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.fixture
def bots() -> Iterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for bot in started:
        bot.kill()


def cli(db_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BOT_COMMAND, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=bot_env(db_path),
        check=True,
    )


def inbox(db_path: Path, chat: str) -> list[str]:
    """What was delivered to a console chat (read-only, beside the running bot)."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10) as conn:
        rows = conn.execute(
            "SELECT i.text FROM console_inbox i JOIN chats c ON c.id = i.chat_ref"
            " WHERE c.platform = 'console' AND c.chat_id = ? ORDER BY i.id",
            (chat,),
        ).fetchall()
    return [str(row[0]) for row in rows]


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def reminders(texts: list[str]) -> list[str]:
    return [text for text in texts if text.startswith("⏰")]


def test_a_reminder_40_seconds_ahead_is_delivered_once_across_a_restart(
    fake_bot_api: FakeBotApi, tmp_path: Path, bots: list[BotProcess]
) -> None:
    db_path = tmp_path / "bot.sqlite3"
    cli(db_path, "chat", "--user", "ala", "--lang", "pl", stdin="/subscribe grants\n")
    bots.append(BotProcess(tmp_path, fake_bot_api.env()))
    wait_until(lambda: "bot running" in bots[-1].log(), 60, "the bot to start")

    # The reminder is due 40 s from now: the deadline is 24 hours after that moment (exact hours:
    # "1d" would mean the same local time a day earlier, which in the hour repeated when DST ends
    # is the earlier of the two, already past).
    deadline = (
        (utcnow() + timedelta(seconds=40, hours=24)).astimezone(WARSAW).replace(microsecond=0)
    )
    created = cli(
        db_path,
        "announce",
        "create",
        "--kind",
        "grant-deadline",
        "--deadline",
        deadline.isoformat(),
        "--remind",
        "24h",
        "--title-pl",
        "Konkurs na 40 sekund",
        "--text-pl",
        "Wnioski do jutra.",
        "--json",
    )
    announcement_id = json.loads(created.stdout)["id"]
    wait_until(lambda: len(inbox(db_path, "ala")) == 1, 30, "the publication")
    assert "Konkurs na 40 sekund" in inbox(db_path, "ala")[0]

    # Restart between scheduling and firing.
    code, _took = bots[-1].terminate()
    assert code == 0
    assert reminders(inbox(db_path, "ala")) == []
    bots.append(BotProcess(tmp_path, fake_bot_api.env()))
    wait_until(lambda: reminders(inbox(db_path, "ala")) != [], 90, "the reminder")
    (reminder,) = reminders(inbox(db_path, "ala"))
    assert "Przypomnienie: termin mija za" in reminder and "Konkurs na 40 sekund" in reminder
    assert deadline.utcoffset() != (deadline - timedelta(days=1)).utcoffset() or (
        "za 1 dzień." in reminder
    )

    # Once more: a restart after it was sent does not send it again.
    code, _took = bots[-1].terminate()
    assert code == 0
    bots.append(BotProcess(tmp_path, fake_bot_api.env()))
    wait_until(lambda: "bot running" in bots[-1].log(), 60, "the bot to start again")
    code, _took = bots[-1].terminate()
    assert code == 0
    assert len(reminders(inbox(db_path, "ala"))) == 1
    report = json.loads(cli(db_path, "deliveries", str(announcement_id), "--json").stdout)
    assert report["total"] == report["sent"] == 1
    (due,) = report["reminders"]
    assert (due["state"], due["total"], due["sent"]) == ("sent", 1, 1)
