"""The console inbox: messages delivered to console chats, shown when `ngo-bot chat` runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_db, to_db, utcnow
from bot.core.messages import ChatKind, ChatRef
from bot.storage.database import Database


@dataclass(frozen=True)
class InboxMessage:
    id: int
    created_at: datetime
    text: str


class InboxStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def deliver(self, ref: ChatRef, text: str) -> int:
        """Put a message into a console chat's inbox (creating the chat row if needed)."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO chats (platform, chat_id, kind, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (platform, chat_id) DO NOTHING",
                (ref.platform, ref.chat_id, ChatKind.PRIVATE.value, to_db(utcnow())),
            )
            return await tx.insert(
                "INSERT INTO console_inbox (chat_ref, created_at, text)"
                " SELECT id, ?, ? FROM chats WHERE platform = ? AND chat_id = ?",
                (to_db(utcnow()), text, ref.platform, ref.chat_id),
            )

    async def take_unshown(self, ref: ChatRef) -> list[InboxMessage]:
        """Messages not shown yet, oldest first, marked shown in the same transaction."""
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(
                "SELECT i.id, i.created_at, i.text FROM console_inbox i"
                " JOIN chats c ON c.id = i.chat_ref"
                " WHERE c.platform = ? AND c.chat_id = ? AND i.shown_at IS NULL ORDER BY i.id",
                (ref.platform, ref.chat_id),
            )
            if rows:
                await tx.executemany(
                    "UPDATE console_inbox SET shown_at = ? WHERE id = ?",
                    [(to_db(utcnow()), row["id"]) for row in rows],
                )
        return [InboxMessage(row["id"], from_db(row["created_at"]), row["text"]) for row in rows]

    async def all_for(self, chat_id: int) -> list[InboxMessage]:
        rows = await self._db.fetch_all(
            "SELECT id, created_at, text FROM console_inbox WHERE chat_ref = ? ORDER BY id",
            (chat_id,),
        )
        return [InboxMessage(row["id"], from_db(row["created_at"]), row["text"]) for row in rows]
