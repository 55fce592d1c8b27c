"""Shared fixtures: a real SQLite file per test, the core over it, and a way to talk to it."""

from __future__ import annotations

import inspect
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine

from bot.app import build_core
from bot.config import Settings
from bot.core.messages import ChatKind, ChatRef, Incoming, Reply
from bot.core.service import Core
from bot.storage import Storage

# PTB 22 warns on every 429 unless durations are timedeltas; the bot opts in the same way.
os.environ.setdefault("PTB_TIMEDELTA", "true")

pytest_plugins = [
    "tests.fixtures_matrix",
    "tests.fixtures_telegram",
    "tests.matrix_helpers",
    "tests.matrix_e2ee_helpers",
]

ROOT = Path(__file__).resolve().parent.parent
CLOCK_SHIM = ROOT / "tests" / "clockshim"

# Every test starts at this moment (the clock then ticks): no test reads today's date.
# NGO_TEST_NOW=<ISO 8601 with offset> starts them elsewhere (.ci/run runs the date-sensitive
# tests at several such moments); NGO_TEST_NOW=real leaves the real clock in place.
DEFAULT_TEST_NOW = "2026-06-17T10:00:00+02:00"


def parse_moment(value: str, source: str = "NGO_TEST_NOW") -> datetime | None:
    """A moment as NGO_TEST_NOW or --test-now gives it, or None for the real clock."""
    if value == "real":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise pytest.UsageError(f"{source} is no ISO 8601 moment: {value!r}") from None
    if moment.tzinfo is None:
        raise pytest.UsageError(f"{source} needs an offset: {value!r}")
    return moment


def injected_now() -> datetime | None:
    """The moment tests start at (NGO_TEST_NOW or the default), or None for the real clock."""
    return parse_moment(os.environ.get("NGO_TEST_NOW", DEFAULT_TEST_NOW))


# --test-now=MOMENT (repeatable) runs each `dated` test once at every MOMENT given, in ONE session
# (the other tests run once, at NGO_TEST_NOW or the default): .ci/run uses it for its fixed
# moments, so the session's setup (collection, each worker's Synapse) happens once and the
# moments' waits overlap. Each copy's id names its moment
# (`test_x[now=2027-03-28T01:30:00+01:00]`), so a failure says at which moment it failed.
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--test-now",
        action="append",
        default=[],
        metavar="MOMENT",
        help="run each test marked `dated` at MOMENT (ISO 8601 with offset, or 'real'); "
        "repeat it for several moments in one session (NGO_TEST_NOW is then ignored for them)",
    )


def pytest_configure(config: pytest.Config) -> None:
    moments: list[str] = config.getoption("test_now")
    for value in moments:
        parse_moment(value, "--test-now")
    if len(set(moments)) != len(moments):
        raise pytest.UsageError(f"--test-now repeats a moment: {moments}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    moments: list[str] = metafunc.config.getoption("test_now")
    if moments and metafunc.definition.get_closest_marker("dated"):
        metafunc.parametrize("clock_moment", moments, ids=[f"now={m}" for m in moments])


@pytest.fixture
def clock_moment() -> str:
    """The moment this test starts at: NGO_TEST_NOW or the default (--test-now overrides it)."""
    return os.environ.get("NGO_TEST_NOW", DEFAULT_TEST_NOW)


_clock_offset: float | None = None  # seconds between the tests' clock and the real one

# A test that reads or moves the clock itself must carry the `dated` mark, or .ci/run would not
# run it at its fixed moments. (Tests that reach the clock only through the bot's code are marked
# from a measurement: see the README's Development section.)
_READS_THE_CLOCK = re.compile(
    r"\b(utcnow|datetime\.now|date\.today|time_machine|injected_now|NGO_TEST_NOW)\b"
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = []
    for item in items:
        function = getattr(item, "function", None)
        if function is None or item.get_closest_marker("dated"):
            continue
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):  # no source to read: nothing to check
            continue
        if _READS_THE_CLOCK.search(source):
            unmarked.append(item.nodeid)
    if unmarked:
        raise pytest.UsageError(
            "these tests read or move the clock but are not marked "
            "@pytest.mark.dated:\n  " + "\n  ".join(unmarked)
        )
    if config.getoption("test_now"):
        # With --dist loadgroup, xdist hands out each file (its copies at each moment apart) as one
        # unit: a file's tests stay together as with --dist loadfile, and the copies of a slow
        # file at different moments can run on different workers at once.
        dated = 0
        for item in items:
            callspec = getattr(item, "callspec", None)
            group = item.path.name
            if callspec is not None and "clock_moment" in callspec.params:
                dated += 1
                group += "@" + callspec.params["clock_moment"]
            item.add_marker(pytest.mark.xdist_group(group))
        # As `-m dated` finding nothing fails (exit 5), so does --test-now with no dated test.
        if not dated:
            raise pytest.UsageError("--test-now: none of the collected tests is marked dated")


@pytest.fixture(autouse=True)
def injected_clock(request: pytest.FixtureRequest, clock_moment: str) -> Iterator[None]:
    """Run each test on the injected clock, and hand the same clock to its bot subprocesses.

    Tests against a real Synapse keep the real clock: the homeserver's timestamps are real.
    """
    global _clock_offset
    moment = parse_moment(clock_moment)
    if moment is None or "synapse" in request.fixturenames:
        yield
        return
    with time_machine.travel(moment, tick=True):
        _clock_offset = time.time() - time_machine.escape_hatch.time.time()
        try:
            yield
        finally:
            _clock_offset = None


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
    if _clock_offset is not None:
        env.update(
            NGO_TEST_CLOCK_OFFSET=repr(_clock_offset),
            PYTHONPATH=os.pathsep.join((str(CLOCK_SHIM), str(ROOT))),
        )
    env.update(extra)
    return env


BOT_COMMAND = [sys.executable, "-m", "bot"]


@pytest.fixture
def run_bot() -> Iterator[list[Any]]:
    """Bot processes (tests.test_telegram_run.BotProcess) a test starts: killed at its end."""
    started: list[Any] = []
    yield started
    for bot in started:
        bot.kill()
