"""Storage of reminders: migration 0005 on a database with data, plans rewritten by edits."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.reminders.planner import PlannedReminder, Reason
from bot.storage import Storage
from bot.storage.database import Database, packaged_migrations
from bot.storage.reminders import ReminderState
from tests.delivery_helpers import grant_fields, service_for

# Date-sensitive: .ci/run runs these again at its fixed moments (`pytest -m dated`).
pytestmark = pytest.mark.dated


async def test_migration_5_keeps_every_broadcast_and_outbox_row(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "old.sqlite3", migrate=False)
    await db.migrate(packaged_migrations()[:4])
    stamp = "2026-01-01T10:00:00.000000+00:00"
    await db.execute(
        "INSERT INTO chats (id, platform, chat_id, kind, created_at)"
        " VALUES (1, 'console', 'ala', 'private', ?)",
        (stamp,),
    )
    await db.execute(
        "INSERT INTO announcements (id, kind, topic, title_pl, text_pl, remind, publish_at,"
        " status, author, created_at, updated_at) VALUES (7, 'news', 'news', 'T', 'T', 'none',"
        " ?, 'sent', 'cli:x', ?, ?)",
        (stamp, stamp, stamp),
    )
    await db.execute(
        "INSERT INTO broadcasts (id, announcement_id, purpose, due_at, created_at)"
        " VALUES (3, 7, 'publication', ?, ?)",
        (stamp, stamp),
    )
    await db.execute(
        "INSERT INTO outbox (broadcast_id, chat_ref, state, next_attempt_at)"
        " VALUES (3, 1, 'sent', ?)",
        (stamp,),
    )
    applied = await db.migrate()
    assert applied[0].name == "reminders"
    rows = await db.fetch_all(
        "SELECT b.id, b.purpose, o.state FROM outbox o JOIN broadcasts b ON b.id = o.broadcast_id"
    )
    assert [tuple(row) for row in rows] == [(3, "publication", "sent")]
    foreign_keys = await db.fetch_one("PRAGMA foreign_keys")
    assert foreign_keys is not None and foreign_keys[0] == 1
    assert await db.fetch_all("PRAGMA foreign_key_check") == []
    await db.execute(
        "INSERT INTO broadcasts (announcement_id, purpose, due_at, created_at)"
        " VALUES (NULL, 'digest', ?, ?)",
        (stamp, stamp),
    )
    with pytest.raises(sqlite3.IntegrityError):  # only a digest has no announcement
        await db.execute(
            "INSERT INTO broadcasts (announcement_id, purpose, due_at, created_at)"
            " VALUES (NULL, 'reminder', ?, ?)",
            (stamp, stamp),
        )
    await db.execute("DELETE FROM announcements WHERE id = 7")  # the cascade still works
    assert await db.fetch_all("SELECT id FROM outbox") == []
    await db.close()


async def test_a_new_plan_keeps_sent_rows_cancels_stale_ones_and_revives_them(
    storage: Storage, settings: Settings
) -> None:
    announcement = await service_for(storage, settings).create(
        grant_fields(remind="none"), actor="console:boss"
    )
    now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    target = now + timedelta(days=10)

    def reminder(hours: int) -> PlannedReminder:
        due = target - timedelta(hours=hours)
        return PlannedReminder(target, due, due)

    version = await storage.reminders.version()
    await storage.reminders.replan(announcement.id, [reminder(48), reminder(24)], now)
    assert await storage.reminders.version() > version
    first, second = await storage.reminders.of_announcement(announcement.id)
    async with storage.db.transaction() as tx:  # as if the first had fired
        await tx.execute("UPDATE reminders SET state = 'sent' WHERE id = ?", (first.id,))
    await storage.reminders.replan(announcement.id, [reminder(2)], now)
    states = {
        r.id: (r.state, r.reason) for r in await storage.reminders.of_announcement(announcement.id)
    }
    assert states[first.id] == (ReminderState.SENT, "")
    assert states[second.id] == (ReminderState.CANCELLED, Reason.EDITED.value)
    assert len(states) == 3
    version = await storage.reminders.version()
    await storage.reminders.replan(announcement.id, [reminder(48), reminder(24), reminder(2)], now)
    states = {r.id: r.state for r in await storage.reminders.of_announcement(announcement.id)}
    assert states == {
        first.id: ReminderState.SENT,
        second.id: ReminderState.PLANNED,
        max(states): ReminderState.PLANNED,
    }
    version = await storage.reminders.version()
    await storage.reminders.replan(announcement.id, [reminder(48), reminder(24), reminder(2)], now)
    assert await storage.reminders.version() == version  # nothing changed: no resync
    # A planned reminder already due is left to the scheduler (it checks it when it fires).
    later = target - timedelta(hours=1)
    await storage.reminders.replan(announcement.id, [], later)
    states = {r.id: r.state for r in await storage.reminders.of_announcement(announcement.id)}
    assert list(states.values()).count(ReminderState.PLANNED) == 2
