"""pytest fixtures for the fake Telegram Bot API (load with ``pytest_plugins``).

- ``fake_bot_api``: a running :class:`~tests.fakebotapi.FakeBotApi` on 127.0.0.1 (per test).
  On teardown it fails the test if the fake itself raised (``internal_errors``).
- ``fake_bot_api_env``: ``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_API_BASE_URL`` for a bot subprocess.
- ``ptb_bot``: an initialized ``telegram.Bot`` talking to the fake (getMe already done).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import telegram

from tests.fakebotapi import FakeBotApi


@pytest.fixture
def fake_bot_api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as api:
        yield api
    assert not api.internal_errors, f"the fake Bot API itself failed: {api.internal_errors}"


@pytest.fixture
def fake_bot_api_env(fake_bot_api: FakeBotApi) -> dict[str, str]:
    return fake_bot_api.env()


@pytest.fixture
async def ptb_bot(fake_bot_api: FakeBotApi) -> AsyncIterator[telegram.Bot]:
    bot = telegram.Bot(fake_bot_api.token, base_url=fake_bot_api.base_url)
    async with bot:
        yield bot
