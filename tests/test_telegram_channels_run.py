"""Telegram channels end to end: the real `ngo-bot run` and the CLI against the fake Bot API.

An announcement lands once in each configured channel in that channel's language; a correction
edits the posts in place; a cancellation deletes them; a channel where the bot may not post is
skipped with a log line; a kill -9 in the middle of a broadcast does not post twice to a channel.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from bot.storage import Storage
from tests.delivery_helpers import add_chats, eventually, settled, state_counts
from tests.fakebotapi import FakeBotApi, FakeChat, SentMessage
from tests.test_broadcast_telegram import SETTLE_SECONDS, announce, broadcast_to, readers
from tests.test_cli import ngo_bot
from tests.test_telegram_run import BotProcess

CHANNELS = "grants:pl=@ngo_krakow,grants:uk=@ngo_krakow_ua,*:pl=@ngo_krakow,news:pl=@ngo_other"
LINK = "https://ngo.krakow.pl/konkursy"


def channels(api: FakeBotApi) -> tuple[FakeChat, FakeChat, FakeChat]:
    polish = api.add_channel("NGO Kraków", username="ngo_krakow")
    ukrainian = api.add_channel("NGO Kraków UA", username="ngo_krakow_ua")
    other = api.add_channel("Not ours", username="ngo_other", bot_status="left")
    return polish, ukrainian, other


def posts(api: FakeBotApi, channel: FakeChat) -> list[SentMessage]:
    return api.sent_messages(channel.id)


async def started(api: FakeBotApi, bot: BotProcess) -> None:
    """The bot polls, so it has checked its channels."""
    await api.wait_for_async(lambda: api.calls("getUpdates"), SETTLE_SECONDS, "polling")


async def test_an_announcement_lands_once_per_channel_a_correction_edits_a_cancel_deletes(
    fake_bot_api: FakeBotApi, tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    api = fake_bot_api
    polish, ukrainian, other = channels(api)
    bot = BotProcess(tmp_path, {**api.env(), "TELEGRAM_CHANNELS": CHANNELS})
    run_bot.append(bot)
    await started(api, bot)
    assert "the bot is not an administrator allowed to post in @ngo_other" in bot.log()

    announcement_id = await asyncio.to_thread(
        announce,
        tmp_path,
        "--title-pl=Konkurs dla NGO",
        "--title-uk=Конкурс для НУО",
        "--text-uk=Подробиці на сайті.",
        f"--url={LINK}",
    )
    await api.wait_for_async(
        lambda: posts(api, polish) and posts(api, ukrainian), SETTLE_SECONDS, "both channel posts"
    )
    (pl_post,) = posts(api, polish)
    (uk_post,) = posts(api, ukrainian)
    assert "Konkurs dla NGO" in pl_post.text and "Szczegóły na stronie." in pl_post.text
    assert "Конкурс для НУО" in uk_post.text and "Подробиці на сайті." in uk_post.text
    for post in (pl_post, uk_post):
        assert "unsubscribe" not in post.text  # a channel has no subscriptions to stop
        assert post.message.get("sender_chat", {}).get("id") == post.chat_id
        assert post.params["link_preview_options"]["url"] == LINK
    assert not posts(api, other)

    edited = await asyncio.to_thread(
        ngo_bot,
        tmp_path,
        "announce",
        "edit",
        str(announcement_id),
        "--title-pl=Konkurs 2027",
        "--title-uk=Конкурс 2027",
    )
    assert edited.returncode == 0, edited.stderr
    await api.wait_for_async(
        lambda: len(api.edits()) >= 2, SETTLE_SECONDS, "the channel posts edited"
    )
    edits = {edit.chat_id: edit for edit in api.edits()}
    assert edits[polish.id].message_id == pl_post.message_id
    assert "Konkurs 2027" in edits[polish.id].text
    assert edits[ukrainian.id].message_id == uk_post.message_id
    assert "Конкурс 2027" in edits[ukrainian.id].text
    assert api.message(polish.id, pl_post.message_id)["text"].startswith("📢 Konkurs 2027")

    cancelled = await asyncio.to_thread(
        ngo_bot, tmp_path, "announce", "cancel", str(announcement_id)
    )
    assert cancelled.returncode == 0, cancelled.stderr
    await api.wait_for_async(lambda: len(api.deletions()) >= 2, SETTLE_SECONDS, "deletions")
    assert sorted(api.deletions()) == sorted(
        [(polish.id, pl_post.message_id), (ukrainian.id, uk_post.message_id)]
    )
    assert api.message(polish.id, pl_post.message_id) is None
    # Never a second post, a correction notice or a reminder in a channel.
    assert len(posts(api, polish)) == len(posts(api, ukrainian)) == 1
    code, _took = bot.terminate()
    assert code == 0, bot.log()


async def test_a_post_older_than_48_hours_becomes_a_cancellation_notice(
    fake_bot_api: FakeBotApi, tmp_path: Path, run_bot: list[BotProcess]
) -> None:
    api = fake_bot_api
    polish, _ukrainian, _other = channels(api)
    bot = BotProcess(tmp_path, {**api.env(), "TELEGRAM_CHANNELS": "*=@ngo_krakow"})
    run_bot.append(bot)
    await started(api, bot)
    announcement_id = await asyncio.to_thread(announce, tmp_path, "--title-pl=Stary konkurs")
    await api.wait_for_async(lambda: posts(api, polish), SETTLE_SECONDS, "the channel post")
    (post,) = posts(api, polish)
    api.age_message(polish.id, post.message_id, 49 * 3600)

    cancelled = await asyncio.to_thread(
        ngo_bot, tmp_path, "announce", "cancel", str(announcement_id)
    )
    assert cancelled.returncode == 0, cancelled.stderr
    await api.wait_for_async(lambda: api.edits(polish.id), SETTLE_SECONDS, "the notice edit")
    refused = [c for c in api.calls("deleteMessage") if not c.ok]
    assert refused and "can't be deleted" in refused[0].description
    current = api.message(polish.id, post.message_id)
    assert current is not None and current["text"].startswith("❌ Anulowano: Stary konkurs")
    assert not api.deletions()


async def test_a_kill_9_mid_broadcast_does_not_post_twice_to_a_channel(
    fake_bot_api: FakeBotApi, tmp_path: Path, storage: Storage, run_bot: list[BotProcess]
) -> None:
    api = fake_bot_api
    polish, ukrainian, _other = channels(api)
    api.set_delay(0.1, method="sendMessage")  # slow enough to kill it in the middle
    env = {**api.env(), "TELEGRAM_CHANNELS": CHANNELS, "TELEGRAM_MAX_RATE": "25"}
    first = BotProcess(tmp_path, env)
    run_bot.append(first)
    ids = set(readers(120))
    await add_chats(storage, "telegram", [str(i) for i in sorted(ids)])
    await started(api, first)
    announcement_id = await asyncio.to_thread(announce, tmp_path, "--title-pl=Przerwane")
    sent = broadcast_to(api, ids)
    # The channels' posts go out first: killed at once after them, while the rest of their
    # batch is being sent (its outcomes not yet recorded).
    await api.wait_for_async(
        lambda: posts(api, polish) and posts(api, ukrainian), SETTLE_SECONDS, "channel posts"
    )
    # ... and recorded: the posts are written the moment Telegram answers, before the batch
    # ends (a kill in the milliseconds between Telegram's answer and that write would repeat
    # them, as any in-flight message is repeated).
    await eventually(lambda: sent_at_least(storage, announcement_id, 2), SETTLE_SECONDS)
    first.kill()
    assert len(sent()) < len(ids), "the kill landed after the broadcast"

    second = BotProcess(tmp_path, env)
    run_bot.append(second)
    await eventually(lambda: settled(storage, announcement_id), SETTLE_SECONDS)
    counts = await state_counts(storage, announcement_id)
    assert counts["sent"] == counts["total"] == len(ids) + 2
    assert len(posts(api, polish)) == len(posts(api, ukrainian)) == 1
    assert set(Counter(m.chat_id for m in sent())) == ids, "a subscriber was skipped"
    code, _took = second.terminate()
    assert code == 0, second.log()


async def sent_at_least(storage: Storage, announcement_id: int, count: int) -> bool:
    return (await state_counts(storage, announcement_id)).get("sent", 0) >= count


def test_a_bad_entry_stops_the_bot_naming_it(fake_bot_api: FakeBotApi, tmp_path: Path) -> None:
    for value, named in (
        ("grants:pl@ngo_krakow", "'grants:pl@ngo_krakow' is not 'topic[:lang]=@channel'"),
        ("grants:ru=@ngo_krakow", "'ru' is not one of pl, uk, en"),
        ("grants=ngo_krakow", "'ngo_krakow' is not a channel's @username"),
        ("grants:pl=@ngo_krakow,tax:uk=@ngo_krakow", "a channel is written in one language"),
        ("granty:pl=@ngo_krakow", "names the topic 'granty', which does not exist"),
    ):
        result = ngo_bot(tmp_path, "run", **fake_bot_api.env(), TELEGRAM_CHANNELS=value)
        assert result.returncode == 2, (value, result.stderr)
        assert "TELEGRAM_CHANNELS" in result.stderr and named in result.stderr, result.stderr
