"""The running bot's heartbeat, read by `ngo-bot health`."""

from __future__ import annotations

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


class HeartbeatStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def started(self, pid: int) -> None:
        now = to_db(utcnow())
        await self._db.execute(
            "INSERT INTO heartbeat (name, pid, started_at, beat_at, stopped_at)"
            " VALUES (?, ?, ?, ?, NULL) ON CONFLICT (name) DO UPDATE SET pid = excluded.pid,"
            " started_at = excluded.started_at, beat_at = excluded.beat_at, stopped_at = NULL",
            (RUNNER, pid, now, now),
        )

    async def beat(self) -> None:
        await self._db.execute(
            "UPDATE heartbeat SET beat_at = ? WHERE name = ?", (to_db(utcnow()), RUNNER)
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
