"""End to end on Matrix: the real `ngo-bot run` subprocess against the real test homeserver."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.matrix_helpers import BotProcess, MatrixResident, devices_of
from tests.synapse_server import MatrixUser, SynapseServer

MakeBot = Callable[..., BotProcess]


def stored_state(db_path: Path) -> dict[str, str]:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT key, value FROM transport_state WHERE platform = 'matrix'"
        ).fetchall()
    return dict(rows)


def chat_row(db_path: Path, room_id: str) -> tuple[str, str | None, int]:
    with sqlite3.connect(db_path) as conn:
        row = conn.execute(
            "SELECT kind, language, active FROM chats WHERE platform = 'matrix' AND chat_id = ?",
            (room_id,),
        ).fetchone()
    assert row is not None, f"no chat row for {room_id}"
    return row[0], row[1], row[2]


async def test_resident_subscribes_changes_language_and_the_bot_restarts_cleanly(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    resident: MatrixResident,
    bot_process: MakeBot,
) -> None:
    devices_before = devices_of(synapse, bot_user.user_id)  # registering made one
    bot = bot_process()
    bot.start()
    try:
        room = await resident.start_chat_with_bot()

        start = await resident.ask(room, "!start")
        assert start["format"] == "org.matrix.custom.html"
        assert "<b>" in start["formatted_body"]  # the greeting's bold title, as HTML
        assert "!help" in start["body"] and "<b>" not in start["body"]
        assert "!toggle grants" in start["body"]  # topic buttons as command hints
        assert "<code>!toggle grants</code>" in start["formatted_body"]

        subscribed = await resident.ask(room, "!subscribe grants")
        assert "Granty i konkursy" in subscribed["body"]
        assert "!unsubscribe grants" in subscribed["body"]

        ukrainian = await resident.ask(room, "!language uk")
        assert "українською" in ukrainian["body"]

        topics = await resident.ask(room, "!topics")
        assert "Теми:" in topics["body"]
        assert "✅ Гранти та конкурси" in topics["body"]
        assert "⬜ Новини" in topics["body"]
        assert "Щоб вибрати, надішліть:" in topics["body"]  # the hints' heading, in Ukrainian

        help_text = await resident.ask(room, "!help")
        assert "Що я вмію:" in help_text["body"]
        assert "!subscribe" in help_text["body"] and "/subscribe" not in help_text["body"]

        # Free text in a direct chat is a question for the FAQ, answered in its own language.
        polish = await resident.ask(room, "Ile osób trzeba, żeby założyć stowarzyszenie zwykłe?")
        assert "3" in polish["body"] and "regulamin" in polish["body"]
        assert "<a href=" in polish["formatted_body"]
        ukrainian_answer = await resident.ask(room, "Як передати 1,5% податку на фундацію?")
        assert "30 квітня" in ukrainian_answer["body"]
        unknown = await resident.ask(room, "Яка завтра погода?")
        assert "не знаю" in unknown["body"] and "!faq contact" in unknown["body"]
    finally:
        code = bot.stop()
    assert code == 0, bot.log()

    state = stored_state(bot.db_path)
    first_device = state["device_id"]
    assert state["user_id"] == bot_user.user_id
    assert state["sync_token"] and state["access_token"]
    assert first_device not in devices_before
    assert devices_of(synapse, bot_user.user_id) == sorted([*devices_before, first_device])
    assert chat_row(bot.db_path, room) == ("private", "uk", 1)

    # Written while the bot is down: answered after the restart, and nothing older again.
    await resident.say(room, "!deadlines")
    restarted = bot_process()
    restarted.start()
    try:
        missed = await resident.next_notice(room)
        assert "термін" in missed["body"].lower()  # the deadlines answer, in Ukrainian
        again = await resident.ask(room, "!topics")
        assert "✅ Гранти та конкурси" in again["body"]
    finally:
        code = restarted.stop()
    assert code == 0, restarted.log()
    await resident.sync_once()
    assert resident.unread_count(room) == 0  # no late replays after the last answer either
    assert stored_state(restarted.db_path)["device_id"] == first_device
    assert devices_of(synapse, bot_user.user_id) == sorted([*devices_before, first_device])
    assert "with the stored session" in restarted.log()
    assert bot_user.password not in restarted.log()
    assert state["access_token"] not in restarted.log()


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("MATRIX_USER_ID", "MATRIX_USER_ID is not set"),
        ("MATRIX_PASSWORD", "MATRIX_PASSWORD or MATRIX_ACCESS_TOKEN is not set"),
    ],
)
def test_incomplete_matrix_settings_exit_2_naming_the_variable(
    synapse: SynapseServer, bot_user: MatrixUser, tmp_path: Path, missing: str, named: str
) -> None:
    bot = BotProcess(synapse, bot_user, tmp_path / "bot.sqlite3")
    del bot.env[missing]
    bot.start()
    assert bot.process is not None
    assert bot.process.wait(60) == 2, bot.log()
    assert named in bot.log()


def test_a_refused_login_exits_2(
    synapse: SynapseServer, bot_user: MatrixUser, tmp_path: Path
) -> None:
    bot = BotProcess(synapse, bot_user, tmp_path / "bot.sqlite3", MATRIX_PASSWORD="wrong horse")
    bot.start()
    assert bot.process is not None
    assert bot.process.wait(60) == 2, bot.log()
    assert "M_FORBIDDEN" in bot.log() and "wrong horse" not in bot.log()
