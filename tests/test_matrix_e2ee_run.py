"""End-to-end encryption end to end: the real `ngo-bot run` against the real Synapse, with
encrypting nio clients playing the people (an Element-style DM, a broadcast, restarts)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from tests.matrix_e2ee_helpers import (
    EncryptingResident,
    MakeEncryptingResident,
    create_element_dm,
    encrypted_room_with,
)
from tests.matrix_helpers import BotProcess, MatrixResident, devices_of
from tests.synapse_server import MatrixUser, SynapseServer
from tests.test_announce_cli import ahead
from tests.test_cli import ngo_bot

MakeBot = Callable[..., BotProcess]
KEY_SETUP = re.compile(r"encryption ready for device (\S+) \((\d+\.\d+) s after start\)")


def stored_device(db_path: Path) -> str:
    with sqlite3.connect(db_path) as conn:
        row = conn.execute(
            "SELECT value FROM transport_state WHERE platform = 'matrix' AND key = 'device_id'"
        ).fetchone()
    assert row is not None
    return str(row[0])


async def answered_encrypted(resident: EncryptingResident, room: str, text: str) -> str:
    """Ask; check that the answer travelled encrypted; return its plain body."""
    event_id = await resident.say(room, text)
    answer = await resident.first_from_bot_after(room, event_id)
    assert answer["event_id"] in resident.was_encrypted, answer
    assert answer["content"]["msgtype"] == "m.notice"
    return str(answer["content"]["body"])


async def test_an_element_dm_is_answered_and_a_restart_keeps_the_device_and_reads_on(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    make_encrypting_resident: MakeEncryptingResident,
    bot_process: MakeBot,
) -> None:
    devices_before = devices_of(synapse, bot_user.user_id)
    olena = await make_encrypting_resident("olena")
    bot = bot_process()
    bot.start()
    try:
        room = await create_element_dm(olena, bot_user.user_id)
        assert "Co potrafię:" in await answered_encrypted(olena, room, "!help")
        answer = await answered_encrypted(
            olena, room, "Ile osób trzeba, żeby założyć stowarzyszenie zwykłe?"
        )
        assert "3" in answer and "regulamin" in answer
        assert "Granty i konkursy" in await answered_encrypted(olena, room, "!subscribe grants")
    finally:
        assert bot.stop() == 0, bot.log()
    first_device = stored_device(bot.db_path)
    setup = KEY_SETUP.search(bot.log())
    assert setup is not None and setup.group(1) == first_device, bot.log()
    print(f"key setup at first start: {float(setup.group(2)):.2f} s after start")
    store_dir = bot.db_path.with_name("bot-matrix-store")
    assert (store_dir / f"{bot_user.user_id}_{first_device}.db").is_file()

    # Written (encrypted) while the bot is down: read and answered after the restart.
    await olena.say(room, "!deadlines")
    restarted = bot_process()
    restarted.start()
    try:
        missed = await olena.next_notice(room)
        assert "termin" in missed["body"].lower()
        assert "✅ Granty i konkursy" in await answered_encrypted(olena, room, "!topics")
    finally:
        assert restarted.stop() == 0, restarted.log()
    assert stored_device(restarted.db_path) == first_device
    assert devices_of(synapse, bot_user.user_id) == sorted([*devices_before, first_device])
    assert "new device" not in restarted.log()
    assert not olena.undecryptable
    assert bot_user.password not in restarted.log()


async def test_a_broadcast_reaches_every_member_of_an_encrypted_room(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    make_encrypting_resident: MakeEncryptingResident,
    bot_process: MakeBot,
    tmp_path: Path,
) -> None:
    olena = await make_encrypting_resident("olena")
    taras = await make_encrypting_resident("taras")
    bot = bot_process()
    bot.start()
    try:
        room = await encrypted_room_with(olena, [taras], bot_user.user_id)
        assert "Granty i konkursy" in await answered_encrypted(olena, room, "!subscribe grants")
        result = await asyncio.to_thread(
            ngo_bot,
            tmp_path,
            "announce",
            "create",
            "--json",
            "--kind=grant-deadline",
            "--title-pl=Nabór wniosków 2027",
            "--text-pl=Szczegóły na stronie.",
            f"--deadline={ahead(days=30)}",
        )
        assert result.returncode == 0, result.stderr
        announcement_id = json.loads(result.stdout)["id"]
        for member in (olena, taras):
            broadcast = await member.wait_until(
                lambda m=member: bot_message_with(m, room, "Nabór wniosków 2027"), "the broadcast"
            )
            assert broadcast["event_id"] in member.was_encrypted
        bot_events = [
            e
            for e in taras.events[room]
            if e.get("sender") == bot_user.user_id and e.get("type") == "m.room.message"
        ]
        assert len(bot_events) == 2 and all(
            e["event_id"] in taras.was_encrypted for e in bot_events
        )
    finally:
        assert bot.stop() == 0, bot.log()
    counts = json.loads(ngo_bot(tmp_path, "deliveries", str(announcement_id), "--json").stdout)
    assert (counts["total"], counts["sent"]) == (1, 1)


async def test_with_matrix_e2ee_off_an_encrypted_dm_gets_the_one_time_notice(
    bot_user: MatrixUser, resident: MatrixResident, bot_process: MakeBot
) -> None:
    bot = bot_process(MATRIX_E2EE="off")
    bot.start()
    try:
        room = await create_element_dm(resident, bot_user.user_id)
        await resident.send_encrypted(room)
        notice = await resident.next_notice(room)
        assert "szyfrowan" in notice["body"] and "formatted_body" not in notice
    finally:
        assert bot.stop() == 0, bot.log()
    assert not bot.db_path.with_name("bot-matrix-store").exists()
    assert "encryption store" not in bot.log()


async def test_a_lost_store_makes_a_new_device_that_reads_and_answers(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    make_encrypting_resident: MakeEncryptingResident,
    bot_process: MakeBot,
) -> None:
    olena = await make_encrypting_resident("olena")
    bot = bot_process()
    bot.start()
    try:
        room = await create_element_dm(olena, bot_user.user_id)
        assert "Co potrafię:" in await answered_encrypted(olena, room, "!help")
    finally:
        assert bot.stop() == 0, bot.log()
    lost_device = stored_device(bot.db_path)
    shutil.rmtree(bot.db_path.with_name("bot-matrix-store"))

    restarted = bot_process()
    restarted.start()
    try:
        new_device = await asyncio.to_thread(wait_for_new_device, restarted, lost_device)
        # Element shares its room key with a new device on its own; the nio client is told to.
        olena.start_new_key(room)
        await olena.sync_once()
        assert "Co potrafię:" in await answered_encrypted(olena, room, "!help")
    finally:
        assert restarted.stop() == 0, restarted.log()
    assert new_device != lost_device
    assert "logging in as a new device" in restarted.log()
    assert new_device in devices_of(synapse, bot_user.user_id)


def bot_message_with(resident: EncryptingResident, room: str, text: str) -> dict[str, object]:
    """The bot's (decrypted) message in the room whose body contains `text`, else {}."""
    for event in resident.events[room]:
        content = event.get("content") or {}
        if event.get("sender") == resident.bot_user_id and text in str(content.get("body", "")):
            return dict(event)
    return {}


def wait_for_new_device(bot: BotProcess, lost_device: str) -> str:
    """The device the bot became ready with other than the lost one (the log is shared)."""
    for _ in range(300):
        ready = [device for device, _s in KEY_SETUP.findall(bot.log()) if device != lost_device]
        if ready:
            return str(ready[0])
        time.sleep(0.1)
    raise AssertionError(f"the bot never became ready with a new device:\n{bot.log()}")


async def test_a_lost_store_with_only_a_token_stops_saying_what_to_do(
    synapse: SynapseServer, bot_user: MatrixUser, bot_process: MakeBot
) -> None:
    app = await synapse.login_client(bot_user.user_id, bot_user.password)
    token, device = app.access_token, app.device_id
    await app.close()
    bot = bot_process(MATRIX_ACCESS_TOKEN=token)
    del bot.env["MATRIX_PASSWORD"]
    bot.start()
    await asyncio.to_thread(wait_for_new_device, bot, "")
    assert bot.stop() == 0, bot.log()
    shutil.rmtree(bot.db_path.with_name("bot-matrix-store"))

    again = bot_process(MATRIX_ACCESS_TOKEN=token)
    del again.env["MATRIX_PASSWORD"]
    again.start()
    assert again.process is not None
    assert again.process.wait(60) == 2, again.log()
    assert f"has no encryption keys for device {device}" in again.log()
    assert "MATRIX_E2EE=off" in again.log() and token not in again.log()


async def test_a_bot_that_ran_without_encryption_keeps_its_device_when_it_is_switched_on(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    resident: MatrixResident,
    make_encrypting_resident: MakeEncryptingResident,
    bot_process: MakeBot,
) -> None:
    plain_bot = bot_process(MATRIX_E2EE="off")
    plain_bot.start()
    try:
        room = await resident.start_chat_with_bot()
        assert "Co potrafię:" in (await resident.ask(room, "!help"))["body"]
    finally:
        assert plain_bot.stop() == 0, plain_bot.log()
    device = stored_device(plain_bot.db_path)

    olena = await make_encrypting_resident("olena")
    bot = bot_process()  # MATRIX_E2EE on, the default
    bot.start()
    try:
        encrypted = await create_element_dm(olena, bot_user.user_id)
        assert "Co potrafię:" in await answered_encrypted(olena, encrypted, "!help")
        assert "Tematy:" in (await resident.ask(room, "!topics"))["body"]  # plain rooms too
    finally:
        assert bot.stop() == 0, bot.log()
    assert stored_device(bot.db_path) == device
    assert f"encryption ready for device {device}" in bot.log()
