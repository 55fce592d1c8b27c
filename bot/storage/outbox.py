"""The outbox: broadcasts and one message row per broadcast and recipient chat.

A row is `pending` (or `retrying` after a transient error) until a dispatcher claims it; a claim
is a lease: a row claimed longer ago than the lease is put back (its sender died). The outcome is
written in batches: `sent`, `retrying` with a later `next_attempt_at`, `failed`, `gone` (the chat
blocked or left the bot: it becomes inactive and its other waiting rows are `cancelled`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.clock import from_db, to_db
from bot.core.messages import ChatKind
from bot.storage.database import Database, Params, Transaction

OPEN_STATES = ("pending", "claimed", "retrying")
COUNTED_STATES = ("pending", "sent", "retrying", "failed", "gone", "cancelled")
GONE_DETAIL = "recipient gone"


class State(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    GONE = "gone"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Recipients:
    """Which chats a new broadcast goes to: a query yielding a `chat_ref` column."""

    sql: str
    params: Params

    @classmethod
    def subscribers(cls, topic: str) -> Recipients:
        """Active chats subscribed to the topic now."""
        return cls(
            "SELECT s.chat_ref AS chat_ref FROM subscriptions s JOIN chats c ON c.id = s.chat_ref"
            " WHERE s.topic = ? AND c.active = 1",
            (topic,),
        )

    @classmethod
    def publication(cls, topic: str) -> Recipients:
        """The active channels routed to the topic (or to every topic), then its subscribers.

        Channels come first, so their posts (each read by many) go out first. A channel routed
        both ways comes twice: the outbox's unique key keeps one row.
        """
        return cls(
            "SELECT r.chat_ref AS chat_ref FROM channel_routes r JOIN chats c ON c.id = r.chat_ref"
            " WHERE r.topic IN (?, '*') AND c.active = 1 UNION ALL"
            " SELECT s.chat_ref AS chat_ref FROM subscriptions s JOIN chats c ON c.id = s.chat_ref"
            " WHERE s.topic = ? AND c.active = 1",
            (topic, topic),
        )

    @classmethod
    def receivers_of(cls, broadcast_id: int) -> Recipients:
        """Active chats that received an earlier broadcast (for a correction); not channels,
        whose post is edited instead."""
        return cls(
            "SELECT o.chat_ref AS chat_ref FROM outbox o JOIN chats c ON c.id = o.chat_ref"
            " WHERE o.broadcast_id = ? AND o.state = 'sent' AND c.active = 1"
            " AND o.chat_ref NOT IN (SELECT chat_ref FROM channels)",
            (broadcast_id,),
        )

    @classmethod
    def channel_posts(cls, broadcast_id: int) -> Recipients:
        """Channels that were sent the publication, or may be now (claimed): their post is
        then edited or deleted (whether the bot may still post there or not)."""
        return cls(
            "SELECT o.chat_ref AS chat_ref FROM outbox o JOIN channels ch"
            " ON ch.chat_ref = o.chat_ref WHERE o.broadcast_id = ?"
            " AND o.state IN ('sent', 'claimed')",
            (broadcast_id,),
        )

    @classmethod
    def chat(cls, chat_ref: int) -> Recipients:
        return cls("SELECT id AS chat_ref FROM chats WHERE id = ? AND active = 1", (chat_ref,))


class Action(StrEnum):
    """What an outbox row does with its chat: a new message, or a change of the publication's."""

    SEND = "send"
    EDIT = "edit"
    DELETE = "delete"


_ACTIONS = {action.value: action for action in Action}


@dataclass(frozen=True)
class ClaimedMessage:
    """A claimed row with what sending it needs: the chat and the broadcast.

    For an edit or a delete, `target_message_id` and `target_state` are those of the chat's
    publication row (the post to change; None while it has not been sent).
    """

    id: int
    broadcast_id: int
    announcement_id: int | None  # None for a weekly digest
    purpose: str
    detail: str
    chat_ref: int
    chat_id: str
    chat_kind: ChatKind
    language: str | None
    attempts: int
    action: Action = Action.SEND
    urgent: bool = False
    is_channel: bool = False
    target_message_id: str | None = None
    target_state: str | None = None


@dataclass(frozen=True)
class Settled:
    """The outcome of one claimed row, to be written with others in one transaction."""

    message_id: int
    chat_ref: int
    state: State
    next_attempt_at: datetime | None = None
    attempted: bool = True
    detail: str = ""
    platform_message_id: str | None = None  # kept for channel posts


@dataclass
class Counts:
    """Messages of one broadcast (or several) by state; claimed ones count as pending."""

    by_state: dict[str, int] = field(default_factory=dict)

    def add(self, state: str, n: int) -> None:
        key = "pending" if state == State.CLAIMED else state
        self.by_state[key] = self.by_state.get(key, 0) + n

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    def get(self, state: str) -> int:
        return self.by_state.get(state, 0)

    def as_dict(self) -> dict[str, int]:
        return {"total": self.total, **{state: self.get(state) for state in COUNTED_STATES}}


@dataclass(frozen=True)
class BroadcastCounts:
    id: int
    purpose: str
    due_at: datetime
    counts: Counts


async def add_broadcast(
    tx: Transaction,
    *,
    announcement_id: int | None,
    purpose: str,
    due_at: datetime,
    now: datetime,
    urgent: bool,
    recipients: Recipients,
    detail: str = "",
    action: Action = Action.SEND,
) -> int:
    """Write a broadcast and one pending row per recipient, inside the caller's transaction."""
    broadcast_id = await tx.insert(
        "INSERT INTO broadcasts (announcement_id, purpose, due_at, detail, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (announcement_id, purpose, to_db(due_at), detail, to_db(now)),
    )
    await tx.execute(
        "INSERT OR IGNORE INTO outbox (broadcast_id, chat_ref, urgent, next_attempt_at, action)"
        f" SELECT ?, chat_ref, ?, ?, ? FROM ({recipients.sql})",
        (broadcast_id, int(urgent), to_db(now), action.value, *recipients.params),
    )
    return broadcast_id


async def cancel_open_rows(tx: Transaction, announcement_id: int) -> int:
    """Stop an announcement's waiting rows (claimed ones are in flight and finish)."""
    return await tx.execute(
        "UPDATE outbox SET state = 'cancelled' WHERE state IN ('pending', 'retrying')"
        " AND broadcast_id IN (SELECT id FROM broadcasts WHERE announcement_id = ?)",
        (announcement_id,),
    )


class OutboxStore:
    """Claims, outcomes, leases and counts of outbox rows."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(
        self,
        platform: str,
        limit: int,
        now: datetime,
        *,
        owner: str,
        urgent_only: bool = False,
    ) -> list[ClaimedMessage]:
        """Claim up to `limit` due rows for chats on `platform`, oldest due first."""
        async with self._db.transaction() as tx:
            # The due rows are chosen first (sorting only their ids), then read with what
            # sending them needs: the extra lookups are made for the rows claimed only.
            rows = await tx.fetch_all(
                "SELECT o.id, o.broadcast_id, o.chat_ref, o.attempts, b.announcement_id,"
                " b.purpose, b.detail, c.chat_id, c.kind, c.language, o.action, o.urgent,"
                " EXISTS (SELECT 1 FROM channels ch WHERE ch.chat_ref = o.chat_ref)"
                " AS is_channel, p.platform_message_id AS target_message_id,"
                " p.state AS target_state"
                " FROM (SELECT o.id FROM outbox o JOIN chats c ON c.id = o.chat_ref"
                " WHERE o.state IN ('pending', 'retrying') AND o.next_attempt_at <= ?"
                " AND c.platform = ? AND (o.urgent = 1 OR ? = 0)"
                " ORDER BY o.next_attempt_at, o.id LIMIT ?) AS due"
                " JOIN outbox o ON o.id = due.id JOIN chats c ON c.id = o.chat_ref"
                " JOIN broadcasts b ON b.id = o.broadcast_id"
                " LEFT JOIN broadcasts pb ON o.action != 'send'"
                " AND pb.announcement_id = b.announcement_id AND pb.purpose = 'publication'"
                " LEFT JOIN outbox p ON p.broadcast_id = pb.id AND p.chat_ref = o.chat_ref"
                " ORDER BY o.next_attempt_at, o.id",
                (to_db(now), platform, int(urgent_only), limit),
            )
            if rows:
                marks = ",".join("?" * len(rows))
                await tx.execute(
                    "UPDATE outbox SET state = 'claimed', claimed_at = ?, claimed_by = ?"
                    f" WHERE id IN ({marks})",
                    (to_db(now), owner, *(row["id"] for row in rows)),
                )
        return [
            ClaimedMessage(
                id=row["id"],
                broadcast_id=row["broadcast_id"],
                announcement_id=row["announcement_id"],
                purpose=row["purpose"],
                detail=row["detail"],
                chat_ref=row["chat_ref"],
                chat_id=row["chat_id"],
                chat_kind=ChatKind(row["kind"]),
                language=row["language"],
                attempts=row["attempts"],
                action=_ACTIONS[row["action"]],
                urgent=bool(row["urgent"]),
                is_channel=bool(row["is_channel"]),
                target_message_id=row["target_message_id"],
                target_state=row["target_state"],
            )
            for row in rows
        ]

    async def settle(self, outcomes: Sequence[Settled], now: datetime, *, owner: str) -> None:
        """Write outcomes of claimed rows in one transaction; a GONE chat becomes inactive."""
        if not outcomes:
            return
        stamp = to_db(now)
        gone = sorted({o.chat_ref for o in outcomes if o.state is State.GONE})
        async with self._db.transaction() as tx:
            await tx.executemany(
                "UPDATE outbox SET state = ?, next_attempt_at = COALESCE(?, next_attempt_at),"
                " attempts = attempts + ?, sent_at = ?, detail = ?, claimed_at = NULL,"
                " claimed_by = NULL, platform_message_id = COALESCE(?, platform_message_id)"
                " WHERE id = ? AND state = 'claimed' AND claimed_by = ?",
                [
                    (
                        o.state.value,
                        to_db(o.next_attempt_at) if o.next_attempt_at else None,
                        int(o.attempted),
                        stamp if o.state is State.SENT else None,
                        o.detail[:300],
                        o.platform_message_id,
                        o.message_id,
                        owner,
                    )
                    for o in outcomes
                ],
            )
            if gone:
                await tx.executemany(
                    "UPDATE chats SET active = 0 WHERE id = ?", [(chat,) for chat in gone]
                )
                await tx.executemany(
                    "UPDATE outbox SET state = 'cancelled', detail = ? WHERE chat_ref = ?"
                    " AND state IN ('pending', 'retrying')",
                    [(GONE_DETAIL, chat) for chat in gone],
                )

    async def requeue_expired(self, claimed_before: datetime, *, spare: str | None = None) -> int:
        """Put back rows claimed before the lease began: their sender is gone.

        Rows claimed by `spare` are left alone (a dispatcher's own batch still being sent).
        """
        return await self._db.execute(
            "UPDATE outbox SET state = CASE WHEN attempts > 0 THEN 'retrying' ELSE 'pending' END,"
            " claimed_at = NULL, claimed_by = NULL WHERE state = 'claimed' AND claimed_at <= ?"
            " AND claimed_by IS NOT ?",
            (to_db(claimed_before), spare),
        )

    async def claim_owners(self) -> list[str]:
        """The dispatchers holding claims now."""
        rows = await self._db.fetch_all(
            "SELECT DISTINCT claimed_by FROM outbox WHERE state = 'claimed'"
            " AND claimed_by IS NOT NULL"
        )
        return [row[0] for row in rows]

    async def requeue_claims_of(self, owner: str) -> int:
        """Put back the rows claimed by a dispatcher known to have died."""
        return await self._db.execute(
            "UPDATE outbox SET state = CASE WHEN attempts > 0 THEN 'retrying' ELSE 'pending' END,"
            " claimed_at = NULL, claimed_by = NULL WHERE state = 'claimed' AND claimed_by = ?",
            (owner,),
        )

    async def finish_broadcasts(self, now: datetime) -> list[int]:
        """Close broadcasts with no open rows; a finished publication gets its author's summary.

        Returns the ids of the broadcasts closed.
        """
        async with self._db.transaction() as tx:
            done = await tx.fetch_all(
                "SELECT b.id, b.announcement_id, b.purpose, a.author_chat_ref FROM broadcasts b"
                " LEFT JOIN announcements a ON a.id = b.announcement_id WHERE b.finished_at IS NULL"
                " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.broadcast_id = b.id"
                " AND o.state IN ('pending', 'claimed', 'retrying'))"
            )
            for row in done:
                await tx.execute(
                    "UPDATE broadcasts SET finished_at = ? WHERE id = ?", (to_db(now), row["id"])
                )
                if row["purpose"] != "publication":
                    continue
                changed = await tx.execute(
                    "UPDATE announcements SET status = 'sent' WHERE id = ? AND status = 'sending'",
                    (row["announcement_id"],),
                )
                if changed and row["author_chat_ref"] is not None:
                    counts = await _counts_of(tx, row["id"])
                    await add_broadcast(
                        tx,
                        announcement_id=row["announcement_id"],
                        purpose="summary",
                        due_at=now,
                        now=now,
                        urgent=True,
                        recipients=Recipients.chat(row["author_chat_ref"]),
                        detail=json.dumps(counts.as_dict()),
                    )
        return [row["id"] for row in done]

    async def broadcast_counts(self, announcement_id: int) -> list[BroadcastCounts]:
        """Each broadcast of an announcement with its messages by state, in time order."""
        rows = await self._db.fetch_all(
            "SELECT b.id, b.purpose, b.due_at, o.state, COUNT(o.id) AS n FROM broadcasts b"
            " LEFT JOIN outbox o ON o.broadcast_id = b.id WHERE b.announcement_id = ?"
            " GROUP BY b.id, o.state ORDER BY b.due_at, b.id",
            (announcement_id,),
        )
        found: dict[int, BroadcastCounts] = {}
        for row in rows:
            entry = found.setdefault(
                row["id"],
                BroadcastCounts(row["id"], row["purpose"], from_db(row["due_at"]), Counts()),
            )
            if row["state"] is not None:
                entry.counts.add(row["state"], row["n"])
        return list(found.values())

    async def publication_counts(self, announcement_ids: Iterable[int]) -> dict[int, Counts]:
        """The publication's counts of each announcement (for lists)."""
        ids = list(announcement_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = await self._db.fetch_all(
            "SELECT b.announcement_id, o.state, COUNT(*) AS n FROM broadcasts b"
            " JOIN outbox o ON o.broadcast_id = b.id WHERE b.purpose = 'publication'"
            f" AND b.announcement_id IN ({marks}) GROUP BY b.announcement_id, o.state",
            ids,
        )
        result: dict[int, Counts] = defaultdict(Counts)
        for row in rows:
            result[row["announcement_id"]].add(row["state"], row["n"])
        return dict(result)

    async def notice_receivers(self, announcement_id: int) -> int:
        """The chats that received the publication and would get a correction notice."""
        row = await self._db.fetch_one(
            "SELECT COUNT(*) FROM outbox o JOIN broadcasts b ON b.id = o.broadcast_id"
            " WHERE b.announcement_id = ? AND b.purpose = 'publication' AND o.state = 'sent'"
            " AND o.chat_ref NOT IN (SELECT chat_ref FROM channels)",
            (announcement_id,),
        )
        return int(row[0]) if row else 0

    async def deliveries_of_chat(self, chat_ref: int) -> int:
        """How many broadcast messages a chat has been sent (for its data export)."""
        row = await self._db.fetch_one(
            "SELECT COUNT(*) FROM outbox WHERE chat_ref = ? AND state = 'sent'", (chat_ref,)
        )
        return int(row[0]) if row else 0

    async def open_count(self) -> int:
        """Rows still waiting or in flight, over all broadcasts (also scraped by /metrics)."""
        # Two counts, each over its partial index, rather than one scan of the whole table.
        row = await self._db.fetch_one(
            "SELECT (SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'retrying'))"
            " + (SELECT COUNT(*) FROM outbox WHERE state = 'claimed')"
        )
        return int(row[0]) if row else 0


async def _counts_of(tx: Transaction, broadcast_id: int) -> Counts:
    rows = await tx.fetch_all(
        "SELECT state, COUNT(*) AS n FROM outbox WHERE broadcast_id = ? GROUP BY state",
        (broadcast_id,),
    )
    counts = Counts()
    for row in rows:
        counts.add(row["state"], row["n"])
    return counts
