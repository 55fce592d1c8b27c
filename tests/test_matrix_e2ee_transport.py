"""End-to-end encryption in the Matrix transport (in this process) against the real Synapse,
with an encrypting nio client: answers, unreadable messages, forget, export and privacy."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from nio import MemoryDownloadResponse
from nio.crypto import decrypt_attachment

from bot.transports.matrix_e2ee import store_database
from tests.matrix_e2ee_helpers import (
    EncryptingResident,
    MakeEncryptingResident,
    create_element_dm,
    eventually,
    running_e2ee_bot,
)
from tests.synapse_server import MatrixUser, SynapseServer
from tests.test_cli import ngo_bot


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.sqlite3"


def room_keys_in_store(store_file: Path, room_id: str) -> set[str]:
    """The ids of the room keys (Megolm sessions) the bot's store holds for a room."""
    with sqlite3.connect(store_file) as conn:
        rows = conn.execute(
            "SELECT session_id FROM megolminboundsessions WHERE room_id = ?", (room_id,)
        ).fetchall()
    return {row[0] for row in rows}


async def test_an_encrypted_dm_is_read_and_answered_encrypted(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    make_encrypting_resident: MakeEncryptingResident,
    db_path: Path,
) -> None:
    olena = await make_encrypting_resident("olena")
    async with running_e2ee_bot(synapse, bot_user, db_path) as bot:
        transport = bot.transport
        await eventually(lambda: transport.key_setup_seconds is not None, "keys published")
        room = await create_element_dm(olena, bot_user.user_id)
        help_text = await olena.ask(room, "!help")
        assert "Co potrafię:" in help_text["body"]
        answer_id = olena.events[room][olena._cursor[room] - 1]["event_id"]
        assert answer_id in olena.was_encrypted  # the bot's answer travelled encrypted

        ukrainian = await olena.ask(room, "Як передати 1,5% податку на фундацію?")
        assert "30 квітня" in ukrainian["body"]
        assert not olena.undecryptable
    store_dir = db_path.with_name("bot-matrix-store")
    assert store_dir.is_dir() and (store_dir.stat().st_mode & 0o077) == 0
    device = bot.transport.client.device_id
    assert len(room_keys_in_store(store_database(store_dir, bot_user.user_id, device), room)) == 2
    # olena's key and the bot's own


async def test_an_unreadable_message_is_waited_for_then_told_once_in_the_chat_language(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    make_encrypting_resident: MakeEncryptingResident,
    db_path: Path,
) -> None:
    olena = await make_encrypting_resident("olena")
    async with running_e2ee_bot(synapse, bot_user, db_path, undecryptable_wait_seconds=1.0):
        room = await create_element_dm(olena, bot_user.user_id)
        await olena.ask(room, "!language uk")

        # The key arrives late (after the message): the bot reads the message then and answers.
        late = await olena.say_with_the_key_late(room, "!topics")
        answer = await olena.first_from_bot_after(room, late)
        assert "Теми:" in answer["content"]["body"]

        # The key never arrives: after its wait the bot says so once, in Ukrainian.
        first = await olena.say_without_sharing_the_key(room, "!help")
        told = await olena.first_from_bot_after(room, first)
        assert "не вдалося прочитати" in told["content"]["body"]
        await olena.say(room, "Яка завтра погода?")  # the same withheld key: not told again
        olena.start_new_key(room)
        help_text = await olena.ask(room, "!help")
        assert "Що я вмію:" in help_text["body"]
        bot_messages = [
            e
            for e in olena.events[room]
            if e.get("sender") == bot_user.user_id and e.get("type") == "m.room.message"
        ]
        told_count = sum("не вдалося прочитати" in e["content"]["body"] for e in bot_messages)
        assert told_count == 1


async def test_forget_erases_the_rooms_keys_and_export_counts_them(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    make_encrypting_resident: MakeEncryptingResident,
    db_path: Path,
) -> None:
    olena = await make_encrypting_resident("olena")
    async with running_e2ee_bot(synapse, bot_user, db_path) as bot:
        room = await create_element_dm(olena, bot_user.user_id)
        privacy = await olena.ask(room, "!privacy")
        assert "szyfrowanych pokojach" in privacy["body"] and "!forget" in privacy["body"]

        await olena.ask(room, "!export")
        file_event = await olena.next_from_bot(room)
        exported = await downloaded_json(olena, file_event)
        assert exported["matrix_encryption"]["room_keys_stored"] >= 1
        assert "url" not in file_event["content"]  # the file itself was encrypted

        store = store_database(
            db_path.with_name("bot-matrix-store"), bot_user.user_id, bot.transport.client.device_id
        )
        before = room_keys_in_store(store, room)
        assert len(before) == 2  # olena's key and the bot's own
        done = await olena.ask(room, "!forget yes")
        assert "zostały usunięte" in done["body"]
        # Only the bot's new key (for this answer onwards) is left: nothing said before is
        # readable with what the store holds.
        after = room_keys_in_store(store, room)
        assert len(after) == 1 and not before & after


async def downloaded_json(
    resident: EncryptingResident, event: dict[str, object]
) -> dict[str, object]:
    """Download and decrypt an encrypted m.file the bot sent."""
    content = event["content"]
    assert isinstance(content, dict)
    file_info = content["file"]
    response = await resident.client.download(mxc=file_info["url"])
    assert isinstance(response, MemoryDownloadResponse), response
    plain = decrypt_attachment(
        response.body, file_info["key"]["k"], file_info["hashes"]["sha256"], file_info["iv"]
    )
    loaded = json.loads(plain)
    assert isinstance(loaded, dict)
    return loaded


async def test_db_backup_copies_the_store_and_the_copy_reads_the_room(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    make_encrypting_resident: MakeEncryptingResident,
    db_path: Path,
    tmp_path: Path,
) -> None:
    olena = await make_encrypting_resident("olena")
    async with running_e2ee_bot(synapse, bot_user, db_path) as bot:
        room = await create_element_dm(olena, bot_user.user_id)
        assert "Co potrafię:" in (await olena.ask(room, "!help"))["body"]
        device = bot.transport.client.device_id
        backup = await asyncio.to_thread(
            ngo_bot, tmp_path, "db", "backup", str(tmp_path / "saved" / "copy.sqlite3")
        )  # while the bot runs
    assert backup.returncode == 0, backup.stderr
    store_copy = tmp_path / "saved" / "copy-matrix-store"
    assert "Matrix encryption store" in backup.stdout and str(store_copy) in backup.stdout
    assert store_database(store_copy, bot_user.user_id, device).is_file()

    # The copy, used as BOT_DB, finds its store beside it: the same device reads the room on.
    await olena.say(room, "!topics")  # written while no bot runs
    copy = tmp_path / "saved" / "copy.sqlite3"
    async with running_e2ee_bot(synapse, bot_user, copy) as restored:
        topics = await olena.next_notice(room)
        assert "Tematy:" in topics["body"]
        assert restored.transport.client.device_id == device
    assert not olena.undecryptable


async def test_a_message_waiting_for_its_key_is_read_after_a_restart(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    make_encrypting_resident: MakeEncryptingResident,
    db_path: Path,
) -> None:
    olena = await make_encrypting_resident("olena")
    async with running_e2ee_bot(synapse, bot_user, db_path, undecryptable_wait_seconds=60.0) as bot:
        room = await create_element_dm(olena, bot_user.user_id)
        await olena.ask(room, "!help")
        waiting, held = await olena.say_holding_the_key(room, "!topics")
        state = bot.storage.sync_state

        async def stored_waiting() -> dict[str, str]:
            return await state.get_all("matrix", "undecryptable:")

        for _ in range(300):  # the bot saw it and keeps it before moving its sync position on
            if await stored_waiting():
                break
            await asyncio.sleep(0.1)
        assert await stored_waiting() == {f"undecryptable:{waiting}": room}
        olena.start_new_key(room)  # her next message is readable again
        await olena.ask(room, "!export")
        export_file = await downloaded_json(olena, await olena.next_from_bot(room))
        assert export_file["matrix_encryption"]["messages_waiting_for_their_key"] == [waiting]

    await olena.send_held_key(held)  # the key comes while the bot is down
    async with running_e2ee_bot(synapse, bot_user, db_path) as restarted:
        answer = await olena.next_notice(room)  # the next after the export file
        assert "Tematy:" in answer["body"]
        left = await restarted.storage.sync_state.get_all("matrix", "undecryptable:")
        for _ in range(50):
            if not left:
                break
            await asyncio.sleep(0.1)
            left = await restarted.storage.sync_state.get_all("matrix", "undecryptable:")
        assert left == {}
