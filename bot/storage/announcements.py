"""Announcements: creation with its publication, edits, cancellation, listings; staff drafts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.announcements.model import FIELD_NAMES, TIME_FIELDS, Announcement, Fields, Kind, Status
from bot.clock import from_db, to_db
from bot.reminders.planner import PlannedReminder
from bot.storage.database import Database, Transaction
from bot.storage.outbox import Action, Recipients, add_broadcast, cancel_open_rows
from bot.storage.reminders import cancel_reminders, write_plan
from bot.storage.revision import change_time

_COLUMNS = (
    "id, status, author, author_chat_ref, last_changed, created_at, updated_at, "
    + ", ".join(FIELD_NAMES)
)


def _to_row(fields: Fields) -> tuple[Any, ...]:
    """The field values in FIELD_NAMES order, as the database stores them."""
    values: list[Any] = []
    for name in FIELD_NAMES:
        value = getattr(fields, name)
        if name in TIME_FIELDS:
            values.append(to_db(value) if value is not None else None)
        elif name == "urgent":
            values.append(int(value))
        elif name == "kind":
            values.append(value.value)
        else:
            values.append(value)
    return tuple(values)


def _from_row(row: sqlite3.Row) -> Announcement:
    values: dict[str, Any] = {}
    for name in FIELD_NAMES:
        value = row[name]
        if name in TIME_FIELDS:
            value = from_db(value) if value is not None else None
        elif name == "urgent":
            value = bool(value)
        elif name == "kind":
            value = Kind(value)
        values[name] = value
    return Announcement(
        id=row["id"],
        fields=Fields(**values),
        status=Status(row["status"]),
        author=row["author"],
        author_chat_ref=row["author_chat_ref"],
        created_at=from_db(row["created_at"]),
        updated_at=from_db(row["updated_at"]),
        last_changed=tuple(name for name in row["last_changed"].split(",") if name),
    )


async def _publish(tx: Transaction, announcement_id: int, fields: Fields, now: datetime) -> int:
    """Mark sending and write the publication's rows for the chats subscribed now."""
    await tx.execute("UPDATE announcements SET status = 'sending' WHERE id = ?", (announcement_id,))
    return await add_broadcast(
        tx,
        announcement_id=announcement_id,
        purpose="publication",
        due_at=fields.publish_at,
        now=now,
        urgent=fields.urgent,
        recipients=Recipients.publication(fields.topic),
    )


async def _change_channel_posts(
    tx: Transaction, announcement_id: int, action: Action, now: datetime, detail: str = ""
) -> int | None:
    """Edit or delete the channel posts of the publication (urgent: a correction or a
    cancellation should not wait for the end of quiet hours); the broadcast id, if any."""
    publication = await tx.fetch_one(
        "SELECT id FROM broadcasts WHERE announcement_id = ? AND purpose = 'publication'",
        (announcement_id,),
    )
    if publication is None:
        return None
    posts = Recipients.channel_posts(publication["id"])
    if await tx.fetch_one(f"SELECT 1 FROM ({posts.sql}) LIMIT 1", posts.params) is None:
        return None  # no channel post: no broadcast at all
    return await add_broadcast(
        tx,
        announcement_id=announcement_id,
        purpose="correction",
        due_at=now,
        now=now,
        urgent=True,
        recipients=posts,
        detail=detail,
        action=action,
    )


class AnnouncementStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        fields: Fields,
        *,
        author: str,
        author_chat_ref: int | None,
        now: datetime,
        plan: Sequence[PlannedReminder] = (),
    ) -> int:
        """Store an announcement with its planned reminders; when it is due now, publish it, all
        in one transaction."""
        marks = ",".join("?" * len(FIELD_NAMES))
        async with self._db.transaction() as tx:
            announcement_id = await tx.insert(
                f"INSERT INTO announcements ({', '.join(FIELD_NAMES)}, status, author,"
                f" author_chat_ref, created_at, updated_at) VALUES ({marks}, ?, ?, ?, ?, ?)",
                (
                    *_to_row(fields),
                    Status.SCHEDULED.value,
                    author,
                    author_chat_ref,
                    to_db(now),
                    to_db(now),
                ),
            )
            await write_plan(tx, announcement_id, plan, now)
            if fields.publish_at <= now:
                await _publish(tx, announcement_id, fields, now)
        return announcement_id

    async def get(self, announcement_id: int) -> Announcement | None:
        row = await self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM announcements WHERE id = ?", (announcement_id,)
        )
        return _from_row(row) if row else None

    async def get_many(self, ids: Collection[int]) -> dict[int, Announcement]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM announcements WHERE id IN ({marks})", tuple(ids)
        )
        return {row["id"]: _from_row(row) for row in rows}

    async def cancelled_among(self, ids: Collection[int]) -> set[int]:
        """Which of these announcements are cancelled (a sender re-checks while it works)."""
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        rows = await self._db.fetch_all(
            f"SELECT id FROM announcements WHERE status = 'cancelled' AND id IN ({marks})",
            tuple(ids),
        )
        return {row["id"] for row in rows}

    async def recent(self, limit: int | None = 20, offset: int = 0) -> list[Announcement]:
        """Latest first (after skipping `offset`); all of them when `limit` is None."""
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM announcements ORDER BY id DESC LIMIT ? OFFSET ?",
            (-1 if limit is None else limit, offset),
        )
        return [_from_row(row) for row in rows]

    async def upcoming(
        self, kinds: Sequence[Kind], now: datetime, limit: int = 10, topic: str | None = None
    ) -> list[Announcement]:
        """Published announcements of these kinds whose deadline or meeting is still ahead
        (the first `limit`), and every published recurring one (its occurrences decide)."""
        marks = ",".join("?" * len(kinds))
        where = f"status IN ('sending', 'sent') AND kind IN ({marks}) AND (? IS NULL OR topic = ?)"
        params = (*(kind.value for kind in kinds), topic, topic)
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM announcements WHERE {where} AND repeat IS NULL"
            " AND COALESCE(deadline, ends_at, starts_at) > ?"
            " ORDER BY COALESCE(deadline, starts_at), id LIMIT ?",
            (*params, to_db(now), limit),
        )
        series = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM announcements WHERE {where} AND repeat IS NOT NULL"
            " ORDER BY starts_at, id",
            params,
        )
        return [_from_row(row) for row in (*rows, *series)]

    async def plannable(self, now: datetime) -> list[Announcement]:
        """Announcements not cancelled whose deadline or start is ahead, and recurring meetings:
        those whose reminders may still need planning."""
        rows = await self._db.fetch_all(
            f"SELECT {_COLUMNS} FROM announcements WHERE status != 'cancelled'"
            " AND (repeat IS NOT NULL OR COALESCE(deadline, starts_at) > ?) ORDER BY id",
            (to_db(now),),
        )
        return [_from_row(row) for row in rows]

    async def update(
        self,
        announcement_id: int,
        fields: Fields,
        changed: Collection[str],
        *,
        now: datetime,
        notify: bool,
        plan: Sequence[PlannedReminder] = (),
        edit_posts: bool = False,
    ) -> int | None:
        """Store corrected fields and the new plan of reminders; waiting rows follow the new
        urgency. Publish if now due.

        With `notify`, a correction goes to the chats that received the publication; its
        broadcast id is returned (None without one). With `edit_posts`, the channel posts of
        a published announcement are edited to the corrected text.
        """
        assignments = ", ".join(f"{name} = ?" for name in FIELD_NAMES)
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "SELECT status FROM announcements WHERE id = ?", (announcement_id,)
            )
            if row is None:
                return None
            await tx.execute(
                f"UPDATE announcements SET {assignments}, last_changed = ?, updated_at = ?"
                " WHERE id = ?",
                (
                    *_to_row(fields),
                    ",".join(sorted(changed)),
                    await change_time(tx, announcement_id, now),
                    announcement_id,
                ),
            )
            await tx.execute(
                "UPDATE outbox SET urgent = ? WHERE state IN ('pending', 'retrying')"
                " AND broadcast_id IN (SELECT id FROM broadcasts WHERE announcement_id = ?)",
                (int(fields.urgent), announcement_id),
            )
            await write_plan(tx, announcement_id, plan, now)
            status = Status(row["status"])
            if status is Status.SCHEDULED and fields.publish_at <= now:
                await _publish(tx, announcement_id, fields, now)
            published = status in (Status.SENDING, Status.SENT)
            if edit_posts and published:
                await _change_channel_posts(
                    tx, announcement_id, Action.EDIT, now, json.dumps(sorted(changed))
                )
            if notify and published:
                return await _add_correction(tx, announcement_id, fields, list(changed), now)
        return None

    async def notify(self, announcement_id: int, *, now: datetime) -> int | None:
        """A correction notice of the latest edit, to those who received the publication."""
        announcement = await self.get(announcement_id)
        if announcement is None or not announcement.published or not announcement.last_changed:
            return None
        async with self._db.transaction() as tx:
            return await _add_correction(
                tx, announcement_id, announcement.fields, list(announcement.last_changed), now
            )

    async def cancel(self, announcement_id: int, *, now: datetime) -> bool:
        """Cancel: no more messages of any of its broadcasts, no reminders; False if unknown."""
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE announcements SET status = 'cancelled', updated_at = ?"
                " WHERE id = ? AND status != 'cancelled'",
                (await change_time(tx, announcement_id, now), announcement_id),
            )
            if not changed:
                return False
            await cancel_open_rows(tx, announcement_id)
            await cancel_reminders(tx, announcement_id, now)
            await _change_channel_posts(tx, announcement_id, Action.DELETE, now)
        return True

    async def send_reminder(
        self, announcement_id: int, due_at: datetime, *, now: datetime
    ) -> int | None:
        """A reminder broadcast to the chats subscribed now (not for a cancelled announcement).

        Returns the broadcast id, or None when the announcement is unknown or not published.
        """
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                "SELECT topic, urgent FROM announcements WHERE id = ?"
                " AND status IN ('sending', 'sent')",
                (announcement_id,),
            )
            if row is None:
                return None
            return await add_broadcast(
                tx,
                announcement_id=announcement_id,
                purpose="reminder",
                due_at=due_at,
                now=now,
                urgent=bool(row["urgent"]),
                recipients=Recipients.subscribers(row["topic"]),
            )

    async def publish_due(self, now: datetime) -> list[int]:
        """Publish the scheduled announcements whose time has come, in one transaction."""
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(
                f"SELECT {_COLUMNS} FROM announcements WHERE status = 'scheduled'"
                " AND publish_at <= ? ORDER BY publish_at, id",
                (to_db(now),),
            )
            for row in rows:
                announcement = _from_row(row)
                await _publish(tx, announcement.id, announcement.fields, now)
        return [row["id"] for row in rows]


async def _add_correction(
    tx: Transaction, announcement_id: int, fields: Fields, changed: list[str], now: datetime
) -> int | None:
    publication = await tx.fetch_one(
        "SELECT id FROM broadcasts WHERE announcement_id = ? AND purpose = 'publication'",
        (announcement_id,),
    )
    if publication is None:
        return None
    return await add_broadcast(
        tx,
        announcement_id=announcement_id,
        purpose="correction",
        due_at=now,
        now=now,
        urgent=fields.urgent,
        recipients=Recipients.receivers_of(publication["id"]),
        detail=json.dumps(sorted(changed)),
    )


@dataclass(frozen=True)
class Draft:
    """A staff member's half-written announcement in one chat: the step asked and the answers."""

    identity: str
    chat_ref: int
    step: str
    data: dict[str, Any]
    updated_at: datetime


class DraftStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, identity: str, chat_ref: int) -> Draft | None:
        row = await self._db.fetch_one(
            "SELECT identity, chat_ref, step, data, updated_at FROM drafts"
            " WHERE identity = ? AND chat_ref = ?",
            (identity, chat_ref),
        )
        return _draft(row) if row else None

    async def save(
        self, identity: str, chat_ref: int, step: str, data: dict[str, Any], now: datetime
    ) -> None:
        await self._db.execute(
            "INSERT INTO drafts (identity, chat_ref, step, data, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (identity, chat_ref) DO UPDATE SET step = excluded.step,"
            " data = excluded.data, updated_at = excluded.updated_at",
            (identity, chat_ref, step, json.dumps(data, ensure_ascii=False), to_db(now)),
        )

    async def delete(self, identity: str, chat_ref: int) -> bool:
        return (
            await self._db.execute(
                "DELETE FROM drafts WHERE identity = ? AND chat_ref = ?", (identity, chat_ref)
            )
            > 0
        )

    async def of_identity(self, identity: str) -> list[Draft]:
        rows = await self._db.fetch_all(
            "SELECT identity, chat_ref, step, data, updated_at FROM drafts WHERE identity = ?"
            " ORDER BY chat_ref",
            (identity,),
        )
        return [_draft(row) for row in rows]


def _draft(row: sqlite3.Row) -> Draft:
    return Draft(
        row["identity"],
        row["chat_ref"],
        row["step"],
        json.loads(row["data"]),
        from_db(row["updated_at"]),
    )
