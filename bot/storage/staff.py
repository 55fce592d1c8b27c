"""Staff identities, the audit log of their actions, and refusals of what someone may not do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import from_db, to_db, utcnow
from bot.storage.database import Database

# A staff or admin command refused to someone who is neither (detail: the command).
DENIED = "denied"
# A group's settings refused to a member who does not administer it
# (detail: "<command> in <platform:chat id>").
DENIED_GROUP_SETTING = "denied group setting"
REFUSALS = (DENIED, DENIED_GROUP_SETTING)
# Refusals are about people who are mostly not staff: kept only as long as they help to see
# an attempt (minimum data), then dropped when the next refusal is recorded.
REFUSAL_RETENTION = timedelta(days=90)
# The same group-setting refusal again within this time is not written again: one member pressing
# a group's button over and over adds one row, not one a press.
REFUSAL_REPEAT = timedelta(minutes=5)
_IN = " in "


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

    async def audit_refusal(
        self, actor: str, command: str, chat: str | None = None, now: datetime | None = None
    ) -> None:
        """Record that ``actor`` was refused ``command`` (in group ``chat``: its settings).

        Only who, which command (never its arguments), where and when; refusals older
        than REFUSAL_RETENTION are dropped in the same transaction.
        """
        moment = now or utcnow()
        action, detail = (
            (DENIED, command) if chat is None else (DENIED_GROUP_SETTING, command + _IN + chat)
        )
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO audit_log (at, actor, action, detail)"
                " SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM audit_log"
                " WHERE actor = ? AND action = ? AND detail = ? AND at > ?)",
                (
                    to_db(moment),
                    actor,
                    action,
                    detail,
                    actor,
                    action,
                    detail,
                    to_db(moment - REFUSAL_REPEAT if chat is not None else moment),
                ),
            )
            await tx.execute(
                "DELETE FROM audit_log WHERE action IN (?, ?) AND at < ?",
                (*REFUSALS, to_db(moment - REFUSAL_RETENTION)),
            )

    async def forget_refusals(self, *, actor: str | None = None, chat: str | None = None) -> int:
        """Erase the refusals of a person (``actor``) and those in a group (``chat``)."""
        erased = 0
        async with self._db.transaction() as tx:
            if actor is not None:
                erased += await tx.execute(
                    "DELETE FROM audit_log WHERE actor = ? AND action IN (?, ?)",
                    (actor, *REFUSALS),
                )
            if chat is not None:
                suffix = _IN + chat
                erased += await tx.execute(
                    "DELETE FROM audit_log WHERE action = ? AND substr(detail, -?) = ?",
                    (DENIED_GROUP_SETTING, len(suffix), suffix),
                )
        return erased

    async def move_refusals(self, old_chat: str, new_chat: str) -> None:
        """A group got a new id (Telegram supergroup): its refusals follow it."""
        old, new = _IN + old_chat, _IN + new_chat
        await self._db.execute(
            "UPDATE audit_log SET detail = substr(detail, 1, length(detail) - ?) || ?"
            " WHERE action = ? AND substr(detail, -?) = ?",
            (len(old), new, DENIED_GROUP_SETTING, len(old), old),
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
