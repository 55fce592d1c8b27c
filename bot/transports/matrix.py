"""Matrix transport on matrix-nio: rooms are chats, `!commands`, replies as HTML notices.

One long-poll sync loop receives events; the sync token, device id and access token live in the
database (`storage.sync_state`), so a restart neither answers old messages again nor creates a
new device. Replies and broadcasts are `m.notice` events with an HTML `formatted_body`; buttons
become `!command` hints; attachments are uploaded and sent as `m.file`. With end-to-end
encryption on (MATRIX_E2EE, the default) encrypted rooms are read and answered like any other
(`matrix_e2ee`: the store, the key upkeep, room keys); with it off, an encrypted room is told once,
in plain text, that the bot cannot read it.

nio's own retry loops are switched off (`max_limit_exceeded=0`, `max_timeouts=0`): a 429 or a
timeout comes back at once, so `send()` can report it to the delivery engine and shutdown never
waits behind a sleeping retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    InviteInfo,
    InviteMemberEvent,
    JoinError,
    LocalProtocolError,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    ProfileGetDisplayNameResponse,
    RoomGetEventResponse,
    RoomInfo,
    RoomMemberEvent,
    RoomSendResponse,
    SyncResponse,
    UploadResponse,
    WhoamiResponse,
)
from nio.store import SqliteStore

from bot.config import ConfigError, Settings
from bot.core.context import Context
from bot.core.liveness import SYNC
from bot.core.markup import escape, to_plain_text
from bot.core.messages import Button, ChatKind, ChatRef, Incoming, Reply
from bot.core.service import Core, describe
from bot.i18n import _, use_language
from bot.transports import matrix_e2ee
from bot.transports.base import OutcomeKind, SendOutcome

log = logging.getLogger(__name__)

PLATFORM = "matrix"
DEVICE_NAME = "ngo-bot"
MODERATOR_LEVEL = 50
SYNC_TIMEOUT_MS = 30_000
REQUEST_TIMEOUT_SECONDS = 30.0
TIMELINE_LIMIT = 50
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
STOP_GRACE_SECONDS = 5.0
REPLY_ATTEMPTS = 3
REPLY_MAX_WAIT_SECONDS = 30.0
JOIN_ATTEMPTS = 5

KEY_USER_ID = "user_id"
KEY_DEVICE_ID = "device_id"
KEY_ACCESS_TOKEN = "access_token"
KEY_SYNC_TOKEN = "sync_token"
ENCRYPTION_NOTICE_PREFIX = "encryption_notice:"
# A message waiting for its room key: its event id -> its room, until it is read or told.
UNDECRYPTABLE_PREFIX = "undecryptable:"

HTML_FORMAT = "org.matrix.custom.html"
ENCRYPTED_EVENT = "m.room.encrypted"
MEDIA_MSGTYPES = frozenset({"m.image", "m.file", "m.audio", "m.video"})
GONE_ERRCODES = frozenset({"M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN_ROOM"})
LOGIN_REFUSED_ERRCODES = frozenset({"M_FORBIDDEN", "M_UNKNOWN_TOKEN", "M_USER_DEACTIVATED"})

_USER_ID = re.compile(r"@[^:\s]+:\S+")
# Presence and typing are noise for a bot; the timeline limit bounds a catch-up after downtime.
SYNC_FILTER: dict[str, Any] = {
    "presence": {"types": []},
    "room": {"timeline": {"limit": TIMELINE_LIMIT}, "ephemeral": {"types": []}},
}
# The first sync of a new login only learns the rooms: what was said before is not for us.
INITIAL_SYNC_FILTER: dict[str, Any] = {
    "presence": {"types": []},
    "room": {"timeline": {"limit": 1}, "ephemeral": {"types": []}},
}
TRANSIENT_ERRORS = (ClientError, TimeoutError, OSError)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class MatrixConfig:
    """What the transport needs from the environment, validated."""

    homeserver: str
    user_id: str
    password: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    allowed_servers: frozenset[str] = frozenset()
    # On by default in Settings (MATRIX_E2EE); a config built by hand names its store to use it.
    e2ee: bool = False
    store_dir: Path = Path("matrix-store")

    @classmethod
    def from_settings(cls, settings: Settings) -> MatrixConfig:
        """Raise ConfigError naming the variable when a piece is missing or malformed."""
        homeserver = (settings.matrix_homeserver or "").rstrip("/")
        if not homeserver.startswith(("http://", "https://")):
            raise ConfigError(
                f"MATRIX_HOMESERVER: {settings.matrix_homeserver!r} is not an http(s) URL "
                "such as https://matrix.example.org"
            )
        user_id = settings.matrix_user_id
        if not user_id:
            raise ConfigError(
                "MATRIX_USER_ID is not set: Matrix needs the bot account's full user id, "
                "e.g. @ngo-bot:example.org"
            )
        if not _USER_ID.fullmatch(user_id):
            raise ConfigError(
                f"MATRIX_USER_ID: {user_id!r} is not a full Matrix user id like "
                "@ngo-bot:example.org"
            )
        if not settings.matrix_password and not settings.matrix_access_token:
            raise ConfigError(
                "MATRIX_PASSWORD or MATRIX_ACCESS_TOKEN is not set: Matrix needs one of them "
                "to log in as MATRIX_USER_ID"
            )
        return cls(
            homeserver=homeserver,
            user_id=user_id,
            password=settings.matrix_password,
            access_token=settings.matrix_access_token,
            allowed_servers=settings.matrix_allowed_servers,
            e2ee=settings.matrix_e2ee,
            store_dir=settings.matrix_store_path,
        )

    def may_invite(self, user_id: str) -> bool:
        """Whether a user's homeserver may invite the bot (any, when no list is configured)."""
        return not self.allowed_servers or server_name(user_id) in self.allowed_servers


def server_name(user_id: str) -> str:
    """The homeserver part of '@user:server' ('' when there is none)."""
    return user_id.partition(":")[2]


def client_config(e2ee: bool = False) -> AsyncClientConfig:
    """No hidden retries: a 429 or a timeout is returned to us at once. With encryption, nio's
    store keeps everything in one SQLite file (device trust included); the sync token stays in
    the bot's database."""
    return AsyncClientConfig(
        max_limit_exceeded=0,
        max_timeouts=0,
        request_timeout=REQUEST_TIMEOUT_SECONDS,
        encryption_enabled=e2ee,
        store=SqliteStore,
        store_sync_tokens=False,
    )


class LoginUnavailable(Exception):
    """The homeserver could not be reached or is overloaded; logging in is retried later."""


# ------------------------------------------------------------------------------ rendering


def notice_content(reply: Reply) -> dict[str, Any]:
    """An m.notice with the HTML subset as formatted_body and a plain-text body.

    Buttons become `!command` hints (the person types the command). `m.mentions` is empty so
    a name inside the text never pings anyone.
    """
    html_text = reply.text.replace("\n", "<br>")
    plain_text = to_plain_text(reply.text)
    buttons = reply.all_buttons()
    if buttons:
        heading = _("To choose, send:")
        html_text += "<br><br>" + "<br>".join(
            [f"<i>{escape(heading)}</i>", *(button_hint_html(b) for b in buttons)]
        )
        plain_text += "\n\n" + "\n".join([heading, *(button_hint_plain(b) for b in buttons)])
    return {
        "msgtype": "m.notice",
        "body": plain_text,
        "format": HTML_FORMAT,
        "formatted_body": html_text,
        "m.mentions": {},
    }


def button_hint_html(button: Button) -> str:
    return f"{escape(button.label)} — <code>{escape('!' + button.command)}</code>"


def button_hint_plain(button: Button) -> str:
    return f"{button.label} — !{button.command}"


def file_content(filename: str, mime_type: str, size: int, url: str) -> dict[str, Any]:
    return {
        "msgtype": "m.file",
        "body": filename,
        "filename": filename,
        "url": url,
        "info": {"mimetype": mime_type, "size": size},
    }


def encryption_notice() -> dict[str, Any]:
    """The one-time plain notice for an encrypted room, in the current language."""
    text = _(
        "This room is end-to-end encrypted, and I cannot read encrypted messages, so I will not "
        "see what you write here. To talk with me, please start a chat with me without "
        "encryption (encryption can only be chosen when a room is created)."
    )
    return {"msgtype": "m.notice", "body": text, "m.mentions": {}}


def undecryptable_notice(name: str | None) -> dict[str, Any]:
    """Told once to a person whose encrypted message stayed unreadable (in a room, by name)."""
    text = _(
        "I could not read your last message: your app encrypted it with a key it has not "
        "shared with me. Please send it again. If this keeps happening, start a new chat with me."
    )
    if name:
        text = f"{name}: {text}"
    return {"msgtype": "m.notice", "body": text, "m.mentions": {}}


def e2ee_privacy_note() -> str:
    return _(
        "In encrypted Matrix rooms I also keep, in my encryption store, the keys that let me "
        "read this room's messages (not the messages), and the public keys of the members' "
        "devices; {forget} erases this room's keys. While a message waits for its key (about a "
        "minute), I keep its id."
    )


@dataclass
class Undecryptable:
    """An encrypted message whose room key is missing: waiting for the key until `deadline`."""

    room_id: str
    event: MegolmEvent
    deadline: float


# ------------------------------------------------------------------------- reading messages


def strip_reply_fallback(body: str) -> str:
    """Drop the quoted '> <@someone> ...' lines a client puts before a reply's own text."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith(">"):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    return "\n".join(lines[index:]).strip()


def strip_mentions(text: str, names: Iterable[str]) -> tuple[bool, str]:
    """Whether the text names the bot, and the text without those names.

    'NGO bot: what is 1.5%?' -> (True, 'what is 1.5%?'). Names match whole words only, case
    insensitively; a following ':' or ',' goes with the name.
    """
    found = False
    for name in sorted({n for n in names if n and n.strip()}, key=len, reverse=True):
        pattern = re.compile(rf"(?<![\w@]){re.escape(name)}(?![\w])\s*[:,]?", re.IGNORECASE)
        text, count = pattern.subn(" ", text)
        found = found or count > 0
    if found:
        text = re.sub(r"[ \t]+", " ", text)
        text = re.sub(r" ([,.!?;:])", r"\1", text)
        text = text.strip(" \t\n,:;")
    return found, text


def mentions_user(content: Mapping[str, Any], user_id: str) -> bool:
    """Whether the event's intentional mentions (m.mentions) include the user."""
    mentions = content.get("m.mentions")
    if not isinstance(mentions, dict):
        return False
    user_ids = mentions.get("user_ids")
    return isinstance(user_ids, list) and user_id in user_ids


def replied_event(content: Mapping[str, Any]) -> str | None:
    """The event id a message replies to (its m.in_reply_to relation), if it is a reply."""
    relates = content.get("m.relates_to")
    if not isinstance(relates, dict):
        return None
    in_reply_to = relates.get("m.in_reply_to")
    if not isinstance(in_reply_to, dict):
        return None
    event_id = in_reply_to.get("event_id")
    return event_id if isinstance(event_id, str) and event_id else None


def edit_content(reply: Reply, event_id: str) -> dict[str, Any]:
    """An edit (m.replace) of the bot's earlier notice `event_id` to the reply's text."""
    new = notice_content(reply)
    return {
        **new,
        "body": "* " + new["body"],
        "formatted_body": "* " + new["formatted_body"],
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }


def as_core_command(text: str) -> str:
    """Matrix '!help' -> the core's '/help'; anything else unchanged."""
    return "/" + text[1:] if text.startswith("!") else text


def command_name(text: str) -> str:
    """The command word of '/name args' (lower case, without an '@bot' suffix)."""
    words = text[1:].split(maxsplit=1)
    return words[0].split("@", 1)[0].lower() if words else ""


def outcome_of(response: Any) -> SendOutcome:
    """A nio response to a send, as a neutral outcome for the delivery engine."""
    if isinstance(response, RoomSendResponse):
        return SendOutcome.sent(str(response.event_id))
    if isinstance(response, UploadResponse):
        return SendOutcome.sent()
    if not isinstance(response, ErrorResponse):
        return SendOutcome.failed(f"unexpected response {type(response).__name__}")
    errcode = response.status_code or ""
    status = http_status(response)
    detail = f"{errcode or status} {response.message}".strip()
    if errcode == "M_LIMIT_EXCEEDED" or status == 429:
        retry_after = response.retry_after_ms / 1000 if response.retry_after_ms else None
        return SendOutcome.retry(retry_after, detail)
    if errcode in GONE_ERRCODES:
        return SendOutcome.gone(detail)
    if status is not None and status >= 500:
        return SendOutcome.retry(None, detail)
    return SendOutcome.failed(detail)


def http_status(response: Any) -> int | None:
    transport = getattr(response, "transport_response", None)
    status = getattr(transport, "status", None)
    return status if isinstance(status, int) else None


# ------------------------------------------------------------------------------- transport


class MatrixTransport:
    """A running Matrix client for the bot: sync loop, replies, broadcasts."""

    platform = PLATFORM

    def __init__(
        self,
        config: MatrixConfig,
        core: Core,
        *,
        sync_timeout_ms: int = SYNC_TIMEOUT_MS,
        undecryptable_wait_seconds: float = matrix_e2ee.UNDECRYPTABLE_WAIT_SECONDS,
    ) -> None:
        self.config = config
        self._core = core
        self._state = core.storage.sync_state
        core.forget_hooks.append(self._forget_room)
        core.liveness.expect(PLATFORM, SYNC)
        if config.e2ee:
            core.export_providers.append(self._export_encryption)
            core.privacy_notes.append(self._privacy_note)
        self._sync_timeout_ms = sync_timeout_ms
        self._undecryptable_wait = undecryptable_wait_seconds
        self._undecryptable: dict[str, Undecryptable] = {}
        self._told_undecryptable: set[tuple[str, str]] = set()
        self._synced = False
        self._restored_waiting = False
        self._started_at = 0.0
        self.key_setup_seconds: float | None = None
        self._client: AsyncClient | None = None
        self._logged_in = False
        self._display_name: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._poll: asyncio.Future[Any] | None = None
        self._stopping = asyncio.Event()
        self._noticed_rooms: set[str] = set()
        self._creators: dict[str, frozenset[str]] = {}
        self._pending_joins: dict[str, int] = {}

    @property
    def client(self) -> AsyncClient:
        if self._client is None:
            raise RuntimeError("the Matrix transport is not started")
        return self._client

    @property
    def user_id(self) -> str:
        return self.config.user_id

    @property
    def running(self) -> bool:
        """Whether the sync loop is alive (it survives errors; only stop() ends it)."""
        return self._task is not None and not self._task.done()

    # -------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Log in (or restore the stored session) and start the sync loop.

        Refused credentials raise ConfigError; an unreachable homeserver is retried in the
        background, so the bot also starts before its homeserver does.
        """
        self._stopping.clear()
        self._started_at = time.monotonic()
        if self.config.e2ee:
            try:
                matrix_e2ee.prepare_store_dir(self.config.store_dir)
            except OSError as exc:
                raise ConfigError(
                    f"MATRIX_STORE_DIR: cannot use {self.config.store_dir} for the encryption "
                    f"keys ({exc}); set MATRIX_STORE_DIR to a writable folder"
                ) from exc
        # The store is opened by _open_store once the device is known (nio would open it at
        # login when store_path is set, before we can check it).
        self._client = AsyncClient(
            self.config.homeserver, self.config.user_id, config=client_config(self.config.e2ee)
        )
        noticed = await self._state.get_all(PLATFORM, ENCRYPTION_NOTICE_PREFIX)
        self._noticed_rooms = {key.removeprefix(ENCRYPTION_NOTICE_PREFIX) for key in noticed}
        try:
            await self._login()
        except LoginUnavailable as exc:
            log.warning("Matrix homeserver not reachable yet (%s); retrying in the background", exc)
        except BaseException:
            await self._close_client()
            raise
        self._task = asyncio.create_task(self._run(), name="matrix-sync")

    async def stop(self) -> None:
        """Cancel the long poll, let a batch being handled finish briefly, close the client."""
        self._stopping.set()
        if self._poll is not None:
            self._poll.cancel()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(task, STOP_GRACE_SECONDS)
            except (TimeoutError, asyncio.CancelledError):
                if current_task_cancelling():
                    await self._close_client()
                    raise
                log.warning("the Matrix sync loop did not stop in time; cancelled")
            except Exception:
                log.exception("the Matrix sync loop failed while stopping")
        await self._close_client()

    async def _close_client(self) -> None:
        if self._client is not None:
            await self._client.close()
        self._logged_in = False

    async def _pause(self, seconds: float) -> bool:
        """Sleep unless stopping; return True when the transport is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()

    # ------------------------------------------------------------------------ login

    async def _login(self) -> None:
        """Use MATRIX_ACCESS_TOKEN, else the stored session, else log in with the password
        reusing the stored device id; store what is in use."""
        stored = await self._state.get_all(PLATFORM)
        if stored.get(KEY_USER_ID) not in (None, self.config.user_id):
            # Another account's session and sync position mean nothing for this one.
            await self._state.delete(
                PLATFORM, KEY_USER_ID, KEY_DEVICE_ID, KEY_ACCESS_TOKEN, KEY_SYNC_TOKEN
            )
            stored = {}
        device_id = stored.get(KEY_DEVICE_ID)
        if self.config.access_token:
            await self._use_token(self.config.access_token, device_id, "MATRIX_ACCESS_TOKEN")
            how = "with MATRIX_ACCESS_TOKEN"
        elif stored.get(KEY_ACCESS_TOKEN) and device_id:
            try:
                await self._use_token(stored[KEY_ACCESS_TOKEN], device_id, "the stored session")
                how = "with the stored session"
            except ConfigError:
                log.info("the stored Matrix session is no longer valid; logging in again")
                await self._password_login(device_id)
                how = "with the password"
        else:
            await self._password_login(device_id)
            how = "with the password"
        if self.config.e2ee and await self._open_store():
            how = "with the password as a new device"
        self._logged_in = True
        await self._load_display_name()
        log.info("Matrix: logged in as %s %s (device %s)", self.user_id, how, self.client.device_id)

    async def _use_token(self, token: str, device_id: str | None, source: str) -> None:
        client = self.client
        # Not restore_login(): it would open the encryption store before whoami names the device.
        client.user_id, client.device_id, client.access_token = self.user_id, device_id or "", token
        response = await self._request(client.whoami())
        if isinstance(response, WhoamiResponse):
            if response.user_id != self.user_id:
                raise ConfigError(
                    f"{source} belongs to {response.user_id}, not MATRIX_USER_ID {self.user_id}"
                )
            client.device_id = response.device_id or device_id or ""
            await self._state.set_many(
                PLATFORM, {KEY_USER_ID: self.user_id, KEY_DEVICE_ID: client.device_id}
            )
            return
        client.access_token = ""
        self._raise_login_error(response, source)

    async def _password_login(self, device_id: str | None) -> None:
        if not self.config.password:
            raise ConfigError("MATRIX_PASSWORD is not set and the stored Matrix session is gone")
        client = self.client
        client.access_token = ""
        client.device_id = device_id or ""
        response = await self._request(client.login(self.config.password, DEVICE_NAME))
        if not isinstance(response, LoginResponse):
            self._raise_login_error(response, "MATRIX_PASSWORD")
        await self._state.set_many(
            PLATFORM,
            {
                KEY_USER_ID: self.user_id,
                KEY_DEVICE_ID: response.device_id,
                KEY_ACCESS_TOKEN: response.access_token,
            },
        )

    async def _open_store(self) -> bool:
        """Open the encryption store of the logged-in device (created on first use); return
        whether the bot had to log in as a new device.

        A device that published keys from a store that is gone cannot go on: with the password
        the bot logs in as a new device; with only a token it stops, saying what to do.
        """
        client = self.client
        if client.store is not None and client.store.device_id == client.device_id:
            return False
        client.store, client.olm = None, None
        store_dir = self.config.store_dir
        database = matrix_e2ee.store_database(store_dir, self.user_id, client.device_id)
        if not database.exists() and await self._request(matrix_e2ee.own_device_has_keys(client)):
            lost = client.device_id
            if not self.config.password or self.config.access_token:
                raise ConfigError(
                    f"MATRIX_STORE_DIR: {store_dir} has no encryption keys for device {lost}, "
                    "which published keys before (the store was lost or moved). Restore it from "
                    "a backup, or log in with MATRIX_PASSWORD (without MATRIX_ACCESS_TOKEN) so "
                    "that the bot starts a new device, or set MATRIX_E2EE=off"
                )
            log.warning(
                "Matrix: no encryption store for device %s in %s; logging in as a new device "
                "(device %s can be removed from the account's sessions)",
                lost,
                store_dir,
                lost,
            )
            await self._password_login(None)
            database = matrix_e2ee.store_database(store_dir, self.user_id, client.device_id)
            new_device = True
        else:
            new_device = False
        client.store_path = str(store_dir)
        client.load_store()
        log.info("Matrix: encryption store %s", database)
        return new_device

    @staticmethod
    def _raise_login_error(response: Any, source: str) -> None:
        errcode = getattr(response, "status_code", None) or ""
        if errcode in LOGIN_REFUSED_ERRCODES:
            raise ConfigError(
                f"{source}: the Matrix homeserver refused to log in ({errcode}); check "
                "MATRIX_USER_ID and the password or token"
            )
        raise LoginUnavailable(f"{errcode or 'HTTP ' + str(http_status(response))}")

    @staticmethod
    async def _request(call: Any) -> Any:
        """Await a nio call; network trouble becomes LoginUnavailable."""
        try:
            return await call
        except TRANSIENT_ERRORS as exc:
            raise LoginUnavailable(type(exc).__name__) from exc

    async def _load_display_name(self) -> None:
        with contextlib.suppress(*TRANSIENT_ERRORS):
            response = await self.client.get_displayname()
            if isinstance(response, ProfileGetDisplayNameResponse):
                self._display_name = response.displayname

    # -------------------------------------------------------------------- sync loop

    async def _run(self) -> None:
        """Log in when needed, then sync until stopped, backing off on errors."""
        backoff = Backoff()
        while not self._logged_in:
            if self._stopping.is_set():
                return
            await self._retry_login(backoff)
        since = await self._state.get(PLATFORM, KEY_SYNC_TOKEN)
        full_state = since is not None  # rebuild room state (members, power levels) once
        while not self._stopping.is_set():
            try:
                next_batch = await self._sync_step(since, full_state, backoff)
            except asyncio.CancelledError:
                if self._stopping.is_set() and not current_task_cancelling():
                    return  # stop() cancelled the long poll
                raise
            except Exception:
                # The loop is the bot's only ear on Matrix: it must outlive any surprise.
                log.exception("unexpected error in the Matrix sync loop; retrying")
                await self._pause(backoff.next())
                continue
            if next_batch is not None:
                since, full_state = next_batch, False

    async def _sync_step(self, since: str | None, full_state: bool, backoff: Backoff) -> str | None:
        """One sync and its handling; return the new sync token, or None after a failure."""
        if not self._logged_in and not await self._retry_login(backoff):
            return None
        try:
            response = await self._next_sync(since, full_state)
        except TRANSIENT_ERRORS as exc:
            log.warning("Matrix sync failed (%s); retrying", type(exc).__name__)
            await self._pause(backoff.next())
            return None
        except LocalProtocolError:
            self._logged_in = False  # nio dropped the token after a soft logout
            return None
        if not isinstance(response, SyncResponse):
            await self._on_sync_error(response, backoff)
            return None
        # Keys first: the device lists and Olm sessions the replies below need to encrypt.
        await self._upkeep()
        await self._handle_sync(response, initial=since is None)
        await self._restore_undecryptable()
        await self._retry_undecryptable()
        self._synced = True
        next_batch = str(response.next_batch)
        await self._state.set(PLATFORM, KEY_SYNC_TOKEN, next_batch)
        self._core.liveness.completed(PLATFORM)  # listening: for `ngo-bot health`
        backoff.reset()
        return next_batch

    async def _upkeep(self) -> None:
        """The key steps after a sync. The first one publishes a new device's keys (after the
        first sync, so that a first login still skips what was said before it)."""
        if self.client.olm is None:
            return
        try:
            await matrix_e2ee.upkeep(self.client)
        except TRANSIENT_ERRORS as exc:
            log.warning("Matrix key upkeep failed (%s); retrying after the next sync", exc)
        except Exception:
            # Never deaf because of keys: the batch is still handled, the step runs again.
            log.exception("unexpected error in the Matrix key upkeep; retrying after the next sync")
        if self.key_setup_seconds is None and not self.client.should_upload_keys:
            self.key_setup_seconds = time.monotonic() - self._started_at
            log.info(
                "Matrix: end-to-end encryption ready for device %s (%.2f s after start)",
                self.client.device_id,
                self.key_setup_seconds,
            )

    async def _retry_login(self, backoff: Backoff) -> bool:
        try:
            await self._login()
        except LoginUnavailable as exc:
            log.warning("Matrix login not possible yet (%s); retrying", exc)
            await self._pause(backoff.next())
            return False
        except ConfigError as exc:
            log.error("Matrix login refused: %s", exc)
            await self._pause(BACKOFF_MAX_SECONDS)
            return False
        backoff.reset()
        return True

    async def _next_sync(self, since: str | None, full_state: bool) -> Any:
        """One sync request, cancellable by stop(): the initial one, or a long poll."""
        client = self.client
        if since is None:
            call = client.sync(timeout=0, sync_filter=INITIAL_SYNC_FILTER)
        else:
            call = client.sync(
                timeout=self._poll_timeout_ms(),
                sync_filter=SYNC_FILTER,
                since=since,
                full_state=full_state or None,
            )
        self._poll = asyncio.ensure_future(call)
        try:
            return await self._poll
        finally:
            self._poll = None

    def _poll_timeout_ms(self) -> int:
        """The long poll, shortened while an unreadable message waits for its key."""
        if not self._undecryptable:
            return self._sync_timeout_ms
        first = min(pending.deadline for pending in self._undecryptable.values())
        left_ms = int((first - asyncio.get_running_loop().time()) * 1000)
        return max(100, min(self._sync_timeout_ms, left_ms))

    async def _on_sync_error(self, response: Any, backoff: Backoff) -> None:
        errcode = getattr(response, "status_code", None)
        if errcode == "M_UNKNOWN_TOKEN":
            log.warning("the Matrix access token was revoked; logging in again")
            await self._state.delete(PLATFORM, KEY_ACCESS_TOKEN)
            self._logged_in = False
            return
        log.warning("Matrix sync error %s; retrying", errcode or http_status(response))
        await self._pause(backoff.next())

    # --------------------------------------------------------------- sync handling

    async def _handle_sync(self, response: SyncResponse, *, initial: bool) -> None:
        """Invites, rooms left, then each joined room's new events (none on a first sync)."""
        for room_id, invite in response.rooms.invite.items():
            await self._on_invite(room_id, invite)
        await self._retry_pending_joins(response)
        for room_id, left in response.rooms.leave.items():
            await self._on_left(room_id, left)
        for room_id, joined in response.rooms.join.items():
            self._note_creators(room_id, [*joined.state, *joined.timeline.events])
        if initial:
            return
        for room_id, joined in response.rooms.join.items():
            room = self.client.rooms.get(room_id)
            if room is None:
                continue
            try:
                await self._on_room_events(room, joined)
            except Exception:
                # Not replayed: answering a batch twice would be worse than missing one.
                log.exception("error while handling events of Matrix room %s", room_id)

    async def _on_invite(self, room_id: str, invite: InviteInfo) -> None:
        """Join, unless MATRIX_ALLOWED_SERVERS excludes the inviter's server (then decline)."""
        inviter = invited_by(invite.invite_state, self.user_id)
        if inviter is None or not self.config.may_invite(inviter):
            log.warning(
                "declined the invite to %s from %s: server %r is not in MATRIX_ALLOWED_SERVERS",
                room_id,
                inviter or "an unknown user",
                server_name(inviter or ""),
            )
            with contextlib.suppress(*TRANSIENT_ERRORS):
                await self.client.room_leave(room_id)
            return
        await self._join(room_id, inviter)

    async def _join(self, room_id: str, inviter: str) -> None:
        try:
            response = await self.client.join(room_id)
        except TRANSIENT_ERRORS as exc:
            response = JoinError(type(exc).__name__)
        if isinstance(response, JoinError):
            attempts = self._pending_joins.get(room_id, 0) + 1
            if attempts < JOIN_ATTEMPTS:
                self._pending_joins[room_id] = attempts
                log.warning("joining %s failed (%s); will retry", room_id, response)
            else:
                self._pending_joins.pop(room_id, None)
                log.error("gave up joining %s: %s", room_id, response)
            return
        self._pending_joins.pop(room_id, None)
        log.info("joined %s, invited by %s", room_id, inviter)

    async def _retry_pending_joins(self, response: SyncResponse) -> None:
        for room_id in list(self._pending_joins):
            if room_id not in response.rooms.invite:
                await self._join(room_id, "an earlier invite")

    async def _on_left(self, room_id: str, left: RoomInfo) -> None:
        """The bot left, was kicked or banned: the chat gets nothing more."""
        self.client.rooms.pop(room_id, None)
        self._pending_joins.pop(room_id, None)
        ref = ChatRef(PLATFORM, room_id)
        if await self._core.storage.chats.set_active(ref, False):
            how = own_membership_change(left.timeline.events, self.user_id)
            log.info("Matrix room %s is gone (%s); chat marked inactive", room_id, how)

    async def _on_room_events(self, room: MatrixRoom, joined: RoomInfo) -> None:
        if getattr(joined.timeline, "limited", False):
            # More happened in the room than one sync returns (e.g. while the bot was down):
            # the older messages are not answered. Logged so that an operator can tell.
            log.info("Matrix room %s: sync returned only the latest events", room.room_id)
        events = events_after_own_join(joined.timeline.events, self.user_id)
        if len(events) < len(joined.timeline.events):
            # The bot has just joined (again): a chat it left before is reachable once more.
            await self._core.storage.chats.set_active(ChatRef(PLATFORM, room.room_id), True)
        encrypted_event = False
        someone_left = False
        for event in events:
            source: dict[str, Any] = getattr(event, "source", None) or {}
            if source.get("sender") == self.user_id:
                continue
            if source.get("type") == ENCRYPTED_EVENT:
                if not self.config.e2ee:
                    encrypted_event = True
                elif isinstance(event, MegolmEvent):
                    await self._on_undecryptable(room, event)
                else:
                    log.info("Matrix: skipped an encrypted event in %s (not Megolm)", room.room_id)
            elif isinstance(event, RoomMemberEvent) and event.membership in ("leave", "ban"):
                someone_left = True
            elif source.get("type") == "m.room.message":
                await self._on_message(room, source)
        if not self.config.e2ee and (room.encrypted or encrypted_event):
            await self._tell_encryption_unsupported(room.room_id)
        if someone_left and room.joined_count <= 1 and room.invited_count == 0:
            await self._leave_empty_room(room.room_id)

    async def _leave_empty_room(self, room_id: str) -> None:
        """Everyone else left: nobody can read broadcasts here any more."""
        log.info("everyone else left %s; leaving it", room_id)
        with contextlib.suppress(*TRANSIENT_ERRORS):
            await self.client.room_leave(room_id)
        await self._core.storage.chats.set_active(ChatRef(PLATFORM, room_id), False)

    # ------------------------------------------------------------------ messages

    def chat_kind(self, room: MatrixRoom) -> ChatKind:
        """Two members (the bot and one person) make a private chat; more make a room."""
        return ChatKind.PRIVATE if room.member_count <= 2 else ChatKind.ROOM

    def is_moderator(self, room: MatrixRoom, user_id: str) -> bool:
        """Power level 50 or more, or a creator of a room whose version ranks creators above
        every power level (room version 12: they are not listed in m.room.power_levels)."""
        if user_id in self._creators.get(room.room_id, frozenset()):
            return True
        return int(room.power_levels.get_user_level(user_id)) >= MODERATOR_LEVEL

    def _note_creators(self, room_id: str, events: Iterable[Any]) -> None:
        for event in events:
            source = getattr(event, "source", None) or {}
            if source.get("type") == "m.room.create" and source.get("state_key") == "":
                self._creators[room_id] = privileged_creators(source)

    def bot_names(self, room: MatrixRoom) -> list[str]:
        """How people address the bot: its user id, its display names (global and in the room)."""
        names = [self.user_id]
        for name in (self._display_name, room.user_name(self.user_id)):
            if name and name not in names:
                names.append(name)
        user = room.users.get(self.user_id)
        if user is not None and user.display_name and user.display_name not in names:
            names.append(user.display_name)
        return names

    def addressed_text(
        self, room: MatrixRoom, kind: ChatKind, content: Mapping[str, Any]
    ) -> str | None:
        """The text for the core, or None when the message is not for the bot.

        Private chats: everything. Rooms: `!commands` the bot knows, and anything that
        mentions it (the mention removed). Media in a private chat becomes '' so the core can
        say that it reads only text.
        """
        msgtype = content.get("msgtype")
        body = content.get("body")
        if not isinstance(body, str):
            return None
        if msgtype in MEDIA_MSGTYPES:
            return "" if kind is ChatKind.PRIVATE else None
        if msgtype != "m.text":
            return None  # notices (other bots), emotes, unknown types
        relates = content.get("m.relates_to")
        if isinstance(relates, dict) and "m.in_reply_to" in relates:
            body = strip_reply_fallback(body)
        named, text = strip_mentions(body.strip(), self.bot_names(room))
        mentioned = named or mentions_user(content, self.user_id)
        if text.startswith("!"):
            command = as_core_command(text)
            known = self._core.registry.get(command_name(command)) is not None
            if kind.is_shared and not mentioned and not known:
                return None  # another bot's command
            return command
        if kind is ChatKind.PRIVATE:
            return text
        if mentioned:
            return text or "/help"
        if replied_event(content) is not None and self._is_staff_room(room):
            return text  # a staff member answering a question post by replying to it
        return None

    def _is_staff_room(self, room: MatrixRoom) -> bool:
        return f"{PLATFORM}:{room.room_id}" in self._core.settings.staff_chats

    async def _on_message(self, room: MatrixRoom, source: Mapping[str, Any]) -> None:
        content = source.get("content")
        sender = source.get("sender")
        if not isinstance(content, dict) or not isinstance(sender, str):
            return
        self._told_undecryptable.discard((room.room_id, sender))  # their keys reach us again
        relates = content.get("m.relates_to")
        if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
            return  # an edit of an earlier message, already handled
        kind = self.chat_kind(room)
        text = self.addressed_text(room, kind, content)
        if text is None:
            return
        ref = ChatRef(PLATFORM, room.room_id)
        is_admin = kind is ChatKind.PRIVATE or self.is_moderator(room, sender)
        log.debug("Matrix %s in %s from %s", describe(text), room.room_id, sender)
        await self._update_kind(ref, kind)
        incoming = Incoming(
            ref,
            kind,
            sender,
            is_admin,
            text,
            language_hint=None,
            reply_to=replied_event(content),
            sender_name=room.user_name(sender) or sender,
        )
        replies = await self._core.handle(incoming)
        language = await self._language_of(ref)
        for reply in replies:
            await self._reply(room.room_id, reply, language)

    async def _update_kind(self, ref: ChatRef, kind: ChatKind) -> None:
        """A private chat becomes a room when a third person joins (and back)."""
        chat = await self._core.storage.chats.get(ref)
        if chat is not None and chat.kind is not kind:
            await self._core.storage.chats.set_kind(chat.id, kind)

    async def _language_of(self, ref: ChatRef) -> str:
        chat = await self._core.storage.chats.get(ref)
        return (chat.language if chat else None) or self._core.settings.default_language

    async def _reply(self, room_id: str, reply: Reply, language: str) -> None:
        """Answer in the conversation; a rate limit or a network error is retried a few times
        with the same transaction ids, so the homeserver never shows a message twice."""
        txn = uuid.uuid4().hex
        outcome = SendOutcome.failed("not sent")
        for attempt in range(REPLY_ATTEMPTS):
            outcome = await self._deliver(room_id, reply, language, txn)
            if outcome.kind is not OutcomeKind.RETRY:
                break
            wait = min(outcome.retry_after or 2.0**attempt, REPLY_MAX_WAIT_SECONDS)
            if attempt + 1 < REPLY_ATTEMPTS and await self._pause(wait):
                break
        if outcome.kind is not OutcomeKind.SENT:
            log.warning("reply in %s not delivered: %s %s", room_id, outcome.kind, outcome.detail)

    async def _forget_room(self, chat: ChatRef) -> None:
        """`forget` erases what this transport keeps about a room: the encryption notice, and
        with encryption the room's keys (the bot can no longer read what was said before)."""
        if chat.platform != PLATFORM:
            return
        self._noticed_rooms.discard(chat.chat_id)
        await self._state.delete(PLATFORM, ENCRYPTION_NOTICE_PREFIX + chat.chat_id)
        for event_id, pending in list(self._undecryptable.items()):
            if pending.room_id == chat.chat_id:
                await self._done_waiting(event_id)
        self._told_undecryptable = {
            told for told in self._told_undecryptable if told[0] != chat.chat_id
        }
        if self._client is not None:
            erased = matrix_e2ee.forget_room_sessions(self._client, chat.chat_id)
            log.info("Matrix: erased %d room keys of %s", erased, chat.chat_id)

    async def _export_encryption(self, ctx: Context) -> dict[str, Any]:
        """`export` in an encrypted room: how many of its room keys the store holds."""
        ref = ctx.chat.ref
        if ref.platform != PLATFORM or self._client is None:
            return {}
        room = self._client.rooms.get(ref.chat_id)
        if room is None or not room.encrypted:
            return {}
        return {
            "matrix_encryption": {
                "room_keys_stored": matrix_e2ee.count_room_sessions(self._client, ref.chat_id),
                "messages_waiting_for_their_key": sorted(
                    event_id
                    for event_id, pending in self._undecryptable.items()
                    if pending.room_id == ref.chat_id
                ),
                "what": "the keys that decrypt this room's messages, not the messages",
            }
        }

    def _privacy_note(self, chat: ChatRef) -> str | None:
        return e2ee_privacy_note() if chat.platform == PLATFORM else None

    # ---------------------------------------------------------- unreadable messages

    async def _on_undecryptable(self, room: MatrixRoom, event: MegolmEvent) -> None:
        """A message whose room key has not arrived: ask for the key and wait for it a while
        (it often comes in the next sync); then tell the person once."""
        loop = asyncio.get_running_loop()
        self._undecryptable[event.event_id] = Undecryptable(
            room.room_id, event, loop.time() + self._undecryptable_wait
        )
        # Kept before the sync position moves on: a restart meanwhile still reads the message.
        await self._state.set(PLATFORM, UNDECRYPTABLE_PREFIX + event.event_id, room.room_id)
        try:
            requested = await matrix_e2ee.request_room_key(self.client, event)
        except TRANSIENT_ERRORS as exc:
            requested = False
            log.warning("Matrix: the room key request failed (%s)", type(exc).__name__)
        log.info(
            "Matrix: cannot decrypt %s in %s from %s yet (session %s); key %s",
            event.event_id,
            room.room_id,
            event.sender,
            event.session_id,
            "requested" if requested else "not requested",
        )

    async def _retry_undecryptable(self) -> None:
        """Handle the waiting messages whose key arrived; tell those past their wait."""
        now = asyncio.get_running_loop().time()
        for event_id, pending in list(self._undecryptable.items()):
            try:
                await self._retry_one(event_id, pending, now)
            except Exception:
                await self._done_waiting(event_id)  # not retried forever
                log.exception("error while handling the late message %s", event_id)

    async def _retry_one(self, event_id: str, pending: Undecryptable, now: float) -> None:
        """Handle one waiting message if its key is here; tell the person once it waited out."""
        room = self.client.rooms.get(pending.room_id)
        decrypted = matrix_e2ee.try_decrypt(self.client, pending.event)
        if decrypted is not None and room is not None:
            log.info("Matrix: the key for %s arrived; handling it", event_id)
            source = getattr(decrypted, "source", None) or {}
            if source.get("type") == "m.room.message":
                await self._on_message(room, source)
            await self._done_waiting(event_id)  # after the answer: a crash repeats, never loses
        elif now >= pending.deadline or room is None:
            if room is not None:
                await self._tell_undecryptable(room, pending.event.sender)
            await self._done_waiting(event_id)

    async def _done_waiting(self, event_id: str) -> None:
        self._undecryptable.pop(event_id, None)
        await self._state.delete(PLATFORM, UNDECRYPTABLE_PREFIX + event_id)

    async def _restore_undecryptable(self) -> None:
        """After the first sync: the messages that waited for their key when the bot stopped
        wait again (their key may have come meanwhile, in this very sync)."""
        if self._restored_waiting or self.client.olm is None:
            return
        self._restored_waiting = True
        stored = await self._state.get_all(PLATFORM, UNDECRYPTABLE_PREFIX)
        deadline = asyncio.get_running_loop().time() + self._undecryptable_wait
        for key, room_id in stored.items():
            event_id = key.removeprefix(UNDECRYPTABLE_PREFIX)
            try:
                await self._restore_one(event_id, room_id, deadline)
            except TRANSIENT_ERRORS:
                continue  # kept: tried again at the next start
            except Exception:
                await self._done_waiting(event_id)
                log.exception("error while restoring the waiting message %s", event_id)
        if stored:
            log.info("Matrix: %d messages wait for their key again", len(self._undecryptable))

    async def _restore_one(self, event_id: str, room_id: str, deadline: float) -> None:
        response = await self.client.room_get_event(room_id, event_id)
        event = getattr(response, "event", None)
        room = self.client.rooms.get(room_id)
        if isinstance(response, RoomGetEventResponse) and isinstance(event, MegolmEvent):
            event.room_id = room_id
            self._undecryptable[event_id] = Undecryptable(room_id, event, deadline)
            return
        if getattr(event, "decrypted", False) and room is not None:
            # nio decrypted it on the way in: its key came while the bot was down.
            log.info("Matrix: the key for %s came while the bot was down; handling it", event_id)
            source = getattr(event, "source", None) or {}
            if source.get("type") == "m.room.message":
                await self._on_message(room, source)
        else:
            log.info("Matrix: %s no longer waits for its key (%s)", event_id, type(response))
        await self._done_waiting(event_id)

    async def _tell_undecryptable(self, room: MatrixRoom, sender: str) -> None:
        """Once per person and room until one of their messages can be read again."""
        if (room.room_id, sender) in self._told_undecryptable:
            return
        self._told_undecryptable.add((room.room_id, sender))
        name = None if self.chat_kind(room) is ChatKind.PRIVATE else room.user_name(sender)
        language = await self._language_of(ChatRef(PLATFORM, room.room_id))
        with use_language(language):
            content = undecryptable_notice(name or None)
        outcome = await self._send_event(room.room_id, content, uuid.uuid4().hex)
        log.info(
            "Matrix: told %s in %s that a message stayed unreadable (%s)",
            sender,
            room.room_id,
            outcome.kind,
        )

    async def _tell_encryption_unsupported(self, room_id: str) -> None:
        """Say once per room (remembered in the database) that encrypted messages are unread."""
        if room_id in self._noticed_rooms:
            return
        language = await self._language_of(ChatRef(PLATFORM, room_id))
        with use_language(language):
            content = encryption_notice()
        outcome = await self._send_event(room_id, content, uuid.uuid4().hex)
        if outcome.kind is OutcomeKind.SENT:
            self._noticed_rooms.add(room_id)
            await self._state.set(PLATFORM, ENCRYPTION_NOTICE_PREFIX + room_id, "sent")
            log.info("told encrypted room %s that the bot cannot read it", room_id)

    # ---------------------------------------------------------------------- sending

    async def send(self, chat_id: str, reply: Reply) -> SendOutcome:
        """A broadcast to one room: sent, retry (429 with its wait; network, 5xx), gone
        (not in the room, unknown room), or failed."""
        if self._client is None or not self._logged_in:
            return SendOutcome.retry(None, "not connected to the Matrix homeserver")
        if self._client.olm is not None and not self._synced:
            # Encrypting needs the room's members and devices, known after the first sync.
            return SendOutcome.retry(None, "the first Matrix sync has not completed yet")
        language = await self._language_of(ChatRef(PLATFORM, chat_id))
        return await self._deliver(chat_id, reply, language, uuid.uuid4().hex)

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> SendOutcome:
        """Rewrite the bot's earlier notice (a question's copy after `forget`) with m.replace."""
        if self._client is None or not self._logged_in:
            return SendOutcome.retry(None, "not connected to the Matrix homeserver")
        language = await self._language_of(ChatRef(PLATFORM, chat_id))
        with use_language(language):
            content = edit_content(reply, message_id)
        return await self._send_event(chat_id, content, uuid.uuid4().hex)

    async def _deliver(self, room_id: str, reply: Reply, language: str, txn: str) -> SendOutcome:
        """Upload the attachment first (nothing visible yet), then the notice, then the file."""
        file_event: dict[str, Any] | None = None
        if reply.attachment is not None:
            attachment = reply.attachment
            encrypt = self._is_encrypted(room_id)
            try:
                uploaded, keys = await self.client.upload(
                    io.BytesIO(attachment.data),
                    content_type="application/octet-stream" if encrypt else attachment.mime_type,
                    filename=attachment.filename,
                    encrypt=encrypt,
                    filesize=len(attachment.data),  # AES-CTR keeps the length
                )
            except TRANSIENT_ERRORS as exc:
                return SendOutcome.retry(None, f"upload: {type(exc).__name__}")
            if not isinstance(uploaded, UploadResponse):
                return outcome_of(uploaded)
            size, mime, uri = len(attachment.data), attachment.mime_type, uploaded.content_uri
            file_event = (
                matrix_e2ee.encrypted_file_content(attachment.filename, mime, size, uri, keys)
                if encrypt
                else file_content(attachment.filename, mime, size, uri)
            )
        with use_language(language):
            notice = notice_content(reply)
        outcome = await self._send_event(room_id, notice, f"{txn}-notice")
        if outcome.kind is OutcomeKind.SENT and file_event is not None:
            notice_id = outcome.message_id
            outcome = await self._send_event(room_id, file_event, f"{txn}-file")
            outcome = replace(outcome, message_id=notice_id) if outcome.message_id else outcome
        return outcome

    def _is_encrypted(self, room_id: str) -> bool:
        room = self.client.rooms.get(room_id)
        return self.client.olm is not None and room is not None and room.encrypted

    async def _send_event(self, room_id: str, content: dict[str, Any], txn: str) -> SendOutcome:
        """Send one event; in an encrypted room nio first shares the bot's room key with every
        member's device (unverified ones too: see the module docstring of matrix_e2ee)."""
        client = self.client
        try:
            if client.olm is not None and room_id not in client.rooms:
                response = await matrix_e2ee.send_to_unsynced_room(client, room_id, content, txn)
                if response is None:
                    return SendOutcome.retry(None, "encrypted room not synced yet")
            else:
                response = await client.room_send(
                    room_id, "m.room.message", content, tx_id=txn, ignore_unverified_devices=True
                )
        except TRANSIENT_ERRORS as exc:
            return SendOutcome.retry(None, type(exc).__name__)
        except LocalProtocolError as exc:
            return SendOutcome.retry(None, f"not logged in or room not synced: {exc}")
        except Exception as exc:  # nio's encryption errors (SendRetryError, OlmTrustError, ...)
            log.warning("Matrix: could not encrypt for %s: %r", room_id, exc)
            return SendOutcome.retry(None, f"encryption: {type(exc).__name__}")
        return outcome_of(response)


# ----------------------------------------------------------------------------- helpers


class Backoff:
    """Exponential waits between failed attempts: 1, 2, 4 ... 60 s."""

    def __init__(self) -> None:
        self._next = BACKOFF_FIRST_SECONDS

    def next(self) -> float:
        wait = self._next
        self._next = min(self._next * 2, BACKOFF_MAX_SECONDS)
        return wait

    def reset(self) -> None:
        self._next = BACKOFF_FIRST_SECONDS


def current_task_cancelling() -> bool:
    """Whether someone cancelled the running task itself (not just an inner future)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def invited_by(invite_state: Sequence[Any], user_id: str) -> str | None:
    """Who sent the invite: the sender of the user's own 'invite' membership event."""
    for event in invite_state:
        if (
            isinstance(event, InviteMemberEvent)
            and event.state_key == user_id
            and event.membership == "invite"
        ):
            return str(event.sender)
    return None


def privileged_creators(create_event: Mapping[str, Any]) -> frozenset[str]:
    """The users a room's m.room.create event makes more powerful than any power level: its
    sender and `additional_creators`, from room version 12 on; nobody in older versions."""
    content = create_event.get("content") or {}
    version = str(content.get("room_version", "1"))
    if not (version.isdigit() and int(version) >= 12):
        return frozenset()
    creators = [create_event.get("sender"), *(content.get("additional_creators") or [])]
    return frozenset(c for c in creators if isinstance(c, str))


def is_own_join(event: Any, user_id: str) -> bool:
    """The user's own membership turning into 'join' (not a profile change while joined)."""
    return (
        isinstance(event, RoomMemberEvent)
        and event.state_key == user_id
        and event.membership == "join"
        and event.prev_membership != "join"
    )


def events_after_own_join(events: Sequence[Any], user_id: str) -> list[Any]:
    """The events after the user's latest join in this batch: earlier ones are history from
    before the bot was in the room."""
    for index in range(len(events) - 1, -1, -1):
        if is_own_join(events[index], user_id):
            return list(events[index + 1 :])
    return list(events)


def own_membership_change(events: Sequence[Any], user_id: str) -> str:
    """'kicked by X', 'banned by X' or 'left', from the user's last membership event."""
    for event in reversed(events):
        if isinstance(event, RoomMemberEvent) and event.state_key == user_id:
            if event.membership == "ban":
                return f"banned by {event.sender}"
            if event.sender != user_id:
                return f"kicked by {event.sender}"
            return "left"
    return "left"
