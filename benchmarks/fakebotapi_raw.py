"""Raw throughput of PTB's Bot.send_message against the fake Bot API server.

Usage: python benchmarks/fakebotapi_raw.py [-n 3000] [-c 1 2 8] [--server thread|process|canned]

``thread`` runs the fake in this process (as the tests do); ``process`` starts it as a separate
``python -m tests.fakebotapi`` so the client does not share the GIL with it; ``canned`` is a
do-nothing HTTP server in a thread answering every request with the same JSON, which shows the
ceiling set by PTB (httpx) itself on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import telegram

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakebotapi import DEFAULT_TOKEN, FakeBotApi  # noqa: E402

# One announcement to many chats, as a broadcast sends it.
ANNOUNCEMENT = (
    "<b>Nabór wniosków: Kraków dla NGO 2025</b>\n"
    "Termin składania ofert mija <b>15 marca o 16:00</b>. Szczegóły i formularze: "
    '<a href="https://www.ngo.krakow.pl/">ngo.krakow.pl</a>.\n'
    "<i>Pytania? Napisz /help albo zapytaj o &quot;wkład własny&quot;.</i>"
)

_CANNED_BOT = b'{"id":7000000001,"is_bot":true,"first_name":"B","username":"b"}'
_CANNED_MESSAGE = b'{"message_id":1,"date":1,"chat":{"id":1,"type":"private"},"text":"x"}'


class _CannedProtocol(asyncio.Protocol):
    """Answers each HTTP request with a fixed result; no parsing beyond framing."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            result = _CANNED_BOT if b"/getMe " in head else _CANNED_MESSAGE
            body = b'{"ok":true,"result":' + result + b"}"
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )


@contextmanager
def canned_server() -> Iterator[str]:
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    ports: list[int] = []

    def serve() -> None:
        server = loop.run_until_complete(loop.create_server(_CannedProtocol, "127.0.0.1", 0))
        ports.append(server.sockets[0].getsockname()[1])
        ready.set()
        loop.run_forever()
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{ports[0]}/bot"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@contextmanager
def fake_server(kind: str) -> Iterator[str]:
    """Yield the base URL of a running server of the given kind."""
    if kind == "canned":
        with canned_server() as base_url:
            yield base_url
        return
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
        fields = dict(part.split("=", 1) for part in proc.stdout.readline().split())
        yield fields["base_url"]
    finally:
        proc.terminate()
        proc.wait(10)


async def run(base_url: str, total: int, concurrency: int) -> float:
    """Send ``total`` messages to distinct chats with ``concurrency`` workers; return msgs/s."""
    bot = telegram.Bot(DEFAULT_TOKEN, base_url=base_url)
    sent = 0
    async with bot:
        await bot.send_message(1, "warm-up")
        queue = iter(range(total))

        async def worker() -> None:
            nonlocal sent
            for n in queue:
                await bot.send_message(1000 + n, ANNOUNCEMENT, parse_mode="HTML")
                sent += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    assert sent == total
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3000, help="messages per run")
    parser.add_argument("-c", type=int, nargs="+", default=[1, 2, 8], help="concurrency levels")
    parser.add_argument("--server", choices=["thread", "process", "canned"], default="thread")
    args = parser.parse_args()
    for concurrency in args.c:
        with fake_server(args.server) as base_url:
            rate = asyncio.run(run(base_url, args.n, concurrency))
        label = f"server={args.server:<7} concurrency={concurrency:>2} n={args.n}"
        print(f"{label}: {rate:5.0f} msgs/s")


if __name__ == "__main__":
    main()
