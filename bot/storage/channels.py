"""Telegram channels named in TELEGRAM_CHANNELS: their chat rows, routes and posts.

A channel is a chat without subscriptions: publications reach it through its routes (the
topics it takes, '*' for every topic). Its chat row's `active` says whether the bot may post
there; the transport checks that at each start (the bot must be an administrator).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.clock import to_db
from bot.core.messages import ChatKind, ChatRef
from bot.storage.database import Database, Transaction


@dataclass(frozen=True)
class ConfiguredChannel:
    """A channel as the transport found it at start: its chat, language, topics, postability."""

    ref: ChatRef
    address: str
    language: str
    topics: frozenset[str]
    postable: bool


class ChannelStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def sync(
        self, platform: str, channels: Iterable[ConfiguredChannel], now: datetime
    ) -> None:
        """Make the stored channels of `platform` what the configuration says, in one write.

        A channel no longer configured loses its routes (it gets nothing new) but keeps its row,
        so that a correction or cancellation of what it was sent still reaches its post.
        """
        configured = list(channels)
        async with self._db.transaction() as tx:
            await tx.execute(
                "DELETE FROM channel_routes WHERE chat_ref IN (SELECT ch.chat_ref FROM channels ch"
                " JOIN chats c ON c.id = ch.chat_ref WHERE c.platform = ?)",
                (platform,),
            )
            for channel in configured:
                chat_ref = await _ensure_chat(tx, channel, now)
                await tx.execute(
                    "INSERT INTO channels (chat_ref, address, checked_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (chat_ref) DO UPDATE SET address = excluded.address,"
                    " checked_at = excluded.checked_at",
                    (chat_ref, channel.address, to_db(now)),
                )
                await tx.executemany(
                    "INSERT OR IGNORE INTO channel_routes (chat_ref, topic) VALUES (?, ?)",
                    [(chat_ref, topic) for topic in sorted(channel.topics)],
                )

    async def routes(self, platform: str) -> dict[str, set[str]]:
        """Each routed channel's chat id and its topics (for checks and tests)."""
        rows = await self._db.fetch_all(
            "SELECT c.chat_id, r.topic FROM channel_routes r JOIN chats c ON c.id = r.chat_ref"
            " WHERE c.platform = ? ORDER BY c.chat_id, r.topic",
            (platform,),
        )
        found: dict[str, set[str]] = {}
        for row in rows:
            found.setdefault(row["chat_id"], set()).add(row["topic"])
        return found

    async def is_channel(self, ref: ChatRef) -> bool:
        row = await self._db.fetch_one(
            "SELECT 1 FROM channels ch JOIN chats c ON c.id = ch.chat_ref"
            " WHERE c.platform = ? AND c.chat_id = ?",
            (ref.platform, ref.chat_id),
        )
        return row is not None


async def _ensure_chat(tx: Transaction, channel: ConfiguredChannel, now: datetime) -> int:
    """The channel's chat row, created or brought up to date (language, whether postable)."""
    await tx.execute(
        "INSERT INTO chats (platform, chat_id, kind, language, active, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (platform, chat_id) DO UPDATE SET"
        " language = excluded.language, active = excluded.active",
        (
            channel.ref.platform,
            channel.ref.chat_id,
            ChatKind.GROUP.value,
            channel.language,
            int(channel.postable),
            to_db(now),
        ),
    )
    row = await tx.fetch_one(
        "SELECT id FROM chats WHERE platform = ? AND chat_id = ?",
        (channel.ref.platform, channel.ref.chat_id),
    )
    assert row is not None
    return int(row["id"])
