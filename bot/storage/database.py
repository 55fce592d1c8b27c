"""The SQLite connection: pragmas, serialised access, transactions and numbered migrations."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from bot.clock import to_db, utcnow

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
# A migration starting with this line runs with foreign keys off (SQLite's procedure for
# rebuilding a table another one refers to), checked with foreign_key_check before it commits.
FOREIGN_KEYS_OFF = "-- migration: foreign keys off"
_MIGRATION_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")

Params = Sequence[Any]


class StorageError(RuntimeError):
    """The database cannot be used (unreadable file, a newer schema than this code knows)."""


class ReadOnlyDatabaseError(StorageError):
    """The database file, or the folder its WAL files go in, cannot be written."""


# SQLite's primary result code for "attempt to write a readonly database"; its extended codes
# (READONLY_DIRECTORY, READONLY_CANTINIT, ...) share the low byte.
_SQLITE_READONLY = 8
_SQLITE_CANTOPEN = 14
_SQLITE_READONLY_DIRECTORY = _SQLITE_READONLY | (6 << 8)


def is_read_only_error(exc: BaseException) -> bool:
    """True when ``exc`` is SQLite refusing a write because it cannot write the file."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == _SQLITE_READONLY
    return "readonly database" in str(exc)


class _Guard:
    """The connection's lock, turning SQLite's read-only error into one naming the file."""

    __slots__ = ("_lock", "_path")

    def __init__(self, lock: asyncio.Lock, path: Path) -> None:
        self._lock = lock
        self._path = path

    async def __aenter__(self) -> None:
        await self._lock.acquire()

    async def __aexit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self._lock.release()
        if exc is not None and is_read_only_error(exc):
            raise read_only_error(self._path, exc) from exc


class _NameReadOnly:
    """Turns SQLite's read-only error into one naming the database file (a cheap ``with``)."""

    __slots__ = ("_path",)

    def __init__(self, path: Path) -> None:
        self._path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None and is_read_only_error(exc):
            raise read_only_error(self._path, exc) from exc


def read_only_error(path: Path, exc: BaseException) -> ReadOnlyDatabaseError:
    """The one-line error ``ngo-bot`` prints for a database it cannot write."""
    detail = str(exc)
    if getattr(exc, "sqlite_errorcode", None) == _SQLITE_READONLY_DIRECTORY:
        detail += f" (SQLite cannot create its -wal and -shm files in {path.parent})"
    return ReadOnlyDatabaseError(f"cannot write to the database {path}: {detail}")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def packaged_migrations() -> list[Migration]:
    """The numbered `.sql` files shipped in bot/storage/migrations, in order."""
    found = []
    for entry in resources.files("bot.storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise StorageError(f"migration numbers must run 1..n without gaps, found {versions}")
    return found


class Database:
    """One aiosqlite connection, used by one coroutine at a time.

    Every statement runs under one asyncio lock so that a transaction begun by one coroutine never
    picks up another coroutine's statements. The connection is in autocommit mode; writes that
    belong together go through :meth:`transaction` (BEGIN IMMEDIATE ... COMMIT).
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self.path = path
        self._name_read_only = _NameReadOnly(path)
        self._guard = _Guard(self._lock, path)

    @classmethod
    async def open(cls, path: Path, *, migrate: bool = True, writable: bool = False) -> Database:
        """Open (creating folders and file as needed), set pragmas, apply migrations.

        ``writable``: also make sure the file can be written now, so that a process that
        is going to write (``ngo-bot run``, ``chat``, ``announce create``...) stops at
        start with one line naming the file rather than at its first write.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the folder of the database {path}: {exc.strerror}"
            ) from exc
        try:
            conn = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open database {path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        db = cls(conn, path)
        try:
            await db._configure()
            if migrate:
                await db.migrate()
            if writable:
                await db.check_writable()
        except BaseException:
            await conn.close()
            raise
        return db

    async def check_writable(self) -> None:
        """Raise ReadOnlyDatabaseError unless a write to the file would succeed.

        BEGIN IMMEDIATE alone succeeds on a read-only file; rewriting the schema version
        with its own value is a real write, rolled back so nothing changes.
        """
        version = await self.schema_version()
        async with self._lock:
            with self._name_read_only:
                await self._conn.execute("BEGIN IMMEDIATE")
                try:
                    await self._conn.execute(f"PRAGMA user_version = {int(version)}")
                finally:
                    await self._conn.execute("ROLLBACK")

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()

    async def _configure(self) -> None:
        try:
            with self._name_read_only:  # switching to WAL writes (the file, or its folder)
                await self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                await self._conn.execute("PRAGMA journal_mode = WAL")
                await self._conn.execute("PRAGMA foreign_keys = ON")
                await self._conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{self.path} is not a usable SQLite database: {exc}") from exc

    # --- migrations -------------------------------------------------------------------------

    async def schema_version(self) -> int:
        row = await self.fetch_one("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def migrate(self, migrations: Iterable[Migration] | None = None) -> list[Migration]:
        """Apply the migrations newer than the database's version; return those applied."""
        pending = list(packaged_migrations() if migrations is None else migrations)
        current = await self.schema_version()
        known = max((m.version for m in pending), default=0)
        if current > known:
            raise StorageError(
                f"database schema version {current} is newer than this bot knows ({known}); "
                "upgrade the bot"
            )
        applied = []
        for migration in pending:
            if migration.version <= current:
                continue
            with self._name_read_only:
                await self._apply(migration)
            applied.append(migration)
            log.info("applied migration %04d_%s", migration.version, migration.name)
        return applied

    async def _apply(self, migration: Migration) -> None:
        keys_off = migration.sql.startswith(FOREIGN_KEYS_OFF)
        async with self._lock:
            if keys_off:  # has no effect inside a transaction: switched before BEGIN
                await self._conn.execute("PRAGMA foreign_keys = OFF")
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                await self._conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
                for statement in split_sql(migration.sql):
                    await self._conn.execute(statement)
                if keys_off:
                    await self._check_foreign_keys(migration)
                await self._conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, to_db(utcnow())),
                )
                await self._conn.execute(f"PRAGMA user_version = {int(migration.version)}")
                await self._conn.execute("COMMIT")
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            finally:
                if keys_off:
                    await self._conn.execute("PRAGMA foreign_keys = ON")

    async def _check_foreign_keys(self, migration: Migration) -> None:
        async with self._conn.execute("PRAGMA foreign_key_check") as cursor:
            broken = list(await cursor.fetchall())
        if broken:
            raise StorageError(
                f"migration {migration.version:04d}_{migration.name} leaves {len(broken)} rows "
                f"with a broken reference, e.g. in table {broken[0][0]}"
            )

    # --- statements -------------------------------------------------------------------------

    # Through the guard, a write refused because the file is read-only raises
    # ReadOnlyDatabaseError naming it.

    async def fetch_all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._guard, self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetch_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self._guard, self._conn.execute(sql, params) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
            return row

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement on its own (autocommit); return the rows it changed."""
        async with self._guard, self._conn.execute(sql, params) as cursor:
            return cursor.rowcount

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back if the block raises."""
        async with self._guard:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._conn)
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")


class Transaction:
    """Statements inside one open transaction (the lock is held by the caller)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with self._conn.execute(sql, params) as cursor:
            return cursor.rowcount

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT and return the new row id."""
        async with self._conn.execute(sql, params) as cursor:
            row_id = cursor.lastrowid
        if row_id is None:
            raise StorageError("INSERT returned no row id")
        return row_id

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._conn.executemany(sql, rows)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetch_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self._conn.execute(sql, params) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
            return row


def split_sql(script: str) -> list[str]:
    """Split a migration script into complete statements (triggers and literals included)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if not buffer and line.strip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise StorageError(f"incomplete SQL statement at the end of a migration: {buffer[:60]!r}")
    return statements


def backup_database(source: Path, target: Path) -> None:
    """Online copy with SQLite's backup API: consistent even while the bot writes."""
    if not source.exists():
        raise StorageError(f"no database at {source}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot write the backup {target}: {exc.strerror}") from exc
    src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        _copy_into(src, target)
    finally:
        src.close()


def _copy_into(src: sqlite3.Connection, target: Path) -> None:
    """SQLite's backup of ``src`` into the file ``target``; a file it cannot write, one line."""
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=256)
        finally:
            dst.close()
    except sqlite3.OperationalError as exc:
        if is_read_only_error(exc) or exc.sqlite_errorcode & 0xFF == _SQLITE_CANTOPEN:
            raise StorageError(f"cannot write the backup {target}: {exc}") from exc
        raise


def backup_folder_of_databases(source_dir: Path, target_dir: Path) -> list[Path]:
    """Back up every SQLite file (`*.db`) of a folder into another with the backup API, and
    copy the other files as they are; return the databases written. Used for the Matrix
    encryption store, which nio keeps as one SQLite file per device."""
    if not source_dir.is_dir():
        return []
    try:
        target_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StorageError(f"cannot write the backup {target_dir}: {exc.strerror}") from exc
    written = []
    for source in sorted(source_dir.iterdir()):
        if source.is_file() and source.suffix == ".db":
            backup_database(source, target_dir / source.name)
            written.append(target_dir / source.name)
        elif source.is_file() and not source.name.endswith(("-wal", "-shm", "-journal")):
            shutil.copy2(source, target_dir / source.name)
    return written
