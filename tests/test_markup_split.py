"""The splitter measures what Telegram counts (the text after entity parsing), so a message that
fits is never split, and one that does not is cut into valid parts that each fit (issue 10)."""

from __future__ import annotations

import asyncio
import html
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.announcements.render import render_publication
from bot.app import build_core
from bot.config import Settings
from bot.core.markup import escape, link, rendered_length, split_markup, utf16_length
from bot.core.messages import MAX_MESSAGE_LENGTH, Reply
from bot.core.topics import load_topics
from bot.storage import Storage
from bot.transports.base import OutcomeKind
from bot.transports.telegram import TelegramTransport
from tests.delivery_helpers import add_chats, eventually, grant_fields, settled, state_counts
from tests.fakebotapi import FakeBotApi
from tests.fakebotapi_text import format_text
from tests.test_broadcast_telegram import announce, readers
from tests.test_telegram_run import BotProcess

LIMIT = MAX_MESSAGE_LENGTH


def telegram_text(markup: str) -> str:
    """The text Telegram shows for markup (raises if the HTML is broken, as Telegram refuses)."""
    return format_text(markup, "HTML", strict_html=True).text


def maximal_title() -> str:
    return ("Konkurs <NGO> & partnerzy „Kraków” " * 10)[:199] + "!"


def maximal_text() -> str:
    line = "Oferty <do 30 kwietnia> & wkład własny 10% — fundacje & stowarzyszenia.\n"
    return (line * 60)[:2999] + "."


def maximal_url() -> str:
    base = "https://ngo.krakow.pl/konkursy?rok=2027&typ=otwarty"
    return base + "&x=1" * ((300 - len(base)) // 4)


# --- measuring ---------------------------------------------------------------------------


def test_the_rendered_length_is_what_telegram_counts() -> None:
    markup = "<b>a &amp; b</b> &lt;i&gt; " + link("https://example.org/?a=1&b=2", "link") + " 😀"
    assert rendered_length(markup) == utf16_length(telegram_text(markup))
    assert rendered_length("&amp;" * 10) == 10
    assert rendered_length("&#x27;&#39;&quot;") == 3
    assert rendered_length("&#x1F600;") == 2  # one astral character is two UTF-16 units


# --- what fits is one message ----------------------------------------------------------------


def test_a_text_whose_escaped_html_is_long_but_fits_is_not_split() -> None:
    markup = "<b>" + escape("&<" * 2000) + "</b>"  # 4000 rendered, 18,000 as HTML
    assert utf16_length(markup) > LIMIT
    assert split_markup(markup, LIMIT) == [markup]


def test_exactly_the_limit_is_one_message_one_more_is_two() -> None:
    exact = "&amp;" * LIMIT
    assert split_markup(exact, LIMIT) == [exact]
    parts = split_markup(exact + "x", LIMIT)
    assert len(parts) == 2 and "".join(parts) == exact + "x"


def test_a_maximal_announcement_with_ampersands_and_angles_fits_in_one_message() -> None:
    fields = grant_fields(title=maximal_title(), text=maximal_text(), url=maximal_url())
    topics = load_topics(None)
    markup = render_publication(fields, "pl", topics, ZoneInfo("Europe/Warsaw"), prefix="/")
    assert utf16_length(markup) > LIMIT  # the old measure split it in two
    assert rendered_length(markup) <= LIMIT
    assert split_markup(markup, LIMIT) == [markup]


# --- what does not fit is cut safely ---------------------------------------------------------


def long_markup() -> str:
    lines = [f"<b>Linia {n}</b> &amp; <i>{escape('<tekst> & ' * 30)}</i>" for n in range(20)]
    return "\n".join(lines) + "\n" + link("https://ngo.krakow.pl/?a=1&b=2", "koniec & <link>")


def test_a_text_over_the_limit_is_cut_into_valid_parts_that_each_fit() -> None:
    markup = long_markup()
    assert rendered_length(markup) > LIMIT
    parts = split_markup(markup, LIMIT)
    assert len(parts) == 2
    texts = [telegram_text(part) for part in parts]  # every part is valid HTML
    assert all(utf16_length(text) <= LIMIT for text in texts)
    assert all(
        utf16_length(text) <= rendered_length(part) for part, text in zip(parts, texts, strict=True)
    )
    # Cut at a line break, nothing lost (Telegram drops a message's trailing spaces).
    assert lines("\n".join(texts)) == lines(telegram_text(markup))
    assert parts[1].startswith("<b>Linia ")


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.split("\n")]


def test_a_long_line_is_cut_between_entities_and_open_tags_are_carried_over() -> None:
    markup = "<b>" + "&amp;&lt;😀" * 3000 + "</b>"  # 12,000 rendered on one line, no spaces
    parts = split_markup(markup, LIMIT)
    assert len(parts) == 3
    for part in parts:
        assert part.startswith("<b>") and part.endswith("</b>")
        assert utf16_length(telegram_text(part)) <= LIMIT
    assert "".join(telegram_text(part) for part in parts) == html.unescape(markup[3:-4])


def test_a_link_is_closed_and_reopened_around_a_cut() -> None:
    label = "słowo & " * 1000
    markup = link("https://example.org/?q=1&r=2", label)
    parts = split_markup(markup, LIMIT)
    assert len(parts) == 2
    href = '<a href="https://example.org/?q=1&amp;r=2">'
    assert all(part.startswith(href) and part.endswith("</a>") for part in parts)
    assert all(utf16_length(telegram_text(part)) <= LIMIT for part in parts)


# --- through the transport and the real `ngo-bot run` ----------------------------------------


@pytest.fixture
async def transport(
    fake_bot_api: FakeBotApi, storage: Storage, settings: Settings
) -> AsyncIterator[TelegramTransport]:
    configured = replace(
        settings, telegram_token=fake_bot_api.token, telegram_api_base_url=fake_bot_api.base_url
    )
    fatal: list[str] = []
    started = TelegramTransport(configured, build_core(storage, configured), fatal.append)
    await started.start()
    await asyncio.wait_for(started.ready.wait(), 10)
    yield started
    await started.stop()
    assert not fatal


async def test_the_transport_sends_a_maximal_announcement_as_one_message(
    transport: TelegramTransport, fake_bot_api: FakeBotApi
) -> None:
    fields = grant_fields(title=maximal_title(), text=maximal_text(), url=maximal_url())
    markup = render_publication(
        fields, "pl", load_topics(None), ZoneInfo("Europe/Warsaw"), prefix="/"
    )
    reader = fake_bot_api.make_user("Anna")
    outcome = await transport.send(str(reader.id), Reply(markup))
    assert outcome.kind is OutcomeKind.SENT, outcome.detail
    (message,) = fake_bot_api.sent_messages(reader.id)
    assert maximal_title() in message.plain_text and maximal_text() in message.plain_text


async def test_the_transport_still_splits_what_does_not_fit(
    transport: TelegramTransport, fake_bot_api: FakeBotApi
) -> None:
    reader = fake_bot_api.make_user("Anna")
    outcome = await transport.send(str(reader.id), Reply(long_markup()))
    assert outcome.kind is OutcomeKind.SENT, outcome.detail
    sent = fake_bot_api.sent_messages(reader.id)
    assert len(sent) == 2 and all(utf16_length(m.plain_text) <= LIMIT for m in sent)
    assert not fake_bot_api.faults()


async def test_ngo_bot_run_delivers_a_maximal_cli_announcement_as_one_message(
    fake_bot_api: FakeBotApi, tmp_path: Path, storage: Storage
) -> None:
    api = fake_bot_api
    (reader,) = readers(1)
    await add_chats(storage, "telegram", [str(reader)])
    bot = BotProcess(tmp_path, api.env())
    try:
        await api.wait_for_async(lambda: api.calls("getUpdates"), 30, "polling")
        announcement_id = await asyncio.to_thread(
            announce,
            tmp_path,
            f"--title-pl={maximal_title()}",
            f"--text-pl={maximal_text()}",
            f"--url={maximal_url()}",
        )
        await eventually(lambda: settled(storage, announcement_id), 30)
        counts = await state_counts(storage, announcement_id)
        code, _took = bot.terminate()
    finally:
        bot.kill()
    assert code == 0, bot.log()
    assert counts["sent"] == counts["total"] == 1
    (message,) = api.sent_messages(reader)
    assert maximal_title() in message.plain_text and maximal_text() in message.plain_text
    assert utf16_length(message.text) > LIMIT  # its HTML alone is over the limit


def random_markup(rng: random.Random) -> str:
    words = ["ala", "&amp;", "&lt;b&gt;", "😀", "zażółć", "&quot;", "\n", " ", "x" * 30]
    parts: list[str] = []
    for _ in range(rng.randint(20, 120)):
        choice = rng.random()
        text = "".join(rng.choice(words) for _ in range(rng.randint(1, 8)))
        if choice < 0.2:
            parts.append(f"<b>{text}</b>")
        elif choice < 0.3:
            parts.append(f'<a href="https://example.org/?a=1&amp;b={rng.randint(0, 9)}">{text}</a>')
        elif choice < 0.4:
            parts.append(f"<i>{text}<code>{text}</code></i>")
        else:
            parts.append(text)
    return "".join(parts)


@pytest.mark.parametrize("seed", range(40))
def test_random_markup_is_cut_into_valid_parts_that_fit_and_lose_nothing(seed: int) -> None:
    rng = random.Random(seed)
    markup = random_markup(rng)
    limit = rng.choice([64, 100, 257])
    parts = split_markup(markup, limit)
    texts = [telegram_text(part) for part in parts]
    assert all(utf16_length(text) <= limit for text in texts)
    squeeze = str.maketrans("", "", " \n")
    assert "".join(texts).translate(squeeze) == telegram_text(markup).translate(squeeze)
