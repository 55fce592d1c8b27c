"""Raw throughput of PTB's Bot.send_message against the fake Bot API server.

Usage: PYTHONPATH=. python benchmarks/fakebotapi_raw.py [-n 3000] [-c 1 2 8] [--server thread|process]

``thread`` runs the fake in this process (as the tests do); ``process`` starts it as a separate
``python -m tests.fakebotapi`` so the client does not share the GIL with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import telegram

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakebotapi import DEFAULT_TOKEN, FakeBotApi  # noqa: E402


@contextmanager
def fake_server(kind: str) -> Iterator[str]:
    """Yield the base URL of a running fake, in this process or in a child process."""
    if kind == "thread":
        with FakeBotApi() as api:
            yield api.base_url
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakebotapi"], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        fields = dict(part.split("=", 1) for part in line.split())
        yield fields["base_url"]
    finally:
        proc.terminate()
        proc.wait(10)


async def run(base_url: str, total: int, concurrency: int) -> float:
    """Send ``total`` messages to distinct chats with ``concurrency`` workers; return msgs/s."""
    bot = telegram.Bot(DEFAULT_TOKEN, base_url=base_url)
    async with bot:
        await bot.send_message(1, "warm-up")
        queue = iter(range(total))

        async def worker() -> None:
            for n in queue:
                await bot.send_message(1000 + n, f"Announcement <b>{n}</b>", parse_mode="HTML")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3000, help="messages per run")
    parser.add_argument("-c", type=int, nargs="+", default=[1, 2, 8], help="concurrency levels")
    parser.add_argument("--server", choices=["thread", "process"], default="thread")
    args = parser.parse_args()
    for concurrency in args.c:
        with fake_server(args.server) as base_url:
            rate = asyncio.run(run(base_url, args.n, concurrency))
        print(f"server={args.server} concurrency={concurrency:>2} n={args.n}: {rate:7.0f} msgs/s")


if __name__ == "__main__":
    main()
