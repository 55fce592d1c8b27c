"""Storage on a real SQLite file: migrations, pragmas, stores, and an online backup."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.core.messages import ChatKind, ChatRef
from bot.storage import Storage, StorageError, backup_database
from bot.storage.database import Database, Migration, packaged_migrations, split_sql

ALA = ChatRef("console", "ala")


async def test_migrations_from_an_empty_file_and_again(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "bot.sqlite3"
    db = await Database.open(path)
    latest = packaged_migrations()[-1].version
    assert await db.schema_version() == latest
    rows = await db.fetch_all("SELECT version FROM schema_migrations ORDER BY version")
    assert [row["version"] for row in rows] == list(range(1, latest + 1))
    assert await db.migrate() == []
    await db.close()
    reopened = await Database.open(path)
    assert await reopened.schema_version() == latest
    await reopened.close()


async def test_pragmas_wal_and_foreign_keys(storage: Storage) -> None:
    mode = await storage.db.fetch_one("PRAGMA journal_mode")
    keys = await storage.db.fetch_one("PRAGMA foreign_keys")
    assert mode is not None and mode[0] == "wal"
    assert keys is not None and keys[0] == 1


async def test_failed_migration_is_rolled_back(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    version = await db.schema_version()
    broken = Migration(version + 1, "broken", "CREATE TABLE ok_table (x INTEGER);\nNOT SQL;")
    with pytest.raises(sqlite3.OperationalError):
        await db.migrate([*packaged_migrations(), broken])
    assert await db.schema_version() == version
    assert await db.fetch_one("SELECT name FROM sqlite_master WHERE name = 'ok_table'") is None
    await db.close()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")
    with pytest.raises(StorageError, match="newer"):
        await Database.open(path)


async def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="not a usable SQLite database"):
        await Database.open(path)


def test_split_sql_keeps_triggers_whole() -> None:
    script = """-- comment
    CREATE TABLE t (x TEXT DEFAULT ';');
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 'a;b'; END;
    """
    statements = split_sql(script)
    assert len(statements) == 2
    assert statements[1].endswith("END;")


async def test_chats_subscriptions_and_cascade(storage: Storage) -> None:
    chat = await storage.chats.ensure(ALA, ChatKind.PRIVATE, "uk")
    again = await storage.chats.ensure(ALA, ChatKind.PRIVATE, "pl")
    assert again.id == chat.id and again.language == "uk"
    assert await storage.chats.subscribe(chat.id, ["grants", "tax"]) == {"grants", "tax"}
    assert await storage.chats.subscribe(chat.id, ["grants"]) == set()
    assert await storage.chats.unsubscribe(chat.id, ["tax", "news"]) == {"tax"}
    assert await storage.chats.topics_of(chat.id) == {"grants"}
    await storage.inbox.deliver(ALA, "hello")
    await storage.chats.delete(chat.id)
    assert await storage.chats.get(ALA) is None
    orphans = await storage.db.fetch_one("SELECT COUNT(*) FROM subscriptions")
    inbox = await storage.db.fetch_one("SELECT COUNT(*) FROM console_inbox")
    assert orphans is not None and orphans[0] == 0
    assert inbox is not None and inbox[0] == 0


async def test_move_keeps_subscriptions_under_the_new_id(storage: Storage) -> None:
    old, new = ChatRef("telegram", "-100"), ChatRef("telegram", "-100200")
    chat = await storage.chats.ensure(old, ChatKind.GROUP, "pl")
    await storage.chats.subscribe(chat.id, ["grants"])
    assert await storage.chats.move(old, new)
    moved = await storage.chats.get(new)
    assert moved is not None and moved.id == chat.id
    assert await storage.chats.topics_of(moved.id) == {"grants"}
    assert await storage.chats.get(old) is None


async def test_move_merges_into_an_already_known_new_id(storage: Storage) -> None:
    old, new = ChatRef("telegram", "-5"), ChatRef("telegram", "-1005")
    first = await storage.chats.ensure(old, ChatKind.GROUP, "uk")
    await storage.chats.subscribe(first.id, ["grants"])
    second = await storage.chats.ensure(new, ChatKind.GROUP, None)
    await storage.chats.subscribe(second.id, ["news"])
    assert await storage.chats.move(old, new)
    merged = await storage.chats.get(new)
    assert merged is not None and merged.language == "uk"
    assert await storage.chats.topics_of(merged.id) == {"grants", "news"}


async def test_stats_count_active_chats(storage: Storage) -> None:
    a = await storage.chats.ensure(ChatRef("telegram", "1"), ChatKind.PRIVATE, "uk")
    b = await storage.chats.ensure(ChatRef("matrix", "!r:s"), ChatKind.ROOM, None)
    await storage.chats.ensure(ChatRef("telegram", "2"), ChatKind.PRIVATE, "pl")
    await storage.chats.subscribe(a.id, ["grants", "tax"])
    await storage.chats.subscribe(b.id, ["grants"])
    await storage.chats.set_active(ChatRef("telegram", "2"), False)
    stats = await storage.chats.stats("pl")
    assert stats == {
        "chats": 3,
        "active": 2,
        "by_platform": {"matrix": 1, "telegram": 1},
        "by_language": {"pl": 1, "uk": 1},
        "by_topic": {"grants": 2, "tax": 1},
    }


async def test_inbox_shows_each_message_once(storage: Storage) -> None:
    await storage.inbox.deliver(ALA, "first")
    await storage.inbox.deliver(ALA, "second")
    assert [m.text for m in await storage.inbox.take_unshown(ALA)] == ["first", "second"]
    assert await storage.inbox.take_unshown(ALA) == []


async def test_staff_and_audit(storage: Storage) -> None:
    assert await storage.staff.add("telegram:5", "staff", "console:boss")
    assert not await storage.staff.add("telegram:5", "staff", "console:boss")
    await storage.staff.audit("telegram:5", "announce", "id=1")
    assert [e.action for e in await storage.staff.audit_log("telegram:5")] == ["announce"]
    await storage.staff.forget_actor("telegram:5")
    assert await storage.staff.get("telegram:5") is None
    assert await storage.staff.audit_log("telegram:5") == []


async def test_heartbeat(storage: Storage) -> None:
    assert await storage.heartbeat.get() is None
    await storage.heartbeat.started(1234)
    await storage.heartbeat.beat()
    beat = await storage.heartbeat.get()
    assert beat is not None and beat.pid == 1234 and beat.stopped_at is None
    await storage.heartbeat.stopped()
    stopped = await storage.heartbeat.get()
    assert stopped is not None and stopped.stopped_at is not None


async def test_backup_while_writing(tmp_path: Path) -> None:
    """A backup taken while another connection keeps writing is a consistent database."""
    source_path = tmp_path / "live.sqlite3"
    live = await Storage.open(source_path)
    chat = await live.chats.ensure(ALA, ChatKind.PRIVATE, "pl")
    for n in range(300):
        await live.inbox.deliver(ALA, f"seed {n} " + "x" * 2000)
    stop = asyncio.Event()

    async def keep_writing() -> int:
        written = 0
        while not stop.is_set():
            await live.inbox.deliver(ALA, f"during {written}")
            written += 1
            await asyncio.sleep(0)
        return written

    writer = asyncio.create_task(keep_writing())
    target = tmp_path / "copies" / "backup.sqlite3"
    await asyncio.to_thread(backup_database, source_path, target)
    stop.set()
    written_during = await writer
    await live.close()

    assert written_during > 0
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = copy.execute("SELECT COUNT(*) FROM console_inbox").fetchone()[0]
        assert 300 <= count <= 300 + written_during
        assert copy.execute("SELECT id FROM chats").fetchone()[0] == chat.id


def test_backup_of_a_missing_database_fails(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        backup_database(tmp_path / "none.sqlite3", tmp_path / "copy.sqlite3")
