"""Helpers for testing the bot on Matrix against the real test homeserver.

- `MatrixResident`: a person, played by a matrix-nio client: creates rooms, invites the bot,
  writes, and reads the bot's answers one by one, in order (`await resident.ask(room, "!help")`).
- `running_bot(...)`: the Matrix transport in this process over a real SQLite file (fast; the
  test may swap `bot.core.text_handler`).
- `BotProcess`: the real `ngo-bot run` as a subprocess with MATRIX_* variables.
- Fixtures: `bot_user` (a fresh account for the bot), `resident` and `make_resident`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import urllib.parse
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from nio import (
    AsyncClient,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomInviteResponse,
    RoomKickResponse,
    RoomPutStateResponse,
    RoomSendResponse,
    SyncResponse,
)

from bot.app import build_core
from bot.config import Settings
from bot.core.service import Core
from bot.storage import Storage
from bot.transports.matrix import MatrixConfig, MatrixTransport
from tests.conftest import BOT_COMMAND, bot_env
from tests.fixtures_matrix import MakeClient, MakeUser
from tests.synapse_server import MatrixUser, SynapseServer

DEADLINE_SECONDS = 30.0  # a generous bound for a slow CI machine; never a timing assertion
POLL_MS = 1000
BOT_POLL_MS = 2000  # the in-process bot's long poll: short, so tests stop it quickly
ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
RESIDENT_FILTER = {"presence": {"types": []}, "room": {"timeline": {"limit": 100}}}

Event = dict[str, Any]


class MatrixResident:
    """A person on the homeserver. Every event of the rooms they are in is kept in order; the
    bot's messages in a room are read one at a time with `next_from_bot`."""

    def __init__(self, client: AsyncClient, bot_user_id: str) -> None:
        self.client = client
        self.user_id: str = client.user_id
        self.bot_user_id = bot_user_id
        self.events: defaultdict[str, list[Event]] = defaultdict(list)
        self.invites: set[str] = set()
        self._cursor: defaultdict[str, int] = defaultdict(int)  # events read up to here
        # Extra room_send arguments (an encrypting client shares its keys with every device).
        self.send_options: dict[str, Any] = {}

    @classmethod
    async def connect(cls, client: AsyncClient, bot_user_id: str) -> MatrixResident:
        """Start reading from now on (the first sync only sets the position)."""
        resident = cls(client, bot_user_id)
        response = await client.sync(timeout=0, sync_filter=RESIDENT_FILTER)
        assert isinstance(response, SyncResponse), response
        return resident

    # ------------------------------------------------------------------ reading

    async def sync_once(self) -> None:
        response = await self.client.sync(timeout=POLL_MS, sync_filter=RESIDENT_FILTER)
        assert isinstance(response, SyncResponse), response
        for room_id, joined in response.rooms.join.items():
            self.events[room_id].extend(e.source for e in joined.timeline.events)
        for room_id, left in response.rooms.leave.items():
            self.events[room_id].extend(e.source for e in left.timeline.events)
        self.invites.update(response.rooms.invite)

    async def wait_until(self, found: Callable[[], Any], what: str) -> Any:
        """Sync until `found()` returns something truthy; fail naming `what` at the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE_SECONDS
        while True:
            result = found()
            if result:
                return result
            if loop.time() > deadline:
                raise AssertionError(f"{self.user_id} never saw {what} in {DEADLINE_SECONDS} s")
            await self.sync_once()

    def membership_of(self, room_id: str, user_id: str) -> str | None:
        """The latest membership of a user in a room, as far as this resident has seen."""
        for event in reversed(self.events[room_id]):
            if event.get("type") == "m.room.member" and event.get("state_key") == user_id:
                return str(event["content"].get("membership"))
        return None

    async def wait_for_membership(self, room_id: str, user_id: str, membership: str) -> None:
        await self.wait_until(
            lambda: self.membership_of(room_id, user_id) == membership,
            f"{user_id} {membership} {room_id}",
        )

    def _is_bot_message(self, event: Event) -> bool:
        return event.get("sender") == self.bot_user_id and event.get("type") == "m.room.message"

    def _index_of(self, room_id: str, event_id: str) -> int | None:
        for index, event in enumerate(self.events[room_id]):
            if event.get("event_id") == event_id:
                return index
        return None

    def _bot_message_from(self, room_id: str, start: int) -> tuple[int, Event] | None:
        events = self.events[room_id]
        for index in range(start, len(events)):
            if self._is_bot_message(events[index]):
                return index, events[index]
        return None

    async def next_from_bot(self, room_id: str) -> Event:
        """The bot's next message in the room (notice or file) after the last one read."""
        found = await self.wait_until(
            lambda: self._bot_message_from(room_id, self._cursor[room_id]),
            f"a message from the bot in {room_id}",
        )
        self._cursor[room_id] = found[0] + 1
        return dict(found[1])

    async def first_from_bot_after(self, room_id: str, event_id: str) -> Event:
        """The bot's first message after a given event (the bot handles messages in order, so
        this is the answer to that event, or to a later one if the bot ignored it)."""

        def first_after() -> tuple[int, Event] | None:
            index = self._index_of(room_id, event_id)
            return None if index is None else self._bot_message_from(room_id, index + 1)

        found = await self.wait_until(first_after, f"the bot's message after {event_id}")
        self._cursor[room_id] = max(self._cursor[room_id], found[0] + 1)
        return dict(found[1])

    async def next_notice(self, room_id: str) -> Event:
        """The bot's next message, which must be an m.notice; returns its content."""
        return notice_of(await self.next_from_bot(room_id))

    def unread_count(self, room_id: str) -> int:
        """The bot's messages in the room after the last one read."""
        events = self.events[room_id][self._cursor[room_id] :]
        return sum(1 for event in events if self._is_bot_message(event))

    # ------------------------------------------------------------------ writing

    async def say(
        self,
        room_id: str,
        body: str,
        *,
        mentions: Iterable[str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """Send an m.text message; `mentions` fills m.mentions.user_ids."""
        content: Event = {"msgtype": "m.text", "body": body}
        if mentions is not None:
            content["m.mentions"] = {"user_ids": list(mentions)}
        content.update(extra or {})
        response = await self.client.room_send(
            room_id, "m.room.message", content, **self.send_options
        )
        assert isinstance(response, RoomSendResponse), response
        return str(response.event_id)

    async def ask(self, room_id: str, body: str, **options: Any) -> Event:
        """Say something; return the content of the bot's first notice after it."""
        event_id = await self.say(room_id, body, **options)
        return notice_of(await self.first_from_bot_after(room_id, event_id))

    async def send_encrypted(self, room_id: str) -> str:
        """An m.room.encrypted event as an E2EE client would send it (the ciphertext is junk)."""
        content = {
            "algorithm": "m.megolm.v1.aes-sha2",
            "ciphertext": "AwgAEnB0ZXN0LW5vdC1yZWFsLWNpcGhlcnRleHQ",
            "device_id": "RESIDENTDEVICE",
            "sender_key": "c2VuZGVyLWtleS1ub3QtcmVhbA",
            "session_id": "c2Vzc2lvbi1pZC1ub3QtcmVhbA",
        }
        response = await self.client.room_send(room_id, "m.room.encrypted", content)
        assert isinstance(response, RoomSendResponse), response
        return str(response.event_id)

    # -------------------------------------------------------------------- rooms

    async def create_room(
        self,
        *,
        invite: Iterable[str] = (),
        name: str | None = None,
        direct: bool = False,
        encrypted: bool = False,
    ) -> str:
        """A private room created by this resident, inviting users. (In room version 12, the
        default, the creator outranks every power level and is not listed in them.)"""
        response = await self.client.room_create(
            name=name,
            is_direct=direct,
            invite=list(invite),
            initial_state=[ENCRYPTION_STATE] if encrypted else [],
        )
        assert isinstance(response, RoomCreateResponse), response
        return str(response.room_id)

    async def invite(self, room_id: str, user_id: str) -> None:
        response = await self.client.room_invite(room_id, user_id)
        assert isinstance(response, RoomInviteResponse), response

    async def accept_invite(self, room_id: str) -> None:
        await self.wait_until(lambda: room_id in self.invites, f"an invite to {room_id}")
        await self.client.join(room_id)
        await self.wait_for_membership(room_id, self.user_id, "join")

    async def start_chat_with_bot(self, *, encrypted: bool = False) -> str:
        """A direct chat with the bot; returns once the bot has joined."""
        room_id = await self.create_room(
            invite=[self.bot_user_id], direct=True, encrypted=encrypted
        )
        await self.wait_for_membership(room_id, self.bot_user_id, "join")
        return room_id

    async def set_power_level(self, room_id: str, user_id: str, level: int) -> None:
        current = await self.client.room_get_state_event(room_id, "m.room.power_levels")
        assert isinstance(current, RoomGetStateEventResponse), current
        content = dict(current.content)
        content["users"] = {**content.get("users", {}), user_id: level}
        response = await self.client.room_put_state(room_id, "m.room.power_levels", content)
        assert isinstance(response, RoomPutStateResponse), response

    async def kick(self, room_id: str, user_id: str) -> None:
        response = await self.client.room_kick(room_id, user_id, "test")
        assert isinstance(response, RoomKickResponse), response
        await self.wait_for_membership(room_id, user_id, "leave")


def notice_of(event: Event) -> Event:
    """The content of a bot message that must be an m.notice."""
    content: Event = event["content"]
    assert content.get("msgtype") == "m.notice", content
    return content


# ------------------------------------------------------------------------------ the bot


def bot_settings(
    synapse: SynapseServer, user: MatrixUser, db_path: Path, **overrides: Any
) -> Settings:
    settings = Settings(
        db_path=db_path,
        quiet_hours=None,
        matrix_homeserver=synapse.base_url,
        matrix_user_id=user.user_id,
        matrix_password=user.password,
    )
    return replace(settings, **overrides)


@dataclass
class InProcessBot:
    """The Matrix transport running in the test's event loop, over its own database."""

    settings: Settings
    storage: Storage
    core: Core
    transport: MatrixTransport


@asynccontextmanager
async def running_bot(
    synapse: SynapseServer,
    user: MatrixUser,
    db_path: Path,
    *,
    poll_ms: int = BOT_POLL_MS,
    **overrides: Any,
) -> AsyncIterator[InProcessBot]:
    """The transport started over `db_path` (Settings fields in `overrides`), stopped after."""
    settings = bot_settings(synapse, user, db_path, **overrides)
    storage = await Storage.open(db_path)
    try:
        core = build_core(storage, settings)
        transport = MatrixTransport(
            MatrixConfig.from_settings(settings), core, sync_timeout_ms=poll_ms
        )
        await transport.start()
        try:
            yield InProcessBot(settings, storage, core, transport)
        finally:
            await transport.stop()
    finally:
        await storage.close()


class BotProcess:
    """`ngo-bot run` as a real subprocess, logging to a file, stopped with SIGTERM."""

    def __init__(self, synapse: SynapseServer, user: MatrixUser, db_path: Path, **env: str) -> None:
        self.db_path = db_path
        self.log_path = db_path.with_suffix(".log")
        matrix = {
            "MATRIX_HOMESERVER": synapse.base_url,
            "MATRIX_USER_ID": user.user_id,
            "MATRIX_PASSWORD": user.password,
            "BOT_LOG_LEVEL": "INFO",
        }
        self.env = bot_env(db_path, **{**matrix, **env})
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*BOT_COMMAND, "run"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.db_path.parent,
                env=self.env,
            )

    def stop(self, timeout: float = DEADLINE_SECONDS) -> int:
        """SIGTERM, wait; return the exit code (killed after `timeout`, then the test fails)."""
        process, self.process = self.process, None
        assert process is not None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"the bot ignored SIGTERM:\n{self.log()}") from None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace") if self.log_path.exists() else ""


def devices_of(synapse: SynapseServer, user_id: str) -> list[str]:
    """The user's device ids, from the homeserver's admin API."""
    status, body = synapse.admin_api(
        "GET", f"/v2/users/{urllib.parse.quote(user_id, safe='')}/devices"
    )
    assert status == 200, body
    return sorted(device["device_id"] for device in body["devices"])


# ----------------------------------------------------------------------------- fixtures

MakeResident = Callable[..., Awaitable[MatrixResident]]


@pytest.fixture
def bot_user(make_matrix_user: MakeUser) -> MatrixUser:
    """A fresh account for the bot."""
    return make_matrix_user("ngo-bot")


@pytest.fixture
def make_resident(
    make_matrix_user: MakeUser, make_matrix_client: MakeClient, bot_user: MatrixUser
) -> MakeResident:
    """`await make_resident("ala")`: a fresh user, logged in, reading from now on."""

    async def make(prefix: str = "resident") -> MatrixResident:
        client = await make_matrix_client(make_matrix_user(prefix))
        return await MatrixResident.connect(client, bot_user.user_id)

    return make


@pytest.fixture
async def resident(make_resident: MakeResident) -> MatrixResident:
    return await make_resident("ala")


@pytest.fixture
def bot_process(
    synapse: SynapseServer, bot_user: MatrixUser, tmp_path: Path
) -> Iterable[Callable[..., BotProcess]]:
    """`bot_process(**env)`: a BotProcess for the bot account (killed if a test leaves it)."""
    made: list[BotProcess] = []

    def make(**env: str) -> BotProcess:
        bot = BotProcess(synapse, bot_user, tmp_path / "bot.sqlite3", **env)
        made.append(bot)
        return bot

    yield make
    for bot in made:
        with contextlib.suppress(Exception):
            bot.kill()
