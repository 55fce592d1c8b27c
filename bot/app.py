"""Wiring and lifecycle of a running bot: storage, core, transports, background services."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from bot.config import Settings
from bot.core.commands import announce, digest, questions, web
from bot.core.service import Core
from bot.core.topics import load_topics
from bot.delivery import Dispatcher
from bot.faq import FaqMatcher, load_faq
from bot.health import HeartbeatService, progress_write_seconds
from bot.storage import Storage
from bot.transports.base import Transport
from bot.transports.console import ConsoleTransport

log = logging.getLogger(__name__)

NO_NETWORK_MESSAGE = (
    "no chat network is configured: set TELEGRAM_BOT_TOKEN (Telegram) or MATRIX_HOMESERVER "
    "(Matrix), BOT_WEB_LISTEN (the web server, with console chats), or run 'ngo-bot chat' for "
    "a console chat"
)


class Service(Protocol):
    """Something that runs beside the transports (dispatcher, scheduler): started and stopped."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def build_core(storage: Storage, settings: Settings) -> Core:
    """The core with its content loaded (raises on a broken content file, naming the entry)."""
    core = Core(storage, settings, load_topics(settings.content_dir))
    core.faq = faq_matcher(settings.content_dir)
    core.flow_handlers.append(announce.flow_text)
    core.export_providers.append(announce.export_drafts)
    core.export_providers.append(digest.export_digest)
    core.export_providers.append(questions.export_questions)
    core.reply_handlers.append(questions.staff_reply)
    core.erase_hooks.append(questions.erase_questions)
    core.export_providers.append(web.export_web)
    return core


@functools.cache
def faq_matcher(content_dir: Path | None) -> FaqMatcher:
    """The FAQ index, built once per process (it takes a few hundred milliseconds)."""
    return FaqMatcher(load_faq(content_dir))


def network_transports(
    settings: Settings, core: Core, fatal: Callable[[str], None]
) -> list[Transport]:
    """The chat networks configured in the environment (SDKs imported only when used)."""
    transports: list[Transport] = []
    if settings.telegram_enabled:
        from bot.transports.telegram import TelegramTransport

        transports.append(TelegramTransport(settings, core, fatal))
    if settings.matrix_enabled:
        # Imported here: matrix-nio takes about 0.3 s to import, which other commands need not pay.
        from bot.transports.matrix import MatrixConfig, MatrixTransport

        transports.append(MatrixTransport(MatrixConfig.from_settings(settings), core))
    return transports


class BotRuntime:
    """Everything `ngo-bot run` runs in one process, started and stopped in order."""

    def __init__(self, settings: Settings, storage: Storage, core: Core) -> None:
        self.settings = settings
        self.storage = storage
        self.core = core
        self.transports: dict[str, Transport] = {"console": ConsoleTransport(storage)}
        self.metrics = core.metrics
        self.dispatcher = Dispatcher(
            storage, settings, core.topics, self.transports, metrics=self.metrics
        )
        # Imported here: APScheduler takes about 30 ms to import, which other commands need not
        # pay. After the dispatcher: a reminder missed while the bot was down is written at
        # start, and the dispatcher is woken to deliver it at once.
        from bot.scheduler import ReminderScheduler

        self.scheduler = ReminderScheduler(
            storage, settings, core.topics, on_broadcast=self.dispatcher.wake
        )
        self.services: list[Service] = [self.dispatcher, self.scheduler]
        core.outbox_written_hooks.append(self.dispatcher.wake)
        if settings.web_listen is not None:
            self.services.append(self._web_server(settings.web_listen))
        self.heartbeat = HeartbeatService(
            storage,
            core.liveness,
            write_seconds=progress_write_seconds(settings.health_poll_seconds),
        )
        self._stop = asyncio.Event()
        self.failure: str | None = None

    def _web_server(self, listen: tuple[str, int]) -> Service:
        """The web server (BOT_WEB_LISTEN), started last and stopped first."""
        # Imported here: aiohttp.web and Jinja2 are not needed by a bot without a web server.
        from bot.web import WebDeps, WebServer

        host, port = listen
        return WebServer(WebDeps.for_core(self.core, self.metrics), host, port)

    def add_transport(self, transport: Transport) -> None:
        self.transports[transport.platform] = transport

    def request_stop(self) -> None:
        self._stop.set()

    def fail(self, reason: str) -> None:
        """Stop because a part cannot work (e.g. a refused token); `ngo-bot run` exits 1."""
        self.failure = reason
        self._stop.set()

    async def run(self) -> None:
        """Start everything, wait for SIGTERM/SIGINT, stop everything (in reverse order)."""
        self._install_signal_handlers()
        await self.heartbeat.start()
        started: list[Transport | Service] = []
        try:
            for part in [*self.transports.values(), *self.services]:
                await part.start()
                started.append(part)
            log.info("bot running: %s", ", ".join(sorted(self.transports)))
            await self._stop.wait()
        finally:
            log.info("stopping")
            for part in reversed(started):
                await stop_quietly(part.stop, type(part).__name__)
            await self.heartbeat.stop()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.request_stop)


async def stop_quietly(stop: Callable[[], Awaitable[None]], name: str) -> None:
    """Stop one part; a failure is logged and does not keep the others running."""
    try:
        await stop()
    except Exception:
        log.exception("error while stopping %s", name)


async def run_bot(settings: Settings) -> str | None:
    """`ngo-bot run` with a chat network or the web server configured (console chats are always
    delivered to); returns a failure or None."""
    storage = await Storage.open(settings.db_path, writable=True)
    try:
        core = build_core(storage, settings)
        runtime = BotRuntime(settings, storage, core)
        for transport in network_transports(settings, core, runtime.fail):
            runtime.add_transport(transport)
        await runtime.run()
        return runtime.failure
    finally:
        await storage.close()
