"""Unanswered FAQ questions: text, language and time only (no user id), kept 90 days."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import from_db, to_db, utcnow
from bot.storage.database import Database

RETENTION = timedelta(days=90)
MAX_STORED_LENGTH = 500


@dataclass(frozen=True)
class FrequentQuestion:
    text: str
    language: str
    count: int
    last_asked: datetime


def storable_text(text: str) -> str:
    """``text`` as kept: one line, at most 500 characters, valid UTF-8, no control characters.

    A message may carry lone surrogates (JSON allows ``"\\udcff"``; a terminal's stray
    bytes decode to them), which SQLite cannot encode, and NULs or other control
    characters, which would garble the staff's ``unanswered`` list.
    """
    line = " ".join(text.split())
    valid = line.encode("utf-8", "replace").decode("utf-8")
    printable = "".join(ch for ch in valid if unicodedata.category(ch) != "Cc")
    return printable[:MAX_STORED_LENGTH]


class UnansweredStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, text: str, language: str, now: datetime | None = None) -> int:
        """Keep a question the bot could not answer, and drop those past the retention; return
        its row id."""
        moment = now or utcnow()
        async with self._db.transaction() as tx:
            row_id = await tx.insert(
                "INSERT INTO unanswered_questions (asked_at, language, text) VALUES (?, ?, ?)",
                (to_db(moment), language, storable_text(text)),
            )
            await tx.execute(
                "DELETE FROM unanswered_questions WHERE asked_at < ?", (to_db(moment - RETENTION),)
            )
        return row_id

    async def purge(self, now: datetime | None = None) -> int:
        """Delete questions older than the retention; return how many."""
        cutoff = (now or utcnow()) - RETENTION
        return await self._db.execute(
            "DELETE FROM unanswered_questions WHERE asked_at < ?", (to_db(cutoff),)
        )

    async def most_frequent(
        self, limit: int | None = 20, now: datetime | None = None
    ) -> list[FrequentQuestion]:
        """The most asked unanswered questions of the last 90 days (same text, any case, and
        language); `limit` None: all of them."""
        cutoff = (now or utcnow()) - RETENTION
        rows = await self._db.fetch_all(
            "SELECT MIN(text) AS text, language, COUNT(*) AS n, MAX(asked_at) AS last"
            " FROM unanswered_questions WHERE asked_at >= ?"
            " GROUP BY lower(text), language ORDER BY n DESC, last DESC LIMIT ?",
            (to_db(cutoff), -1 if limit is None else limit),
        )
        return [
            FrequentQuestion(r["text"], r["language"], r["n"], from_db(r["last"])) for r in rows
        ]
