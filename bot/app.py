"""Wiring and lifecycle of a running bot: storage, core, transports, background services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.config import Settings
from bot.core.commands import announce
from bot.core.service import Core
from bot.core.topics import load_topics
from bot.delivery import Dispatcher
from bot.storage import Storage
from bot.transports.base import Transport
from bot.transports.console import ConsoleTransport

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30.0
NO_NETWORK_MESSAGE = (
    "no chat network is configured: set TELEGRAM_BOT_TOKEN (Telegram) or MATRIX_HOMESERVER "
    "(Matrix), or run 'ngo-bot chat' for a console chat"
)


class Service(Protocol):
    """Something that runs beside the transports (dispatcher, scheduler): started and stopped."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def build_core(storage: Storage, settings: Settings) -> Core:
    """The core with its content loaded (raises ContentError on a broken content file)."""
    core = Core(storage, settings, load_topics(settings.content_dir))
    core.flow_handlers.append(announce.flow_text)
    core.export_providers.append(announce.export_drafts)
    return core


def network_transports(settings: Settings, core: Core) -> list[Transport]:
    """The chat networks configured in the environment."""
    transports: list[Transport] = []
    return transports


class BotRuntime:
    """Everything `ngo-bot run` runs in one process, started and stopped in order."""

    def __init__(self, settings: Settings, storage: Storage, core: Core) -> None:
        self.settings = settings
        self.storage = storage
        self.core = core
        self.transports: dict[str, Transport] = {"console": ConsoleTransport(storage)}
        self.dispatcher = Dispatcher(storage, settings, core.topics, self.transports)
        self.services: list[Service] = [self.dispatcher]
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def add_transport(self, transport: Transport) -> None:
        self.transports[transport.platform] = transport

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Start everything, wait for SIGTERM/SIGINT, stop everything (in reverse order)."""
        self._install_signal_handlers()
        await self.storage.heartbeat.started(os.getpid())
        started: list[Transport | Service] = []
        try:
            for part in [*self.transports.values(), *self.services]:
                await part.start()
                started.append(part)
            self._tasks.append(asyncio.create_task(self._beat(), name="heartbeat"))
            log.info("bot running: %s", ", ".join(sorted(self.transports)))
            await self._stop.wait()
        finally:
            log.info("stopping")
            for task in self._tasks:
                task.cancel()
            for part in reversed(started):
                await stop_quietly(part.stop, type(part).__name__)
            await self.storage.heartbeat.stopped()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await self.storage.heartbeat.beat()
            except Exception:
                log.exception("heartbeat failed")

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


async def run_bot(settings: Settings) -> None:
    """`ngo-bot run` with at least one chat network configured."""
    storage = await Storage.open(settings.db_path)
    try:
        core = build_core(storage, settings)
        runtime = BotRuntime(settings, storage, core)
        for transport in network_transports(settings, core):
            runtime.add_transport(transport)
        await runtime.run()
    finally:
        await storage.close()
