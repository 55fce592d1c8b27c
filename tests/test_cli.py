"""The `ngo-bot` command line: exit codes, stats, health, database tools, logging hygiene."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import BotRuntime, build_core
from bot.clock import to_db, utcnow
from bot.config import ConfigError, Settings, parse_quiet_hours
from bot.logs import RedactSecrets
from bot.storage import Storage
from tests.conftest import BOT_COMMAND, bot_env


def ngo_bot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BOT_COMMAND, *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
        env=bot_env(tmp_path / "bot.sqlite3", **env),
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [[], ["run"], ["chat"], ["db"], ["db", "migrate"], ["db", "backup"], ["stats"], ["health"]],
)
def test_every_command_has_help(tmp_path: Path, command: list[str]) -> None:
    result = ngo_bot(tmp_path, *command, "--help")
    assert result.returncode == 0 and "usage: ngo-bot" in result.stdout


@pytest.mark.parametrize("args", [["nonsense"], ["db"], ["db", "backup"], ["stats", "--xml"], []])
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = ngo_bot(tmp_path, *args)
    assert result.returncode == 2 and "usage:" in result.stderr


def test_bad_configuration_exits_2_naming_the_variable(tmp_path: Path) -> None:
    result = ngo_bot(tmp_path, "stats", BOT_TIMEZONE="Mars/Olympus")
    assert result.returncode == 2 and "BOT_TIMEZONE" in result.stderr


def test_run_without_a_network_and_without_a_terminal_exits_2(tmp_path: Path) -> None:
    result = ngo_bot(tmp_path, "run")
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr and "MATRIX_HOMESERVER" in result.stderr


def test_python_dash_m_and_version(tmp_path: Path) -> None:
    result = ngo_bot(tmp_path, "--version")
    assert result.returncode == 0 and result.stdout.startswith("ngo-bot ")


@pytest.mark.dated
def test_db_migrate_then_again(tmp_path: Path) -> None:
    first = ngo_bot(tmp_path, "db", "migrate")
    assert first.returncode == 0 and "applied 0001_foundation" in first.stdout
    second = ngo_bot(tmp_path, "db", "migrate")
    assert second.returncode == 0 and "applied" not in second.stdout


@pytest.mark.dated
def test_db_backup(tmp_path: Path) -> None:
    ngo_bot(tmp_path, "db", "migrate")
    result = ngo_bot(tmp_path, "db", "backup", str(tmp_path / "b" / "copy.sqlite3"))
    assert result.returncode == 0
    with sqlite3.connect(tmp_path / "b" / "copy.sqlite3") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    onto_itself = ngo_bot(tmp_path, "db", "backup", str(tmp_path / "bot.sqlite3"))
    assert onto_itself.returncode == 2


def test_db_backup_without_database_fails(tmp_path: Path) -> None:
    result = ngo_bot(tmp_path, "db", "backup", str(tmp_path / "copy.sqlite3"))
    assert result.returncode == 1 and "no database" in result.stderr


def test_stats_text(tmp_path: Path) -> None:
    result = ngo_bot(tmp_path, "stats")
    assert result.returncode == 0 and "chats: 0 (active: 0)" in result.stdout


def set_heartbeat(db_path: Path, age_seconds: float, stopped: bool = False) -> None:
    beat = to_db(utcnow() - timedelta(seconds=age_seconds))
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO heartbeat (name, pid, started_at, beat_at, stopped_at)"
            " VALUES ('run', 99, ?, ?, ?)",
            (beat, beat, beat if stopped else None),
        )


@pytest.mark.dated
def test_health(tmp_path: Path) -> None:
    assert ngo_bot(tmp_path, "health").returncode == 1  # no database yet
    ngo_bot(tmp_path, "db", "migrate")
    assert ngo_bot(tmp_path, "health").returncode == 0  # opens, no bot running
    set_heartbeat(tmp_path / "bot.sqlite3", 10)
    assert ngo_bot(tmp_path, "health").returncode == 0
    set_heartbeat(tmp_path / "bot.sqlite3", 200)
    stale = ngo_bot(tmp_path, "health")
    assert stale.returncode == 1 and "unhealthy" in stale.stdout
    set_heartbeat(tmp_path / "bot.sqlite3", 200, stopped=True)
    assert ngo_bot(tmp_path, "health").returncode == 0


def test_health_of_a_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / "bot.sqlite3").write_bytes(b"garbage" * 1000)
    result = ngo_bot(tmp_path, "health")
    assert result.returncode == 1


@pytest.mark.dated
async def test_runtime_beats_and_stops_cleanly(settings: Settings) -> None:
    storage = await Storage.open(settings.db_path)
    runtime = BotRuntime(settings, storage, build_core(storage, settings))
    task = asyncio.create_task(runtime.run())
    for _attempt in range(100):
        beat = await storage.heartbeat.get()
        if beat is not None:
            break
        await asyncio.sleep(0.01)
    assert beat is not None and beat.stopped_at is None
    runtime.request_stop()
    await asyncio.wait_for(task, timeout=5)
    stopped = await storage.heartbeat.get()
    assert stopped is not None and stopped.stopped_at is not None
    await storage.close()


@pytest.mark.dated
def test_secrets_are_redacted_from_logs(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redact")
    redact = RedactSecrets(["123456:SECRET-TOKEN", "hunter22"])
    logger.addFilter(redact)
    try:
        with caplog.at_level(logging.INFO, logger="test.redact"):
            logger.info("POST https://api.telegram.org/bot%s/getMe", "123456:SECRET-TOKEN")
            try:
                raise ValueError("password hunter22 rejected")
            except ValueError:
                logger.exception("login failed")
    finally:
        logger.removeFilter(redact)
    text = caplog.text
    assert "SECRET-TOKEN" not in text and "hunter22" not in text and "[redacted]" in text


@pytest.mark.dated
def test_settings_validation() -> None:
    with pytest.raises(ConfigError, match="BOT_ADMINS"):
        Settings.from_env({"BOT_ADMINS": "bob"})
    with pytest.raises(ConfigError, match="TELEGRAM_MAX_RATE"):
        Settings.from_env({"TELEGRAM_MAX_RATE": "fast"})
    with pytest.raises(ConfigError, match="BOT_DEFAULT_LANGUAGE"):
        Settings.from_env({"BOT_DEFAULT_LANGUAGE": "de"})
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_LISTEN"):
        Settings.from_env({"TELEGRAM_WEBHOOK_LISTEN": "nowhere"})
    settings = Settings.from_env(
        {
            "BOT_ADMINS": "telegram:1, matrix:@a:b",
            "TELEGRAM_BOT_TOKEN": "1:abc",
            "BOT_QUIET_HOURS": "off",
        }
    )
    assert settings.admins == {"telegram:1", "matrix:@a:b"}
    assert settings.quiet_hours is None
    assert "1:abc" not in repr(settings)


@pytest.mark.dated
def test_quiet_hours_wrap_around_midnight() -> None:
    from datetime import time

    hours = parse_quiet_hours("21:00-08:00")
    assert hours is not None
    assert hours.contains(time(23, 0)) and hours.contains(time(7, 59))
    assert not hours.contains(time(8, 0)) and not hours.contains(time(12, 0))
    day = parse_quiet_hours("12:00-13:00")
    assert day is not None and day.contains(time(12, 30)) and not day.contains(time(13, 0))


def test_stats_json_schema(tmp_path: Path) -> None:
    result = ngo_bot(tmp_path, "stats", "--json")
    assert json.loads(result.stdout) == {
        "chats": 0,
        "active": 0,
        "by_platform": {},
        "by_language": {},
        "by_topic": {},
    }
