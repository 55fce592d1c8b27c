"""Reminders (one row per planned reminder), occurrences of recurring meetings, weekly digests.

A reminder row is `planned` until it fires: then, in one transaction, it becomes `sent` and its
broadcast with one outbox row per recipient is written — so a reminder is never sent twice, even
by two processes. A reminder that cannot go out is `dropped` (its target passed, or quiet hours
last until it); one the announcement no longer has is `cancelled`. `reason` holds the code
(bot.reminders.planner.Reason). Every change bumps `reminder_changes.version` (triggers), which a
running scheduler polls to pick up rows written by another process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.clock import from_db, to_db
from bot.core.messages import ChatKind, ChatRef
from bot.reminders.planner import PlannedReminder, Reason
from bot.storage.database import Database, Transaction
from bot.storage.outbox import Recipients, add_broadcast
from bot.storage.revision import touch


class ReminderState(StrEnum):
    PLANNED = "planned"
    SENT = "sent"
    DROPPED = "dropped"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Reminder:
    id: int
    announcement_id: int
    target_at: datetime
    due_at: datetime
    send_at: datetime
    state: ReminderState
    reason: str
    broadcast_id: int | None
    updated_at: datetime


_COLUMNS = (
    "id, announcement_id, target_at, due_at, send_at, state, reason, broadcast_id, updated_at"
)


def _reminder(row: sqlite3.Row) -> Reminder:
    return Reminder(
        id=row["id"],
        announcement_id=row["announcement_id"],
        target_at=from_db(row["target_at"]),
        due_at=from_db(row["due_at"]),
        send_at=from_db(row["send_at"]),
        state=ReminderState(row["state"]),
        reason=row["reason"],
        broadcast_id=row["broadcast_id"],
        updated_at=from_db(row["updated_at"]),
    )


def reminder_recipients(topic: str) -> Recipients:
    """Active chats subscribed to the topic now, except those that chose the weekly digest."""
    return Recipients(
        "SELECT s.chat_ref AS chat_ref FROM subscriptions s JOIN chats c ON c.id = s.chat_ref"
        " WHERE s.topic = ? AND c.active = 1"
        " AND NOT EXISTS (SELECT 1 FROM digests d WHERE d.chat_ref = s.chat_ref)",
        (topic,),
    )


async def write_plan(
    tx: Transaction, announcement_id: int, plan: Sequence[PlannedReminder], now: datetime
) -> None:
    """Make the announcement's future reminders the plan, inside the caller's transaction.

    Planned rows due after `now` that the plan lacks are cancelled (`edited`); rows already due
    are left to the scheduler, which checks them against the announcement when they fire. Sent
    and dropped rows never change; a cancelled one comes back if the plan has it again.
    """
    stamp = to_db(now)
    keys = {(to_db(item.target), to_db(item.due)) for item in plan}
    future = await tx.fetch_all(
        "SELECT id, target_at, due_at FROM reminders WHERE announcement_id = ?"
        " AND state = 'planned' AND send_at > ?",
        (announcement_id, stamp),
    )
    stale = [(row["id"],) for row in future if (row["target_at"], row["due_at"]) not in keys]
    if stale:
        await tx.executemany(
            "UPDATE reminders SET state = 'cancelled', reason = ?, updated_at = ?"
            " WHERE id = ? AND state = 'planned'",
            [(Reason.EDITED.value, stamp, *key) for key in stale],
        )
    await tx.executemany(
        "INSERT INTO reminders (announcement_id, target_at, due_at, send_at, state, reason,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (announcement_id, target_at, due_at) DO UPDATE SET"
        " send_at = excluded.send_at, state = excluded.state, reason = excluded.reason,"
        " updated_at = excluded.updated_at"
        " WHERE reminders.state IN ('planned', 'cancelled') AND (reminders.state != excluded.state"
        " OR reminders.send_at != excluded.send_at OR reminders.reason != excluded.reason)",
        [
            (
                announcement_id,
                to_db(item.target),
                to_db(item.due),
                to_db(item.send_at),
                ReminderState.DROPPED.value if item.dropped else ReminderState.PLANNED.value,
                item.dropped.value if item.dropped else "",
                stamp,
                stamp,
            )
            for item in plan
        ],
    )


async def cancel_reminders(tx: Transaction, announcement_id: int, now: datetime) -> int:
    """Cancel every planned reminder of a cancelled announcement."""
    return await tx.execute(
        "UPDATE reminders SET state = 'cancelled', reason = ?, updated_at = ?"
        " WHERE announcement_id = ? AND state = 'planned'",
        (Reason.CANCELLED.value, to_db(now), announcement_id),
    )


class ReminderStore:
    """Reminder rows, the change counter, and one-off places of recurring meetings."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def version(self) -> int:
        """The change counter: different whenever any reminder row changed."""
        row = await self._db.fetch_one("SELECT version FROM reminder_changes WHERE id = 1")
        return int(row[0]) if row else 0

    async def planned(self) -> dict[int, datetime]:
        """Every planned reminder: id -> send time."""
        rows = await self._db.fetch_all(
            "SELECT id, send_at FROM reminders WHERE state = 'planned' ORDER BY send_at, id"
        )
        return {row["id"]: from_db(row["send_at"]) for row in rows}

    async def get(self, reminder_id: int) -> Reminder | None:
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM reminders WHERE id = ?", (reminder_id,)
        )
        return _reminder(row) if row else None

    async def of_announcement(self, announcement_id: int) -> list[Reminder]:
        """All reminder rows of an announcement, by send time."""
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM reminders WHERE announcement_id = ? ORDER BY send_at, id",
            (announcement_id,),
        )
        return [_reminder(row) for row in rows]

    async def replan(
        self, announcement_id: int, plan: Sequence[PlannedReminder], now: datetime
    ) -> None:
        """Store a new plan for the announcement's future reminders (see write_plan)."""
        async with self._db.transaction() as tx:
            await write_plan(tx, announcement_id, plan, now)

    async def fire(
        self, reminder_id: int, *, now: datetime, moment: datetime, detail: str
    ) -> int | None:
        """Send a planned reminder: its broadcast to the chats subscribed now, and the row
        marked sent, in one transaction. None (nothing written) when the row is no longer
        planned or the announcement is not published."""
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "SELECT r.announcement_id, a.topic, a.urgent FROM reminders r"
                " JOIN announcements a ON a.id = r.announcement_id"
                " WHERE r.id = ? AND r.state = 'planned' AND a.status IN ('sending', 'sent')",
                (reminder_id,),
            )
            if row is None:
                return None
            broadcast_id = await add_broadcast(
                tx,
                announcement_id=row["announcement_id"],
                purpose="reminder",
                due_at=moment,
                now=now,
                urgent=bool(row["urgent"]),
                recipients=reminder_recipients(row["topic"]),
                detail=detail,
            )
            await tx.execute(
                "UPDATE reminders SET state = 'sent', broadcast_id = ?, updated_at = ?"
                " WHERE id = ?",
                (broadcast_id, to_db(now), reminder_id),
            )
        return broadcast_id

    async def settle(
        self, reminder_id: int, state: ReminderState, reason: Reason, now: datetime
    ) -> bool:
        """Drop or cancel a planned reminder, recording why; False if it was not planned."""
        changed = await self._db.execute(
            "UPDATE reminders SET state = ?, reason = ?, updated_at = ?"
            " WHERE id = ? AND state = 'planned'",
            (state.value, reason.value, to_db(now), reminder_id),
        )
        return changed > 0

    async def postpone(self, reminder_id: int, send_at: datetime, now: datetime) -> bool:
        """A planned reminder goes out later (quiet hours hold when it fires)."""
        changed = await self._db.execute(
            "UPDATE reminders SET send_at = ?, updated_at = ? WHERE id = ? AND state = 'planned'",
            (to_db(send_at), to_db(now), reminder_id),
        )
        return changed > 0

    # --- one-off places of recurring meetings -----------------------------------------------

    async def set_occurrence_location(
        self, announcement_id: int, starts_at: datetime, location: str | None, now: datetime
    ) -> None:
        """Hold one occurrence elsewhere; None: back at the series' place.

        Either way the announcement changed: its ``updated_at`` (and so the calendar's
        SEQUENCE of the series and of the occurrence) moves on, in the same transaction.
        """
        async with self._db.transaction() as tx:
            if location is None:
                await tx.execute(
                    "DELETE FROM occurrences WHERE announcement_id = ? AND starts_at = ?",
                    (announcement_id, to_db(starts_at)),
                )
            else:
                await tx.execute(
                    "INSERT INTO occurrences (announcement_id, starts_at, location, updated_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (announcement_id, starts_at)"
                    " DO UPDATE SET location = excluded.location, updated_at = excluded.updated_at",
                    (announcement_id, to_db(starts_at), location, to_db(now)),
                )
            await touch(tx, announcement_id, now)

    async def occurrence_locations(
        self, announcement_ids: Collection[int]
    ) -> dict[int, dict[datetime, str]]:
        """announcement id -> {occurrence start: place} for occurrences held elsewhere."""
        if not announcement_ids:
            return {}
        marks = ",".join("?" * len(announcement_ids))
        rows = await self._db.fetch_all(
            "SELECT announcement_id, starts_at, location FROM occurrences"
            f" WHERE announcement_id IN ({marks})",
            tuple(announcement_ids),
        )
        found: dict[int, dict[datetime, str]] = {}
        for row in rows:
            found.setdefault(row["announcement_id"], {})[from_db(row["starts_at"])] = row[
                "location"
            ]
        return found


# --- the weekly digest ------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    chat_ref: int
    schedule: str
    created_at: datetime
    last_week: str | None


@dataclass(frozen=True)
class DigestChat:
    """A chat with the digest and what its digest needs: where, in which language, which topics."""

    chat_ref: int
    ref: ChatRef
    kind: ChatKind
    language: str | None
    topics: frozenset[str]


class DigestStore:
    """Which chats get the weekly digest instead of separate reminders; writing the digests."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, chat_ref: int) -> Digest | None:
        row = await self._db.fetch_one(
            "SELECT chat_ref, schedule, created_at, last_week FROM digests WHERE chat_ref = ?",
            (chat_ref,),
        )
        if row is None:
            return None
        return Digest(
            row["chat_ref"], row["schedule"], from_db(row["created_at"]), row["last_week"]
        )

    async def enable(
        self, chat_ref: int, schedule: str, now: datetime, *, last_week: str | None
    ) -> bool:
        """Switch the digest on; False when it was on already (then nothing changes)."""
        changed = await self._db.execute(
            "INSERT INTO digests (chat_ref, schedule, created_at, last_week) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (chat_ref) DO NOTHING",
            (chat_ref, schedule, to_db(now), last_week),
        )
        return changed > 0

    async def disable(self, chat_ref: int) -> bool:
        return await self._db.execute("DELETE FROM digests WHERE chat_ref = ?", (chat_ref,)) > 0

    async def waiting(self, week: str) -> list[DigestChat]:
        """Active chats with the digest that have not had this week's."""
        rows = await self._db.fetch_all(
            "SELECT d.chat_ref, c.platform, c.chat_id, c.kind, c.language,"
            " (SELECT group_concat(s.topic) FROM subscriptions s WHERE s.chat_ref = d.chat_ref)"
            " AS topics FROM digests d JOIN chats c ON c.id = d.chat_ref"
            " WHERE c.active = 1 AND (d.last_week IS NULL OR d.last_week < ?) ORDER BY d.chat_ref",
            (week,),
        )
        return [
            DigestChat(
                chat_ref=row["chat_ref"],
                ref=ChatRef(row["platform"], row["chat_id"]),
                kind=ChatKind(row["kind"]),
                language=row["language"],
                topics=frozenset((row["topics"] or "").split(",")) - {""},
            )
            for row in rows
        ]

    async def write(self, chat_ref: int, week: str, text: str | None, now: datetime) -> int | None:
        """Record this week's digest for the chat and queue its message (none when `text` is
        None: nothing to tell), in one transaction; None when it was written already."""
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE digests SET last_week = ? WHERE chat_ref = ?"
                " AND (last_week IS NULL OR last_week < ?)",
                (week, chat_ref, week),
            )
            if not changed or text is None:
                return None
            return await add_broadcast(
                tx,
                announcement_id=None,
                purpose="digest",
                due_at=now,
                now=now,
                urgent=False,
                recipients=Recipients.chat(chat_ref),
                detail=text,
            )
