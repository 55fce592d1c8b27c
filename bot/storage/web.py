"""The web console's state: one-time login links, sessions, and what its pages count.

Tokens arrive here already hashed (SHA-256, bot.weblogin): the database never holds
a token that would open a session.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import from_db, to_db
from bot.storage.database import Database
from bot.storage.outbox import Counts

# A used or expired login link is kept this long (to tell "used" from "unknown"), then dropped.
LINK_KEPT = timedelta(days=1)


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser: whose it is, its chosen language (None: the chat's), last use."""

    identity: str
    language: str | None
    created_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class ChatCount:
    """Active chats subscribed to one topic, in one language, on one platform."""

    topic: str
    language: str
    platform: str
    chats: int


@dataclass(frozen=True)
class SubscriptionHour:
    """Subscriptions started and ended in one UTC hour (all topics together)."""

    hour: datetime
    added: int
    removed: int


@dataclass(frozen=True)
class PlannedSend:
    """Something the bot will send later: a scheduled publication or a planned reminder."""

    announcement_id: int
    at: datetime
    reminder: bool


class WebStore:
    """Login links, sessions and the console's counts (all SQL of the web console)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- login links ------------------------------------------------------------------------

    async def add_login_link(
        self, token_hash: str, identity: str, now: datetime, expires_at: datetime
    ) -> None:
        """Store a new link; links expired a day ago or more are dropped in the same write."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "DELETE FROM web_login_links WHERE expires_at < ?",
                (to_db(now - LINK_KEPT),),
            )
            await tx.execute(
                "INSERT INTO web_login_links (token_hash, identity, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (token_hash, identity, to_db(now), to_db(expires_at)),
            )

    async def login_link_owner(self, token_hash: str, now: datetime) -> str | None:
        """The identity of an unused, unexpired link, which stays unused; None for any other."""
        row = await self._db.fetch_one(
            "SELECT identity FROM web_login_links WHERE token_hash = ? AND used_at IS NULL"
            " AND expires_at > ?",
            (token_hash, to_db(now)),
        )
        return str(row["identity"]) if row is not None else None

    async def use_login_link(self, token_hash: str, now: datetime) -> str | None:
        """Mark an unused, unexpired link used and return its identity; None for any other."""
        row = await self._db.fetch_one(
            "UPDATE web_login_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL"
            " AND expires_at > ? RETURNING identity",
            (to_db(now), token_hash, to_db(now)),
        )
        return str(row["identity"]) if row is not None else None

    # --- sessions ---------------------------------------------------------------------------

    async def add_session(self, token_hash: str, identity: str, now: datetime) -> None:
        await self._db.execute(
            "INSERT INTO web_sessions (token_hash, identity, created_at, last_seen_at)"
            " VALUES (?, ?, ?, ?)",
            (token_hash, identity, to_db(now), to_db(now)),
        )

    async def session(self, token_hash: str, idle_since: datetime) -> WebSession | None:
        """The session if it was used after `idle_since` (an older one is deleted)."""
        row = await self._db.fetch_one(
            "SELECT identity, language, created_at, last_seen_at FROM web_sessions"
            " WHERE token_hash = ?",
            (token_hash,),
        )
        if row is None:
            return None
        if row["last_seen_at"] <= to_db(idle_since):
            await self.end_session(token_hash)
            return None
        return WebSession(
            row["identity"],
            row["language"],
            from_db(row["created_at"]),
            from_db(row["last_seen_at"]),
        )

    async def touch_session(self, token_hash: str, now: datetime) -> None:
        await self._db.execute(
            "UPDATE web_sessions SET last_seen_at = ? WHERE token_hash = ?",
            (to_db(now), token_hash),
        )

    async def set_session_language(self, token_hash: str, language: str) -> None:
        await self._db.execute(
            "UPDATE web_sessions SET language = ? WHERE token_hash = ?", (language, token_hash)
        )

    async def end_session(self, token_hash: str) -> None:
        await self._db.execute("DELETE FROM web_sessions WHERE token_hash = ?", (token_hash,))

    async def end_sessions_of(self, identity: str) -> int:
        """Log a person out everywhere (removed from the staff); returns how many ended."""
        return await self._db.execute("DELETE FROM web_sessions WHERE identity = ?", (identity,))

    async def end_idle_sessions(self, idle_since: datetime) -> int:
        return await self._db.execute(
            "DELETE FROM web_sessions WHERE last_seen_at <= ?", (to_db(idle_since),)
        )

    # --- privacy ----------------------------------------------------------------------------

    async def export_identity(self, identity: str) -> dict[str, list[dict[str, str | None]]]:
        """A person's sessions and login links (times only: the hashes are no use to anyone)."""
        sessions = await self._db.fetch_all(
            "SELECT created_at, last_seen_at, language FROM web_sessions WHERE identity = ?"
            " ORDER BY created_at",
            (identity,),
        )
        links = await self._db.fetch_all(
            "SELECT created_at, expires_at, used_at FROM web_login_links WHERE identity = ?"
            " ORDER BY created_at",
            (identity,),
        )
        return {
            "web_sessions": [
                {
                    "started": r["created_at"],
                    "last_used": r["last_seen_at"],
                    "language": r["language"],
                }
                for r in sessions
            ],
            "web_login_links": [
                {"created": r["created_at"], "expires": r["expires_at"], "used": r["used_at"]}
                for r in links
            ],
        }

    async def forget_identity(self, identity: str) -> int:
        """Erase a person's sessions and login links."""
        async with self._db.transaction() as tx:
            erased = await tx.execute("DELETE FROM web_sessions WHERE identity = ?", (identity,))
            erased += await tx.execute(
                "DELETE FROM web_login_links WHERE identity = ?", (identity,)
            )
        return erased

    # --- what the pages count -----------------------------------------------------------------

    async def active_chats(self, default_language: str) -> list[ChatCount]:
        """Active chats by topic, language and platform."""
        rows = await self._db.fetch_all(
            "SELECT s.topic AS topic, COALESCE(c.language, ?) AS language, c.platform AS platform,"
            " COUNT(*) AS n FROM subscriptions s JOIN chats c ON c.id = s.chat_ref"
            " WHERE c.active = 1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            (default_language,),
        )
        return [ChatCount(r["topic"], r["language"], r["platform"], r["n"]) for r in rows]

    async def recipients(self, topic: str) -> int:
        """How many chats a publication on this topic would reach now."""
        row = await self._db.fetch_one(
            "SELECT COUNT(*) AS n FROM subscriptions s JOIN chats c ON c.id = s.chat_ref"
            " WHERE s.topic = ? AND c.active = 1",
            (topic,),
        )
        return int(row["n"]) if row is not None else 0

    async def subscriptions_total(self) -> int:
        row = await self._db.fetch_one("SELECT COUNT(*) AS n FROM subscriptions")
        return int(row["n"]) if row is not None else 0

    async def subscription_hours(self, since: datetime) -> list[SubscriptionHour]:
        """Subscriptions started and ended per hour from `since` on, oldest first."""
        rows = await self._db.fetch_all(
            "SELECT hour, SUM(added) AS added, SUM(removed) AS removed FROM subscription_hours"
            " WHERE hour >= ? GROUP BY hour ORDER BY hour",
            (to_db(since)[:13],),
        )
        return [
            SubscriptionHour(from_db(r["hour"] + ":00:00+00:00"), r["added"], r["removed"])
            for r in rows
        ]

    async def publication_counts(self, announcement_ids: Collection[int]) -> dict[int, Counts]:
        """Each announcement's publication messages by state, read from the covering index
        outbox (broadcast_id, state) in its order (no sort of the rows)."""
        ids = list(announcement_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = await self._db.fetch_all(
            "SELECT b.announcement_id AS announcement_id, o.state AS state, COUNT(*) AS n"
            " FROM outbox o JOIN broadcasts b ON b.id = o.broadcast_id"
            " WHERE o.broadcast_id IN (SELECT id FROM broadcasts WHERE purpose = 'publication'"
            f" AND announcement_id IN ({marks})) GROUP BY o.broadcast_id, o.state",
            ids,
        )
        result: dict[int, Counts] = {}
        for row in rows:
            result.setdefault(row["announcement_id"], Counts()).add(row["state"], row["n"])
        return result

    async def announcement_count(self) -> int:
        row = await self._db.fetch_one("SELECT COUNT(*) AS n FROM announcements")
        return int(row["n"]) if row is not None else 0

    async def planned_sends(self, now: datetime, limit: int) -> list[PlannedSend]:
        """The next scheduled publications and planned reminders, soonest first."""
        rows = await self._db.fetch_all(
            "SELECT id, at, reminder FROM ("
            " SELECT id, publish_at AS at, 0 AS reminder FROM announcements"
            "  WHERE status = 'scheduled' AND publish_at >= ?"
            " UNION ALL"
            " SELECT announcement_id AS id, send_at AS at, 1 AS reminder FROM reminders"
            "  WHERE state = 'planned' AND send_at >= ?"
            ") ORDER BY at LIMIT ?",
            (to_db(now), to_db(now), limit),
        )
        return [PlannedSend(r["id"], from_db(r["at"]), bool(r["reminder"])) for r in rows]
