"""End-to-end encryption for the Matrix transport, on matrix-nio's Olm machine (vodozemac).

nio keeps the bot's device keys, its Olm sessions with the members' devices and the Megolm room
keys in an SQLite store of its own (one file per account and device, `<user>_<device>.db`) in
MATRIX_STORE_DIR. The transport runs its own sync loop, so the steps nio's `sync_forever` does
beside each sync are done here (`upkeep`): send queued to-device messages, upload the device's
keys and fresh one-time keys, query the device lists of the members of encrypted rooms, claim
one-time keys to open Olm sessions with new devices.

Trust: the bot cannot verify anyone interactively, so it shares its room keys with every device
of the members (nio's `ignore_unverified_devices`), and nio pins each device's signing key the
first time it sees it (a changed key is not taken over). See README, Matrix.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from nio import (
    Api,
    AsyncClient,
    KeysClaimError,
    KeysQueryError,
    KeysUploadError,
    LocalProtocolError,
    MegolmEvent,
    RoomSendResponse,
)
from nio.store import MegolmInboundSessions

log = logging.getLogger(__name__)

STORE_DIR_MODE = 0o700  # the store holds secret keys: only the bot's user may read it
UNDECRYPTABLE_WAIT_SECONDS = 60.0  # how long a room key may take to arrive before we say so


def store_database(store_dir: Path, user_id: str, device_id: str) -> Path:
    """nio's store file for an account's device (MatrixStore's default database name)."""
    return store_dir / f"{user_id}_{device_id}.db"


def prepare_store_dir(store_dir: Path) -> None:
    """Create the store folder, readable by the bot's user only; OSError when impossible."""
    store_dir.mkdir(parents=True, exist_ok=True, mode=STORE_DIR_MODE)
    if not os.access(store_dir, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write to {store_dir}")


async def own_device_has_keys(client: AsyncClient) -> bool:
    """Whether the homeserver already holds identity keys for the client's device.

    Asked before opening a store that does not exist yet: a device that published keys from a
    store now lost cannot publish new ones (others pinned the old ones, and the one-time key
    ids clash), so the bot must log in as a new device instead.
    """
    method, path, data = Api.keys_query(client.access_token, {client.user_id})
    response, body = await raw_request(client, method, path, data)
    if response.status != 200:
        raise OSError(f"keys/query answered HTTP {response.status}")
    devices = (body.get("device_keys") or {}).get(client.user_id) or {}
    return client.device_id in devices


async def upkeep(client: AsyncClient) -> None:
    """What nio's sync_forever does beside a sync: to-device messages out, keys up, device
    lists and one-time keys fetched. Each failure is logged and retried after the next sync."""
    if client.olm is None:
        return
    if client.outgoing_to_device_messages:
        await client.send_to_device_messages()
    if client.should_upload_keys:
        response = await client.keys_upload()
        if isinstance(response, KeysUploadError):
            log.warning("Matrix: uploading the device keys failed: %s", response.message)
    if client.should_query_keys:
        response = await client.keys_query()
        if isinstance(response, KeysQueryError):
            log.warning("Matrix: querying device keys failed: %s", response.message)
    if client.should_claim_keys:
        response = await client.keys_claim(client.get_users_for_key_claiming())
        if isinstance(response, KeysClaimError):
            log.warning("Matrix: claiming one-time keys failed: %s", response.message)


async def send_to_unsynced_room(
    client: AsyncClient, room_id: str, content: dict[str, Any], txn: str
) -> Any | None:
    """Send to a room nio has not synced (not joined yet as far as it knows, left, or unknown),
    where nio refuses to send once encryption is on. The homeserver says whether the room is
    encrypted: then None (wait for the sync, never send in clear text there); else the event
    goes unencrypted. Returns the homeserver's answer as a nio response (sent, or M_FORBIDDEN
    when the bot is not in the room)."""
    method, path = Api.room_get_state_event(client.access_token, room_id, "m.room.encryption")
    response, body = await raw_request(client, method, path)
    if response.status == 200:
        return None
    if response.status == 404 and body.get("errcode") == "M_NOT_FOUND":
        method, path, data = Api.room_send(
            client.access_token, room_id, "m.room.message", content, txn
        )
        response, body = await raw_request(client, method, path, data)
    result = RoomSendResponse.from_dict(body, room_id)
    result.transport_response = response
    return result


async def raw_request(
    client: AsyncClient, method: str, path: str, data: str | None = None
) -> tuple[ClientResponse, dict[str, Any]]:
    """One request with the token in the header (never in the URL); the JSON body, or an
    error body naming the HTTP status when there is none (a proxy's HTML page)."""
    response = await client.send(
        method,
        path.split("?", 1)[0],
        data,
        headers={
            "Authorization": f"Bearer {client.access_token}",
            "Content-Type": "application/json",
        },
    )
    async with response:
        text = await response.text()
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"error": f"HTTP {response.status}"}
    return response, body


def try_decrypt(client: AsyncClient, event: MegolmEvent) -> Any | None:
    """The decrypted event once its room key is here, else None."""
    if client.olm is None:
        return None
    try:
        decrypted = client.decrypt_event(event)
    except Exception:  # nio raises EncryptionError and, for a malformed event, worse
        return None
    return decrypted if not isinstance(decrypted, MegolmEvent) else None


async def request_room_key(client: AsyncClient, event: MegolmEvent) -> bool:
    """Ask for a missing room key (nio sends the request as the spec says); False when the
    request could not be sent."""
    try:
        response = await client.request_room_key(event)
    except LocalProtocolError:
        return True  # already asked for this session
    return type(response).__name__ == "RoomKeyRequestResponse"


def forget_room_sessions(client: AsyncClient, room_id: str) -> int:
    """Erase the room keys of a room: the Megolm sessions received for it (in the store, and
    in memory) and the bot's own outbound session, so the next message starts a new one.
    Returns how many received sessions were erased. The store overwrites deleted data
    (SQLite secure_delete)."""
    olm = client.olm
    store = client.store
    if olm is None or store is None:
        return 0
    olm.outbound_group_sessions.pop(room_id, None)
    in_memory = olm.inbound_group_store[room_id]
    in_memory.clear()
    with store.database.bind_ctx([MegolmInboundSessions]):
        deleted = (
            MegolmInboundSessions.delete().where(MegolmInboundSessions.room_id == room_id).execute()
        )
    return int(deleted)


def count_room_sessions(client: AsyncClient, room_id: str) -> int:
    """How many received room keys of a room the store holds (for `export`)."""
    store = client.store
    if store is None:
        return 0
    with store.database.bind_ctx([MegolmInboundSessions]):
        query = MegolmInboundSessions.select().where(MegolmInboundSessions.room_id == room_id)
        return int(query.count())


def encrypted_file_content(
    filename: str, mime_type: str, size: int, url: str, keys: dict[str, Any]
) -> dict[str, Any]:
    """An m.file whose content was encrypted before upload (the keys travel in the event)."""
    return {
        "msgtype": "m.file",
        "body": filename,
        "filename": filename,
        "file": {**keys, "url": url},
        "info": {"mimetype": mime_type, "size": size},
    }
