"""FAQ answers as people see them: short paragraphs and list lines, the links last, one message.

Telegram through python-telegram-bot's real HTTP stack against the fake Bot API (which parses
the HTML like Telegram and enforces the 4096-character limit); Matrix against the real test
homeserver.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import build_core
from bot.config import Settings
from bot.core.markup import utf16_length
from bot.faq import load_faq
from bot.faq.content import FaqAnswerText
from bot.storage import Storage
from bot.transports.telegram import TelegramTransport
from tests.fakebotapi import FakeBotApi
from tests.matrix_helpers import MakeResident, running_bot
from tests.synapse_server import MatrixUser, SynapseServer

TELEGRAM_TEXT_LIMIT = 4096  # characters after entity parsing (shared/telegram/limits.md)


def as_shown(answer: FaqAnswerText) -> str:
    """The whole message a person reads: title, the answer's paragraphs, then the links."""
    return "\n\n".join(
        [answer.title, answer.text, *(["\n".join(answer.links)] if answer.links else [])]
    )


@pytest.fixture
async def telegram(
    fake_bot_api: FakeBotApi, storage: Storage, settings: Settings
) -> AsyncIterator[FakeBotApi]:
    configured = replace(
        settings, telegram_token=fake_bot_api.token, telegram_api_base_url=fake_bot_api.base_url
    )
    fatal: list[str] = []
    transport = TelegramTransport(configured, build_core(storage, configured), fatal.append)
    await transport.start()
    await asyncio.wait_for(transport.ready.wait(), 10)
    yield fake_bot_api
    await transport.stop()
    assert fatal == []


@pytest.mark.parametrize("language", ["pl", "uk", "en"])
async def test_every_answer_reaches_telegram_as_written_with_the_links_last(
    telegram: FakeBotApi, language: str
) -> None:
    content = load_faq()
    person = telegram.make_user(f"asker-{language}", language_code=language)
    for count, faq_id in enumerate(content.ids, start=1):
        telegram.inject_command(person, "faq", faq_id)
        sent = (await telegram.wait_for_messages(person.id, count))[-1]
        answer = content.entry(faq_id).answer(language)
        assert sent.parse_mode == "HTML"
        # What Telegram shows once it has parsed the HTML: the paragraphs and list lines
        # exactly as written (blank lines kept), the links on their own lines at the end.
        assert sent.plain_text == as_shown(answer), faq_id
        assert sent.plain_text.endswith(answer.links[-1] if answer.links else answer.text)
        assert utf16_length(sent.plain_text) <= TELEGRAM_TEXT_LIMIT, faq_id


async def test_a_matrix_answer_keeps_its_paragraphs_and_list_lines(
    synapse: SynapseServer, bot_user: MatrixUser, make_resident: MakeResident, tmp_path: Path
) -> None:
    content = load_faq()
    answer = content.entry("small-grants").answer("pl")
    assert "\n\n" in answer.text and "\n• " in answer.text  # a paragraph break and a list
    olena = await make_resident("olena")
    async with running_bot(synapse, bot_user, tmp_path / "bot.sqlite3"):
        room = await olena.start_chat_with_bot()
        notice = await olena.ask(room, "!faq small-grants")
    assert notice["body"] == as_shown(answer)
    html = notice["formatted_body"]
    assert html.startswith(f"<b>{answer.title}</b><br><br>")
    assert "<br><br>• do 10 000 zł" in html and "<br>• realizacja do 90 dni" in html
    assert "\n" not in html
    assert html.endswith(f'<a href="{answer.links[-1]}">{answer.links[-1]}</a>')
