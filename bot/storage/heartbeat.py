"""The running bot's heartbeat and its transports' progress, read by `ngo-bot health`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_db, to_db, utcnow
from bot.storage.database import Database

RUNNER = "run"


@dataclass(frozen=True)
class Heartbeat:
    pid: int
    started_at: datetime
    beat_at: datetime
    stopped_at: datetime | None


@dataclass(frozen=True)
class TransportProgress:
    """What a network transport does to receive, and when it last completed it (None: not yet)."""

    platform: str
    activity: str
    completed_at: datetime | None


class HeartbeatStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def started(self, pid: int, transports: Mapping[str, str] | None = None) -> None:
        """A bot starts: its heartbeat, and the transports it watches (platform -> activity)
        with nothing completed yet, replacing those of an earlier run."""
        now = to_db(utcnow())
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO heartbeat (name, pid, started_at, beat_at, stopped_at)"
                " VALUES (?, ?, ?, ?, NULL) ON CONFLICT (name) DO UPDATE SET pid = excluded.pid,"
                " started_at = excluded.started_at, beat_at = excluded.beat_at, stopped_at = NULL",
                (RUNNER, pid, now, now),
            )
            await tx.execute("DELETE FROM transport_progress")
            await tx.executemany(
                "INSERT INTO transport_progress (platform, activity, completed_at)"
                " VALUES (?, ?, NULL)",
                sorted((transports or {}).items()),
            )

    async def beat(self) -> None:
        await self._db.execute(
            "UPDATE heartbeat SET beat_at = ? WHERE name = ?", (to_db(utcnow()), RUNNER)
        )

    async def progressed(self, completed: Mapping[str, datetime]) -> None:
        """Record when each transport last completed its activity (platform -> moment)."""
        async with self._db.transaction() as tx:
            await tx.executemany(
                "UPDATE transport_progress SET completed_at = ? WHERE platform = ?",
                [(to_db(moment), platform) for platform, moment in sorted(completed.items())],
            )

    async def stopped(self) -> None:
        await self._db.execute(
            "UPDATE heartbeat SET stopped_at = ? WHERE name = ?", (to_db(utcnow()), RUNNER)
        )

    async def get(self) -> Heartbeat | None:
        row = await self._db.fetch_one(
            "SELECT pid, started_at, beat_at, stopped_at FROM heartbeat WHERE name = ?", (RUNNER,)
        )
        if row is None:
            return None
        stopped = from_db(row["stopped_at"]) if row["stopped_at"] else None
        return Heartbeat(row["pid"], from_db(row["started_at"]), from_db(row["beat_at"]), stopped)

    async def progress(self) -> list[TransportProgress]:
        """The running bot's transports, by platform ([] on a schema from before they were
        recorded: health then judges the heartbeat alone)."""
        table = await self._db.fetch_one(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'transport_progress'"
        )
        if table is None:
            return []
        rows = await self._db.fetch_all(
            "SELECT platform, activity, completed_at FROM transport_progress ORDER BY platform"
        )
        return [
            TransportProgress(
                row["platform"],
                row["activity"],
                from_db(row["completed_at"]) if row["completed_at"] else None,
            )
            for row in rows
        ]
