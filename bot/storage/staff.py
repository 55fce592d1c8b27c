"""Staff identities and the audit log of their actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_db, to_db, utcnow
from bot.storage.database import Database


@dataclass(frozen=True)
class StaffMember:
    identity: str
    role: str
    added_by: str
    added_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    detail: str


class StaffStore:
    """Who may post announcements, and what every staff member did."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, identity: str) -> StaffMember | None:
        row = await self._db.fetch_one(
            "SELECT identity, role, added_by, added_at FROM staff WHERE identity = ?", (identity,)
        )
        if row is None:
            return None
        return StaffMember(row["identity"], row["role"], row["added_by"], from_db(row["added_at"]))

    async def all(self) -> list[StaffMember]:
        rows = await self._db.fetch_all(
            "SELECT identity, role, added_by, added_at FROM staff ORDER BY role, identity"
        )
        return [
            StaffMember(r["identity"], r["role"], r["added_by"], from_db(r["added_at"]))
            for r in rows
        ]

    async def add(self, identity: str, role: str, added_by: str) -> bool:
        """Add a staff member; return False when the identity was already there."""
        changed = await self._db.execute(
            "INSERT OR IGNORE INTO staff (identity, role, added_by, added_at) VALUES (?, ?, ?, ?)",
            (identity, role, added_by, to_db(utcnow())),
        )
        return changed > 0

    async def remove(self, identity: str) -> bool:
        return await self._db.execute("DELETE FROM staff WHERE identity = ?", (identity,)) > 0

    async def audit(self, actor: str, action: str, detail: str = "") -> None:
        await self._db.execute(
            "INSERT INTO audit_log (at, actor, action, detail) VALUES (?, ?, ?, ?)",
            (to_db(utcnow()), actor, action, detail),
        )

    async def audit_log(self, actor: str | None = None, limit: int = 100) -> list[AuditEntry]:
        rows = await self._db.fetch_all(
            "SELECT at, actor, action, detail FROM audit_log"
            " WHERE ? IS NULL OR actor = ? ORDER BY id DESC LIMIT ?",
            (actor, actor, limit),
        )
        return [AuditEntry(from_db(r["at"]), r["actor"], r["action"], r["detail"]) for r in rows]

    async def forget_actor(self, identity: str) -> None:
        """Erase a person's staff record and audit entries (GDPR erasure)."""
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM staff WHERE identity = ?", (identity,))
            await tx.execute("DELETE FROM audit_log WHERE actor = ?", (identity,))
