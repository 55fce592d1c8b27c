"""Talking HTTP to a real `ngo-bot run` with BOT_WEB_LISTEN (tests of the web server)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from tests.test_telegram_run import BotProcess, free_port


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def get(url: str, headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> Answer:
    """One GET; an HTTP error status is an answer too, not an exception."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read())


class WebBot:
    """`ngo-bot run` with its web server on 127.0.0.1 and a free port."""

    def __init__(self, tmp_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.bot = BotProcess(tmp_path, {"BOT_WEB_LISTEN": f"127.0.0.1:{self.port}", **(env or {})})

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Answer:
        return get(self.url(path), headers)

    def wait_until_up(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.bot.process.poll() is not None:
                raise AssertionError(f"the bot exited {self.bot.process.returncode}: {self.log()}")
            try:
                get(self.url("/healthz"), timeout=2)
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"the web server did not answer within {timeout} s: {self.log()}")

    def log(self) -> str:
        return self.bot.log()
