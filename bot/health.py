"""Is the bot answering? The heartbeat service of a running bot, and how `ngo-bot health` decides.

A running bot (`ngo-bot run`, console-only included) writes a heartbeat every
HEARTBEAT_SECONDS, and, for each chat network, when its transport last completed a Telegram
poll (getUpdates), a Matrix sync or a Telegram webhook check (at most every
PROGRESS_WRITE_SECONDS: a busy bot does not write on every poll). `ngo-bot health` is healthy
when no bot runs, or when the heartbeat is under HEARTBEAT_LIMIT_SECONDS old and every
network transport completed its activity within the limit (BOT_HEALTH_POLL_SECONDS, counted
from the start while none has completed yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.liveness import Liveness
from bot.storage import Storage
from bot.storage.heartbeat import Heartbeat, TransportProgress

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30.0
HEARTBEAT_LIMIT_SECONDS = 90
PROGRESS_WRITE_SECONDS = 5.0


def progress_write_seconds(transport_limit_seconds: float) -> float:
    """How often (at most) progress is written: every 5 s, or a quarter of a shorter limit, but
    never more than once a second."""
    return max(1.0, min(PROGRESS_WRITE_SECONDS, transport_limit_seconds / 4))


# ------------------------------------------------------------------------------- the decision


@dataclass(frozen=True)
class Verdict:
    """What `ngo-bot health` prints (one line) and whether it exits 0."""

    healthy: bool
    line: str


def seconds_between(earlier: datetime, now: datetime) -> float:
    """Seconds from `earlier` to `now`, never negative (two processes' clocks may differ)."""
    return max(0.0, (now - earlier).total_seconds())


def silent_for(progress: TransportProgress, beat: Heartbeat, now: datetime) -> float:
    """Seconds since the transport last completed its activity (since the start, if never)."""
    return seconds_between(progress.completed_at or beat.started_at, now)


def describe_progress(progress: TransportProgress, beat: Heartbeat, now: datetime) -> str:
    """'telegram last completed a poll 3 s ago', or '... has not completed a poll since ...'."""
    silence = silent_for(progress, beat, now)
    if progress.completed_at is None:
        return (
            f"{progress.platform} has not completed a {progress.activity} since the bot "
            f"started {silence:.0f} s ago"
        )
    return f"{progress.platform} last completed a {progress.activity} {silence:.0f} s ago"


def judge(
    beat: Heartbeat | None,
    progress: Sequence[TransportProgress],
    now: datetime,
    transport_limit_seconds: float,
) -> Verdict:
    """Healthy when no bot runs, or its heartbeat is fresh and every transport is listening."""
    if beat is None or beat.stopped_at is not None:
        return Verdict(True, "ok: database opens; no bot is running on it")
    beat_age = seconds_between(beat.beat_at, now)
    if beat_age >= HEARTBEAT_LIMIT_SECONDS:
        return Verdict(
            False, f"unhealthy: bot (pid {beat.pid}) last heartbeat {beat_age:.0f} s ago"
        )
    silent = [p for p in progress if silent_for(p, beat, now) >= transport_limit_seconds]
    if silent:
        described = "; ".join(describe_progress(p, beat, now) for p in silent)
        return Verdict(False, f"unhealthy: {described} (limit {transport_limit_seconds:g} s)")
    line = f"ok: bot (pid {beat.pid}) alive, heartbeat {beat_age:.0f} s ago"
    if progress:
        line += "; " + ", ".join(describe_progress(p, beat, now) for p in progress)
    return Verdict(True, line)


NO_SCHEMA_LINE = "unhealthy: the database has no schema yet (run 'ngo-bot db migrate')"


async def check_health(storage: Storage, now: datetime, transport_limit_seconds: float) -> Verdict:
    """The decision over an open database: `ngo-bot health` and the web server's /healthz."""
    try:
        if await storage.db.schema_version() == 0:
            return Verdict(False, NO_SCHEMA_LINE)
        beat = await storage.heartbeat.get()
        progress = await storage.heartbeat.progress()
    except sqlite3.Error as exc:
        return Verdict(False, f"unhealthy: the database cannot be read ({type(exc).__name__})")
    return judge(beat, progress, now, transport_limit_seconds)


# -------------------------------------------------------------------------- the running side


class HeartbeatService:
    """Writes the running bot's heartbeat and its transports' progress to the database."""

    def __init__(
        self,
        storage: Storage,
        liveness: Liveness,
        *,
        beat_seconds: float = HEARTBEAT_SECONDS,
        write_seconds: float = PROGRESS_WRITE_SECONDS,
    ) -> None:
        self._storage = storage
        self._liveness = liveness
        self._beat_seconds = beat_seconds
        self._write_seconds = write_seconds
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Mark the bot running (with the transports it listens on), then beat in the background."""
        await self._storage.heartbeat.started(os.getpid(), self._liveness.activities)
        self._tasks = [
            asyncio.create_task(self._beat(), name="heartbeat"),
            asyncio.create_task(self._write_progress(), name="transport-progress"),
        ]

    async def stop(self) -> None:
        """Stop beating and mark the bot stopped."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._storage.heartbeat.stopped()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._beat_seconds)
            try:
                await self._storage.heartbeat.beat()
            except Exception:
                log.exception("heartbeat failed")

    async def _write_progress(self) -> None:
        """Write the latest completions when there are new ones, at most every write_seconds."""
        while True:
            completed = await self._liveness.wait_for_progress()
            try:
                await self._storage.heartbeat.progressed(completed)
            except Exception:
                log.exception("recording the transports' progress failed")
            await asyncio.sleep(self._write_seconds)
