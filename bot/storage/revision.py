"""An announcement's ``updated_at``: when it last changed, strictly later at every change.

The calendar export derives an event's SEQUENCE from it (whole seconds between creation and
the latest change, see ``bot.announcements.agenda``), and a calendar application ignores an
update whose SEQUENCE is not higher than the one it has. So every change — an edit, a
cancellation, one occurrence held elsewhere or back at its place — moves ``updated_at`` to
now, and at least one second past the previous change (two changes within one second: the
second is recorded a second later, never at the same whole second).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import from_db, to_db
from bot.storage.database import Transaction

MIN_STEP = timedelta(seconds=1)


def next_change_time(previous: datetime, now: datetime) -> datetime:
    """``updated_at`` for a change at ``now`` after one recorded at ``previous``."""
    return max(now, previous + MIN_STEP)


async def change_time(tx: Transaction, announcement_id: int, now: datetime) -> str | None:
    """The ``updated_at`` (as stored) of a change now; None for an unknown announcement."""
    row = await tx.fetch_one(
        "SELECT updated_at FROM announcements WHERE id = ?", (announcement_id,)
    )
    if row is None:
        return None
    return to_db(next_change_time(from_db(row["updated_at"]), now))


async def touch(tx: Transaction, announcement_id: int, now: datetime) -> None:
    """Record that the announcement changed now (e.g. one occurrence moved)."""
    changed_at = await change_time(tx, announcement_id, now)
    if changed_at is not None:
        await tx.execute(
            "UPDATE announcements SET updated_at = ? WHERE id = ?", (changed_at, announcement_id)
        )
