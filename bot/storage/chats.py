"""Chats and their subscriptions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_db, to_db, utcnow
from bot.core.messages import THREAD_MARK, ChatKind, ChatRef
from bot.storage.database import Database, Transaction


@dataclass(frozen=True)
class Chat:
    """A chat the bot knows; `language` is None until chosen or hinted."""

    id: int
    ref: ChatRef
    kind: ChatKind
    language: str | None
    active: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Chat:
        return cls(
            id=row["id"],
            ref=ChatRef(row["platform"], row["chat_id"]),
            kind=ChatKind(row["kind"]),
            language=row["language"],
            active=bool(row["active"]),
            created_at=from_db(row["created_at"]),
        )


_CHAT_COLUMNS = "id, platform, chat_id, kind, language, active, created_at"
_CHAT_ID_SQL = "SELECT id FROM chats WHERE platform = ? AND chat_id = ?"
# The chat itself or, for a chat that is not a thread, one of its threads ('<chat>#<thread>').
_WITH_THREADS_SQL = (
    "platform = ? AND (chat_id = ? OR (instr(?, ?) = 0 AND substr(chat_id, 1, length(?)) = ?))"
)


# Chats of people and groups: not the channels the bot posts to by configuration.
_PEOPLE = " WHERE id NOT IN (SELECT chat_ref FROM channels)"


def _with_threads(ref: ChatRef) -> tuple[str, str, str, str, str, str]:
    prefix = ref.chat_id + THREAD_MARK
    return (ref.platform, ref.chat_id, ref.chat_id, THREAD_MARK, prefix, prefix)


class ChatStore:
    """Chats, their language, activity and topic subscriptions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, ref: ChatRef) -> Chat | None:
        row = await self._db.fetch_one(
            f"SELECT {_CHAT_COLUMNS} FROM chats WHERE platform = ? AND chat_id = ?",
            (ref.platform, ref.chat_id),
        )
        return Chat.from_row(row) if row else None

    async def get_by_id(self, chat_id: int) -> Chat | None:
        row = await self._db.fetch_one(
            f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = ?", (chat_id,)
        )
        return Chat.from_row(row) if row else None

    async def ensure(self, ref: ChatRef, kind: ChatKind, language: str | None) -> Chat:
        """The chat, created on first contact with the given language (a hint, or None)."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO chats (platform, chat_id, kind, language, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, chat_id) DO NOTHING",
                (ref.platform, ref.chat_id, kind.value, language, to_db(utcnow())),
            )
            row = await tx.fetch_one(
                f"SELECT {_CHAT_COLUMNS} FROM chats WHERE platform = ? AND chat_id = ?",
                (ref.platform, ref.chat_id),
            )
        assert row is not None
        return Chat.from_row(row)

    async def set_language(self, chat_id: int, language: str) -> None:
        await self._db.execute("UPDATE chats SET language = ? WHERE id = ?", (language, chat_id))

    async def set_kind(self, chat_id: int, kind: ChatKind) -> None:
        await self._db.execute("UPDATE chats SET kind = ? WHERE id = ?", (kind.value, chat_id))

    async def set_active(self, ref: ChatRef, active: bool) -> bool:
        """Mark a chat reachable or gone, and its threads (the topics of a Telegram forum)
        with it; return whether a known chat changed."""
        changed = await self._db.execute(
            f"UPDATE chats SET active = ? WHERE {_WITH_THREADS_SQL} AND active != ?",
            (int(active), *_with_threads(ref), int(active)),
        )
        return changed > 0

    async def threads_of(self, ref: ChatRef) -> list[Chat]:
        """The chats that are threads of this one (topics of a Telegram forum group)."""
        rows = await self._db.fetch_all(
            f"SELECT {_CHAT_COLUMNS} FROM chats WHERE {_WITH_THREADS_SQL} AND chat_id != ?"
            " ORDER BY chat_id",
            (*_with_threads(ref), ref.chat_id),
        )
        return [Chat.from_row(row) for row in rows]

    async def move(self, old: ChatRef, new: ChatRef) -> bool:
        """Give a chat a new id (a Telegram group upgraded to a supergroup) keeping its data.

        If the new id is already known (a message arrived there first), the old chat's
        subscriptions are merged into it and the old chat is removed.
        """
        async with self._db.transaction() as tx:
            old_row = await tx.fetch_one(_CHAT_ID_SQL, (old.platform, old.chat_id))
            if old_row is None:
                return False
            new_row = await tx.fetch_one(_CHAT_ID_SQL, (new.platform, new.chat_id))
            if new_row is None:
                await tx.execute(
                    "UPDATE chats SET platform = ?, chat_id = ? WHERE id = ?",
                    (new.platform, new.chat_id, old_row["id"]),
                )
                return True
            await tx.execute(
                "INSERT OR IGNORE INTO subscriptions (chat_ref, topic, created_at)"
                " SELECT ?, topic, created_at FROM subscriptions WHERE chat_ref = ?",
                (new_row["id"], old_row["id"]),
            )
            await tx.execute(
                "UPDATE chats SET language = COALESCE(language,"
                " (SELECT language FROM chats WHERE id = ?)) WHERE id = ?",
                (old_row["id"], new_row["id"]),
            )
            await tx.execute("DELETE FROM chats WHERE id = ?", (old_row["id"],))
            return True

    async def delete(self, chat_id: int) -> None:
        """Erase a chat and, by cascade, everything stored about it (its subscriptions are
        counted as ended in the dashboard's history, which keeps no chat)."""
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(
                "SELECT topic FROM subscriptions WHERE chat_ref = ?", (chat_id,)
            )
            await count_subscriptions(tx, {row["topic"] for row in rows}, -1)
            await tx.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    async def delete_threads(self, ref: ChatRef) -> int:
        """Erase the threads of a chat (its forum topics) and, by cascade, their data."""
        return await self._db.execute(
            f"DELETE FROM chats WHERE {_WITH_THREADS_SQL} AND chat_id != ?",
            (*_with_threads(ref), ref.chat_id),
        )

    # --- subscriptions ----------------------------------------------------------------------

    async def topics_of(self, chat_id: int) -> set[str]:
        rows = await self._db.fetch_all(
            "SELECT topic FROM subscriptions WHERE chat_ref = ?", (chat_id,)
        )
        return {row["topic"] for row in rows}

    async def subscribe(self, chat_id: int, topics: Iterable[str]) -> set[str]:
        """Subscribe to topics; return those that were new."""
        added = set()
        async with self._db.transaction() as tx:
            for topic in topics:
                changed = await tx.execute(
                    "INSERT OR IGNORE INTO subscriptions (chat_ref, topic, created_at)"
                    " VALUES (?, ?, ?)",
                    (chat_id, topic, to_db(utcnow())),
                )
                if changed:
                    added.add(topic)
            await count_subscriptions(tx, added, +1)
        return added

    async def unsubscribe(self, chat_id: int, topics: Iterable[str]) -> set[str]:
        """Unsubscribe from topics; return those that were removed."""
        removed = set()
        async with self._db.transaction() as tx:
            for topic in topics:
                if await tx.execute(
                    "DELETE FROM subscriptions WHERE chat_ref = ? AND topic = ?", (chat_id, topic)
                ):
                    removed.add(topic)
            await count_subscriptions(tx, removed, -1)
        return removed

    async def subscribed_at(self, chat_id: int) -> dict[str, datetime]:
        rows = await self._db.fetch_all(
            "SELECT topic, created_at FROM subscriptions WHERE chat_ref = ? ORDER BY topic",
            (chat_id,),
        )
        return {row["topic"]: from_db(row["created_at"]) for row in rows}

    # --- statistics -------------------------------------------------------------------------

    async def active_by_platform(self) -> dict[str, int]:
        """How many chats are active on each platform (for /metrics)."""
        rows = await self._db.fetch_all(
            "SELECT platform, COUNT(*) AS n FROM chats WHERE active = 1 GROUP BY platform"
        )
        return {row["platform"]: int(row["n"]) for row in rows}

    async def stats(self, default_language: str) -> dict[str, object]:
        """Counts for `ngo-bot stats`: all chats, active ones, and active ones by key (the
        channels of TELEGRAM_CHANNELS are not counted: nobody subscribes there)."""
        totals = await self._db.fetch_one(
            f"SELECT COUNT(*) AS chats, COALESCE(SUM(active), 0) AS active FROM chats{_PEOPLE}"
        )
        by_platform = await self._db.fetch_all(
            f"SELECT platform AS key, COUNT(*) AS n FROM chats{_PEOPLE} AND active = 1"
            " GROUP BY platform ORDER BY platform"
        )
        by_language = await self._db.fetch_all(
            f"SELECT COALESCE(language, ?) AS key, COUNT(*) AS n FROM chats{_PEOPLE}"
            " AND active = 1 GROUP BY COALESCE(language, ?) ORDER BY key",
            (default_language, default_language),
        )
        by_topic = await self._db.fetch_all(
            "SELECT s.topic AS key, COUNT(*) AS n FROM subscriptions s"
            " JOIN chats c ON c.id = s.chat_ref WHERE c.active = 1"
            " GROUP BY s.topic ORDER BY s.topic"
        )
        assert totals is not None
        return {
            "chats": int(totals["chats"]),
            "active": int(totals["active"]),
            "by_platform": {row["key"]: row["n"] for row in by_platform},
            "by_language": {row["key"]: row["n"] for row in by_language},
            "by_topic": {row["key"]: row["n"] for row in by_topic},
        }


async def count_subscriptions(tx: Transaction, topics: Iterable[str], change: int) -> None:
    """Add subscriptions started (+1) or ended (-1) now to the hourly counts of the dashboard's
    chart (table subscription_hours: per UTC hour and topic, no chat)."""
    hour = to_db(utcnow())[:13]
    column = "added" if change > 0 else "removed"
    for topic in topics:
        await tx.execute(
            f"INSERT INTO subscription_hours (hour, topic, {column}) VALUES (?, ?, 1)"
            f" ON CONFLICT (hour, topic) DO UPDATE SET {column} = {column} + 1",
            (hour, topic),
        )
