"""All SQL lives in this package: one store per subject, sharing one Database."""

from __future__ import annotations

from pathlib import Path

from bot.storage.announcements import AnnouncementStore, DraftStore
from bot.storage.channels import ChannelStore
from bot.storage.chats import Chat, ChatStore
from bot.storage.database import (
    Database,
    ReadOnlyDatabaseError,
    StorageError,
    backup_database,
    backup_folder_of_databases,
)
from bot.storage.faq import UnansweredStore
from bot.storage.heartbeat import HeartbeatStore
from bot.storage.inbox import InboxStore
from bot.storage.outbox import OutboxStore
from bot.storage.questions import QuestionStore
from bot.storage.reminders import DigestStore, ReminderStore
from bot.storage.staff import StaffStore
from bot.storage.sync_state import SyncStateStore
from bot.storage.web import WebStore


class Storage:
    """The stores the bot uses, over one open database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.chats = ChatStore(db)
        self.staff = StaffStore(db)
        self.inbox = InboxStore(db)
        self.heartbeat = HeartbeatStore(db)
        self.unanswered = UnansweredStore(db)
        self.sync_state = SyncStateStore(db)
        self.announcements = AnnouncementStore(db)
        self.drafts = DraftStore(db)
        self.outbox = OutboxStore(db)
        self.reminders = ReminderStore(db)
        self.digests = DigestStore(db)
        self.questions = QuestionStore(db)
        self.web = WebStore(db)
        self.channels = ChannelStore(db)

    @classmethod
    async def open(cls, path: Path, *, migrate: bool = True, writable: bool = False) -> Storage:
        """Open the database; ``writable``: fail at once (one line) if it cannot be written."""
        return cls(await Database.open(path, migrate=migrate, writable=writable))

    async def close(self) -> None:
        await self.db.close()


__all__ = [
    "Chat",
    "Database",
    "ReadOnlyDatabaseError",
    "Storage",
    "StorageError",
    "backup_database",
    "backup_folder_of_databases",
]
