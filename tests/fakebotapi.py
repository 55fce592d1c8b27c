"""A fake Telegram Bot API server on 127.0.0.1 for tests and benchmarks.

It speaks the HTTP protocol python-telegram-bot's ``HTTPXRequest`` uses
(``POST {base_url}{token}/{method}`` with form fields whose non-string values are JSON, or
multipart when files are uploaded; JSON answers ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": ..., "description": ..., "parameters": ...}``), keeps state (chats,
members, messages, commands, webhook, pending updates), validates like the real server (text
length, Telegram HTML, buttons) and records every call.  Tests inject realistic updates and
faults from any thread while the bot under test talks to it in-process or as a subprocess.

Only the standard library is used: an asyncio server runs in its own thread.

Example::

    with FakeBotApi() as api:
        anna = api.make_user("Anna", language_code="uk")
        api.inject_command(anna, "start")
        # run the bot with TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_API_BASE_URL=api.base_url
        [reply] = api.wait_for_messages_sync(anna.id, 1)
        assert reply.parse_mode == "HTML"
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import collections
import contextlib
import itertools
import json
import math
import re
import signal
import ssl
import sys
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal, TypeVar

from tests.fakebotapi_text import (
    MAX_CAPTION_LENGTH,
    MAX_MESSAGE_LENGTH,
    EntityParseError,
    find_text_entities,
    format_text,
    utf16_length,
)

__all__ = [
    "DEFAULT_TOKEN",
    "GROUP_ANONYMOUS_BOT_ID",
    "ApiCall",
    "CallbackAnswer",
    "CommandsCall",
    "Edit",
    "FakeBotApi",
    "FakeChat",
    "FakeUser",
    "FloodLimits",
    "SentDocument",
    "SentMessage",
    "UploadedFile",
    "WebhookDelivery",
]

T = TypeVar("T")

DEFAULT_TOKEN = "7000000001:AAFakeTokenForTestsOnly-0123456789ab"
GROUP_ANONYMOUS_BOT_ID = 1087968824
CHAT_ERROR_REASONS = ("blocked", "deactivated", "kicked", "not_found", "not_member", "migrated")
MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")
# Update types delivered when a bot never chose (or passed an empty allowed_updates list).
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post", "inline_query",
        "chosen_inline_result", "callback_query", "shipping_query", "pre_checkout_query",
        "poll", "poll_answer", "my_chat_member", "chat_join_request", "chat_boost",
        "removed_chat_boost", "business_connection", "business_message",
        "edited_business_message", "deleted_business_messages", "purchased_paid_media",
    }
)  # fmt: skip
_SEND_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto"})
_EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup", "deleteMessage"})
_BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
# Telegram lets a bot delete a message only within 48 hours of sending it.
DELETE_LIMIT_SECONDS = 48 * 3600
# The fields of which an inline keyboard button has exactly one.
_BUTTON_KINDS = (
    "callback_data", "url", "switch_inline_query", "switch_inline_query_current_chat", "web_app",
    "login_url", "pay", "callback_game", "copy_text", "switch_inline_query_chosen_chat",
)  # fmt: skip

# Form fields whose values PTB JSON-encodes; everything else stays a string.
_JSON_FIELDS = frozenset(
    {
        "reply_markup", "allowed_updates", "commands", "scope", "entities", "caption_entities",
        "link_preview_options", "reply_parameters", "menu_button", "rights", "media",
    }
)  # fmt: skip
_INT_FIELDS = frozenset(
    {
        "chat_id", "message_id", "user_id", "offset", "limit", "max_connections",
        "reply_to_message_id", "message_thread_id", "until_date", "from_chat_id", "cache_time",
    }
)  # fmt: skip
_FLOAT_FIELDS = frozenset({"timeout"})
_BOOL_FIELDS = frozenset(
    {
        "disable_notification", "protect_content", "show_alert", "drop_pending_updates",
        "disable_web_page_preview", "allow_sending_without_reply", "for_channels",
        "disable_content_type_detection", "allow_paid_broadcast", "only_if_banned",
        "has_spoiler", "show_caption_above_media",
    }
)  # fmt: skip


# --------------------------------------------------------------------------- data objects


@dataclass(frozen=True)
class FakeUser:
    """A Telegram user (or bot) as it appears in updates."""

    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    @property
    def chat(self) -> FakeChat:
        """The private chat with this user (its id equals the user id)."""
        return FakeChat(
            id=self.id,
            type="private",
            first_name=self.first_name,
            last_name=self.last_name,
            username=self.username,
        )


@dataclass(frozen=True)
class FakeChat:
    """A chat as it appears in updates and results."""

    id: int
    type: Literal["private", "group", "supergroup", "channel"]
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_forum: bool = False  # a supergroup with topics

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.is_forum:
            data["is_forum"] = True
        return data

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class ApiCall:
    """One recorded request and how the fake answered it."""

    seq: int
    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    time: float
    status: int = 200
    description: str | None = None
    result: Any = None
    fault: str | None = None  # set when an injected or enforced fault produced the answer
    delay: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == 200

    def summary(self) -> str:
        """One line for assertion messages."""
        shown = []
        for key in ("chat_id", "message_id", "callback_query_id", "offset", "timeout"):
            if key in self.params:
                shown.append(f"{key}={self.params[key]!r}")
        for key in ("text", "caption"):
            if key in self.params:
                text = str(self.params[key])
                shown.append(f"{key}={text[:60] + '…' if len(text) > 60 else text!r}")
        outcome = "ok" if self.ok else f"{self.status} {self.description}"
        if self.fault:
            outcome += f" [fault: {self.fault}]"
        return f"#{self.seq} {self.method}({', '.join(shown)}) -> {outcome}"


def _buttons(reply_markup: Any) -> list[list[dict[str, Any]]]:
    if isinstance(reply_markup, dict):
        rows = reply_markup.get("inline_keyboard") or reply_markup.get("keyboard") or []
        return [[b if isinstance(b, dict) else {"text": b} for b in row] for row in rows]
    return []


@dataclass
class SentMessage:
    """A message the bot sent with sendMessage; ``text`` is the raw text as sent."""

    chat_id: int
    message_id: int
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    params: dict[str, Any]
    message: dict[str, Any]

    @property
    def plain_text(self) -> str:
        """The text as users see it (HTML parsed, whitespace trimmed)."""
        return str(self.message.get("text", ""))

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        return _buttons(self.reply_markup)

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for row in self.buttons for b in row if "callback_data" in b]


@dataclass
class SentDocument:
    """A file the bot sent with sendDocument (or sendPhoto)."""

    chat_id: int
    message_id: int
    file_name: str | None
    data: bytes | None  # None when the bot sent a file_id or URL instead of bytes
    mime_type: str | None
    caption: str | None
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    params: dict[str, Any]
    message: dict[str, Any]
    method: str = "sendDocument"


@dataclass
class Edit:
    """A successful editMessageText / editMessageReplyMarkup."""

    method: str
    chat_id: int | None
    message_id: int | None
    text: str | None
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    params: dict[str, Any]
    message: dict[str, Any] | None

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        return _buttons(self.reply_markup)


@dataclass
class CallbackAnswer:
    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    params: dict[str, Any]


@dataclass
class CommandsCall:
    """A setMyCommands or deleteMyCommands call (``commands`` is empty for a delete)."""

    method: str
    scope: dict[str, Any]
    language_code: str
    commands: list[dict[str, str]]


@dataclass
class WebhookDelivery:
    update_id: int
    url: str
    status: int | None
    error: str | None
    time: float


@dataclass(frozen=True)
class FloodLimits:
    """Limits enforced in flood mode (see /work/shared/telegram/limits.md)."""

    overall_per_second: int = 30
    private_per_second: int = 1
    group_per_minute: int = 20


@dataclass
class _Fault:
    kind: str
    status: int
    description: str
    remaining: int | None
    method: str | None = None
    chat_id: int | None = None
    parameters: dict[str, Any] | None = None
    body: bytes | None = None
    content_type: str = "application/json"

    def matches(self, method: str, params: Mapping[str, Any]) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or params.get("chat_id") == self.chat_id


class _ApiError(Exception):
    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


class _ClientGone(Exception):
    """The client closed the connection while its request was waiting."""


def _bad_request(text: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {text}")


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json"


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_NOT_FOUND_BODY = _json_bytes({"ok": False, "error_code": 404, "description": "Not Found"})
_UNAUTHORIZED_BODY = _json_bytes({"ok": False, "error_code": 401, "description": "Unauthorized"})


def _error_payload(error: _ApiError) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "ok": False,
        "error_code": error.status,
        "description": error.description,
    }
    if error.parameters:
        payload["parameters"] = error.parameters
    return payload


# --------------------------------------------------------------------------- request decoding


def _decode_value(name: str, raw: str) -> Any:
    if name in _JSON_FIELDS:
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    if name in _INT_FIELDS:
        try:
            return int(raw)
        except ValueError:
            return raw  # e.g. chat_id="@channelname"
    if name in _FLOAT_FIELDS:
        try:
            return float(raw)
        except ValueError:
            return raw
    if name in _BOOL_FIELDS:
        return raw.lower() in ("true", "1")
    return raw


_FORM_PARAM_RE = re.compile(r';\s*([\w*-]+)=(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


def _unescape_form_param(value: str) -> str:
    """Undo httpx's HTML5 form escaping of multipart names (``"`` and control characters)."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "\\\\":
            return "\\"
        code = int(token[1:], 16)
        return chr(code) if code == 0x22 or code < 0x20 else token

    return re.sub(r"%[0-9A-Fa-f]{2}|\\\\", replace, value)


def _parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], list[UploadedFile]]:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise _bad_request("invalid multipart boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    fields: dict[str, str] = {}
    files: list[UploadedFile] = []
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, _, content = part.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        params = {
            m.group(1).lower(): _unescape_form_param(
                m.group(2) if m.group(2) is not None else m.group(3)
            )
            for m in _FORM_PARAM_RE.finditer(disposition)
        }
        name = params.get("name", "")
        if "filename" in params or "filename*" in params:
            filename = params.get("filename") or urllib.parse.unquote(
                params.get("filename*", "").split("''", 1)[-1]
            )
            files.append(
                UploadedFile(
                    field=name,
                    filename=filename,
                    content_type=headers.get("content-type", "application/octet-stream"),
                    data=content,
                )
            )
        else:
            fields[name] = content.decode("utf-8", "replace")
    return fields, files


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _unquote_plus(value: str) -> str:
    """``urllib.parse.unquote_plus`` but in C for well-formed input (the benchmark's hot spot):
    ``%XX`` escapes are quoted-printable ``=XX`` escapes, and a form value has no raw ``=``."""
    if "%" not in value:
        return value.replace("+", " ")
    if "=" in value or _BAD_ESCAPE.search(value):  # sloppy clients: the exact slow path
        return urllib.parse.unquote_plus(value)
    decoded = binascii.a2b_qp(value.replace("+", " ").replace("%", "="))
    return decoded.decode("utf-8", "replace")


def _parse_form(encoded: str) -> dict[str, str]:
    """``application/x-www-form-urlencoded`` to a dict (a lean ``parse_qsl``)."""
    fields = {}
    for pair in encoded.split("&"):
        if pair:
            key, _, value = pair.partition("=")
            fields[_unquote_plus(key)] = _unquote_plus(value)
    return fields


def _decode_request(
    query: str, headers: Mapping[str, str], body: bytes
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    raw: dict[str, str] = _parse_form(query) if query else {}
    files: dict[str, UploadedFile] = {}
    content_type = headers.get("content-type", "")
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" and body:
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise _bad_request("can't parse JSON encoded request") from exc
        params = {k: _decode_value(k, v) if isinstance(v, str) else v for k, v in raw.items()}
        params.update(decoded if isinstance(decoded, dict) else {})
        return params, files
    if kind == "multipart/form-data":
        fields, uploaded = _parse_multipart(body, content_type)
        raw.update(fields)
        files = {f.field: f for f in uploaded}
    elif body:
        raw.update(_parse_form(body.decode("utf-8", "replace")))
    params = {key: _decode_value(key, value) for key, value in raw.items()}
    # A parameter may point at a multipart part: "attach://<name>".
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
            files[key] = files[value[9:]]
    return params, files


# --------------------------------------------------------------------------- the fake server


class FakeBotApi:
    """The fake Bot API server plus its state, fault switches, recorder and update injector.

    All public methods are thread-safe.  ``start()``/``stop()`` (or ``with FakeBotApi() as api``)
    run the HTTP server in a background thread on ``host``:``port`` (0 = ephemeral).
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "ngo_test_bot",
        bot_first_name: str = "NGO Test Bot",
        host: str = "127.0.0.1",
        port: int = 0,
        strict_chats: bool = False,
        strict_html: bool = False,
    ) -> None:
        """``strict_chats``: unknown chat ids answer "chat not found" instead of being created.
        ``strict_html``: a bare ``&`` in HTML is an error (the real server keeps it literally).
        """
        self.token = token
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 7000000001
        self.bot = FakeUser(
            id=bot_id, first_name=bot_first_name, username=bot_username, is_bot=True
        )
        self.host = host
        self._requested_port = port
        self.strict_chats = strict_chats
        self.strict_html = strict_html
        self.port = 0
        self._bot_dict = self.bot.to_dict()

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._startup_error: BaseException | None = None

        # state
        self._chats: dict[int, FakeChat] = {}
        self._members: dict[int, dict[int, dict[str, Any]]] = {}  # chat -> user -> ChatMember
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._bot_posts: set[tuple[int, int]] = set()  # the bot's channel posts (no "from")
        self._topics: dict[int, dict[int, dict[str, Any]]] = {}  # forum -> thread -> topic
        self._deleted: list[tuple[int, int]] = []
        self._next_message_id: dict[int, int] = {}
        self._user_ids = itertools.count(100000001)
        self._group_ids = itertools.count(1)
        self._channel_ids = itertools.count(1)
        self._callback_ids = itertools.count(5_000_000_000_000_000_001)
        self._callback_queries: dict[str, bool] = {}  # id -> answered
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._bot_texts: dict[str, str] = {}
        self._menu_buttons: dict[int | None, dict[str, Any]] = {}
        self._webhook: dict[str, Any] = {}
        self._webhook_error: tuple[int, str] | None = None
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 700000001
        self._allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._poll_waiters: set[asyncio.Future[str]] = set()
        self._active_poll: asyncio.Future[str] | None = None
        self._polls_waiting = 0
        self._webhook_wakeup: asyncio.Event | None = None
        self._webhook_task: asyncio.Task[None] | None = None

        # faults
        self._faults: list[_Fault] = []
        self._chat_errors: dict[int, tuple[str, int | None]] = {}
        self._delays: dict[str, float] = {}
        self._flood: FloodLimits | None = None
        self._flood_all: collections.deque[float] = collections.deque()
        self._flood_chat: dict[int, collections.deque[float]] = {}

        # records
        self._seq = itertools.count(1)
        self._calls: list[ApiCall] = []
        self._sent: list[SentMessage] = []
        self._documents: list[SentDocument] = []
        self._edits: list[Edit] = []
        self._answers: list[CallbackAnswer] = []
        self._command_calls: list[CommandsCall] = []
        self._injected: list[dict[str, Any]] = []
        self._webhook_deliveries: list[WebhookDelivery] = []
        self.internal_errors: list[str] = []  # exceptions inside the fake itself (should be [])

        self._handlers: dict[
            str, tuple[str, Callable[[dict[str, Any], dict[str, UploadedFile]], Any]]
        ]
        self._handlers = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._m_get_me,
                "logOut": self._m_true,
                "close": self._m_true,
                "deleteWebhook": self._m_delete_webhook,
                "setWebhook": self._m_set_webhook,
                "getWebhookInfo": self._m_get_webhook_info,
                "setMyCommands": self._m_set_my_commands,
                "getMyCommands": self._m_get_my_commands,
                "deleteMyCommands": self._m_delete_my_commands,
                "setMyDescription": self._m_set_bot_text("description"),
                "getMyDescription": self._m_get_bot_text("description"),
                "setMyShortDescription": self._m_set_bot_text("short_description"),
                "getMyShortDescription": self._m_get_bot_text("short_description"),
                "setMyName": self._m_set_bot_text("name"),
                "getMyName": self._m_get_bot_text("name"),
                "setChatMenuButton": self._m_set_chat_menu_button,
                "getChatMenuButton": self._m_get_chat_menu_button,
                "sendMessage": self._m_send_message,
                "sendDocument": self._m_send_document,
                "sendPhoto": self._m_send_photo,
                "sendChatAction": self._m_send_chat_action,
                "editMessageText": self._m_edit_message_text,
                "editMessageReplyMarkup": self._m_edit_message_reply_markup,
                "deleteMessage": self._m_delete_message,
                "answerCallbackQuery": self._m_answer_callback_query,
                "getChat": self._m_get_chat,
                "getChatMember": self._m_get_chat_member,
                "getChatAdministrators": self._m_get_chat_administrators,
                "getChatMemberCount": self._m_get_chat_member_count,
                "leaveChat": self._m_leave_chat,
                "getUpdates": self._m_get_updates_placeholder,
            }.items()
        }

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """What PTB's ``base_url`` (and TELEGRAM_API_BASE_URL) should be."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def bot_username(self) -> str:
        return self.bot.username or ""

    def url(self, method: str) -> str:
        return f"{self.base_url}{self.token}/{method}"

    def env(self) -> dict[str, str]:
        """Environment for a bot subprocess pointed at this fake."""
        return {"TELEGRAM_BOT_TOKEN": self.token, "TELEGRAM_API_BASE_URL": self.base_url}

    def start(self) -> FakeBotApi:
        """Serve in a background thread; after a ``stop()`` this restarts on the same port with
        the state kept, so tests can simulate a Telegram outage."""
        if self._thread is not None:
            raise RuntimeError("FakeBotApi already started")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._thread_main, args=(ready,), name="FakeBotApi", daemon=True
        )
        self._thread.start()
        ready.wait(10)
        if self._startup_error is not None:
            raise RuntimeError("FakeBotApi failed to start") from self._startup_error
        if not self.port:
            raise RuntimeError("FakeBotApi did not start within 10 s")
        return self

    def stop(self) -> None:
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and stop_event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop already stopped
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(10)
        self._thread = None

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _thread_main(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ready))
        except BaseException as exc:  # surfaced to start()
            self._startup_error = exc
            ready.set()
        finally:
            loop.close()

    async def _serve(self, ready: threading.Event) -> None:
        self._stop_event = asyncio.Event()
        self._webhook_wakeup = asyncio.Event()
        connections: set[asyncio.Task[Any]] = set()
        writers: set[asyncio.StreamWriter] = set()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            connections.add(task)
            writers.add(writer)
            try:
                await self._serve_connection(reader, writer)
            except asyncio.CancelledError:
                # Only stop() cancels connections; ending quietly keeps asyncio's stream
                # callback from reporting the cancellation as an error.
                pass
            finally:
                connections.discard(task)
                writers.discard(writer)
                writer.close()

        port = self.port or self._requested_port  # a restart keeps the port
        server = await asyncio.start_server(on_connect, self.host, port)
        self.port = server.sockets[0].getsockname()[1]
        with self._lock:
            if self._webhook.get("url"):
                self._start_webhook_task()
        ready.set()
        try:
            await self._stop_event.wait()
        finally:
            server.close()
            for writer in list(writers):
                writer.close()
            tasks = [*connections]
            if self._webhook_task is not None:
                tasks.append(self._webhook_task)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await server.wait_closed()

    # ------------------------------------------------------------------ HTTP plumbing

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            except asyncio.LimitOverrunError:
                writer.write(self._http_bytes(_Response(431, b""), keep_alive=False))
                return
            request_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
            try:
                http_method, target, version = request_line.split(" ", 2)
            except ValueError:
                writer.write(self._http_bytes(_Response(400, b""), keep_alive=False))
                return
            headers: dict[str, str] = {}
            for line in header_lines:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            try:
                body = await self._read_body(reader, headers)
            except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                return
            keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
            response = await self._dispatch(http_method, target, headers, body, reader)
            if response is None:  # injected connection drop
                return
            try:
                writer.write(self._http_bytes(response, keep_alive))
                await writer.drain()
            except ConnectionError:
                return
            if not keep_alive:
                return

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
        if "content-length" in headers:
            return await reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int((await reader.readline()).split(b";")[0].strip(), 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # trailer end
                    return b"".join(chunks)
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
        return b""

    @staticmethod
    def _http_bytes(response: _Response, keep_alive: bool) -> bytes:
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
        head = (
            f"HTTP/1.1 {response.status} {reason}\r\n"
            "Server: nginx/1.18.0\r\n"
            f"Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        )
        return head.encode("latin-1") + response.body

    async def _dispatch(
        self,
        http_method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        reader: asyncio.StreamReader | None = None,
    ) -> _Response | None:
        path, _, query = target.partition("?")
        if not path.startswith("/bot"):
            return _Response(404, _NOT_FOUND_BODY)
        token, _, method_name = path[4:].partition("/")
        if token != self.token:
            return _Response(401, _UNAUTHORIZED_BODY)
        entry = self._handlers.get(method_name.lower())
        if entry is None:
            return _Response(404, _NOT_FOUND_BODY)
        name, handler = entry
        try:
            params, files = _decode_request(query, headers, body)
        except _ApiError as error:
            return _Response(error.status, _json_bytes(_error_payload(error)))
        call = ApiCall(next(self._seq), name, params, files, time.time())
        with self._lock:
            fault = next((f for f in self._faults if f.matches(name, params)), None)
            if fault is not None and fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
            call.delay = self._delays.get(name, self._delays.get("*", 0.0))
        if call.delay:
            await asyncio.sleep(call.delay)
        if fault is not None:
            return self._answer_fault(call, fault)
        try:
            if name == "getUpdates":
                result = await self._get_updates(params, reader)
            else:
                with self._lock:
                    self._check_chat(name, params, call)
                    self._check_flood(name, params, call)
                    result = handler(params, files)
                    if name in _SEND_METHODS and self._flood is not None:
                        self._count_flood(params.get("chat_id"))
        except _ApiError as error:
            call.status, call.description = error.status, error.description
            self._record(call)
            return _Response(error.status, _json_bytes(_error_payload(error)))
        except _ClientGone:
            call.status, call.description = 499, "client closed the connection"  # nginx's 499
            self._record(call)
            return None
        except Exception as exc:  # a bug in the fake: answer 500 and keep it for the fixture
            call.status, call.description = 500, f"Internal Server Error: {exc!r}"
            with self._lock:
                self.internal_errors.append(f"{name}: {exc!r}")
            self._record(call)
            internal = _ApiError(500, call.description)
            return _Response(500, _json_bytes(_error_payload(internal)))
        call.result = dict(result) if isinstance(result, dict) else result  # edits mutate stored
        self._record(call)
        return _Response(200, _json_bytes({"ok": True, "result": result}))

    def _answer_fault(self, call: ApiCall, fault: _Fault) -> _Response | None:
        call.status, call.description, call.fault = fault.status, fault.description, fault.kind
        self._record(call)
        if fault.kind == "drop":
            return None
        if fault.body is not None:
            return _Response(fault.status, fault.body, fault.content_type)
        error = _ApiError(fault.status, fault.description, fault.parameters)
        return _Response(fault.status, _json_bytes(_error_payload(error)))

    def _record(self, call: ApiCall) -> None:
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()

    # ------------------------------------------------------------------ faults

    def fail_with_retry_after(
        self,
        retry_after: int,
        times: int | None = 1,
        *,
        method: str | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next ``times`` matching calls with 429 and ``parameters.retry_after``."""
        self._add_fault(
            _Fault(
                "retry_after",
                429,
                f"Too Many Requests: retry after {retry_after}",
                times,
                method,
                chat_id,
                {"retry_after": retry_after},
            )
        )

    def fail_with_bad_gateway(
        self, times: int | None = 1, *, method: str | None = None, html: bool = True
    ) -> None:
        """502 from the front proxy: nginx's HTML page (default) or the Bot API's JSON error."""
        body = _BAD_GATEWAY_HTML if html else None
        self._add_fault(
            _Fault(
                "bad_gateway",
                502,
                "Bad Gateway",
                times,
                method,
                body=body,
                content_type="text/html" if html else "application/json",
            )
        )

    def fail_with(
        self,
        status: int,
        description: str,
        times: int | None = 1,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next matching calls with an arbitrary JSON error."""
        self._add_fault(_Fault("error", status, description, times, method, chat_id, parameters))

    def drop_connections(self, times: int | None = 1, *, method: str | None = None) -> None:
        """Close the connection without answering (the client sees a network error)."""
        self._add_fault(_Fault("drop", 0, "connection dropped", times, method))

    def clear_faults(self) -> None:
        """Remove queued faults, chat errors, delays and flood mode."""
        with self._lock:
            self._faults.clear()
            self._chat_errors.clear()
            self._delays.clear()
            self._flood = None

    def _add_fault(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def set_chat_error(self, chat_id: int, reason: str | None) -> None:
        """Make calls for ``chat_id`` fail like a gone recipient; ``None`` restores the chat.

        reason: "blocked" (403 bot was blocked by the user), "deactivated" (403 user is
        deactivated), "kicked" (403 bot was kicked from the group/supergroup chat),
        "not_member" (403 bot is not a member of the ... chat), "not_found" (400 chat not found).
        """
        if reason is not None and reason not in CHAT_ERROR_REASONS:
            raise ValueError(f"reason must be one of {CHAT_ERROR_REASONS}")
        with self._lock:
            if reason is None:
                self._chat_errors.pop(chat_id, None)
            else:
                self._chat_errors[chat_id] = (reason, None)

    def set_delay(self, seconds: float, *, method: str | None = None) -> None:
        """Delay answers to ``method`` (or to every method) by ``seconds``; 0 removes it."""
        with self._lock:
            key = method or "*"
            if seconds > 0:
                self._delays[key] = seconds
            else:
                self._delays.pop(key, None)

    def enable_flood_control(self, limits: FloodLimits | None = None) -> None:
        """Answer 429 when the bot sends faster than ``limits`` (sliding windows)."""
        with self._lock:
            self._flood = limits or FloodLimits()
            self._flood_all.clear()
            self._flood_chat.clear()

    def disable_flood_control(self) -> None:
        with self._lock:
            self._flood = None

    def _chat_error(self, chat_id: int) -> _ApiError | None:
        entry = self._chat_errors.get(chat_id)
        if entry is None:
            return None
        reason, migrate_to = entry
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        known = self._chats.get(chat_id)
        if known is not None and known.type in ("group", "supergroup"):
            kind = known.type
        if reason == "blocked":
            return _ApiError(403, "Forbidden: bot was blocked by the user")
        if reason == "deactivated":
            return _ApiError(403, "Forbidden: user is deactivated")
        if reason == "kicked":
            return _ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        if reason == "not_member":
            return _ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")
        if reason == "migrated":
            return _ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": migrate_to},
            )
        return _bad_request("chat not found")

    def _check_chat(self, method: str, params: Mapping[str, Any], call: ApiCall) -> None:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int) or chat_id not in self._chat_errors:
            return
        reason = self._chat_errors[chat_id][0]
        if reason in ("blocked", "deactivated") and method not in _SEND_METHODS | _EDIT_METHODS:
            return
        error = self._chat_error(chat_id)
        if error is not None:
            call.fault = "chat_error"
            raise error

    def _check_flood(self, method: str, params: Mapping[str, Any], call: ApiCall) -> None:
        limits = self._flood
        chat_id = params.get("chat_id")
        if limits is None or method not in _SEND_METHODS or not isinstance(chat_id, int):
            return
        now = time.monotonic()
        waits = [self._window_wait(self._flood_all, now, 1.0, limits.overall_per_second)]
        chat = self._chats.get(chat_id)
        is_group = chat.is_group if chat is not None else chat_id < 0
        per_chat = self._flood_chat.setdefault(chat_id, collections.deque())
        if is_group:
            waits.append(self._window_wait(per_chat, now, 60.0, limits.group_per_minute))
        else:
            waits.append(self._window_wait(per_chat, now, 1.0, limits.private_per_second))
        wait = max(waits)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            call.fault = "flood"
            raise _ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )

    @staticmethod
    def _window_wait(
        stamps: collections.deque[float], now: float, window: float, limit: int
    ) -> float:
        while stamps and stamps[0] <= now - window:
            stamps.popleft()
        if len(stamps) < limit:
            return 0.0
        return stamps[len(stamps) - limit] + window - now

    def _count_flood(self, chat_id: Any) -> None:
        now = time.monotonic()
        self._flood_all.append(now)
        if isinstance(chat_id, int):
            self._flood_chat.setdefault(chat_id, collections.deque()).append(now)

    # ------------------------------------------------------------------ chats and members

    def make_user(
        self,
        first_name: str = "Anna",
        *,
        username: str | None = None,
        language_code: str | None = "pl",
        last_name: str | None = None,
        user_id: int | None = None,
    ) -> FakeUser:
        """A new user with a fresh id (not yet known to the bot until it writes)."""
        with self._lock:
            uid = user_id if user_id is not None else next(self._user_ids)
        return FakeUser(uid, first_name, username, last_name, language_code)

    def add_group(
        self,
        title: str = "NGO group",
        *,
        supergroup: bool = True,
        chat_id: int | None = None,
        username: str | None = None,
        creator: FakeUser | None = None,
        admins: Iterable[FakeUser] = (),
        members: Iterable[FakeUser] = (),
        bot_status: str = "member",
    ) -> FakeChat:
        """Register a group or supergroup with its creator, administrators and members."""
        with self._lock:
            if chat_id is None:
                n = next(self._group_ids)
                chat_id = -1002000000000 - n if supergroup else -4000000000 - n
            chat = FakeChat(chat_id, "supergroup" if supergroup else "group", title, username)
            self._chats[chat_id] = chat
            self._members.setdefault(chat_id, {})
            if creator is not None:
                self.set_member_status(chat, creator, "creator")
            for admin in admins:
                self.set_member_status(chat, admin, "administrator")
            for member in members:
                self.set_member_status(chat, member, "member")
            self.set_member_status(chat, self.bot, bot_status)
        return chat

    def add_channel(
        self,
        title: str = "NGO channel",
        *,
        username: str | None = None,
        chat_id: int | None = None,
        bot_status: str = "administrator",
        can_post_messages: bool = True,
    ) -> FakeChat:
        """Register a channel; the bot is an administrator there allowed to post (by default).

        ``bot_status="left"``: the bot was never added; ``can_post_messages=False``: an
        administrator without the right to post.
        """
        with self._lock:
            if chat_id is None:
                chat_id = -1003000000000 - next(self._channel_ids)
            chat = FakeChat(chat_id, "channel", title, username)
            self._chats[chat_id] = chat
            self._members.setdefault(chat_id, {})
            rights = _CHANNEL_ADMIN_RIGHTS | {"can_post_messages": can_post_messages}
            self.set_member_status(
                chat, self.bot, bot_status, **(rights if bot_status == "administrator" else {})
            )
        return chat

    def add_forum(self, title: str = "NGO forum", **options: Any) -> FakeChat:
        """A supergroup with topics (``is_forum``); ``options`` as for :meth:`add_group`."""
        with self._lock:
            group = self.add_group(title, supergroup=True, **options)
            forum = FakeChat(group.id, "supergroup", group.title, group.username, is_forum=True)
            self._chats[forum.id] = forum
            self._topics.setdefault(forum.id, {})
        return forum

    def add_topic(self, forum: FakeChat, name: str) -> int:
        """Create a forum topic; its message_thread_id (the id of its creation message)."""
        with self._lock:
            thread = self._new_message_id(forum.id)
            self._topics.setdefault(forum.id, {})[thread] = {"name": name}
            return thread

    def close_topic(self, forum: FakeChat, thread: int) -> None:
        with self._lock:
            self._topics[forum.id][thread]["closed"] = True

    def delete_topic(self, forum: FakeChat, thread: int) -> None:
        """Delete a topic with its messages: sending there is "message thread not found"."""
        with self._lock:
            self._topics[forum.id][thread]["deleted"] = True
            for key, message in list(self._messages.items()):
                if key[0] == forum.id and message.get("message_thread_id") == thread:
                    del self._messages[key]

    def age_message(self, chat_id: int, message_id: int, seconds: float) -> None:
        """Make a stored message look sent `seconds` earlier (e.g. past the 48-hour limit)."""
        with self._lock:
            message = self._messages[(chat_id, message_id)]
            message["date"] = int(message["date"] - seconds)

    def set_member_status(
        self, chat: FakeChat | int, user: FakeUser, status: str, **fields: Any
    ) -> None:
        """Set what getChatMember / getChatAdministrators report for ``user`` in ``chat``.

        Extra ``fields`` override ChatMember fields, e.g. ``is_anonymous=True``.
        """
        if status not in MEMBER_STATUSES:
            raise ValueError(f"status must be one of {MEMBER_STATUSES}")
        chat_id = chat if isinstance(chat, int) else chat.id
        with self._lock:
            self._members.setdefault(chat_id, {})[user.id] = _member_dict(user, status, **fields)

    def register_chat(self, chat: FakeChat) -> None:
        """Make a chat known (needed with ``strict_chats`` for chats nobody wrote from)."""
        with self._lock:
            self._chats[chat.id] = chat

    def chat(self, chat_id: int) -> FakeChat | None:
        with self._lock:
            return self._chats.get(chat_id)

    def _resolve_chat(self, params: Mapping[str, Any]) -> FakeChat:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        if isinstance(chat_id, str):
            for chat in self._chats.values():
                if chat.username and f"@{chat.username}".lower() == chat_id.lower():
                    return chat
            raise _bad_request("chat not found")
        known = self._chats.get(chat_id)
        if known is not None:
            return known
        if self.strict_chats:
            raise _bad_request("chat not found")
        if chat_id > 0:
            chat = FakeChat(chat_id, "private", first_name=f"User {chat_id}")
        else:
            kind: Literal["group", "supergroup"] = (
                "supergroup" if str(chat_id).startswith("-100") else "group"
            )
            chat = FakeChat(chat_id, kind, title=f"Chat {chat_id}")
        self._chats[chat_id] = chat
        return chat

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 0) + 1
        self._next_message_id[chat_id] = message_id
        return message_id

    # ------------------------------------------------------------------ handlers: bot

    def _m_true(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        return True

    def _m_get_me(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        return {
            **self.bot.to_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_get_updates_placeholder(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> None:
        raise AssertionError("getUpdates is dispatched asynchronously")  # pragma: no cover

    def _m_delete_webhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        self._webhook = {}
        self._webhook_error = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._notify_loop(self._stop_webhook_task)
        return True

    def _m_set_webhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        url = str(params.get("url", ""))
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if not url:
            return self._m_delete_webhook({}, files)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) or DEFAULT_UPDATE_TYPES
        self._webhook = {
            "url": url,
            "secret_token": params.get("secret_token"),
            "max_connections": params.get("max_connections", 40),
            "has_custom_certificate": "certificate" in files,
        }
        self._webhook_error = None
        self._notify_loop(self._start_webhook_task)
        return True

    def _m_get_webhook_info(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        return self.webhook_info()

    def webhook_info(self) -> dict[str, Any]:
        """What getWebhookInfo answers now."""
        with self._lock:
            info: dict[str, Any] = {
                "url": self._webhook.get("url", ""),
                "has_custom_certificate": bool(self._webhook.get("has_custom_certificate")),
                "pending_update_count": len(self._updates),
            }
            if self._webhook.get("url"):
                info["max_connections"] = self._webhook.get("max_connections", 40)
                info["ip_address"] = "127.0.0.1"
                if self._allowed_updates != DEFAULT_UPDATE_TYPES:
                    info["allowed_updates"] = sorted(self._allowed_updates)
            if self._webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
            return info

    @staticmethod
    def _scope_key(scope: Any) -> str:
        if not isinstance(scope, dict):
            scope = {"type": "default"}
        return json.dumps(scope, sort_keys=True)

    def _m_set_my_commands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" is required')
        if len(commands) > 100:
            raise _bad_request("too many commands specified")
        cleaned = []
        for item in commands:
            name = str(item.get("command", "")) if isinstance(item, dict) else ""
            description = str(item.get("description", "")) if isinstance(item, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": description})
        scope = _scope(params)
        language = str(params.get("language_code", ""))
        self._commands[(self._scope_key(scope), language)] = cleaned
        self._command_calls.append(CommandsCall("setMyCommands", scope, language, cleaned))
        return True

    def _m_get_my_commands(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> list[dict[str, str]]:
        key = (self._scope_key(params.get("scope")), str(params.get("language_code", "")))
        return list(self._commands.get(key, []))

    def _m_delete_my_commands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        scope = _scope(params)
        language = str(params.get("language_code", ""))
        self._commands.pop((self._scope_key(scope), language), None)
        self._command_calls.append(CommandsCall("deleteMyCommands", scope, language, []))
        return True

    def _m_set_bot_text(
        self, key: str
    ) -> Callable[[dict[str, Any], dict[str, UploadedFile]], bool]:
        def handler(params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
            language = str(params.get("language_code", ""))
            self._bot_texts[f"{key}:{language}"] = str(params.get(key, ""))
            return True

        return handler

    def _m_get_bot_text(
        self, key: str
    ) -> Callable[[dict[str, Any], dict[str, UploadedFile]], dict[str, str]]:
        def handler(params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, str]:
            language = str(params.get("language_code", ""))
            default = self.bot.first_name if key == "name" else ""
            return {key: self._bot_texts.get(f"{key}:{language}", default)}

        return handler

    def _m_set_chat_menu_button(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> bool:
        button = params.get("menu_button")
        chat_id = params.get("chat_id")
        self._menu_buttons[chat_id if isinstance(chat_id, int) else None] = (
            button if isinstance(button, dict) else {"type": "default"}
        )
        return True

    def _m_get_chat_menu_button(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        key = chat_id if isinstance(chat_id, int) else None
        return self._menu_buttons.get(key, self._menu_buttons.get(None, {"type": "commands"}))

    # ------------------------------------------------------------------ handlers: messages

    def _formatted(
        self, text: str, parse_mode: Any, entities: Any, *, limit: int, caption: bool
    ) -> tuple[str, list[dict[str, Any]]]:
        mode = parse_mode if isinstance(parse_mode, str) else None
        if (mode or "").lower() not in ("", "html", "markdown", "markdownv2"):
            raise _bad_request("unsupported parse_mode")
        try:
            formatted = format_text(
                text,
                mode,
                entities if isinstance(entities, list) else None,
                strict_html=self.strict_html,
            )
        except EntityParseError as exc:
            raise _bad_request(f"can't parse entities: {exc}") from exc
        if utf16_length(formatted.text) > limit:
            raise _bad_request("message caption is too long" if caption else "message is too long")
        if not formatted.text and not caption:
            raise _bad_request("message text is empty")
        return formatted.text, [dict(e) for e in formatted.entities]  # formatted is cached

    @staticmethod
    def _check_reply_markup(markup: Any) -> dict[str, Any] | None:
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup  # reply keyboards, ReplyKeyboardRemove, ForceReply
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad_request("text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                    raise _bad_request("BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not re.match(r"(?i)^(https?|tg)://\S+$", str(url)):
                    raise _bad_request(
                        f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
                    )
                kinds = [k for k in _BUTTON_KINDS if k in button]
                if not kinds:
                    raise _bad_request('can\'t find field "callback_data"')
                if len(kinds) > 1:
                    raise _bad_request("BUTTON_TYPE_INVALID")
                if "copy_text" in button:
                    copy = button["copy_text"]
                    if not isinstance(copy, dict) or not isinstance(copy.get("text"), str):
                        raise _bad_request('field "copy_text" must be of type Object')
                    if not 1 <= len(copy["text"]) <= 256:
                        raise _bad_request("BUTTON_COPY_TEXT_INVALID")
        return markup

    def _reply_to(self, chat: FakeChat, params: Mapping[str, Any]) -> dict[str, Any] | None:
        reply = params.get("reply_parameters")
        message_id = params.get("reply_to_message_id")
        allow_missing = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
        if message_id is None:
            return None
        original = self._messages.get((chat.id, int(message_id)))
        if original is None:
            if allow_missing:
                return None
            raise _bad_request("message to be replied not found")
        return {k: v for k, v in original.items() if k != "reply_to_message"}

    def _check_can_post(self, chat: FakeChat, params: Mapping[str, Any]) -> int | None:
        """Refuse as Telegram does: a channel where the bot may not post, a forum topic that
        does not exist or is closed. Returns the forum topic to post in (None: none)."""
        if chat.type == "channel":
            member = self._member(chat, self.bot.id)
            if member["status"] in ("left", "kicked"):
                raise _ApiError(403, "Forbidden: bot is not a member of the channel chat")
            if member["status"] != "creator" and not member.get("can_post_messages"):
                raise _bad_request("need administrator rights in the channel chat")
            return None
        thread = params.get("message_thread_id")
        if thread is None or not chat.is_forum:
            return None  # outside a forum the real server ignores it
        topic = self._topics.get(chat.id, {}).get(int(thread))
        if topic is None or topic.get("deleted"):
            raise _bad_request("message thread not found")
        member = self._member(chat, self.bot.id)
        if topic.get("closed") and not member.get("can_manage_topics"):
            raise _bad_request("TOPIC_CLOSED")
        return int(thread)

    def _base_message(self, chat: FakeChat, params: Mapping[str, Any]) -> dict[str, Any]:
        thread = self._check_can_post(chat, params)
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat.id),
            "from": self._bot_dict,  # shared and never mutated
            "chat": chat.to_dict(),
            "date": int(time.time()),
        }
        if chat.type == "channel":  # a channel post has its channel as sender, no "from"
            del message["from"]
            message["sender_chat"] = chat.to_dict()
            self._bot_posts.add((chat.id, message["message_id"]))
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        if params.get("disable_notification"):
            message["disable_notification"] = True  # recorded for tests; not in real messages
        reply_to = self._reply_to(chat, params)
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return message

    @staticmethod
    def _check_link_preview(options: Any) -> dict[str, Any] | None:
        if options is None or options == "":
            return None
        if not isinstance(options, dict):
            raise _bad_request("can't parse link preview options JSON object")
        url = options.get("url")
        if url is not None and not isinstance(url, str):
            raise _bad_request('field "url" must be of type String')
        return options

    def _m_send_message(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        chat = self._resolve_chat(params)
        raw_text = params.get("text")
        if not isinstance(raw_text, str) or not raw_text:
            raise _bad_request("message text is empty")
        text, entities = self._formatted(
            raw_text,
            params.get("parse_mode"),
            params.get("entities"),
            limit=MAX_MESSAGE_LENGTH,
            caption=False,
        )
        markup = self._check_reply_markup(params.get("reply_markup"))
        preview = self._check_link_preview(params.get("link_preview_options"))
        message = self._base_message(chat, params)
        message["text"] = text
        if entities:
            message["entities"] = entities
        if preview is not None and not preview.get("is_disabled"):
            message["link_preview_options"] = preview
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self._messages[(chat.id, message["message_id"])] = message
        self._sent.append(
            SentMessage(
                chat.id,
                message["message_id"],
                raw_text,
                params.get("parse_mode"),
                markup,
                params,
                dict(message),  # as sent; api.message() gives the current state
            )
        )
        return message

    def _media_message(
        self, method: str, field_name: str, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        chat = self._resolve_chat(params)
        upload = files.get(field_name)
        reference = params.get(field_name)
        if upload is None and not (isinstance(reference, str) and reference):
            raise _bad_request(f"there is no {field_name} in the request")
        if upload is not None and not upload.data:
            raise _bad_request("file must be non-empty")
        caption = params.get("caption")
        caption_text, caption_entities = "", list[dict[str, Any]]()
        if isinstance(caption, str) and caption:
            caption_text, caption_entities = self._formatted(
                caption,
                params.get("parse_mode"),
                params.get("caption_entities"),
                limit=MAX_CAPTION_LENGTH,
                caption=True,
            )
        markup = self._check_reply_markup(params.get("reply_markup"))
        message = self._base_message(chat, params)
        file_id = f"BQACAgIAAxkBAAF{message['message_id']:08d}{chat.id & 0xFFFFFF:06x}"
        file_name = upload.filename if upload is not None else None
        mime_type = upload.content_type if upload is not None else None
        size = len(upload.data) if upload is not None else None
        if field_name == "photo":
            message["photo"] = [
                {
                    "file_id": file_id,
                    "file_unique_id": file_id[-12:],
                    "width": 1280,
                    "height": 720,
                    **({"file_size": size} if size is not None else {}),
                }
            ]
        else:
            document: dict[str, Any] = {"file_id": file_id, "file_unique_id": file_id[-12:]}
            if file_name:
                document["file_name"] = file_name
            if mime_type:
                document["mime_type"] = mime_type
            if size is not None:
                document["file_size"] = size
            message["document"] = document
        if caption_text:
            message["caption"] = caption_text
            if caption_entities:
                message["caption_entities"] = caption_entities
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self._messages[(chat.id, message["message_id"])] = message
        self._documents.append(
            SentDocument(
                chat.id,
                message["message_id"],
                file_name,
                upload.data if upload else None,
                mime_type,
                caption if isinstance(caption, str) else None,
                params.get("parse_mode"),
                markup,
                params,
                dict(message),
                method,
            )
        )
        return message

    def _m_send_document(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        return self._media_message("sendDocument", "document", params, files)

    def _m_send_photo(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        return self._media_message("sendPhoto", "photo", params, files)

    def _m_send_chat_action(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        self._resolve_chat(params)
        if not params.get("action"):
            raise _bad_request("wrong parameter action in request")
        return True

    def _editable(self, params: Mapping[str, Any]) -> tuple[FakeChat | None, dict[str, Any] | None]:
        if params.get("inline_message_id"):
            return None, None
        chat = self._resolve_chat(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise _bad_request("message identifier is not specified")
        message = self._messages.get((chat.id, message_id))
        if message is None:
            raise _bad_request("message to edit not found")
        if not self._sent_by_bot(chat, message):
            raise _bad_request("message can't be edited")
        if chat.type == "channel":
            member = self._member(chat, self.bot.id)
            if member["status"] in ("left", "kicked"):
                raise _ApiError(403, "Forbidden: bot is not a member of the channel chat")
        return chat, message

    def _sent_by_bot(self, chat: FakeChat, message: Mapping[str, Any]) -> bool:
        if (chat.id, message.get("message_id")) in self._bot_posts:
            return True
        return bool(message.get("from", {}).get("id") == self.bot.id)

    def _m_edit_message_text(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any] | bool:
        chat, message = self._editable(params)
        raw_text = params.get("text")
        if not isinstance(raw_text, str) or not raw_text:
            raise _bad_request("message text is empty")
        text, entities = self._formatted(
            raw_text,
            params.get("parse_mode"),
            params.get("entities"),
            limit=MAX_MESSAGE_LENGTH,
            caption=False,
        )
        markup = self._check_reply_markup(params.get("reply_markup"))
        inline_markup = markup if markup is not None and "inline_keyboard" in markup else None
        if message is not None:
            if "text" not in message:
                raise _bad_request("there is no text in the message to edit")
            if (message.get("text"), message.get("entities", []), message.get("reply_markup")) == (
                text,
                entities,
                inline_markup,
            ):
                raise _bad_request(_NOT_MODIFIED.removeprefix("Bad Request: "))
            message["text"] = text
            message["edit_date"] = int(time.time())
            if entities:
                message["entities"] = entities
            else:
                message.pop("entities", None)
            if inline_markup is not None:
                message["reply_markup"] = inline_markup
            else:
                message.pop("reply_markup", None)
        self._edits.append(
            Edit(
                "editMessageText",
                chat.id if chat else None,
                params.get("message_id"),
                raw_text,
                params.get("parse_mode"),
                markup,
                params,
                dict(message) if message else None,
            )
        )
        return dict(message) if message is not None else True

    def _m_edit_message_reply_markup(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any] | bool:
        chat, message = self._editable(params)
        markup = self._check_reply_markup(params.get("reply_markup"))
        inline_markup = markup if markup is not None and "inline_keyboard" in markup else None
        if message is not None:
            if message.get("reply_markup") == inline_markup:
                raise _bad_request(_NOT_MODIFIED.removeprefix("Bad Request: "))
            message["edit_date"] = int(time.time())
            if inline_markup is not None:
                message["reply_markup"] = inline_markup
            else:
                message.pop("reply_markup", None)
        self._edits.append(
            Edit(
                "editMessageReplyMarkup",
                chat.id if chat else None,
                params.get("message_id"),
                None,
                None,
                markup,
                params,
                dict(message) if message else None,
            )
        )
        return dict(message) if message is not None else True

    def _m_delete_message(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        """As Telegram: the bot's own messages within 48 hours; in a group or channel where it
        is an administrator allowed to delete, others' too (still within 48 hours)."""
        chat = self._resolve_chat(params)
        message_id = params.get("message_id")
        message = self._messages.get((chat.id, message_id)) if isinstance(message_id, int) else None
        if message is None:
            raise _bad_request("message to delete not found")
        member = self._member(chat, self.bot.id)
        if chat.type == "channel" and member["status"] in ("left", "kicked"):
            raise _ApiError(403, "Forbidden: bot is not a member of the channel chat")
        own = self._sent_by_bot(chat, message)
        may_delete = (
            chat.type == "private"  # incoming messages of a private chat too
            or member["status"] == "creator"
            or bool(member.get("can_delete_messages"))
        )
        too_old = time.time() - int(message.get("date", 0)) >= DELETE_LIMIT_SECONDS
        if too_old or not (own or may_delete):
            raise _bad_request("message can't be deleted")
        del self._messages[(chat.id, message["message_id"])]
        self._bot_posts.discard((chat.id, message["message_id"]))
        self._deleted.append((chat.id, message["message_id"]))
        return True

    def _m_answer_callback_query(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if self._callback_queries.get(query_id, True):  # unknown or already answered
            raise _bad_request(_QUERY_INVALID.removeprefix("Bad Request: "))
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        self._callback_queries[query_id] = True
        self._answers.append(
            CallbackAnswer(
                query_id,
                text if isinstance(text, str) else None,
                bool(params.get("show_alert")),
                params.get("url"),
                params,
            )
        )
        return True

    # ------------------------------------------------------------------ handlers: chats

    def _m_get_chat(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        chat = self._resolve_chat(params)
        info = {
            **chat.to_dict(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
        if chat.is_group:
            info["permissions"] = {"can_send_messages": True, "can_invite_users": True}
        return info

    def _member(self, chat: FakeChat, user_id: int) -> dict[str, Any]:
        stored = self._members.get(chat.id, {}).get(user_id)
        if stored is not None:
            return stored
        if chat.type == "private" and user_id in (chat.id, self.bot.id):
            user = (
                self.bot
                if user_id == self.bot.id
                else FakeUser(user_id, chat.first_name or "User", chat.username, chat.last_name)
            )
            return _member_dict(user, "member")
        return _member_dict(FakeUser(user_id, f"User {user_id}"), "left")

    def _m_get_chat_member(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        chat = self._resolve_chat(params)
        user_id = params.get("user_id")
        if not isinstance(user_id, int):
            raise _bad_request("invalid user_id specified")
        return self._member(chat, user_id)

    def _m_get_chat_administrators(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> list[dict[str, Any]]:
        chat = self._resolve_chat(params)
        if chat.type == "private":
            raise _bad_request("there are no administrators in the private chat")
        members = self._members.get(chat.id, {}).values()
        return [m for m in members if m["status"] in ("creator", "administrator")]

    def _m_get_chat_member_count(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> int:
        chat = self._resolve_chat(params)
        if chat.type == "private":
            return 2
        members = self._members.get(chat.id, {}).values()
        return sum(1 for m in members if m["status"] in ("creator", "administrator", "member"))

    def _m_leave_chat(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        chat = self._resolve_chat(params)
        if chat.type == "private":
            raise _bad_request("chat member status can't be changed in private chats")
        self._members.setdefault(chat.id, {})[self.bot.id] = _member_dict(self.bot, "left")
        self._chat_errors[chat.id] = ("not_member", None)
        return True

    # ------------------------------------------------------------------ updates: long polling

    async def _get_updates(
        self, params: dict[str, Any], reader: asyncio.StreamReader | None
    ) -> list[dict[str, Any]]:
        timeout = params.get("timeout", 0)
        timeout = float(timeout) if isinstance(timeout, int | float) else 0.0
        deadline = time.monotonic() + max(timeout, 0.0)
        loop = asyncio.get_running_loop()
        previous = self._active_poll
        if previous is not None and not previous.done():
            previous.set_result("conflict")  # the real server terminates the older request
        # A client that gives up (PTB's Updater.stop cancels its poll) closes the connection;
        # notice it so the abandoned poll neither lingers nor collides with the next one.
        hangup: asyncio.Task[bytes] | None = None
        try:
            while True:
                with self._lock:
                    batch = self._collect_updates(params)
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0:
                    return batch
                if hangup is None and reader is not None:
                    hangup = loop.create_task(reader.read(1))
                outcome = await self._wait_for_updates(remaining, hangup)
                if outcome == "hangup":
                    raise _ClientGone
                if outcome == "conflict":
                    raise _ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
        finally:
            if hangup is not None and not hangup.done():
                hangup.cancel()
                # Wait until the cancelled read has really let go of the stream: otherwise the
                # connection's next readuntil() finds it still waiting and the connection dies.
                await asyncio.wait([hangup])
            elif hangup is not None and not hangup.cancelled():
                hangup.exception()  # a reset: retrieved so asyncio does not log it

    async def _wait_for_updates(self, timeout: float, hangup: asyncio.Task[bytes] | None) -> str:
        """Wait for new updates; return "updates", "conflict", "hangup" or "timeout"."""
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._poll_waiters.add(waiter)
        self._active_poll = waiter
        with self._changed:
            self._polls_waiting += 1
            self._changed.notify_all()
        try:
            watched: set[asyncio.Future[Any]] = {waiter}
            if hangup is not None:
                watched.add(hangup)
            await asyncio.wait(watched, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._poll_waiters.discard(waiter)
            with self._lock:
                self._polls_waiting -= 1
        if waiter.done():
            return waiter.result()
        if hangup is not None and hangup.done():
            return "hangup"  # EOF, a reset, or bytes we did not expect mid-poll: stop serving
        return "timeout"

    def _collect_updates(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        if self._webhook.get("url"):
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) or DEFAULT_UPDATE_TYPES
        offset = params.get("offset")
        if isinstance(offset, int) and offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif isinstance(offset, int) and offset < 0:
            self._updates = self._updates[offset:]
        self._updates = [u for u in self._updates if _update_type(u) in self._allowed_updates]
        limit = params.get("limit", 100)
        limit = min(max(limit, 1), 100) if isinstance(limit, int) else 100
        return [dict(u) for u in self._updates[:limit]]

    def _wake_pollers(self) -> None:
        for waiter in list(self._poll_waiters):
            if not waiter.done():
                waiter.set_result("updates")
        if self._webhook_wakeup is not None:
            self._webhook_wakeup.set()

    def _notify_loop(self, callback: Callable[[], None]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(callback)

    # ------------------------------------------------------------------ updates: webhook

    def _start_webhook_task(self) -> None:
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhook())
        if self._webhook_wakeup is not None:
            self._webhook_wakeup.set()

    def _stop_webhook_task(self) -> None:
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            self._webhook_task = None

    async def _deliver_webhook(self) -> None:
        assert self._webhook_wakeup is not None
        failures = 0
        while True:
            with self._lock:
                url = self._webhook.get("url")
                secret = self._webhook.get("secret_token")
                pending = [u for u in self._updates if _update_type(u) in self._allowed_updates]
                self._updates = pending
                update = dict(pending[0]) if pending else None
            if not url:
                return
            if update is None:
                self._webhook_wakeup.clear()
                await self._webhook_wakeup.wait()
                continue
            status, error = await _post_json(url, update, secret)
            with self._changed:
                self._webhook_deliveries.append(
                    WebhookDelivery(update["update_id"], url, status, error, time.time())
                )
                if status is not None and 200 <= status < 300:
                    self._updates = [
                        u for u in self._updates if u["update_id"] != update["update_id"]
                    ]
                    failures = 0
                else:
                    failures += 1
                    self._webhook_error = (
                        int(time.time()),
                        error or f"Wrong response from the webhook: {status} {_phrase(status)}",
                    )
                self._changed.notify_all()
            if failures:
                await asyncio.sleep(min(0.05 * 2**failures, 2.0))

    # ------------------------------------------------------------------ update injection

    def inject_update(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """Queue a raw update (its ``update_id`` is assigned here) and wake long polls."""
        with self._changed:
            full = {
                "update_id": self._next_update_id,
                **{k: v for k, v in update.items() if k != "update_id"},
            }
            self._next_update_id += 1
            self._updates.append(full)
            self._injected.append(full)
            self._changed.notify_all()
        self._notify_loop(self._wake_pollers)
        return full

    def _user_message(
        self,
        user: FakeUser,
        chat: FakeChat | None,
        reply_to: Any = None,
        thread: int | None = None,
    ) -> tuple[FakeChat, dict[str, Any]]:
        chat = chat or user.chat
        if chat.id not in self._chats:
            self._chats[chat.id] = chat
        members = self._members.setdefault(chat.id, {}) if chat.is_group else None
        if members is not None and user.id not in members and user.id != GROUP_ANONYMOUS_BOT_ID:
            members[user.id] = _member_dict(user, "member")  # seen writing, so a member
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat.id),
            "from": user.to_dict(),
            "chat": chat.to_dict(),
            "date": int(time.time()),
        }
        if thread is not None:
            if not chat.is_forum or thread not in self._topics.get(chat.id, {}):
                raise ValueError(f"chat {chat.id} has no forum topic {thread}")
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        if reply_to is not None:
            original = _as_message_dict(reply_to)
            message["reply_to_message"] = {
                k: v for k, v in original.items() if k != "reply_to_message"
            }
        return chat, message

    def _store_and_inject(self, chat: FakeChat, message: dict[str, Any]) -> dict[str, Any]:
        self._messages[(chat.id, message["message_id"])] = message
        return self.inject_update({"message": message})

    def inject_message(
        self,
        user: FakeUser,
        text: str,
        *,
        chat: FakeChat | None = None,
        reply_to: SentMessage | SentDocument | Mapping[str, Any] | None = None,
        thread: int | None = None,
    ) -> dict[str, Any]:
        """A text message from ``user`` (private chat unless ``chat``; in a forum, in topic
        ``thread``), with the entities the server detects (bot commands, mentions such as
        ``@{bot_username}``, URLs)."""
        with self._lock:
            chat, message = self._user_message(user, chat, reply_to, thread)
            message["text"] = text
            entities = find_text_entities(text)
            if entities:
                message["entities"] = entities
            return self._store_and_inject(chat, message)

    def inject_command(
        self,
        user: FakeUser,
        command: str,
        args: str = "",
        *,
        chat: FakeChat | None = None,
        addressed: bool = False,
        thread: int | None = None,
    ) -> dict[str, Any]:
        """``/command args`` (``/command@bot_username`` when ``addressed``)."""
        text = "/" + command.lstrip("/")
        if addressed:
            text += f"@{self.bot_username}"
        if args:
            text += f" {args}"
        return self.inject_message(user, text, chat=chat, thread=thread)

    def inject_anonymous_admin_message(self, chat: FakeChat, text: str) -> dict[str, Any]:
        """An anonymous group admin posting as the group (from = GroupAnonymousBot)."""
        with self._lock:
            chat, message = self._user_message(_ANONYMOUS_BOT, chat)
            message["sender_chat"] = chat.to_dict()
            message["text"] = text
            entities = find_text_entities(text)
            if entities:
                message["entities"] = entities
            return self._store_and_inject(chat, message)

    def inject_sticker(
        self, user: FakeUser, *, chat: FakeChat | None = None, emoji: str = "👍"
    ) -> dict[str, Any]:
        with self._lock:
            chat, message = self._user_message(user, chat)
            message["sticker"] = {
                "file_id": f"CAACAgIAAxkBAAE{message['message_id']:010d}",
                "file_unique_id": f"AgAD{message['message_id']:06d}",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": emoji,
            }
            return self._store_and_inject(chat, message)

    def inject_photo(
        self, user: FakeUser, *, chat: FakeChat | None = None, caption: str | None = None
    ) -> dict[str, Any]:
        with self._lock:
            chat, message = self._user_message(user, chat)
            message["photo"] = [
                {
                    "file_id": f"AgACAgIAAxkBAAE{message['message_id']:010d}{size}",
                    "file_unique_id": f"AQAD{message['message_id']:06d}{size}",
                    "width": size,
                    "height": size * 3 // 4,
                    "file_size": size * 40,
                }
                for size in (90, 320, 800)
            ]
            if caption:
                message["caption"] = caption
                entities = find_text_entities(caption)
                if entities:
                    message["caption_entities"] = entities
            return self._store_and_inject(chat, message)

    def inject_callback_query(
        self,
        user: FakeUser,
        data: str,
        message: SentMessage | SentDocument | Mapping[str, Any] | None = None,
        *,
        chat_id: int | None = None,
        message_id: int | None = None,
        check_button: bool = True,
    ) -> dict[str, Any]:
        """A press on an inline button of a bot message (``message``, or the one found by
        ``chat_id``/``message_id``, or the bot's latest message in the user's private chat).

        With ``check_button`` the message must carry a button with this callback_data.
        """
        with self._lock:
            target = self._find_message(user, message, chat_id, message_id)
            if check_button:
                offered = [
                    b.get("callback_data")
                    for row in _buttons(target.get("reply_markup"))
                    for b in row
                ]
                if data not in offered:
                    raise ValueError(
                        f"message has no button with callback_data {data!r}: {offered}"
                    )
            query_id = str(next(self._callback_ids))
            self._callback_queries[query_id] = False
            chat = target["chat"]
            query = {
                "id": query_id,
                "from": user.to_dict(),
                "message": dict(target),
                "chat_instance": str(abs(hash((chat["id"], self.bot.id))) % 10**18),
                "data": data,
            }
            return self.inject_update({"callback_query": query})

    def _find_message(
        self, user: FakeUser, message: Any, chat_id: int | None, message_id: int | None
    ) -> dict[str, Any]:
        if message is not None:
            found = _as_message_dict(message)
            current = self._messages.get((found["chat"]["id"], found["message_id"]))
            return current if current is not None else found
        chat_id = chat_id if chat_id is not None else user.id
        if message_id is not None:
            current = self._messages.get((chat_id, message_id))
            if current is None:
                raise ValueError(f"no message {message_id} in chat {chat_id}")
            return current
        for (cid, _), stored in reversed(self._messages.items()):
            if cid == chat_id and stored.get("from", {}).get("id") == self.bot.id:
                return stored
        raise ValueError(f"the bot sent no message to chat {chat_id}")

    def inject_my_chat_member(
        self,
        chat: FakeChat,
        old_status: str,
        new_status: str,
        *,
        by: FakeUser | None = None,
        apply: bool = True,
    ) -> dict[str, Any]:
        """The bot's own membership changed, e.g. a user blocked it (member -> kicked).

        With ``apply`` the fake's state follows: a private chat whose bot status becomes kicked
        answers 403 "bot was blocked by the user", a group answers "bot was kicked"; member or
        administrator restores the chat.
        """
        if old_status not in MEMBER_STATUSES or new_status not in MEMBER_STATUSES:
            raise ValueError(f"statuses must be among {MEMBER_STATUSES}")
        with self._lock:
            if chat.id not in self._chats:
                self._chats[chat.id] = chat
            actor = by
            if actor is None and chat.type == "private":
                actor = FakeUser(chat.id, chat.first_name or "User", chat.username, chat.last_name)
            if actor is None:
                actor = self._some_admin(chat)
            update = {
                "my_chat_member": {
                    "chat": chat.to_dict(),
                    "from": actor.to_dict(),
                    "date": int(time.time()),
                    "old_chat_member": _member_dict(self.bot, old_status),
                    "new_chat_member": _member_dict(self.bot, new_status),
                }
            }
            if apply:
                self._apply_bot_status(chat, new_status)
            return self.inject_update(update)

    def _some_admin(self, chat: FakeChat) -> FakeUser:
        for member in self._members.get(chat.id, {}).values():
            if member["status"] in ("creator", "administrator") and not member["user"]["is_bot"]:
                user = member["user"]
                return FakeUser(user["id"], user["first_name"], user.get("username"))
        return self.make_user("Admin")

    def _apply_bot_status(self, chat: FakeChat, status: str) -> None:
        if chat.type == "channel":  # a bot in a channel is an administrator or nothing
            rights = _CHANNEL_ADMIN_RIGHTS if status == "administrator" else {}
            self._members.setdefault(chat.id, {})[self.bot.id] = _member_dict(
                self.bot, status, **rights
            )
            return
        if chat.is_group:
            self._members.setdefault(chat.id, {})[self.bot.id] = _member_dict(self.bot, status)
        if status in ("member", "administrator", "creator", "restricted"):
            self._chat_errors.pop(chat.id, None)
        elif status == "kicked":
            self._chat_errors[chat.id] = ("kicked" if chat.is_group else "blocked", None)
        elif status == "left" and chat.is_group:
            self._chat_errors[chat.id] = ("not_member", None)

    def inject_migration(
        self, group: FakeChat, *, by: FakeUser | None = None, new_chat_id: int | None = None
    ) -> tuple[FakeChat, list[dict[str, Any]]]:
        """A basic group upgraded to a supergroup: the service message in the old group
        (``migrate_to_chat_id``) and in the new one (``migrate_from_chat_id``).  Afterwards
        sending to the old id answers 400 with ``parameters.migrate_to_chat_id``."""
        with self._lock:
            if new_chat_id is None:
                new_chat_id = -1002000000000 - next(self._group_ids)
            new_chat = FakeChat(new_chat_id, "supergroup", group.title, group.username)
            self._chats[new_chat_id] = new_chat
            self._members[new_chat_id] = dict(self._members.get(group.id, {}))
            actor = by or self._some_admin(group)
            old_chat, old_message = self._user_message(actor, group)
            old_message["migrate_to_chat_id"] = new_chat_id
            first = self._store_and_inject(old_chat, old_message)
            _, new_message = self._user_message(actor, new_chat)
            new_message["migrate_from_chat_id"] = group.id
            second = self._store_and_inject(new_chat, new_message)
            self._chat_errors[group.id] = ("migrated", new_chat_id)
            return new_chat, [first, second]

    # ------------------------------------------------------------------ recorded state

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Every recorded call, in order (optionally only ``method``)."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def faults(self) -> list[ApiCall]:
        """Calls answered by an injected or enforced fault (429, 403, 502, drops, ...)."""
        with self._lock:
            return [c for c in self._calls if c.fault is not None]

    def sent_messages(self, chat_id: int | None = None) -> list[SentMessage]:
        with self._lock:
            return [m for m in self._sent if chat_id is None or m.chat_id == chat_id]

    def sent_texts(self, chat_id: int | None = None) -> list[str]:
        return [m.text for m in self.sent_messages(chat_id)]

    def documents(self, chat_id: int | None = None) -> list[SentDocument]:
        with self._lock:
            return [d for d in self._documents if chat_id is None or d.chat_id == chat_id]

    def deletions(self, chat_id: int | None = None) -> list[tuple[int, int]]:
        """(chat id, message id) of each message the bot deleted."""
        with self._lock:
            return [d for d in self._deleted if chat_id is None or d[0] == chat_id]

    def topic_messages(self, forum_id: int, thread: int | None) -> list[SentMessage]:
        """What the bot sent into a forum topic (None: the General topic, no thread)."""
        with self._lock:
            return [
                m
                for m in self._sent
                if m.chat_id == forum_id and m.message.get("message_thread_id") == thread
            ]

    def edits(self, chat_id: int | None = None) -> list[Edit]:
        with self._lock:
            return [e for e in self._edits if chat_id is None or e.chat_id == chat_id]

    def callback_answers(self) -> list[CallbackAnswer]:
        with self._lock:
            return list(self._answers)

    def command_calls(self) -> list[CommandsCall]:
        with self._lock:
            return list(self._command_calls)

    def commands(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]] | None:
        """Commands currently set for ``scope`` (default scope) and language; None if unset."""
        with self._lock:
            stored = self._commands.get(
                (self._scope_key(dict(scope or {"type": "default"})), language_code)
            )
            return list(stored) if stored is not None else None

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """The current state of a message (after edits), sent by the bot or injected."""
        with self._lock:
            stored = self._messages.get((chat_id, message_id))
            return dict(stored) if stored is not None else None

    @property
    def long_polls_waiting(self) -> int:
        """How many getUpdates requests are waiting for updates right now."""
        with self._lock:
            return self._polls_waiting

    def injected_updates(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._injected)

    def pending_updates(self) -> list[dict[str, Any]]:
        """Injected updates the bot has not confirmed yet."""
        with self._lock:
            return list(self._updates)

    def webhook_deliveries(self) -> list[WebhookDelivery]:
        with self._lock:
            return list(self._webhook_deliveries)

    def clear_records(self) -> None:
        """Forget recorded calls, messages, documents, edits, answers and command calls."""
        with self._lock:
            for record in (
                self._calls,
                self._sent,
                self._documents,
                self._edits,
                self._answers,
                self._command_calls,
                self._injected,
                self._webhook_deliveries,
                self._deleted,
            ):
                record.clear()

    # ------------------------------------------------------------------ waiting

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 5.0, what: str | None = None
    ) -> T:
        """Block until ``predicate()`` is truthy and return it; AssertionError on timeout.

        For synchronous tests (the bot in a subprocess or another thread).  Refuses to run inside
        an event loop, where it would freeze an in-process bot: use :meth:`wait_for_async`.
        """
        _refuse_in_event_loop("wait_for", "wait_for_async")
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(self.timeout_report(what or _describe(predicate), timeout))
            with self._changed:
                # Short slices: the predicate may also watch state outside the fake.
                self._changed.wait(min(remaining, 0.05))

    async def wait_for_async(
        self,
        predicate: Callable[[], T | Awaitable[T]],
        timeout: float = 5.0,
        what: str | None = None,
    ) -> T:
        """Like :meth:`wait_for` without blocking the event loop (predicate may be async)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
                value = await value
            if value:
                return value  # type: ignore[return-value]
            if time.monotonic() >= deadline:
                raise AssertionError(self.timeout_report(what or _describe(predicate), timeout))
            await asyncio.sleep(0.01)

    async def wait_for_messages(
        self, chat_id: int, n: int = 1, timeout: float = 5.0
    ) -> list[SentMessage]:
        """Wait until the bot has sent at least ``n`` messages to ``chat_id``; return them all."""
        return await self.wait_for_async(
            lambda: msgs if len(msgs := self.sent_messages(chat_id)) >= n else [],
            timeout,
            f"{n} message(s) sent to chat {chat_id}",
        )

    def wait_for_messages_sync(
        self, chat_id: int, n: int = 1, timeout: float = 5.0
    ) -> list[SentMessage]:
        """Blocking variant of :meth:`wait_for_messages` for synchronous tests."""
        return self.wait_for(
            lambda: msgs if len(msgs := self.sent_messages(chat_id)) >= n else [],
            timeout,
            f"{n} message(s) sent to chat {chat_id}",
        )

    async def wait_for_calls(self, method: str, n: int = 1, timeout: float = 5.0) -> list[ApiCall]:
        """Wait until ``method`` was called at least ``n`` times; return those calls."""
        return await self.wait_for_async(
            lambda: calls if len(calls := self.calls(method)) >= n else [],
            timeout,
            f"{n} call(s) of {method}",
        )

    def timeout_report(self, what: str, timeout: float) -> str:
        """The assertion text used on timeouts: what was awaited and what was recorded."""
        with self._lock:
            calls = list(self._calls)
            pending = len(self._updates)
        lines = [f"timed out after {timeout:g} s waiting for {what}"]
        lines.append(f"recorded API calls ({len(calls)}, last 40 shown):")
        lines += [f"  {c.summary()}" for c in calls[-40:]] or ["  (none)"]
        lines.append(f"pending (unconfirmed) updates: {pending}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- helpers


_ANONYMOUS_BOT = FakeUser(GROUP_ANONYMOUS_BOT_ID, "Group", "GroupAnonymousBot", is_bot=True)

_ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
    "can_manage_topics": False,
}
# What an administrator of a channel may do (ChatMemberAdministrator in a channel).
_CHANNEL_ADMIN_RIGHTS = {
    **_ADMIN_RIGHTS,
    "can_restrict_members": False,
    "can_pin_messages": False,
    "can_post_messages": True,
    "can_edit_messages": True,
}
_RESTRICTED_RIGHTS = {
    "is_member": True,
    "can_send_messages": False,
    "can_send_audios": False,
    "can_send_documents": False,
    "can_send_photos": False,
    "can_send_videos": False,
    "can_send_video_notes": False,
    "can_send_voice_notes": False,
    "can_send_polls": False,
    "can_send_other_messages": False,
    "can_add_web_page_previews": False,
    "can_change_info": False,
    "can_invite_users": False,
    "can_pin_messages": False,
    "can_manage_topics": False,
    "can_edit_tag": False,
    "until_date": 0,
}


def _member_dict(user: FakeUser, status: str, **fields: Any) -> dict[str, Any]:
    """A ChatMember object with every field PTB requires for that status."""
    member: dict[str, Any] = {"status": status, "user": user.to_dict()}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(_ADMIN_RIGHTS)
    elif status == "restricted":
        member.update(_RESTRICTED_RIGHTS)
    elif status == "kicked":
        member["until_date"] = 0
    member.update(fields)
    return member


def _as_message_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, SentMessage | SentDocument):
        return value.message
    if isinstance(value, Mapping):
        if "message" in value and "update_id" in value:
            return dict(value["message"])
        return dict(value)
    raise TypeError(f"not a message: {value!r}")


def _scope(params: Mapping[str, Any]) -> dict[str, Any]:
    scope = params.get("scope")
    return scope if isinstance(scope, dict) else {"type": "default"}


def _update_type(update: Mapping[str, Any]) -> str:
    return next((k for k in update if k != "update_id"), "")


def _phrase(status: int | None) -> str:
    try:
        return HTTPStatus(status or 0).phrase
    except ValueError:
        return ""


def _describe(predicate: Callable[..., Any]) -> str:
    name = getattr(predicate, "__qualname__", repr(predicate))
    return f"predicate {name}"


def _refuse_in_event_loop(name: str, alternative: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"{name}() would block the running event loop; use await {alternative}()")


async def _post_json(
    url: str, payload: Mapping[str, Any], secret: str | None
) -> tuple[int | None, str | None]:
    """POST one update to a webhook like Telegram does; return (status, error text)."""
    parts = urllib.parse.urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    context = None
    if https:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # webhook targets in tests use self-signed certs
    body = _json_bytes(payload)
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if secret:
        head.append(f"X-Telegram-Bot-Api-Secret-Token: {secret}")
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, port, ssl=context), 5
        )
    except (TimeoutError, OSError) as exc:
        return None, f"Connection refused: {exc}"
    try:
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        fields = status_line.split()
        status = int(fields[1]) if len(fields) >= 2 and fields[1].isdigit() else None
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
            await asyncio.wait_for(reader.read(), 5)
        return status, None if status else "Wrong response from the webhook"
    except (TimeoutError, OSError) as exc:
        return None, f"Read timeout expired: {exc}" if isinstance(
            exc, asyncio.TimeoutError
        ) else str(exc)
    finally:
        writer.close()


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """Run the fake standalone: ``python -m tests.fakebotapi [--port N]`` until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--flood", action="store_true", help="enforce flood limits")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with FakeBotApi(args.token, host=args.host, port=args.port) as api:
        if args.flood:
            api.enable_flood_control()
        print(f"base_url={api.base_url} token={api.token} port={api.port}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
