"""Smaller faults (issue 10, item 8): odd text for the FAQ, a read-only database, audited refusals."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_core
from bot.clock import utcnow
from bot.config import Settings
from bot.core.messages import ChatKind, ChatRef, Reply
from bot.core.service import Core
from bot.faq import FaqMatcher
from bot.faq.content import content_dir_from_env, load_faq
from bot.faq.normalize import lemma_cyrillic, tokenize
from bot.faq.render import render_answer
from bot.storage import Storage
from bot.transports.telegram import TelegramTransport
from tests.conftest import BOT_COMMAND, Say, bot_env
from tests.fakebotapi import FakeBotApi

# Text no FAQ question is made of, each of which once was, or could be, a crash.
ODD_TEXTS = {
    "unassigned code point in a word": "x\U00017c44абв",
    "unassigned code points only": "\U00017c44" * 5,
    "unnamed ideographs": "\U00030000абв \U0002b740",
    "private use": "\ue000абв \U000f0000",
    "noncharacters": "\ufffe\uffff \U0010ffff",
    "lone surrogates (undecodable bytes)": "ab\udcff\udc80 абв\udcfe",
    "NUL": "a\x00b \x00 1,5%\x00",
    "right-to-left marks": "\u200fשלום\u200e \u202eabc\u202c OPP",
    "combining marks, 10k": "a" + "\u0301" * 10_000,
    "combining marks alone": "\u0301" * 10_000,
    "combining marks on Cyrillic": "абв" + "\u0489" * 10_000,
    "mathematical letters": "𝕠𝕡𝕡 𝓰𝓻𝓪𝓷𝓽",
    "long apostrophe chain": "аб'" * 3000,
    "tag characters": "\U000e0001\U000e0070\U000e006c",
}


@pytest.fixture(scope="module")
def matcher() -> FaqMatcher:
    return FaqMatcher(load_faq(content_dir_from_env()))


@pytest.mark.parametrize("text", list(ODD_TEXTS.values()), ids=list(ODD_TEXTS))
def test_odd_text_is_answered_or_abstained_on_in_every_language(
    matcher: FaqMatcher, text: str
) -> None:
    for lang in ("auto", "pl", "uk", "en"):
        result = matcher.ask(text, lang=lang, fallback_lang="pl")
        assert result.status in {"answer", "choice", "abstain"}
        assert render_answer(matcher.content, result)


def test_a_word_with_a_letter_unicode_cannot_name_is_kept_as_typed() -> None:
    # pymorphy3 calls unicodedata.name() on every letter: ValueError for this one.
    (token,) = tokenize("x\U00017c44абв")
    assert token.script == "cyrillic"
    assert lemma_cyrillic(token.text) == token.text
    assert lemma_cyrillic("організації") == "організація"  # real words still lemmatised


async def test_odd_text_in_chat_gets_the_i_do_not_know_answer(say: Say, storage: Storage) -> None:
    for text in ODD_TEXTS.values():
        (reply,) = await say(text, chat="ala")
        # Answered (the NUL line asks about "1,5%"), abstained on with its buttons, or
        # (10,000 marks) refused as too long: never the apology a crash in the core becomes.
        assert "Przepraszam" not in reply.text and "Вибачте" not in reply.text, text[:20]
        if "nie znam odpowiedzi" in reply.text or "не знаю" in reply.text:
            assert [b.command for b in reply.all_buttons()] == ["help", "faq contact"]
        else:
            assert "<b>" in reply.text or "za długa" in reply.text, text[:20]
    rows = await storage.db.fetch_all("SELECT text FROM unanswered_questions")
    kept = [row["text"] for row in rows]
    assert kept and all(len(text) <= 500 for text in kept)
    assert not any("\x00" in text or "\udcff" in text for text in kept)
    assert "ab абв" in kept  # the core drops lone surrogates before anything sees them


async def test_the_unanswered_log_stores_any_text_sqlite_can_encode(storage: Storage) -> None:
    await storage.unanswered.record("ab\udcff\udc80 \x00абв\udcfe\n" + "x" * 600, "pl")
    (row,) = await storage.db.fetch_all("SELECT text FROM unanswered_questions")
    assert row["text"] == "ab?? абв? " + "x" * 490


def _faq_ask(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = bot_env(Path("unused.sqlite3"))
    return subprocess.run(
        [*BOT_COMMAND, "faq", "ask", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_the_cli_answers_the_question_that_crashed_pymorphy3() -> None:
    result = _faq_ask("x\U00017c44абв")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    assert "не знаю" in result.stdout.decode()


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_the_cli_answers_each_odd_stdin_line_even_undecodable_bytes() -> None:
    lines = [text for text in ODD_TEXTS.values() if "\x00" not in text and _is_utf8(text)]
    data = b"\n".join(
        [
            *(line.encode() for line in lines),
            b"ab\xff\xfe broken UTF-8",  # strict stdin (PYTHONIOENCODING=utf-8) raised here
            b"a\x00b",
            "Jak założyć stowarzyszenie zwykłe?".encode(),
        ]
    )
    result = _faq_ask("--json", stdin=data + b"\n")
    assert result.returncode == 0, result.stderr.decode()
    answers = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(answers) == len(lines) + 3
    assert all(a["id"] is None for a in answers[:-1])
    assert answers[-1]["id"] is not None  # the lines after the odd ones are still answered


# --- a read-only database ------------------------------------------------------------------

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE = 1


def _without_dac_override() -> None:
    """In the child before exec: drop CAP_DAC_OVERRIDE from the bounding set.

    Tests may run as root, and root writes a file whatever its mode: chmod alone proves
    nothing. Without CAP_DAC_OVERRIDE (dropped from the bounding set, so the exec'd
    program never gets it back) root is held to the permission bits like anyone else,
    with no mount, no second user and no special file system needed.
    """
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(_PR_CAPBSET_DROP, _CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
        os._exit(97)  # reported below as a skip


def _preexec() -> Callable[[], None] | None:
    return _without_dac_override if os.geteuid() == 0 else None


def _require_read_only(path: Path) -> None:
    """Skip unless this test's subprocesses really cannot write ``path``."""
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; open(sys.argv[1], 'ab')", str(path)],
        preexec_fn=_preexec(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    if probe.returncode == 0 or probe.returncode == 97:
        pytest.skip("cannot make a file read-only for a subprocess here")


def _ngo_bot(db: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BOT_COMMAND, *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        cwd=db.parent,
        env=bot_env(db, **env),
        preexec_fn=_preexec(),
        timeout=60,
        check=False,
    )


@pytest.fixture
def read_only_db(tmp_path: Path) -> Path:
    """A migrated database (with one announcement) whose file is mode 0444."""
    source = tmp_path / "source.sqlite3"
    created = _ngo_bot(
        source,
        "announce",
        "create",
        "--kind",
        "meeting",
        "--title-pl",
        "T",
        "--text-pl",
        "X",
        "--starts-at",
        "2026-07-02T18:00",
    )
    assert created.returncode == 0, created.stderr
    copy = tmp_path / "ro" / "bot.sqlite3"
    copy.parent.mkdir()
    with sqlite3.connect(source) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(source, copy)
    copy.chmod(0o444)
    _require_read_only(copy)
    return copy


# Commands that write, with what they need to get as far as writing.
_TELEGRAM = {"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot"}
WRITING_COMMANDS = {
    "run": (["run"], _TELEGRAM),
    "chat": (["chat", "--user", "ala"], {}),
    "announce create": (
        ["announce", "create", "--kind", "news", "--title-pl", "T", "--text-pl", "X"],
        {},
    ),
    "announce cancel": (["announce", "cancel", "1"], {}),
}


@pytest.mark.parametrize("name", list(WRITING_COMMANDS))
def test_a_read_only_database_stops_a_writing_command_with_one_line(
    read_only_db: Path, name: str
) -> None:
    args, env = WRITING_COMMANDS[name]
    result = _ngo_bot(read_only_db, *args, **env)
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == [
        f"ngo-bot: cannot write to the database {read_only_db}: "
        "attempt to write a readonly database"
    ]
    assert "Traceback" not in result.stdout


def test_reading_commands_still_work_on_a_read_only_database(read_only_db: Path) -> None:
    for args in (["stats", "--json"], ["health"], ["announce", "list"], ["calendar", "export"]):
        result = _ngo_bot(read_only_db, *args)
        assert result.returncode == 0, (args, result.stderr)


def test_a_read_only_folder_is_named_too(tmp_path: Path) -> None:
    db = tmp_path / "ro" / "bot.sqlite3"
    db.parent.mkdir()
    assert _ngo_bot(db, "db", "migrate").returncode == 0
    with sqlite3.connect(db) as conn:  # no -wal and -shm left: they must be created again
        conn.execute("PRAGMA journal_mode = DELETE")
    db.parent.chmod(0o555)
    try:
        _require_read_only(db.parent / "new-file")
        result = _ngo_bot(db, "run", **_TELEGRAM)
    finally:
        db.parent.chmod(0o755)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"ngo-bot: cannot write to the database {db}: ")
    assert f"cannot create its -wal and -shm files in {db.parent}" in line


def test_a_backup_into_a_read_only_folder_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    assert _ngo_bot(db, "db", "migrate").returncode == 0
    target_dir = tmp_path / "backups"
    target_dir.mkdir(mode=0o555)
    _require_read_only(target_dir / "copy.sqlite3")
    result = _ngo_bot(db, "db", "backup", str(target_dir / "copy.sqlite3"))
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"ngo-bot: cannot write the backup {target_dir / 'copy.sqlite3'}: ")


# --- refusals of a group's settings in the audit log ---------------------------------------

GROUP = {"chat": "-5", "platform": "telegram", "kind": ChatKind.GROUP}


async def _audit(storage: Storage) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.detail) for e in reversed(await storage.staff.audit_log())]


def _exported(reply: Reply) -> dict[str, Any]:
    assert reply.attachment is not None
    data: dict[str, Any] = json.loads(reply.attachment.data)
    return data


async def test_a_member_refused_a_groups_settings_is_in_the_audit_log(
    say: Say, storage: Storage
) -> None:
    (refusal,) = await say("/subscribe grants", **GROUP, sender="9", admin=False)
    assert "administratorzy" in refusal.text
    await say("/language uk", **GROUP, sender="9", admin=False)
    await say("/start grants", **GROUP, sender="9", admin=False)  # a deep link into the group
    await say("/subscribe news", **GROUP, sender="1", admin=True)  # an admin: no refusal
    await say("/topics", **GROUP, sender="9", admin=False)  # reading is allowed: nothing
    assert await _audit(storage) == [
        ("telegram:9", "denied group setting", "subscribe in telegram:-5"),
        ("telegram:9", "denied group setting", "language in telegram:-5"),
        ("telegram:9", "denied group setting", "start in telegram:-5"),
    ]


async def test_only_who_which_command_and_where_is_kept(say: Say, storage: Storage) -> None:
    await say("/subscribe grants my phone is 600 100 200", **GROUP, sender="9", admin=False)
    ((_actor, _action, detail),) = await _audit(storage)
    assert detail == "subscribe in telegram:-5"


async def test_the_person_gets_their_refusals_in_a_private_export_never_in_the_group(
    say: Say, storage: Storage
) -> None:
    await say("/subscribe grants", **GROUP, sender="9", admin=False)
    (group_export,) = await say("/export", **GROUP, sender="9", admin=False)
    assert "audit_log" not in _exported(group_export)
    (private_export,) = await say("/export", chat="9", platform="telegram")
    (entry,) = _exported(private_export)["audit_log"]
    assert (entry["action"], entry["detail"]) == (
        "denied group setting",
        "subscribe in telegram:-5",
    )
    (nothing_refused,) = await say("/export", chat="10", platform="telegram")
    assert "audit_log" not in _exported(nothing_refused)


async def test_forget_erases_the_persons_refusals_and_a_groups(say: Say, storage: Storage) -> None:
    other = {**GROUP, "chat": "-6"}
    await say("/subscribe grants", **GROUP, sender="9", admin=False)
    await say("/subscribe grants", **other, sender="8", admin=False)
    await say("/subscribe grants", **GROUP, sender="8", admin=False)
    await say("/staff add telegram:7", chat="boss")  # a staff action: accountability, kept
    await say("/forget yes", chat="9", platform="telegram")  # the person, in private
    assert await _audit(storage) == [
        ("telegram:8", "denied group setting", "subscribe in telegram:-6"),
        ("telegram:8", "denied group setting", "subscribe in telegram:-5"),
        ("console:boss", "staff add", "telegram:7"),
    ]
    await say("/forget yes", **GROUP, sender="1", admin=True)  # the group, by its admin
    assert await _audit(storage) == [
        ("telegram:8", "denied group setting", "subscribe in telegram:-6"),
        ("console:boss", "staff add", "telegram:7"),
    ]


@pytest.mark.dated
async def test_refusals_are_kept_90_days(storage: Storage) -> None:
    now = utcnow()
    await storage.staff.audit_refusal(
        "telegram:9", "language", "telegram:-5", now - timedelta(days=91)
    )
    await storage.staff.audit_refusal("telegram:9", "announce", now=now - timedelta(days=91))
    await storage.staff.audit("telegram:1000", "staff add", "telegram:7")
    await storage.staff.audit_refusal("telegram:8", "subscribe", "telegram:-5", now)
    assert await _audit(storage) == [
        ("telegram:1000", "staff add", "telegram:7"),
        ("telegram:8", "denied group setting", "subscribe in telegram:-5"),
    ]


@pytest.mark.dated
async def test_a_refusal_repeated_within_minutes_is_written_once(storage: Storage) -> None:
    now = utcnow()
    for seconds in range(0, 240, 10):  # one member pressing a group's button for four minutes
        await storage.staff.audit_refusal(
            "telegram:8", "toggle", "telegram:-5", now + timedelta(seconds=seconds)
        )
    await storage.staff.audit_refusal("telegram:8", "language", "telegram:-5", now)
    await storage.staff.audit_refusal(
        "telegram:8", "toggle", "telegram:-5", now + timedelta(minutes=6)
    )
    assert await _audit(storage) == [
        ("telegram:8", "denied group setting", "toggle in telegram:-5"),
        ("telegram:8", "denied group setting", "language in telegram:-5"),
        ("telegram:8", "denied group setting", "toggle in telegram:-5"),
    ]


async def test_a_group_that_becomes_a_supergroup_keeps_its_refusals(
    say: Say, storage: Storage, core: Core
) -> None:
    await say("/subscribe grants", **GROUP, sender="9", admin=False)
    await core.chat_moved(ChatRef("telegram", "-5"), ChatRef("telegram", "-1005"))
    assert await _audit(storage) == [
        ("telegram:9", "denied group setting", "subscribe in telegram:-1005"),
    ]
    assert await storage.staff.forget_refusals(chat="telegram:-1005") == 1


async def test_privacy_says_refusals_are_kept(say: Say) -> None:
    (reply,) = await say("/privacy")
    assert "identyfikator użytkownika, to polecenie i czat" in reply.text
    await say("/language uk")
    (reply,) = await say("/privacy")
    assert "ідентифікатор користувача, команду й чат протягом 90 днів" in reply.text


async def test_a_refusal_through_telegram_is_audited(
    fake_bot_api: FakeBotApi, storage: Storage, settings: Settings
) -> None:
    configured = replace(
        settings, telegram_token=fake_bot_api.token, telegram_api_base_url=fake_bot_api.base_url
    )
    transport = TelegramTransport(configured, build_core(storage, configured), lambda _: None)
    await transport.start()
    try:
        await asyncio.wait_for(transport.ready.wait(), 10)
        admin = fake_bot_api.make_user("Admin", language_code="pl")
        member = fake_bot_api.make_user("Member", language_code="pl")
        group = fake_bot_api.add_group("Fundacja", admins=[admin], members=[member])
        fake_bot_api.inject_command(member, "language", "uk", chat=group)
        (refusal,) = await fake_bot_api.wait_for_messages(group.id, 1)
        assert "administratorzy" in refusal.text
    finally:
        await transport.stop()
    assert await _audit(storage) == [
        (f"telegram:{member.id}", "denied group setting", f"language in telegram:{group.id}")
    ]
