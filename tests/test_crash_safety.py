"""kill -9 of a dispatcher in the middle of a broadcast, then a restart: nobody is skipped and
at most the messages in flight (claimed, not yet recorded) are sent twice."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings
from bot.delivery.owner import new_owner, owner_is_gone
from bot.storage import Storage
from bot.transports.console import ConsoleTransport
from tests.conftest import bot_env
from tests.delivery_helpers import (
    FAST,
    add_chats,
    dispatcher_for,
    eventually,
    grant_fields,
    service_for,
    settled,
    state_counts,
)
from tests.dispatcher_process import CLAIM_SIZE

RECIPIENTS = 300


def inbox_count(db_path: Path) -> int:
    with sqlite3.connect(db_path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM console_inbox").fetchone()[0])


async def test_kill_9_mid_broadcast_then_restart_completes_it(
    storage: Storage, settings: Settings
) -> None:
    names = [f"r{i:03}" for i in range(RECIPIENTS)]
    await add_chats(storage, "console", names)
    announcement = await service_for(storage, settings).create(grant_fields(), actor="console:boss")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.dispatcher_process", str(settings.db_path)],
        env=bot_env(settings.db_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # Killed while a batch is claimed (between two batches nothing is in flight).
        await eventually(lambda: _mid_batch(settings.db_path, RECIPIENTS // 5), timeout=30)
    finally:
        process.send_signal(signal.SIGKILL)
        _out, errors = process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL, errors.decode(errors="replace")
    delivered_before = inbox_count(settings.db_path)
    in_flight = (await state_counts(storage, announcement.id))["pending"]
    claimed_row = await storage.db.fetch_one("SELECT COUNT(*) FROM outbox WHERE state = 'claimed'")
    assert claimed_row is not None
    claimed = int(claimed_row[0])
    assert delivered_before < RECIPIENTS, "the kill landed after the broadcast had finished"
    # Usually a batch is still claimed; should the kill land just after it was recorded, no
    # message may be repeated at all.
    assert claimed <= CLAIM_SIZE and in_flight >= claimed

    policy = dataclasses.replace(FAST, lease=0.2)
    await asyncio.sleep(policy.lease)  # the dead process's claims are now older than the lease
    dispatcher = dispatcher_for(
        storage, settings, {"console": ConsoleTransport(storage)}, policy=policy
    )
    await dispatcher.start()
    await eventually(lambda: settled(storage, announcement.id))
    await dispatcher.stop()

    rows = await storage.db.fetch_all(
        "SELECT c.chat_id, COUNT(i.id) AS n FROM chats c"
        " LEFT JOIN console_inbox i ON i.chat_ref = c.id GROUP BY c.id"
    )
    received = {row["chat_id"]: row["n"] for row in rows}
    assert set(received) == set(names)
    assert min(received.values()) == 1, "a recipient was skipped"
    twice = [name for name, n in received.items() if n > 1]
    assert max(received.values()) <= 2 and len(twice) <= claimed
    counts = await state_counts(storage, announcement.id)
    assert counts["sent"] == RECIPIENTS and counts["total"] == RECIPIENTS


def claimed_count(db_path: Path) -> int:
    with sqlite3.connect(db_path) as conn:
        return int(
            conn.execute("SELECT COUNT(*) FROM outbox WHERE state = 'claimed'").fetchone()[0]
        )


async def _mid_batch(db_path: Path, n: int) -> bool:
    return await asyncio.to_thread(lambda: inbox_count(db_path) >= n and claimed_count(db_path) > 0)


def test_a_claim_owner_is_gone_only_when_its_process_certainly_is() -> None:
    mine = new_owner()
    assert not owner_is_gone(mine)
    host, pid, _process, instance = mine.split("/")
    # The same process id with another process token: an earlier process (a restarted
    # container, where the bot is pid 1 again).
    assert owner_is_gone("/".join((host, pid, "0" * 8, instance)))
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = ended.stdout.strip()
    assert owner_is_gone("/".join((host, dead, "abcd1234", "0")))
    assert not owner_is_gone("/".join((host, str(os.getppid()), "abcd1234", "0")))  # alive
    assert not owner_is_gone("/".join(("elsewhere", dead, "abcd1234", "0")))  # not ours to judge
    assert not owner_is_gone("1234-abcd")  # an older format: the lease decides


@pytest.mark.dated
async def test_a_dispatcher_spares_its_own_batch_but_not_a_dead_senders_claims(
    storage: Storage, settings: Settings
) -> None:
    """Past the lease, a dead sender's claims go back to the queue; the live batch does not."""
    from datetime import timedelta

    from bot.clock import utcnow

    await add_chats(storage, "console", ["a", "b"])
    await service_for(storage, settings).create(grant_fields(), actor="console:boss")
    now = utcnow()
    await storage.announcements.publish_due(now)
    mine = await storage.outbox.claim("console", 1, now, owner="me")
    theirs = await storage.outbox.claim("console", 1, now, owner="dead")
    assert len(mine) == len(theirs) == 1
    assert await storage.outbox.requeue_expired(now + timedelta(hours=1), spare="me") == 1
    rows = await storage.db.fetch_all("SELECT id, state FROM outbox ORDER BY id")
    states = {row["id"]: row["state"] for row in rows}
    assert states[mine[0].id] == "claimed" and states[theirs[0].id] == "pending"
