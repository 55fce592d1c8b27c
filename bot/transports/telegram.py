"""Telegram, through python-telegram-bot 22: updates in as Incoming, replies out natively.

The Application is built without PTB's JobQueue (the core owns scheduling) and driven by hand
(initialize / start / updater.start_polling or start_webhook) so that Telegram and Matrix share one
event loop. Interactive replies go through the Application's bot; broadcasts go through a second
Bot with its own connection pool, so a broadcast never queues in front of a reply. Both spend one
budget (the transport's `limiter`, which the dispatcher paces broadcasts with): the Application's
bot takes its turns through BudgetRateLimiter, before any waiting broadcast.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Coroutine, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import tornado.web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    Chat,
    ChatMemberUpdated,
    CopyTextButton,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
)
from telegram._utils.defaultvalue import DEFAULT_NONE, DefaultValue
from telegram._utils.types import ODVInput
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)
from telegram.ext import _updater as ptb_updater
from telegram.ext._utils import webhookhandler as ptb_webhook
from telegram.request import HTTPXRequest

from bot.clock import utcnow
from bot.config import ANY_TOPIC, LANGUAGES, ConfigError, Settings
from bot.core.conversation import looks_like_an_answer
from bot.core.liveness import POLL, WEBHOOK_CHECK
from bot.core.markup import split_markup
from bot.core.messages import (
    MAX_MESSAGE_LENGTH,
    THREAD_MARK,
    ChatKind,
    ChatRef,
    Incoming,
    Reply,
)
from bot.core.registry import Audience
from bot.core.service import Core, apology
from bot.delivery.limits import Priority, SendLimiter, limits_for
from bot.i18n import use_language
from bot.logs import add_log_secret
from bot.storage.channels import ConfiguredChannel
from bot.transports.base import SendOutcome

log = logging.getLogger(__name__)

# Opt in to PTB's future behaviour now: durations such as RetryAfter.retry_after become
# timedelta objects instead of ints that warn on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "true")

PLATFORM = "telegram"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"
ANONYMOUS_ADMIN_ID = 1087968824  # GroupAnonymousBot: an admin posting as the group
ADMIN_STATUSES = (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
PRESENT_STATUSES = (*ADMIN_STATUSES, ChatMemberStatus.MEMBER, ChatMemberStatus.RESTRICTED)
ADMIN_CACHE_SECONDS = 300.0
RECONNECT_MAX_SECONDS = 60.0
# In webhook mode Telegram is asked this often (at most) whether the webhook is still ours.
WEBHOOK_CHECK_SECONDS = 30.0
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit
WEBHOOK_SECRET_BYTES = 32  # token_urlsafe: 43 characters of A-Z a-z 0-9 _ -
GONE_PHRASES = (
    "chat not found",
    "user is deactivated",
    "bot was blocked",
    "bot was kicked",
    "have no rights to send",
    "not enough rights",
    "group chat was deactivated",
    "need administrator rights in the channel chat",
    # a forum topic deleted: gone is that topic's chat, not its group
    "message thread not found",
    "topic_deleted",
)
# A message of ours that can no longer be deleted (over 48 hours old): it is edited instead.
UNDELETABLE_PHRASES = ("message can't be deleted",)
NOT_MODIFIED_PHRASE = "message is not modified"
MESSAGE_GONE_PHRASES = ("message to edit not found", "message to delete not found")
CHANNEL_DEFAULT_LANGUAGE = "pl"  # an announcement's primary language: Polish is always there
UNPARSABLE_PHRASES = ("can't parse entities", "unsupported start tag", "can't find end tag")
# A 400 saying the bot may not send here: muted (restricted) in a group, or a channel-like chat
# that allows no messages. The chat is still there; a reply into it is pointless until then.
MUTED_PHRASES = ("not enough rights", "have no rights to send")
# Requests that put a message in a chat: they spend the budget and keep the chat's spacing.
MESSAGE_ENDPOINTS = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "sendVideo",
        "sendAudio",
        "sendVoice",
        "sendAnimation",
        "sendSticker",
        "sendLocation",
        "sendContact",
        "sendPoll",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
    }
)
# Requests that change a message: they spend the budget only.
EDIT_ENDPOINTS = frozenset(
    {"editMessageText", "editMessageCaption", "editMessageReplyMarkup", "editMessageMedia"}
)
REPLY_RETRIES = 2  # a reply refused with a 429 is tried again after the pause, twice at most

Fatal = Callable[[str], None]
JSON = dict[str, Any]


def split_target(chat_id: str) -> tuple[int, int | None]:
    """A stored chat id as Telegram's chat id and forum thread ('-100123#45' -> -100123, 45)."""
    chat, _mark, thread = chat_id.partition(THREAD_MARK)
    return int(chat), int(thread) if thread else None


def thread_of(message: Message) -> int | None:
    """The forum topic a message was written in (None: not a forum, or its General topic)."""
    if message.is_topic_message and message.chat.is_forum and message.message_thread_id:
        return int(message.message_thread_id)
    return None


def chat_ref_of(chat_id: int, thread: int | None) -> ChatRef:
    """The chat the core sees: a forum topic is a chat of its own."""
    suffix = f"{THREAD_MARK}{thread}" if thread is not None else ""
    return ChatRef(PLATFORM, f"{chat_id}{suffix}")


def link_preview(reply: Reply) -> LinkPreviewOptions:
    """The reply's own link previewed (above the text, small), or no preview at all."""
    if reply.link_preview:
        return LinkPreviewOptions(url=reply.link_preview, prefer_small_media=True)
    return LinkPreviewOptions(is_disabled=True)


def update_shape(data: object) -> str:
    """An update's id and top-level keys, for a log line: never its content."""
    if not isinstance(data, dict):
        return f"a {type(data).__name__}, not an object"
    kinds = ",".join(sorted(str(key) for key in data if key != "update_id"))
    return f"update {data.get('update_id')!r} ({kinds or 'no fields'})"


def parse_update(data: object, bot: Bot) -> Update | None:
    """One raw update as an Update, or None (logged by shape) when PTB cannot parse it."""
    try:
        if not isinstance(data, dict):
            raise TypeError("not an object")
        update = Update.de_json(data, bot)
    except Exception as exc:  # a field missing, a wrong type, nesting too deep...
        log.error(
            "skipped an update Telegram sent that cannot be read: %s: %s",
            update_shape(data),
            type(exc).__name__,
        )
        return None
    return update


class TolerantBot(ExtBot[None]):
    """An ExtBot whose getUpdates skips, rather than chokes on, an update PTB cannot parse.

    PTB parses a whole batch at once: one bad update makes get_updates raise, the Updater
    never moves its offset, and it asks for the same batch forever. Here each update is
    parsed alone; a bad one is logged by shape and left out, and the offset of the next call
    is moved past the highest id seen so a bad update last in the batch is confirmed too.
    """

    __slots__ = ("_next_offset", "polled", "refused")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with self._unfrozen():
            self._next_offset = 0
            self.polled: Callable[[], None] | None = None
            # Called when Telegram refuses the token while polling: PTB's Updater then stops
            # polling for good ("Invalid token. Aborting retry loop.") and the bot goes deaf.
            self.refused: Callable[[], None] | None = None

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: int | dt.timedelta | None = None,
        allowed_updates: Sequence[str] | None = None,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
        api_kwargs: JSON | None = None,
    ) -> tuple[Update, ...]:
        # The timeouts default as PTB's own get_updates does: DEFAULT_NONE means "the request's
        # configured timeout", while None would mean "wait forever" (a pool wait that never
        # ends hung the Updater's last getUpdates at stop).
        seconds = timeout.total_seconds() if isinstance(timeout, dt.timedelta) else timeout or 0
        if isinstance(read_timeout, DefaultValue):
            base_read = self._request[0].read_timeout or 0
        else:
            base_read = read_timeout or 0
        data: JSON = {
            "timeout": timeout,
            "offset": max(offset or 0, self._next_offset) or None,
            "limit": limit,
            "allowed_updates": allowed_updates,
        }
        try:
            result = await self._post(
                "getUpdates",
                data,
                read_timeout=base_read + seconds,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
                api_kwargs=api_kwargs,
            )
        except InvalidToken:
            if self.refused is not None:
                self.refused()
            raise
        raw = result if isinstance(result, list) else []
        ids = [
            item["update_id"]
            for item in raw
            if isinstance(item, dict) and isinstance(item.get("update_id"), int)
        ]
        if ids:
            self._next_offset = max(self._next_offset, max(ids) + 1)
        if self.polled is not None:
            self.polled()
        parsed = (parse_update(item, self) for item in raw)
        return tuple(update for update in parsed if update is not None)


def chat_key(chat_id: object) -> tuple[str | None, bool]:
    """The budget's key for a request's chat_id (the id as text), and whether it is a group."""
    if chat_id is None:
        return None, False
    key = str(chat_id)
    return key, key.startswith(("-", "@"))


Callback = Callable[..., Coroutine[Any, Any, bool | JSON | list[JSON]]]


class BudgetRateLimiter(BaseRateLimiter[None]):
    """Paces the Application's bot (the replies) through the transport's SendLimiter.

    A message takes a reply's turn: before any waiting broadcast, after the chat's spacing from
    a broadcast message (and a group's quota). An edit takes a turn only; other requests (the
    answers to button presses, member lookups, menus) are not messages and go at once. A 429
    pauses the whole budget, broadcasts included, for as long as Telegram asks; the reply is
    then tried again.
    """

    def __init__(self, limiter: SendLimiter, max_retries: int = REPLY_RETRIES) -> None:
        self._limiter = limiter
        self._max_retries = max_retries

    async def initialize(self) -> None:
        """Nothing to prepare."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | JSON | list[JSON]:
        if endpoint not in MESSAGE_ENDPOINTS and endpoint not in EDIT_ENDPOINTS:
            return await callback(*args, **kwargs)
        chat, shared = chat_key(data.get("chat_id"))
        if endpoint in EDIT_ENDPOINTS:
            chat = None
        retries = 0
        while True:
            try:
                return await self._send_in_turn(callback, args, kwargs, chat, shared)
            except RetryAfter as exc:
                seconds = retry_after_seconds(exc)
                log.warning("Telegram asks to wait %.1f s (a reply); pausing all sends", seconds)
                self._limiter.pause(seconds)
                if retries == self._max_retries:
                    raise
                retries += 1

    async def _send_in_turn(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        chat: str | None,
        shared: bool,
    ) -> bool | JSON | list[JSON]:
        await self._limiter.reply_turn(chat, shared)
        try:
            return await callback(*args, **kwargs)
        finally:
            self._limiter.done(chat, shared, Priority.REPLY)


class TolerantWebhookHandler(ptb_webhook.TelegramHandler):
    """PTB's webhook handler, except that an unparsable update is answered 200 and skipped.

    PTB answers 400 and logs the whole update; Telegram then sends it again and again.
    """

    def _validate_post(self) -> None:
        """PTB's checks (JSON, the secret token), the token compared in constant time."""
        expected = self.secret_token
        if expected is not None:
            given = self.request.headers.get("X-Telegram-Bot-Api-Secret-Token") or ""
            if not secrets.compare_digest(given.encode(), expected.encode()):
                raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN, reason="Wrong secret token")
        super()._validate_post()

    async def post(self) -> None:
        self._validate_post()
        self.set_status(200)
        try:
            data = json.loads(self.request.body.decode())
        except (UnicodeDecodeError, ValueError, RecursionError):
            log.error("skipped a webhook request whose body is not JSON")
            return
        update = parse_update(data, self.bot)
        if update is None:
            return
        if isinstance(self.bot, ExtBot):
            self.bot.insert_callback_data(update)
        await self.update_queue.put(update)


class TolerantWebhookApp(ptb_webhook.WebhookAppClass):
    """PTB's webhook application routed to TolerantWebhookHandler."""

    def __init__(
        self,
        webhook_path: str,
        bot: Bot,
        update_queue: asyncio.Queue[object],
        secret_token: str | None = None,
    ) -> None:
        self.shared_objects = {
            "bot": bot,
            "update_queue": update_queue,
            "secret_token": secret_token,
        }
        handlers = [(rf"{webhook_path}/?", TolerantWebhookHandler, self.shared_objects)]
        tornado.web.Application.__init__(self, handlers)


# The Updater builds its webhook application by this module-level name.
ptb_updater.WebhookAppClass = TolerantWebhookApp  # type: ignore[attr-defined]


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Updates of different chats run concurrently; those of one chat strictly in order."""

    def __init__(self, max_concurrent_updates: int = 32) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._users[chat.id] = self._users.get(chat.id, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[chat.id] -= 1
            if not self._users[chat.id]:
                del self._users[chat.id], self._locks[chat.id]

    async def initialize(self) -> None:
        """Nothing to prepare."""

    async def shutdown(self) -> None:
        """Nothing to release."""


class TelegramTransport:
    """The Telegram side of the bot: polling or a webhook, and send() for broadcasts."""

    platform = PLATFORM

    def __init__(
        self, settings: Settings, core: Core, fatal: Fatal, *, limiter: SendLimiter | None = None
    ) -> None:
        assert settings.telegram_token, "TelegramTransport needs TELEGRAM_BOT_TOKEN"
        check_channel_topics(settings, core.topics.slugs)
        self._settings = settings
        self._core = core
        self._fatal = fatal
        # The one budget of replies and broadcasts (the dispatcher takes it from here).
        self.limiter = limiter or SendLimiter(limits_for(PLATFORM, settings))
        self._app = self._build_application(settings)
        urls = self._urls(settings)
        self._broadcast_bot = Bot(
            settings.telegram_token,
            base_url=urls.get("base_url", DEFAULT_BASE_URL),
            base_file_url=urls.get("base_file_url", DEFAULT_BASE_FILE_URL),
        )
        self._admin_cache: dict[tuple[int, int], tuple[float, bool]] = {}
        self._connect_task: asyncio.Task[None] | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_error_date: dt.datetime | None = None
        self.ready = asyncio.Event()
        core.staff_changed_hooks.append(self._refresh_staff_menu)
        core.liveness.expect(PLATFORM, WEBHOOK_CHECK if settings.telegram_webhook_url else POLL)

    # --- lifecycle ------------------------------------------------------------------------

    @staticmethod
    def _urls(settings: Settings) -> dict[str, str]:
        if not settings.telegram_api_base_url:
            return {}
        base = settings.telegram_api_base_url.rstrip("/")
        file_base = base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base
        return {"base_url": base, "base_file_url": file_base}

    def _build_application(self, settings: Settings) -> Application[Any, Any, Any, Any, Any, Any]:
        urls = self._urls(settings)
        self._bot = TolerantBot(
            settings.telegram_token or "",
            base_url=urls.get("base_url", DEFAULT_BASE_URL),
            base_file_url=urls.get("base_file_url", DEFAULT_BASE_FILE_URL),
            request=HTTPXRequest(connection_pool_size=256),
            # Two: at stop PTB abandons the long poll and confirms the offset with one more
            # getUpdates, which must not wait for the connection the abandoned poll holds.
            get_updates_request=HTTPXRequest(connection_pool_size=2),
            rate_limiter=BudgetRateLimiter(self.limiter),
        )
        with self._bot._unfrozen():
            self._bot.refused = self._token_refused_while_polling
            self._bot.polled = self._polled
        app = (
            ApplicationBuilder()
            .bot(self._bot)
            .job_queue(None)
            .concurrent_updates(ChatOrderedProcessor())
            .build()
        )
        app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self._on_migration))
        app.add_handler(
            ChatMemberHandler(self._on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER)
        )
        app.add_handler(CallbackQueryHandler(self._on_callback_query))
        app.add_handler(MessageHandler(filters.ALL & ~filters.StatusUpdate.ALL, self._on_message))
        app.add_error_handler(self._on_error)
        return app

    async def start(self) -> None:
        """Connect in the background (retrying while the network is down) and return at once."""
        self._connect_task = asyncio.create_task(self._connect(), name="telegram-connect")

    async def _connect(self) -> None:
        delay = 1.0
        while True:
            try:
                await self._app.initialize()
                await self._broadcast_bot.initialize()
                break
            except InvalidToken:
                log.error("Telegram refused the bot token (TELEGRAM_BOT_TOKEN); stopping")
                self._fatal("Telegram refused the bot token")
                return
            except (NetworkError, TimedOut) as exc:
                log.warning("cannot reach Telegram (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
        await self._publish_command_menus()
        await self._check_channels()
        updater = self._app.updater
        assert updater is not None
        if self._settings.telegram_webhook_url:
            host, port = self._settings.telegram_webhook_listen
            await updater.start_webhook(
                listen=host,
                port=port,
                url_path=urlsplit(self._settings.telegram_webhook_url).path.lstrip("/"),
                webhook_url=self._settings.telegram_webhook_url,
                secret_token=self._webhook_secret(),
                allowed_updates=ALLOWED_UPDATES,
                bootstrap_retries=-1,
            )
            self._core.liveness.completed(PLATFORM)  # setWebhook succeeded
            self._webhook_task = asyncio.create_task(
                self._watch_webhook(), name="telegram-webhook-check"
            )
        else:
            await updater.start_polling(
                allowed_updates=ALLOWED_UPDATES,
                bootstrap_retries=-1,
                error_callback=self._on_polling_error,
            )
        await self._app.start()
        log.info("Telegram: connected as @%s", self._app.bot.username)
        self.ready.set()

    async def _check_channels(self) -> None:
        """Find each TELEGRAM_CHANNELS channel and whether the bot may post there; store that.

        A channel that cannot be found, is not a channel, or where the bot is not an
        administrator allowed to post, is skipped with a warning (until the next start, or
        until Telegram tells that the bot was made an administrator there).
        """
        found: list[ConfiguredChannel] = []
        for address, (language, topics) in channel_plan(self._settings).items():
            status = await self._channel_status(address)
            if status is not None:
                chat_id, postable = status
                ref = ChatRef(PLATFORM, str(chat_id))
                found.append(ConfiguredChannel(ref, address, language, topics, postable))
        try:
            await self._core.storage.channels.sync(PLATFORM, found, utcnow())
        except Exception:
            log.exception("could not store the Telegram channels; keeping the previous ones")
            return
        for channel in found:
            if channel.postable:
                log.info(
                    "channel %s (%s, %s): posting %s",
                    channel.address,
                    channel.ref.chat_id,
                    channel.language,
                    ", ".join(sorted(channel.topics)),
                )

    async def _channel_status(self, address: str) -> tuple[int, bool] | None:
        """The channel's id and whether the bot may post there; None when it is no channel."""
        bot = self._app.bot
        try:
            chat = await bot.get_chat(int(address) if address.lstrip("-").isdigit() else address)
        except TelegramError as exc:
            log.warning("TELEGRAM_CHANNELS: cannot find channel %s (%s); skipped", address, exc)
            return None
        if chat.type != ChatType.CHANNEL:
            log.warning(
                "TELEGRAM_CHANNELS: %s is a %s chat, not a channel; skipped", address, chat.type
            )
            return None
        try:
            member = await bot.get_chat_member(chat.id, bot.id)
        except TelegramError as exc:
            log.warning("TELEGRAM_CHANNELS: cannot check the bot in %s (%s)", address, exc)
            return chat.id, False
        postable = member.status == ChatMemberStatus.OWNER or (
            member.status == ChatMemberStatus.ADMINISTRATOR
            and bool(getattr(member, "can_post_messages", False))
        )
        if not postable:
            log.warning(
                "TELEGRAM_CHANNELS: the bot is not an administrator allowed to post in %s "
                "(its status there: %s); skipped: add the bot as an administrator of the "
                "channel with the right to post messages",
                address,
                member.status,
            )
        return chat.id, postable

    def _webhook_secret(self) -> str:
        """TELEGRAM_WEBHOOK_SECRET, or a random one for this run: a webhook is never open.

        Telegram sends the secret back with every update; a request without it (or with
        another) is refused with 403, so nobody who merely reaches the port can post updates.
        """
        configured = self._settings.telegram_webhook_secret
        if configured:
            return configured
        secret = generate_webhook_secret()
        add_log_secret(secret)
        log.info(
            "TELEGRAM_WEBHOOK_SECRET is not set: generated a random webhook secret for this run "
            "(updates without it are refused)"
        )
        return secret

    async def stop(self) -> None:
        """Stop receiving, let in-flight updates finish, close both HTTP clients."""
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connect_task
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        updater = self._app.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self._app.running:
            await self._app.stop()
        if self._app._initialized:
            await self._app.shutdown()
        await self._broadcast_bot.shutdown()

    def _token_refused_while_polling(self) -> None:
        """Exit non-zero (a supervisor restarts the bot) rather than stay alive and deaf."""
        log.error("Telegram refused the bot token while polling (TELEGRAM_BOT_TOKEN); stopping")
        self._fatal("Telegram refused the bot token")

    def _polled(self) -> None:
        """A getUpdates completed: the bot is listening (for `ngo-bot health`)."""
        self._core.liveness.completed(PLATFORM)

    def webhook_check_seconds(self) -> float:
        """How often webhook mode checks: every 30 s, or often enough for a shorter health limit,
        but never more than once a second (getWebhookInfo is a request to Telegram)."""
        return max(1.0, min(WEBHOOK_CHECK_SECONDS, self._settings.health_poll_seconds / 4))

    async def _watch_webhook(self) -> None:
        """Webhook mode has no polls: ask Telegram regularly whether the webhook is still ours."""
        while True:
            await asyncio.sleep(self.webhook_check_seconds())
            await self._check_webhook()

    async def _check_webhook(self) -> None:
        """One getWebhookInfo. It counts as a completed check when the webhook is still our URL,
        our server runs and Telegram reported no new delivery error since the last check."""
        try:
            info = await self._app.bot.get_webhook_info()
        except TelegramError as exc:
            log.warning("could not check the Telegram webhook: %s", exc)
            return
        updater = self._app.updater
        if info.url != self._settings.telegram_webhook_url:
            log.warning("Telegram's webhook is no longer TELEGRAM_WEBHOOK_URL (it is %r)", info.url)
            return
        if updater is None or not updater.running:
            log.warning("the webhook server is not running")
            return
        new_error = info.last_error_date not in (None, self._webhook_error_date)
        self._webhook_error_date = info.last_error_date
        if new_error:
            log.warning("Telegram could not deliver to the webhook: %s", info.last_error_message)
            return
        self._core.liveness.completed(PLATFORM)

    def _on_polling_error(self, error: TelegramError) -> None:
        log.warning("Telegram polling error (will retry): %s", error)

    async def _publish_command_menus(self) -> None:
        """The command menu per language, and the fuller staff menus in staff's private chats."""
        bot = self._app.bot
        try:
            for language in LANGUAGES:
                menu = self._menu(language, Audience.EVERYONE)
                await bot.set_my_commands(
                    menu, scope=BotCommandScopeDefault(), language_code=language
                )
            await bot.set_my_commands(
                self._menu(self._settings.default_language, Audience.EVERYONE)
            )
            for user_id, role in (await self._core.identities_with_role(PLATFORM)).items():
                if user_id.lstrip("-").isdigit():
                    await self._set_personal_menu(int(user_id), role)
        except TelegramError as exc:
            log.warning("could not set the command menus: %s", exc)

    async def _set_personal_menu(self, user_id: int, role: Audience) -> None:
        """A staff member's or admin's own menu in their private chat (EVERYONE: removed).

        Set for each language and for none (the default language), so a Telegram app in
        another language shows it too.
        """
        bot = self._app.bot
        scope = BotCommandScopeChat(user_id)
        for language in (*LANGUAGES, None):
            if role is Audience.EVERYONE:
                await bot.delete_my_commands(scope=scope, language_code=language)
                continue
            menu = self._menu(language or self._settings.default_language, role)
            await bot.set_my_commands(menu, scope=scope, language_code=language)

    async def _refresh_staff_menu(self, identity: str) -> None:
        """An admin added or removed staff: their menu follows (at start it is set anyway)."""
        platform, _sep, user_id = identity.partition(":")
        if platform != PLATFORM or not user_id.lstrip("-").isdigit() or not self.ready.is_set():
            return
        role = await self._core.role_of(identity)
        try:
            await self._set_personal_menu(int(user_id), role)
        except TelegramError as exc:
            log.warning("could not update the command menu of %s: %s", identity, exc)

    def _menu(self, language: str, audience: Audience) -> list[BotCommand]:
        return [
            BotCommand(name, description[:256])
            for name, description in self._core.command_menu(language, audience)
        ]

    # --- incoming -------------------------------------------------------------------------

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None or chat.type == ChatType.CHANNEL:
            return
        text = self._addressed_text(message, chat)
        if text is None:
            return
        thread = thread_of(message)
        incoming = Incoming(
            chat=chat_ref_of(chat.id, thread),
            kind=chat_kind(chat),
            sender=str(message.from_user.id if message.from_user else chat.id),
            sender_is_admin=await self._sender_is_admin(message, chat, text),
            text=text,
            language_hint=message.from_user.language_code if message.from_user else None,
            reply_to=self._replied_bot_message(message),
            sender_name=message.from_user.full_name if message.from_user else None,
        )
        await self._answer(chat.id, await self._core.handle(incoming), thread=thread)

    def _replied_bot_message(self, message: Message) -> str | None:
        """The id of the bot's message this one replies to, if it replies to one."""
        replied = message.reply_to_message
        if replied is None or replied.from_user is None or replied.from_user.id != self._app.bot.id:
            return None
        return str(replied.message_id)

    def _addressed_text(self, message: Message, chat: Chat) -> str | None:
        """What the core should read, or None when a group message is not for the bot."""
        username = (self._app.bot.username or "").lower()
        text = message.text or ""
        command = command_entity(message)
        if command is not None:
            target = command.partition("@")[2].lower()
            if target and target != username:
                return None  # a command for another bot in the same group
            return "/" + command.partition("@")[0] + text[len(command) + 1 :]
        if chat.type == ChatType.PRIVATE:
            return text  # empty for stickers, photos...: the core answers with a hint
        replied = message.reply_to_message
        to_bot = (
            replied is not None
            and replied.from_user is not None
            and (replied.from_user.id == self._app.bot.id)
        )
        mention = f"@{username}"
        if username and mention in text.lower():
            start = text.lower().index(mention)
            return (text[:start] + text[start + len(mention) :]).strip()
        return text if to_bot else None

    async def _sender_is_admin(self, message: Message, chat: Chat, text: str) -> bool:
        """Private chats: the person is the chat. Groups: its admins, anonymous ones included."""
        if chat.type == ChatType.PRIVATE:
            return True
        if message.sender_chat is not None and message.sender_chat.id == chat.id:
            return True
        user = message.from_user
        if user is None:
            return False
        if user.id == ANONYMOUS_ADMIN_ID:
            return True
        if not text.startswith("/") and not looks_like_an_answer(text):
            return False  # only commands and typed answers change settings; skip the lookup
        return await self._is_chat_admin(chat.id, user.id)

    async def _is_chat_admin(self, chat_id: int, user_id: int) -> bool:
        key = (chat_id, user_id)
        cached = self._admin_cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            member = await self._app.bot.get_chat_member(chat_id, user_id)
            is_admin = member.status in ADMIN_STATUSES
        except TelegramError as exc:
            log.warning("could not look up a member's status in %s: %s", chat_id, exc)
            return False
        self._admin_cache[key] = (time.monotonic() + ADMIN_CACHE_SECONDS, is_admin)
        return is_admin

    async def _on_callback_query(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        message = query.message if isinstance(query.message, Message) else None
        if message is None or not query.data:
            await query.answer()
            return
        chat = message.chat
        is_admin = chat.type == ChatType.PRIVATE or await self._is_chat_admin(
            chat.id, query.from_user.id
        )
        thread = thread_of(message)
        incoming = Incoming(
            chat=chat_ref_of(chat.id, thread),
            kind=chat_kind(chat),
            sender=str(query.from_user.id),
            sender_is_admin=is_admin,
            text="/" + query.data,
            language_hint=query.from_user.language_code,
        )
        replies = await self._core.handle(incoming)
        await query.answer()
        await self._answer(chat.id, replies, pressed=(query, message), thread=thread)

    async def _edit(self, query: CallbackQuery, message: Message, reply: Reply) -> bool:
        """Show the reply in the message whose button was pressed; False if it cannot be."""
        if reply.attachment is not None or len(split_markup(reply.text, MAX_MESSAGE_LENGTH)) > 1:
            return False
        try:
            await query.edit_message_text(
                reply.text,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(reply),
                link_preview_options=link_preview(reply),
            )
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return True
            if refusal(exc) is not None:
                raise  # the chat refuses: no second try as a new message
            log.warning("could not edit message %s: %s", message.message_id, exc)
            return False
        return True

    async def _on_my_chat_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change: ChatMemberUpdated | None = update.my_chat_member
        if change is None:
            return
        ref = ChatRef(PLATFORM, str(change.chat.id))
        was_present = change.old_chat_member.status in PRESENT_STATUSES
        present = change.new_chat_member.status in PRESENT_STATUSES
        if present == was_present:
            return
        await self._core.chat_reachable(ref, present)
        if change.chat.type == ChatType.CHANNEL:
            log.info("the bot's status in channel %s is now %s", ref, change.new_chat_member.status)
            return  # a channel gets announcements only, never a greeting
        if present and change.chat.type != ChatType.PRIVATE:
            greeting = Incoming(
                ref,
                chat_kind(change.chat),
                str(change.from_user.id),
                False,
                "/start",
                change.from_user.language_code,
            )
            await self._answer(change.chat.id, await self._core.handle(greeting))

    async def _on_migration(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        if message.migrate_to_chat_id:
            old, new = message.chat.id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id:
            old, new = message.migrate_from_chat_id, message.chat.id
        else:
            return
        await self._core.chat_moved(ChatRef(PLATFORM, str(old)), ChatRef(PLATFORM, str(new)))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log an update that raised (with its id); tell the person in their language."""
        where = update.effective_chat if isinstance(update, Update) else None
        error = context.error
        if where and isinstance(error, TelegramError) and await self._refused(where.id, error):
            return  # the chat refused what we sent: no apology into it
        reference = secrets.token_hex(4)
        update_id = update.update_id if isinstance(update, Update) else None
        log.error(
            "error %s while processing update %s", reference, update_id, exc_info=context.error
        )
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        chat = await self._core.storage.chats.get(ChatRef(PLATFORM, str(update.effective_chat.id)))
        language = (chat.language if chat else None) or self._settings.default_language
        with use_language(language):
            text = apology(reference)
        message = update.effective_message
        thread = thread_of(message) if message is not None else None
        try:
            await self._app.bot.send_message(
                update.effective_chat.id, text, message_thread_id=thread
            )
        except TelegramError as exc:
            if not await self._refused(update.effective_chat.id, exc):
                log.warning("could not send the apology for %s: %s", reference, exc)

    # --- outgoing -------------------------------------------------------------------------

    async def _answer(
        self,
        chat_id: int,
        replies: Sequence[Reply],
        *,
        pressed: tuple[CallbackQuery, Message] | None = None,
        thread: int | None = None,
    ) -> None:
        """Send interactive replies in order (in place of the pressed button's message when
        they say so) into the chat or its forum topic; a chat that refuses one gets nothing
        more (see `_refused`)."""
        try:
            for reply in replies:
                if pressed and reply.update_in_place and await self._edit(*pressed, reply):
                    continue
                await self._deliver(self._app.bot, chat_id, reply, thread)
        except (Forbidden, BadRequest) as exc:
            if not await self._refused(chat_id, exc, thread):
                raise

    async def _refused(self, chat_id: int, error: TelegramError, thread: int | None = None) -> bool:
        """Handle a reply the chat refused, like a broadcast's outcome; False if it is not one.

        Gone (403: kicked, blocked, deactivated; 400 chat not found): the chat is marked
        inactive, as when a broadcast finds it gone. Muted (400 not enough rights): the chat
        stays. Either way one warning line, no traceback, and no apology into that chat.
        """
        kind = refusal(error)
        if kind is Refusal.GONE:
            text = str(error).lower()
            if "thread" not in text and "topic" not in text:
                thread = None  # the whole group refuses, not only the topic
            await self._core.chat_reachable(chat_ref_of(chat_id, thread), False)
            log.warning("chat %s refused a reply (%s); marked inactive", chat_id, error)
        elif kind is Refusal.MUTED:
            log.warning("chat %s refused a reply: the bot may not send there (%s)", chat_id, error)
        return kind is not None

    async def _deliver(
        self, bot: Bot, chat_id: int, reply: Reply, thread: int | None = None
    ) -> Message:
        """Send a reply: HTML split under the limit, buttons on the last part, then the file.

        Into the forum topic `thread` when given; the reply's own link is the one previewed;
        a silent reply arrives without a sound. Returns the last text message sent.
        """
        parts = split_markup(reply.text, MAX_MESSAGE_LENGTH)
        sent: Message | None = None
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            sent = await bot.send_message(
                chat_id,
                part,
                parse_mode=ParseMode.HTML,
                link_preview_options=link_preview(reply),
                reply_markup=keyboard(reply) if last else None,
                message_thread_id=thread,
                disable_notification=reply.silent or None,
            )
        if reply.attachment is not None:
            await bot.send_document(
                chat_id,
                InputFile(reply.attachment.data, filename=reply.attachment.filename),
                message_thread_id=thread,
                disable_notification=reply.silent or None,
            )
        assert sent is not None
        return sent

    async def send(self, chat_id: str, reply: Reply) -> SendOutcome:
        """Send a broadcast message and map Telegram's answer to a neutral outcome."""
        chat, thread = split_target(chat_id)
        try:
            sent = await self._deliver(self._broadcast_bot, chat, reply, thread)
        except RetryAfter as exc:
            return SendOutcome.retry(retry_after_seconds(exc), "flood control")
        except ChatMigrated as exc:
            await self._core.chat_moved(
                ChatRef(PLATFORM, chat_id), ChatRef(PLATFORM, str(exc.new_chat_id))
            )
            return SendOutcome.retry(0.0, "chat migrated to a supergroup")
        except Forbidden as exc:
            return SendOutcome.gone(str(exc))
        except BadRequest as exc:
            text = str(exc).lower()
            if any(phrase in text for phrase in GONE_PHRASES):
                return SendOutcome.gone(str(exc))
            if any(phrase in text for phrase in UNPARSABLE_PHRASES):
                log.error("Telegram could not parse our markup for %s: %s", chat_id, exc)
            return SendOutcome.failed(str(exc))
        except (TimedOut, NetworkError) as exc:
            return SendOutcome.retry(None, f"{type(exc).__name__}: {exc}")
        except TelegramError as exc:
            return SendOutcome.failed(f"{type(exc).__name__}: {exc}")
        return SendOutcome.sent(str(sent.message_id))

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> SendOutcome:
        """Replace the text (and buttons) of a message the bot sent: a corrected channel post."""
        chat, _thread = split_target(chat_id)
        try:
            await self._broadcast_bot.edit_message_text(
                reply.text,
                chat_id=chat,
                message_id=int(message_id),
                parse_mode=ParseMode.HTML,
                link_preview_options=link_preview(reply),
                reply_markup=keyboard(reply),
            )
        except BadRequest as exc:
            if NOT_MODIFIED_PHRASE in str(exc).lower():
                return SendOutcome.sent(message_id, "not modified")
            return self._change_refused(chat_id, message_id, exc)
        except TelegramError as exc:
            return self._outcome_of(chat_id, exc)
        return SendOutcome.sent(message_id)

    async def delete(self, chat_id: str, message_id: str, fallback: Reply) -> SendOutcome:
        """Delete a message the bot sent (a cancelled channel post); when Telegram no longer
        allows it (after 48 hours), edit it to `fallback`, the cancellation notice."""
        chat, _thread = split_target(chat_id)
        try:
            await self._broadcast_bot.delete_message(chat, int(message_id))
        except BadRequest as exc:
            text = str(exc).lower()
            if any(phrase in text for phrase in UNDELETABLE_PHRASES):
                log.info("message %s in %s can no longer be deleted; editing it", message_id, chat)
                return await self.edit(chat_id, message_id, fallback)
            if "message to delete not found" in text:
                return SendOutcome.sent(message_id, "already deleted")
            return self._change_refused(chat_id, message_id, exc)
        except TelegramError as exc:
            return self._outcome_of(chat_id, exc)
        return SendOutcome.sent(message_id, "deleted")

    def _change_refused(self, chat_id: str, message_id: str, error: BadRequest) -> SendOutcome:
        """An edit or delete refused: the message is gone (failed, logged), or the chat is."""
        text = str(error).lower()
        if any(phrase in text for phrase in MESSAGE_GONE_PHRASES):
            log.warning("message %s in %s is gone: %s", message_id, chat_id, error)
            return SendOutcome.failed(str(error))
        return self._outcome_of(chat_id, error)

    def _outcome_of(self, chat_id: str, error: TelegramError) -> SendOutcome:
        """A Telegram error as a neutral outcome (as for a sent message)."""
        if isinstance(error, RetryAfter):
            return SendOutcome.retry(retry_after_seconds(error), "flood control")
        if isinstance(error, Forbidden):
            return SendOutcome.gone(str(error))
        if isinstance(error, BadRequest):
            text = str(error).lower()
            if any(phrase in text for phrase in GONE_PHRASES):
                return SendOutcome.gone(str(error))
            return SendOutcome.failed(str(error))
        if isinstance(error, (TimedOut, NetworkError)):
            return SendOutcome.retry(None, f"{type(error).__name__}: {error}")
        return SendOutcome.failed(f"{type(error).__name__}: {error}")


class Refusal(enum.Enum):
    """Why a chat refused a message: the bot is gone from it, or may not send there."""

    GONE = "gone"
    MUTED = "muted"


def refusal(error: TelegramError) -> Refusal | None:
    """Whether an error is the chat refusing the bot (not a fault of the message or network)."""
    if isinstance(error, Forbidden):
        return Refusal.GONE
    if not isinstance(error, BadRequest):
        return None
    text = str(error).lower()
    if any(phrase in text for phrase in MUTED_PHRASES):
        return Refusal.MUTED
    if any(phrase in text for phrase in GONE_PHRASES):
        return Refusal.GONE
    return None


def check_channel_topics(settings: Settings, slugs: Collection[str]) -> None:
    """Refuse a TELEGRAM_CHANNELS entry naming a topic that does not exist."""
    for route in settings.telegram_channels:
        if route.topic != ANY_TOPIC and route.topic not in slugs:
            raise ConfigError(
                f"TELEGRAM_CHANNELS: the entry for {route.channel} names the topic "
                f"{route.topic!r}, which does not exist (topics: {', '.join(sorted(slugs))}, "
                f"or {ANY_TOPIC} for all)"
            )


def channel_plan(settings: Settings) -> dict[str, tuple[str, frozenset[str]]]:
    """Each configured channel with its language and topics.

    An entry without a language takes the one another entry gives that channel, else Polish,
    the language every announcement is written in.
    """
    languages: dict[str, str] = {}
    topics: dict[str, set[str]] = {}
    names: dict[str, str] = {}
    for route in settings.telegram_channels:
        key = route.channel.lower()
        names.setdefault(key, route.channel)
        topics.setdefault(key, set()).add(route.topic)
        if route.language is not None:
            languages.setdefault(key, route.language)
    return {
        names[key]: (languages.get(key, CHANNEL_DEFAULT_LANGUAGE), frozenset(found))
        for key, found in topics.items()
    }


def generate_webhook_secret() -> str:
    """A random secret token of the characters Telegram allows (A-Z a-z 0-9 _ -), 1-256 long."""
    return secrets.token_urlsafe(WEBHOOK_SECRET_BYTES)


def retry_after_seconds(error: RetryAfter) -> float:
    """retry_after in seconds (a timedelta with PTB_TIMEDELTA, else an int)."""
    value: object = error.retry_after
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)  # type: ignore[arg-type]


def chat_kind(chat: Chat) -> ChatKind:
    return ChatKind.PRIVATE if chat.type == ChatType.PRIVATE else ChatKind.GROUP


def command_entity(message: Message) -> str | None:
    """The command word at the start ('help' or 'help@NgoBot'), or None."""
    text = message.text or ""
    for entity in message.entities or ():
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            return text[1 : entity.length]
    return None


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """Buttons as an inline keyboard; callback data is the command (within 64 bytes); a copy
    button copies its text to the clipboard."""
    rows = [
        [
            InlineKeyboardButton(button.label, copy_text=CopyTextButton(button.copy_text))
            if button.copy_text
            else InlineKeyboardButton(button.label, callback_data=button.command)
            for button in row
            if button.copy_text or 0 < len(button.command.encode()) <= CALLBACK_DATA_LIMIT
        ]
        for row in reply.buttons
    ]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None
