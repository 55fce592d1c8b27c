"""Questions for the office: asked from a chat, posted into the staff chats, answered or closed.

A question keeps its text and the asking chat until it is answered or closed, then for
RETENTION (90 days); `forget` erases a chat's questions at once. Its post into each staff chat
is an outbox row (purpose 'question') whose sent message id matches a staff member's reply.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.clock import from_db, to_db
from bot.core.messages import ChatKind, ChatRef
from bot.storage.database import Database
from bot.storage.outbox import Recipients, add_broadcast

RETENTION = timedelta(days=90)
# (question number, staff chat's row id) -> the text of the question's post in that chat
PostRenderer = Callable[[int, int], str]


class QuestionState(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


@dataclass(frozen=True)
class Question:
    id: int
    chat_ref: int
    chat: ChatRef
    chat_kind: ChatKind
    chat_language: str | None
    language: str
    text: str
    state: QuestionState
    asked_at: datetime
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Question:
        return cls(
            id=row["id"],
            chat_ref=row["chat_ref"],
            chat=ChatRef(row["platform"], row["chat_id"]),
            chat_kind=ChatKind(row["kind"]),
            chat_language=row["chat_language"],
            language=row["language"],
            text=row["text"],
            state=QuestionState(row["state"]),
            asked_at=from_db(row["asked_at"]),
            answer=row["answer"],
            answered_by=row["answered_by"],
            answered_at=from_db(row["answered_at"]) if row["answered_at"] else None,
        )


@dataclass(frozen=True)
class Notice:
    """A message for one chat (by its row id), written with a question's change."""

    chat_ref: int
    text: str
    purpose: str = "office"


_SELECT = (
    "SELECT q.id, q.chat_ref, c.platform, c.chat_id, c.kind, c.language AS chat_language,"
    " q.language, q.text, q.state, q.asked_at, q.answer, q.answered_by, q.answered_at"
    " FROM questions q JOIN chats c ON c.id = q.chat_ref"
)


class QuestionStore:
    """All SQL of the questions for the office."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, question_id: int) -> Question | None:
        row = await self._db.fetch_one(_SELECT + " WHERE q.id = ?", (question_id,))
        return Question.from_row(row) if row else None

    async def in_state(
        self, state: QuestionState | None = None, *, limit: int = 1000
    ) -> list[Question]:
        """Questions, oldest first (in one state, or all)."""
        rows = await self._db.fetch_all(
            _SELECT + " WHERE ? IS NULL OR q.state = ? ORDER BY q.id LIMIT ?",
            (state, state, limit),
        )
        return [Question.from_row(row) for row in rows]

    async def of_chat(self, chat_ref: int) -> list[Question]:
        rows = await self._db.fetch_all(
            _SELECT + " WHERE q.chat_ref = ? ORDER BY q.id", (chat_ref,)
        )
        return [Question.from_row(row) for row in rows]

    async def open_ids_of_chat(self, chat_ref: int) -> list[int]:
        rows = await self._db.fetch_all(
            "SELECT id FROM questions WHERE chat_ref = ? AND state = 'open' ORDER BY id",
            (chat_ref,),
        )
        return [row[0] for row in rows]

    async def open_before(self, moment: datetime) -> list[Question]:
        """Open questions asked before `moment`, oldest first."""
        rows = await self._db.fetch_all(
            _SELECT + " WHERE q.state = 'open' AND q.asked_at < ? ORDER BY q.id",
            (to_db(moment),),
        )
        return [Question.from_row(row) for row in rows]

    async def file(
        self,
        chat_ref: int,
        language: str,
        text: str,
        now: datetime,
        *,
        staff_chats: list[int],
        render_post: PostRenderer,
        unanswered_id: int | None = None,
    ) -> int:
        """Store a question and queue its post into each staff chat, in one transaction.

        `render_post(question_id, staff_chat_ref)` gives the post's text once the number is known.
        """
        async with self._db.transaction() as tx:
            question_id = await tx.insert(
                "INSERT INTO questions (chat_ref, language, text, asked_at) VALUES (?, ?, ?, ?)",
                (chat_ref, language, text, to_db(now)),
            )
            for staff_chat in staff_chats:
                broadcast = await add_broadcast(
                    tx,
                    announcement_id=None,
                    purpose="question",
                    due_at=now,
                    now=now,
                    urgent=True,
                    recipients=Recipients.chat(staff_chat),
                    detail=render_post(question_id, staff_chat),
                )
                await tx.execute(
                    "INSERT INTO question_posts (question_id, broadcast_id) VALUES (?, ?)",
                    (question_id, broadcast),
                )
            if unanswered_id is not None:
                await tx.execute(
                    "UPDATE unanswered_questions SET question_id = ? WHERE id = ?",
                    (question_id, unanswered_id),
                )
        return question_id

    async def settle(
        self,
        question_id: int,
        state: QuestionState,
        by: str,
        now: datetime,
        *,
        answer: str | None,
        notices: list[Notice],
    ) -> bool:
        """Mark an open question answered or closed and queue the notices (the answer to the
        asking chat, the staff chats' note), in one transaction; False if it was not open."""
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE questions SET state = ?, answer = ?, answered_by = ?, answered_at = ?"
                " WHERE id = ? AND state = 'open'",
                (state.value, answer, by, to_db(now), question_id),
            )
            if not changed:
                return False
            for notice in notices:
                await add_broadcast(
                    tx,
                    announcement_id=None,
                    purpose=notice.purpose,
                    due_at=now,
                    now=now,
                    urgent=True,
                    recipients=Recipients.chat(notice.chat_ref),
                    detail=notice.text,
                )
        return True

    async def notify(self, notices: list[Notice], now: datetime, *, urgent: bool) -> None:
        """Queue notices to chats (e.g. the staff chats' reminder) in one transaction."""
        async with self._db.transaction() as tx:
            for notice in notices:
                await add_broadcast(
                    tx,
                    announcement_id=None,
                    purpose="office",
                    due_at=now,
                    now=now,
                    urgent=urgent,
                    recipients=Recipients.chat(notice.chat_ref),
                    detail=notice.text,
                )

    async def question_of_post(self, staff_chat: ChatRef, message_id: str) -> int | None:
        """The question whose post in `staff_chat` became the message `message_id`."""
        row = await self._db.fetch_one(
            "SELECT p.question_id FROM question_posts p"
            " JOIN outbox o ON o.broadcast_id = p.broadcast_id"
            " JOIN chats c ON c.id = o.chat_ref"
            " WHERE c.platform = ? AND c.chat_id = ? AND o.platform_message_id = ?",
            (staff_chat.platform, staff_chat.chat_id, message_id),
        )
        return int(row[0]) if row else None

    async def erase_chat(self, chat_ref: int, now: datetime, erased_text: PostRenderer) -> int:
        """`forget`: erase the chat's questions, blank their posts' stored text, and queue an
        edit of each staff-chat copy already sent (to `erased_text(question_id, chat_ref)`)."""
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(
                "SELECT p.question_id, o.chat_ref, o.platform_message_id, o.state, b.id AS broadcast"
                " FROM questions q JOIN question_posts p ON p.question_id = q.id"
                " JOIN broadcasts b ON b.id = p.broadcast_id"
                " JOIN outbox o ON o.broadcast_id = b.id WHERE q.chat_ref = ?",
                (chat_ref,),
            )
            for row in rows:
                text = erased_text(row["question_id"], row["chat_ref"])
                await tx.execute(
                    "UPDATE broadcasts SET detail = ? WHERE id = ?", (text, row["broadcast"])
                )
                await tx.execute(
                    "UPDATE outbox SET state = 'cancelled' WHERE broadcast_id = ?"
                    " AND state IN ('pending', 'retrying')",
                    (row["broadcast"],),
                )
                if row["platform_message_id"] and row["state"] == "sent":
                    await add_broadcast(
                        tx,
                        announcement_id=None,
                        purpose="edit",
                        due_at=now,
                        now=now,
                        urgent=True,
                        recipients=Recipients.chat(row["chat_ref"]),
                        detail=json.dumps({"message_id": row["platform_message_id"], "text": text}),
                    )
            # The answers and notices sent to this chat keep their text in their broadcast.
            await tx.execute(
                "DELETE FROM broadcasts WHERE purpose IN ('answer', 'office') AND id IN"
                " (SELECT broadcast_id FROM outbox WHERE chat_ref = ?)",
                (chat_ref,),
            )
            return await tx.execute("DELETE FROM questions WHERE chat_ref = ?", (chat_ref,))

    async def purge(self, now: datetime) -> int:
        """Delete questions answered or closed more than RETENTION ago (and their posts' text)."""
        cutoff = to_db(now - RETENTION)
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE broadcasts SET detail = '' WHERE id IN (SELECT p.broadcast_id FROM"
                " question_posts p JOIN questions q ON q.id = p.question_id"
                " WHERE q.state != 'open' AND q.answered_at < ?)",
                (cutoff,),
            )
            await tx.execute(
                "UPDATE broadcasts SET detail = '' WHERE purpose = 'answer' AND created_at < ?",
                (cutoff,),
            )
            return await tx.execute(
                "DELETE FROM questions WHERE state != 'open' AND answered_at < ?", (cutoff,)
            )

    # --- blocks and reminders -------------------------------------------------------------------

    async def is_blocked(self, chat_ref: int) -> bool:
        row = await self._db.fetch_one(
            "SELECT 1 FROM question_blocks WHERE chat_ref = ?", (chat_ref,)
        )
        return row is not None

    async def block(self, chat_ref: int, by: str, now: datetime) -> bool:
        return (
            await self._db.execute(
                "INSERT OR IGNORE INTO question_blocks (chat_ref, blocked_by, blocked_at)"
                " VALUES (?, ?, ?)",
                (chat_ref, by, to_db(now)),
            )
            > 0
        )

    async def unblock(self, chat_ref: int) -> bool:
        return (
            await self._db.execute("DELETE FROM question_blocks WHERE chat_ref = ?", (chat_ref,))
            > 0
        )

    async def claim_reminder_day(self, day: str, now: datetime) -> bool:
        """Whether this process is the first to write the reminder of `day` (then it must)."""
        return (
            await self._db.execute(
                "INSERT OR IGNORE INTO question_reminders (day, written_at) VALUES (?, ?)",
                (day, to_db(now)),
            )
            > 0
        )

    async def unanswered_marks(self) -> dict[str, list[int]]:
        """Unanswered FAQ texts (lower case) that became questions, with their numbers."""
        rows = await self._db.fetch_all(
            "SELECT lower(u.text) AS text, u.question_id FROM unanswered_questions u"
            " JOIN questions q ON q.id = u.question_id ORDER BY u.question_id"
        )
        marks: dict[str, list[int]] = {}
        for row in rows:
            marks.setdefault(row["text"], []).append(row["question_id"])
        return marks
