"""Transport state: a small key/value store per platform (sync token, device id, access token)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.clock import to_db, utcnow
from bot.storage.database import Database

_UPSERT = (
    "INSERT INTO transport_state (platform, key, value, updated_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (platform, key) DO UPDATE SET value = excluded.value,"
    " updated_at = excluded.updated_at"
)


class SyncStateStore:
    """Values a transport keeps across restarts, keyed by platform and name."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, platform: str, key: str) -> str | None:
        row = await self._db.fetch_one(
            "SELECT value FROM transport_state WHERE platform = ? AND key = ?", (platform, key)
        )
        return str(row["value"]) if row else None

    async def get_all(self, platform: str, prefix: str = "") -> dict[str, str]:
        """Every value of a platform whose key starts with `prefix`."""
        rows = await self._db.fetch_all(
            "SELECT key, value FROM transport_state WHERE platform = ? AND substr(key, 1, ?) = ?"
            " ORDER BY key",
            (platform, len(prefix), prefix),
        )
        return {row["key"]: row["value"] for row in rows}

    async def set(self, platform: str, key: str, value: str) -> None:
        await self._db.execute(_UPSERT, (platform, key, value, to_db(utcnow())))

    async def set_many(self, platform: str, values: Mapping[str, str]) -> None:
        """Write several values in one transaction (a login's token and device id together)."""
        now = to_db(utcnow())
        async with self._db.transaction() as tx:
            await tx.executemany(_UPSERT, [(platform, k, v, now) for k, v in values.items()])

    async def delete(self, platform: str, *keys: str) -> int:
        """Remove values; return how many existed."""
        removed = 0
        async with self._db.transaction() as tx:
            for key in keys:
                removed += await tx.execute(
                    "DELETE FROM transport_state WHERE platform = ? AND key = ?", (platform, key)
                )
        return removed
