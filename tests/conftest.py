"""Shared fixtures: a real SQLite file per test, the core over it, and a way to talk to it."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.app import build_core
from bot.config import Settings
from bot.core.messages import ChatKind, ChatRef, Incoming, Reply
from bot.core.service import Core
from bot.storage import Storage

# PTB 22 warns on every 429 unless durations are timedeltas; the bot opts in the same way.
os.environ.setdefault("PTB_TIMEDELTA", "true")

pytest_plugins = ["tests.fixtures_matrix", "tests.fixtures_telegram", "tests.matrix_helpers"]

ROOT = Path(__file__).resolve().parent.parent

Say = Callable[..., Awaitable[list[Reply]]]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        db_path=tmp_path / "bot.sqlite3",
        admins=frozenset({"console:boss", "telegram:1000"}),
        quiet_hours=None,
    )


@pytest.fixture
async def storage(settings: Settings) -> AsyncIterator[Storage]:
    opened = await Storage.open(settings.db_path)
    yield opened
    await opened.close()


@pytest.fixture
def core(storage: Storage, settings: Settings) -> Core:
    return build_core(storage, settings)


@pytest.fixture
def say(core: Core) -> Say:
    """Send a message to the core as a person would: say('/start', chat='ala')."""

    async def send(
        text: str,
        *,
        chat: str = "ala",
        sender: str | None = None,
        platform: str = "console",
        kind: ChatKind = ChatKind.PRIVATE,
        admin: bool = True,
        hint: str | None = None,
    ) -> list[Reply]:
        incoming = Incoming(
            chat=ChatRef(platform, chat),
            kind=kind,
            sender=sender or chat,
            sender_is_admin=admin,
            text=text,
            language_hint=hint,
        )
        return await core.handle(incoming)

    return send


def bot_env(db_path: Path, **extra: str) -> dict[str, str]:
    """The environment for a bot subprocess: this checkout importable, a given database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BOT_", "TELEGRAM_", "MATRIX_"))
    }
    env.update(
        BOT_DB=str(db_path),
        PYTHONPATH=str(ROOT),
        LANG="C.UTF-8",
        PYTHONIOENCODING="utf-8",
        BOT_QUIET_HOURS="off",
    )
    env.update(extra)
    return env


BOT_COMMAND = [sys.executable, "-m", "bot"]
