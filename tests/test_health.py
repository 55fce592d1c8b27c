"""`ngo-bot health` means answering: the heartbeat, and each chat network's last poll or sync.

The decision on fixed moments; the heartbeat service's throttled writes; then the real
`ngo-bot run` against the fake Bot API (polling, a getUpdates that starts failing, webhook mode),
a console-only run on a terminal, and a Matrix sync reported against the test homeserver.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import DEFAULT_HEALTH_POLL_SECONDS, ConfigError, Settings
from bot.core.liveness import POLL, SYNC, Liveness
from bot.health import HEARTBEAT_LIMIT_SECONDS, HeartbeatService, judge, progress_write_seconds
from bot.storage import Storage
from bot.storage.heartbeat import Heartbeat, TransportProgress
from tests.conftest import BOT_COMMAND, bot_env
from tests.fakebotapi import FakeBotApi
from tests.matrix_helpers import MatrixResident, running_bot
from tests.synapse_server import MatrixUser, SynapseServer
from tests.test_matrix_transport import (  # bad_gateway: a fixture, used by name
    BadGateway,
    bad_gateway,  # noqa: F401
    eventually,
    sync_requests,
)
from tests.test_telegram_run import BotProcess, free_port

NOW = datetime(2026, 6, 17, 8, 0, tzinfo=UTC)
LIMIT = 120.0
WAIT_SECONDS = 40.0


def beat(started_ago: float = 600, beat_ago: float = 10, stopped: bool = False) -> Heartbeat:
    return Heartbeat(
        pid=4242,
        started_at=NOW - timedelta(seconds=started_ago),
        beat_at=NOW - timedelta(seconds=beat_ago),
        stopped_at=NOW if stopped else None,
    )


def progress(platform: str, activity: str, ago: float | None) -> TransportProgress:
    completed = None if ago is None else NOW - timedelta(seconds=ago)
    return TransportProgress(platform, activity, completed)


# ------------------------------------------------------------------------------ the decision


def test_no_running_bot_is_healthy() -> None:
    assert judge(None, [], NOW, LIMIT).healthy
    stopped = judge(beat(stopped=True, beat_ago=500), [progress("telegram", POLL, 900)], NOW, LIMIT)
    assert stopped.healthy and stopped.line == "ok: database opens; no bot is running on it"


def test_the_heartbeat_contract_still_holds() -> None:
    fresh = judge(beat(beat_ago=HEARTBEAT_LIMIT_SECONDS - 1), [], NOW, LIMIT)
    assert fresh.healthy and fresh.line == "ok: bot (pid 4242) alive, heartbeat 89 s ago"
    stale = judge(
        beat(beat_ago=HEARTBEAT_LIMIT_SECONDS), [progress("telegram", POLL, 1)], NOW, LIMIT
    )
    assert not stale.healthy
    assert stale.line == "unhealthy: bot (pid 4242) last heartbeat 90 s ago"


def test_a_transport_silent_past_the_limit_is_named() -> None:
    transports = [progress("matrix", SYNC, 20), progress("telegram", POLL, 312)]
    verdict = judge(beat(), transports, NOW, LIMIT)
    assert not verdict.healthy
    assert verdict.line == "unhealthy: telegram last completed a poll 312 s ago (limit 120 s)"


def test_every_silent_transport_is_named_on_one_line() -> None:
    transports = [progress("matrix", SYNC, 130), progress("telegram", POLL, 121)]
    line = judge(beat(), transports, NOW, LIMIT).line
    assert "\n" not in line
    assert line == (
        "unhealthy: matrix last completed a sync 130 s ago; "
        "telegram last completed a poll 121 s ago (limit 120 s)"
    )


def test_before_the_first_poll_the_silence_counts_from_the_start() -> None:
    starting = judge(
        beat(started_ago=15, beat_ago=15), [progress("telegram", POLL, None)], NOW, LIMIT
    )
    assert starting.healthy
    assert "telegram has not completed a poll since the bot started 15 s ago" in starting.line
    deaf = judge(beat(started_ago=130), [progress("telegram", POLL, None)], NOW, LIMIT)
    assert not deaf.healthy
    assert deaf.line == (
        "unhealthy: telegram has not completed a poll since the bot started 130 s ago (limit 120 s)"
    )


def test_a_healthy_line_says_what_each_transport_last_did() -> None:
    transports = [progress("matrix", SYNC, 31), progress("telegram", POLL, 119)]
    verdict = judge(beat(), transports, NOW, LIMIT)
    assert verdict.healthy
    assert verdict.line == (
        "ok: bot (pid 4242) alive, heartbeat 10 s ago; "
        "matrix last completed a sync 31 s ago, telegram last completed a poll 119 s ago"
    )


def test_a_clock_behind_the_bot_never_gives_negative_ages() -> None:
    verdict = judge(beat(beat_ago=-3), [progress("telegram", POLL, -2)], NOW, LIMIT)
    assert verdict.healthy and "-" not in verdict.line


def test_the_limit_comes_from_the_environment() -> None:
    assert Settings.from_env({}).health_poll_seconds == DEFAULT_HEALTH_POLL_SECONDS == 120
    assert Settings.from_env({"BOT_HEALTH_POLL_SECONDS": "2.5"}).health_poll_seconds == 2.5
    for bad in ("soon", "0", "-5", "nan", "100000"):
        with pytest.raises(ConfigError, match="BOT_HEALTH_POLL_SECONDS"):
            Settings.from_env({"BOT_HEALTH_POLL_SECONDS": bad})
    assert progress_write_seconds(120) == 5
    assert progress_write_seconds(2) == 1.0
    assert progress_write_seconds(0.01) == 1.0  # never a write loop


# -------------------------------------------------------------------- the heartbeat service


async def test_progress_is_recorded_throttled(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    liveness = Liveness()
    liveness.expect("telegram", POLL)
    service = HeartbeatService(storage, liveness, write_seconds=0.3)
    writes: list[int] = []
    record = storage.heartbeat.progressed

    async def counted(completed: Mapping[str, datetime]) -> None:
        writes.append(len(completed))
        await record(completed)

    monkeypatch.setattr(storage.heartbeat, "progressed", counted)
    await service.start()
    try:
        (registered,) = await storage.heartbeat.progress()
        assert registered == TransportProgress("telegram", POLL, None)
        loop = asyncio.get_running_loop()
        began = loop.time()
        for _poll in range(50):  # a busy bot: 50 polls in about 0.5 s
            liveness.completed("telegram")
            await asyncio.sleep(0.01)
        busy = loop.time() - began
        await asyncio.sleep(0.4)
        (recorded,) = await storage.heartbeat.progress()
        assert recorded.completed_at == liveness.last_completed["telegram"]
        assert 1 <= len(writes) <= busy / 0.3 + 2 and len(writes) < 50
    finally:
        await service.stop()
    stopped = await storage.heartbeat.get()
    assert stopped is not None and stopped.stopped_at is not None


async def test_a_new_run_replaces_the_last_runs_transports(storage: Storage) -> None:
    await storage.heartbeat.started(1, {"telegram": POLL, "matrix": SYNC})
    await storage.heartbeat.progressed({"telegram": NOW})
    await storage.heartbeat.started(2, {"matrix": SYNC})
    assert await storage.heartbeat.progress() == [TransportProgress("matrix", SYNC, None)]


# ------------------------------------------------------------------ through the real process


def health(db_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BOT_COMMAND, "health"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=bot_env(db_path, **env),
        timeout=60,
        check=False,
    )


def health_until(
    db_path: Path,
    wanted: Callable[[subprocess.CompletedProcess[str]], bool],
    what: str,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """Run `ngo-bot health` until its answer is the wanted one (AssertionError after a while)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        result = health(db_path, **env)
        if wanted(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"health never said {what}; last: {result.stdout!r}")
        time.sleep(0.3)


def test_a_polling_bot_is_healthy_and_says_when_it_last_polled(
    fake_bot_api: FakeBotApi, tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    api = fake_bot_api
    bot = BotProcess(tmp_path, api.env())
    run_bot.append(bot)
    anna = api.make_user("Anna")
    api.inject_command(anna, "help")
    api.wait_for_messages_sync(anna.id, 1, timeout=30)
    result = health_until(
        bot.db_path, lambda r: "telegram last completed a poll" in r.stdout, "telegram polled"
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith(f"ok: bot (pid {bot.process.pid}) alive")
    code, _took = bot.terminate()
    assert code == 0, bot.log()
    assert "no bot is running" in health(bot.db_path).stdout


def test_a_bot_whose_polls_fail_is_unhealthy_naming_telegram(
    fake_bot_api: FakeBotApi, tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    api = fake_bot_api
    bot = BotProcess(tmp_path, api.env())
    run_bot.append(bot)
    anna = api.make_user("Anna")
    api.inject_command(anna, "help")
    api.wait_for_messages_sync(anna.id, 1, timeout=30)
    health_until(bot.db_path, lambda r: "telegram last completed a poll" in r.stdout, "polled")
    api.fail_with_bad_gateway(times=None, method="getUpdates")
    api.inject_command(anna, "start")  # ends the long poll in flight: the next ones fail
    result = health_until(
        bot.db_path,
        lambda r: r.returncode != 0,
        "unhealthy",
        BOT_HEALTH_POLL_SECONDS="3",
    )
    assert result.returncode == 1
    assert result.stdout.startswith("unhealthy: telegram last completed a poll ")
    assert result.stdout.rstrip("\n").endswith("s ago (limit 3 s)")
    assert result.stdout.count("\n") == 1
    assert any(call.status == 502 for call in api.calls("getUpdates"))
    assert bot.process.poll() is None  # alive, and deaf: exactly what health must catch
    api.clear_faults()
    api.inject_command(anna, "help")
    api.wait_for_messages_sync(anna.id, 3, timeout=60)
    recovered = health_until(
        bot.db_path, lambda r: r.returncode == 0, "ok again", BOT_HEALTH_POLL_SECONDS="3"
    )
    assert "telegram last completed a poll" in recovered.stdout


def test_webhook_mode_counts_checks_of_the_webhook(
    fake_bot_api: FakeBotApi, tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    api = fake_bot_api
    port = free_port()
    limit = {"BOT_HEALTH_POLL_SECONDS": "2"}  # the bot then checks every 0.5 s
    bot = BotProcess(
        tmp_path,
        {
            **api.env(),
            **limit,
            "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/hook",
            "TELEGRAM_WEBHOOK_SECRET": "s3cret-value",
            "TELEGRAM_WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        },
    )
    run_bot.append(bot)
    api.wait_for(lambda: api.calls("getWebhookInfo"), timeout=30, what="a webhook check")
    healthy = health_until(bot.db_path, lambda r: r.returncode == 0, "ok", **limit)
    assert "telegram last completed a webhook check" in healthy.stdout
    api.fail_with_bad_gateway(times=None, method="getWebhookInfo")  # Telegram out of reach
    result = health_until(bot.db_path, lambda r: r.returncode != 0, "unhealthy", **limit)
    assert result.stdout.startswith("unhealthy: telegram last completed a webhook check ")
    assert not api.calls("getUpdates")
    code, _took = bot.terminate()
    assert code == 0, bot.log()


@contextlib.contextmanager
def console_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, list[bytes]]]:
    """A console-only `ngo-bot run` on a pseudo-terminal; its output collected by a thread."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [*BOT_COMMAND, "run"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tmp_path,
        env=bot_env(tmp_path / "bot.sqlite3"),
    )
    os.close(slave)
    output: list[bytes] = []

    def drain() -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(master, 4096):
                output.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        yield process, master, output
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        os.close(master)
        reader.join(5)


def test_a_console_only_run_counts_as_a_running_bot(tmp_path: Path) -> None:
    db_path = tmp_path / "bot.sqlite3"
    with console_run(tmp_path) as (process, terminal, output):
        result = health_until(db_path, lambda r: "alive" in r.stdout, "a bot alive")
        assert result.returncode == 0
        assert result.stdout.startswith(f"ok: bot (pid {process.pid}) alive, heartbeat ")
        assert "telegram" not in result.stdout and "matrix" not in result.stdout
        os.write(terminal, b"/quit\n")
        assert process.wait(30) == 0, b"".join(output).decode(errors="replace")
    assert "console:" in b"".join(output).decode(errors="replace")  # its greeting
    after = health(db_path)
    assert after.returncode == 0 and "no bot is running" in after.stdout


# -------------------------------------------------------------------------------- Matrix


async def test_each_completed_matrix_sync_is_reported(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    resident: MatrixResident,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    gateway: BadGateway = request.getfixturevalue("bad_gateway")
    async with running_bot(synapse, bot_user, tmp_path / "bot.sqlite3") as bot:
        liveness = bot.core.liveness
        assert liveness.activities == {"matrix": SYNC}
        room = await resident.start_chat_with_bot()
        first = liveness.last_completed["matrix"]
        assert "Co potrafię:" in (await resident.ask(room, "!help"))["body"]
        await eventually(lambda: liveness.last_completed["matrix"] > first, "a later sync")
        client = bot.transport.client
        real, client.homeserver = client.homeserver, gateway.url
        try:
            # Something the bot ignores ends the poll in flight: the next ones hit the proxy.
            await resident.say(room, "a notice", extra={"msgtype": "m.notice"})
            await eventually(lambda: len(sync_requests(gateway)) >= 1, "a failed sync")
            last_good = liveness.last_completed["matrix"]
            await eventually(lambda: len(sync_requests(gateway)) >= 3, "failed syncs")
            assert liveness.last_completed["matrix"] == last_good  # failures are not progress
        finally:
            client.homeserver = real
        await eventually(lambda: liveness.last_completed["matrix"] > last_good, "recovery")
