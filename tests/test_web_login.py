"""Login links from the chat (`web`) and the command line (`ngo-bot web login`), the console's
data in privacy/export/forget, and the subscription history behind the dashboard's chart."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine

from bot.app import build_core
from bot.config import Settings
from bot.core.messages import ChatKind, ChatRef, Incoming
from bot.core.service import Core
from bot.i18n import use_language
from bot.storage import Storage
from bot.web.console.service import ConsoleService
from bot.weblogin import ConsoleAuth, token_hash
from tests.conftest import BOT_COMMAND, bot_env

WEB = ("127.0.0.1", 8088)


@pytest.fixture
def web_core(storage: Storage, settings: Settings) -> Core:
    return build_core(storage, dataclasses.replace(settings, web_listen=WEB))


async def ask(
    core: Core,
    text: str,
    *,
    sender: str = "boss",
    platform: str = "console",
    kind: ChatKind = ChatKind.PRIVATE,
    chat: str | None = None,
) -> str:
    incoming = Incoming(
        chat=ChatRef(platform, chat or sender),
        kind=kind,
        sender=sender,
        sender_is_admin=True,
        text=text,
    )
    return "\n".join(reply.text for reply in await core.handle(incoming))


@pytest.mark.dated
async def test_the_web_command_sends_a_working_link(web_core: Core, storage: Storage) -> None:
    text = await ask(web_core, "/web")
    assert "15" in text
    url = text.split('href="')[1].split('"')[0]
    assert url.startswith("http://127.0.0.1:8088/login/")
    auth = ConsoleAuth(storage, web_core.settings)
    assert await auth.link_owner(url.rsplit("/", 1)[1]) == "console:boss"
    session = await auth.redeem(url.rsplit("/", 1)[1])
    assert session is not None


@pytest.mark.dated
async def test_looking_at_a_link_does_not_use_it(storage: Storage, settings: Settings) -> None:
    auth = ConsoleAuth(storage, settings)
    token = (await auth.login_link("console:boss", "http://x")).rsplit("/", 1)[1]
    assert await auth.link_owner(token) == "console:boss"
    assert await auth.link_owner(token) == "console:boss"
    assert await auth.redeem(token) is not None
    assert await auth.link_owner(token) is None
    assert await auth.redeem(token) is None
    assert await auth.link_owner("unknown") is None
    later = (await auth.login_link("console:boss", "http://x")).rsplit("/", 1)[1]
    with time_machine.travel(timedelta(minutes=15, seconds=1), tick=False):
        assert await auth.link_owner(later) is None
    await storage.staff.add("telegram:77", "staff", "console:boss")
    staff = (await auth.login_link("telegram:77", "http://x")).rsplit("/", 1)[1]
    await storage.staff.remove("telegram:77")
    assert await auth.link_owner(staff) is None  # no longer staff: no button either
    rows = await storage.db.fetch_all("SELECT used_at FROM web_login_links")
    assert sorted(r["used_at"] is None for r in rows) == [False, True, True]  # one used


def test_the_login_forms_double_submit_token() -> None:
    from bot.weblogin import login_form_token, login_form_valid

    fresh = login_form_token(None)
    assert len(fresh) == 43 and login_form_token(fresh) == fresh
    assert login_form_token("<b>") != "<b>" and login_form_token("x" * 44) != "x" * 44
    assert login_form_valid(fresh, fresh)
    assert not login_form_valid(fresh, fresh[:-1] + ("A" if fresh[-1] != "A" else "B"))
    assert not login_form_valid(None, fresh) and not login_form_valid(fresh, None)
    assert not login_form_valid("", "") and not login_form_valid(fresh, "ż" * 43)


@pytest.mark.dated
async def test_staff_get_a_link_too(web_core: Core, storage: Storage) -> None:
    await storage.staff.add("telegram:77", "staff", "console:boss")
    text = await ask(web_core, "/web", sender="77", platform="telegram")
    assert "/login/" in text


@pytest.mark.dated
async def test_not_in_a_group(web_core: Core, storage: Storage) -> None:
    text = await ask(web_core, "/web", kind=ChatKind.GROUP, chat="-100")
    assert "/login/" not in text
    assert "na czacie prywatnym" in text  # the group's language: BOT_DEFAULT_LANGUAGE, Polish
    assert await storage.db.fetch_all("SELECT * FROM web_login_links") == []


@pytest.mark.dated
@pytest.mark.parametrize(
    ("language", "words"),
    [("pl", "tylko dla pracowników"), ("uk", "лише працівникам"), ("en", "staff only")],
)
async def test_someone_else_is_refused_politely(
    web_core: Core, storage: Storage, language: str, words: str
) -> None:
    chat = await storage.chats.ensure(ChatRef("console", "ala"), ChatKind.PRIVATE, language)
    assert chat.language == language
    text = await ask(web_core, "/web", sender="ala")
    assert words in text and "/login/" not in text


@pytest.mark.dated
async def test_the_web_command_says_when_the_console_is_off(core: Core) -> None:
    text = await ask(core, "/web")
    assert "BOT_WEB_LISTEN" in text and "/login/" not in text


@pytest.mark.dated
async def test_refusals_in_ukrainian_for_a_group(web_core: Core, storage: Storage) -> None:
    chat = await storage.chats.ensure(ChatRef("console", "grp"), ChatKind.GROUP, "uk")
    assert chat.kind is ChatKind.GROUP
    text = await ask(web_core, "/web", kind=ChatKind.GROUP, chat="grp")
    assert "приватному чаті" in text


# --- the command line -------------------------------------------------------------------------


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BOT_COMMAND, "web", "login", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=bot_env(tmp_path / "bot.sqlite3", BOT_ADMINS="console:boss", **env),
    )


@pytest.mark.dated
def test_cli_prints_the_link_last(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path,
        "console:boss",
        BOT_WEB_URL="https://bot.example.org",
        **{"BOT_WEB_LISTEN": "127.0.0.1:8088"},
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("https://bot.example.org/login/")
    as_json = run_cli(tmp_path, "console:boss", "--json", BOT_WEB_LISTEN="127.0.0.1:8088")
    assert json.loads(as_json.stdout.strip().splitlines()[-1])["url"].startswith(
        "http://127.0.0.1:8088/login/"
    )


def test_cli_refuses_who_is_not_staff_and_a_console_that_is_off(tmp_path: Path) -> None:
    refused = run_cli(tmp_path, "telegram:1", BOT_WEB_LISTEN="127.0.0.1:8088")
    assert refused.returncode == 2 and "not staff" in refused.stderr
    assert "/login/" not in refused.stdout
    off = run_cli(tmp_path, "console:boss")
    assert off.returncode == 2 and "BOT_WEB_LISTEN" in off.stderr


# --- privacy ----------------------------------------------------------------------------------


@pytest.mark.dated
async def test_export_and_forget_cover_the_console_data(web_core: Core, storage: Storage) -> None:
    await storage.staff.add("telegram:77", "staff", "console:boss")
    auth = ConsoleAuth(storage, web_core.settings)
    link = await auth.login_link("telegram:77", "http://x")
    await auth.redeem(link.rsplit("/", 1)[1])
    exported = await web_core.handle(
        Incoming(ChatRef("telegram", "77"), ChatKind.PRIVATE, "77", False, "/export")
    )
    attachment = exported[0].attachment
    assert attachment is not None
    data = json.loads(attachment.data)
    assert len(data["web_sessions"]) == 1 and len(data["web_login_links"]) == 1
    assert token_hash(link.rsplit("/", 1)[1]) not in attachment.data.decode()
    privacy = await ask(web_core, "/privacy", sender="77", platform="telegram")
    assert "konsoli internetowej" in privacy
    await ask(web_core, "/forget yes", sender="77", platform="telegram")
    assert await storage.db.fetch_all("SELECT * FROM web_sessions") == []
    assert await storage.db.fetch_all("SELECT * FROM web_login_links") == []


@pytest.mark.dated
async def test_used_links_are_dropped_a_day_after_they_expire(
    storage: Storage, settings: Settings
) -> None:
    auth = ConsoleAuth(storage, settings)
    await auth.login_link("console:boss", "http://x")
    with time_machine.travel(timedelta(days=1, minutes=16), tick=False):
        await auth.login_link("console:boss", "http://x")
    rows = await storage.db.fetch_all("SELECT * FROM web_login_links")
    assert len(rows) == 1


# --- the chart's history ----------------------------------------------------------------------


@pytest.mark.dated
async def test_subscriptions_are_counted_per_day(storage: Storage, settings: Settings) -> None:
    service = ConsoleService(storage, settings, build_core(storage, settings).topics)
    ala = await storage.chats.ensure(ChatRef("console", "ala"), ChatKind.PRIVATE, "pl")
    jan = await storage.chats.ensure(ChatRef("console", "jan"), ChatKind.PRIVATE, "uk")
    await storage.chats.subscribe(ala.id, ["grants", "tax"])
    with time_machine.travel(timedelta(days=1), tick=False):
        await storage.chats.subscribe(jan.id, ["grants"])
        await storage.chats.unsubscribe(ala.id, ["tax"])
    with time_machine.travel(timedelta(days=2), tick=False):
        await storage.chats.delete(jan.id)  # `forget`: its subscription ends too
        days = await service.subscription_days()
    assert len(days) == 90
    assert [(d.added, d.removed, d.total) for d in days[-3:]] == [(2, 0, 2), (1, 1, 2), (0, 1, 1)]
    assert days[0].total == 0
    with use_language("en"):
        board = await service.dashboard()
    assert board.chats.cell("grants", "pl", "console") == 1
    assert board.chats.row_totals == {"grants": 1}


@pytest.mark.dated
async def test_the_migration_counts_existing_subscriptions(tmp_path: Path) -> None:
    from bot.storage.database import Database, packaged_migrations

    db = await Database.open(tmp_path / "old.sqlite3", migrate=False)
    try:
        await db.migrate([m for m in packaged_migrations() if m.version < 8])
        await db.execute(
            "INSERT INTO chats (platform, chat_id, kind, created_at) VALUES"
            " ('console', 'a', 'private', '2026-06-01T08:00:00.000000+00:00')"
        )
        await db.execute(
            "INSERT INTO subscriptions (chat_ref, topic, created_at) VALUES"
            " (1, 'grants', '2026-06-01T08:30:00.000000+00:00')"
        )
        await db.migrate()
        rows = await db.fetch_all("SELECT hour, topic, added FROM subscription_hours")
    finally:
        await db.close()
    assert [tuple(r) for r in rows] == [("2026-06-01T08", "grants", 1)]
