"""Helpers for the end-to-end encryption tests: a person whose client encrypts, as Element does.

- `EncryptingResident`: a `MatrixResident` on a matrix-nio client with its own encryption store
  (vodozemac). After each sync it does what nio's `sync_forever` does (to-device messages,
  key upload, key query, key claim), so it reads the bot's encrypted answers and encrypts what it
  says. Events that arrived encrypted are remembered (`was_encrypted`).
- `create_element_dm`: a direct chat created the way Element creates one.
- `make_encrypting_resident`: the fixture.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    LoginResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomPreset,
    SyncResponse,
    ToDeviceMessage,
    ToDeviceResponse,
)
from nio.store import SqliteStore

from bot.app import build_core
from bot.storage import Storage
from bot.transports import matrix_e2ee
from bot.transports.matrix import MatrixConfig, MatrixTransport
from tests.fixtures_matrix import MakeUser
from tests.matrix_helpers import (
    BOT_POLL_MS,
    ENCRYPTION_STATE,
    POLL_MS,
    RESIDENT_FILTER,
    InProcessBot,
    MatrixResident,
    bot_settings,
)
from tests.synapse_server import MatrixUser, SynapseServer

Event = dict[str, Any]


def encrypting_config() -> AsyncClientConfig:
    return AsyncClientConfig(
        max_limit_exceeded=0,
        max_timeouts=0,
        request_timeout=30,
        encryption_enabled=True,
        store=SqliteStore,
        store_sync_tokens=False,
    )


class EncryptingResident(MatrixResident):
    """A person whose client encrypts and decrypts (nio with vodozemac)."""

    def __init__(self, client: AsyncClient, bot_user_id: str) -> None:
        super().__init__(client, bot_user_id)
        self.was_encrypted: set[str] = set()
        self.undecryptable: set[str] = set()
        # Encrypted in an encrypted room, keys shared on first use.
        self.send_options = {"ignore_unverified_devices": True}

    @classmethod
    async def connect(cls, client: AsyncClient, bot_user_id: str) -> EncryptingResident:
        resident = cls(client, bot_user_id)
        await matrix_e2ee.upkeep(client)  # publish this device's keys
        response = await client.sync(timeout=0, sync_filter=RESIDENT_FILTER)
        assert isinstance(response, SyncResponse), response
        await matrix_e2ee.upkeep(client)
        return resident

    async def sync_once(self) -> None:
        response = await self.client.sync(timeout=POLL_MS, sync_filter=RESIDENT_FILTER)
        assert isinstance(response, SyncResponse), response
        for room_id, joined in response.rooms.join.items():
            for event in joined.timeline.events:
                if getattr(event, "decrypted", False):
                    self.was_encrypted.add(event.event_id)
                if isinstance(event, MegolmEvent):
                    self.undecryptable.add(event.event_id)
                self.events[room_id].append(event.source)
        for room_id, left in response.rooms.leave.items():
            self.events[room_id].extend(e.source for e in left.timeline.events)
        self.invites.update(response.rooms.invite)
        await matrix_e2ee.upkeep(self.client)

    async def say_without_sharing_the_key(self, room_id: str, body: str) -> str:
        """Send with a new room key that nobody received: the bot cannot decrypt it."""
        olm = self.client.olm
        assert olm is not None
        olm.create_outbound_group_session(room_id)
        olm.outbound_group_sessions[room_id].shared = True
        return await self.say(room_id, body)

    async def say_with_the_key_late(self, room_id: str, body: str) -> str:
        """Send with a new room key, and the key itself (as it was before this message) only
        after the message: as when a to-device message is slower than the room event."""
        event_id, held = await self.say_holding_the_key(room_id, body)
        await self.send_held_key(held)
        return event_id

    async def say_holding_the_key(
        self, room_id: str, body: str
    ) -> tuple[str, list[dict[str, Any]]]:
        """Send with a new room key, keeping back the to-device messages that carry the key."""
        client, olm = self.client, self.client.olm
        assert olm is not None
        missing = client.get_missing_sessions(room_id)
        if missing:
            await client.keys_claim(missing)
        olm.outbound_group_sessions.pop(room_id, None)
        users = list(client.rooms[room_id].users)
        batches = list(olm.share_group_session_parallel(room_id, users, True))
        olm.outbound_group_sessions[room_id].shared = True
        event_id = await self.say(room_id, body)
        return event_id, [to_device for _with, to_device in batches]

    async def send_held_key(self, held: list[dict[str, Any]]) -> None:
        for to_device in held:
            for user_id, devices in to_device["messages"].items():
                for device_id, content in devices.items():
                    message = ToDeviceMessage("m.room.encrypted", user_id, device_id, content)
                    response = await self.client.to_device(message)
                    assert isinstance(response, ToDeviceResponse), response

    def start_new_key(self, room_id: str) -> None:
        """Forget the current outbound session: the next message shares a new one."""
        olm = self.client.olm
        assert olm is not None
        olm.outbound_group_sessions.pop(room_id, None)


async def create_element_dm(resident: MatrixResident, bot_user_id: str) -> str:
    """A direct chat as Element creates it: trusted_private_chat, is_direct, encrypted from
    the first event; returns once the bot has joined."""
    response = await resident.client.room_create(
        preset=RoomPreset.trusted_private_chat,
        is_direct=True,
        invite=[bot_user_id],
        initial_state=[ENCRYPTION_STATE],
    )
    assert isinstance(response, RoomCreateResponse), response
    room_id = str(response.room_id)
    await resident.wait_for_membership(room_id, bot_user_id, "join")
    return room_id


async def encrypted_room_with(
    creator: MatrixResident, members: Iterable[MatrixResident], bot_user_id: str
) -> str:
    """An encrypted (non-direct) room of the creator with other residents and the bot."""
    others = list(members)
    response = await creator.client.room_create(
        name="Encrypted NGO room",
        invite=[bot_user_id, *(m.user_id for m in others)],
        initial_state=[ENCRYPTION_STATE],
    )
    assert isinstance(response, RoomCreateResponse), response
    room_id = str(response.room_id)
    for member in others:
        await member.accept_invite(room_id)
    await creator.wait_for_membership(room_id, bot_user_id, "join")
    for member in others:
        await creator.wait_for_membership(room_id, member.user_id, "join")
    return room_id


async def login_encrypting(
    synapse: SynapseServer, user: MatrixUser, store_dir: Path, device_name: str = "element"
) -> AsyncClient:
    store_dir.mkdir(parents=True, exist_ok=True)
    client = AsyncClient(
        synapse.base_url, user.user_id, store_path=str(store_dir), config=encrypting_config()
    )
    response = await client.login(user.password, device_name=device_name)
    assert isinstance(response, LoginResponse), response
    assert client.olm is not None, "the test client has no encryption (vodozemac missing?)"
    return client


MakeEncryptingResident = Callable[..., Awaitable[EncryptingResident]]


@pytest.fixture
async def make_encrypting_resident(
    synapse: SynapseServer,
    make_matrix_user: MakeUser,
    bot_user: MatrixUser,
    tmp_path: Path,
) -> AsyncIterator[MakeEncryptingResident]:
    clients: list[AsyncClient] = []

    async def make(prefix: str = "olena") -> EncryptingResident:
        user = make_matrix_user(prefix)
        client = await login_encrypting(synapse, user, tmp_path / f"client-{user.user_id}")
        clients.append(client)
        return await EncryptingResident.connect(client, bot_user.user_id)

    try:
        yield make
    finally:
        for client in clients:
            await client.close()


@asynccontextmanager
async def running_e2ee_bot(
    synapse: SynapseServer,
    user: MatrixUser,
    db_path: Path,
    *,
    undecryptable_wait_seconds: float = 2.0,
    **overrides: Any,
) -> AsyncIterator[InProcessBot]:
    """The Matrix transport with encryption in this process, a short wait for missing keys."""
    settings = bot_settings(synapse, user, db_path, **overrides)
    storage = await Storage.open(db_path)
    try:
        core = build_core(storage, settings)
        transport = MatrixTransport(
            MatrixConfig.from_settings(settings),
            core,
            sync_timeout_ms=BOT_POLL_MS,
            undecryptable_wait_seconds=undecryptable_wait_seconds,
        )
        await transport.start()
        try:
            yield InProcessBot(settings, storage, core, transport)
        finally:
            await transport.stop()
    finally:
        await storage.close()


async def eventually(check: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"never: {what}")
        await asyncio.sleep(0.1)
