"""The fake Bot API's channels, forum topics, deletions and copy buttons behave (and fail) as
the real server does, seen through python-telegram-bot."""

from __future__ import annotations

import pytest
import telegram
from telegram import CopyTextButton, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden

from tests.fakebotapi import FakeBotApi


async def test_a_channel_post_comes_from_the_channel_and_needs_the_right_to_post(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    api = fake_bot_api
    ours = api.add_channel("Ours", username="ngo_ours")
    muted = api.add_channel("Muted", username="ngo_muted", can_post_messages=False)
    foreign = api.add_channel("Foreign", username="ngo_foreign", bot_status="left")
    chat = await ptb_bot.get_chat("@ngo_ours")
    assert chat.type == "channel" and chat.id == ours.id
    member = await ptb_bot.get_chat_member(ours.id, ptb_bot.id)
    assert member.status == "administrator" and getattr(member, "can_post_messages", False)

    post = await ptb_bot.send_message(ours.id, "<b>Hej</b>", parse_mode="HTML")
    assert post.from_user is None and post.sender_chat is not None
    assert post.sender_chat.id == ours.id
    with pytest.raises(BadRequest, match=r"(?i)need administrator rights in the channel chat"):
        await ptb_bot.send_message(muted.id, "x")
    with pytest.raises(Forbidden, match=r"(?i)bot is not a member of the channel chat"):
        await ptb_bot.send_message(foreign.id, "x")

    edited = await ptb_bot.edit_message_text("Nowy", chat_id=ours.id, message_id=post.message_id)
    assert isinstance(edited, telegram.Message) and edited.text == "Nowy"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await ptb_bot.edit_message_text("Nowy", chat_id=ours.id, message_id=post.message_id)


async def test_deleting_works_for_48_hours_then_says_it_cannot(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    api = fake_bot_api
    channel = api.add_channel("Ours", username="ngo_ours")
    fresh = await ptb_bot.send_message(channel.id, "świeży")
    old = await ptb_bot.send_message(channel.id, "stary")
    api.age_message(channel.id, old.message_id, 48 * 3600)
    assert await ptb_bot.delete_message(channel.id, fresh.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await ptb_bot.delete_message(channel.id, fresh.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message can't be deleted"):
        await ptb_bot.delete_message(channel.id, old.message_id)
    assert api.deletions() == [(channel.id, fresh.message_id)]
    # In a group the bot (not an administrator) may not delete what a member wrote.
    member = api.make_user("Ala")
    group = api.add_group("Grupa", members=[member])
    written = api.inject_message(member, "cześć", chat=group)
    with pytest.raises(BadRequest, match=r"(?i)message can't be deleted"):
        await ptb_bot.delete_message(group.id, written["message"]["message_id"])


async def test_forum_topics_take_messages_until_closed_or_deleted(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    api = fake_bot_api
    forum = api.add_forum("Forum")
    grants, tax = api.add_topic(forum, "Granty"), api.add_topic(forum, "1,5%")
    sent = await ptb_bot.send_message(forum.id, "w wątku", message_thread_id=grants)
    assert sent.is_topic_message and sent.message_thread_id == grants
    assert [m.text for m in api.topic_messages(forum.id, grants)] == ["w wątku"]
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await ptb_bot.send_message(forum.id, "x", message_thread_id=999)
    api.close_topic(forum, tax)
    with pytest.raises(BadRequest, match=r"(?i)TOPIC_CLOSED"):
        await ptb_bot.send_message(forum.id, "x", message_thread_id=tax)
    api.delete_topic(forum, grants)
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await ptb_bot.send_message(forum.id, "x", message_thread_id=grants)
    general = await ptb_bot.send_message(forum.id, "ogólny")  # the group itself goes on
    assert not general.is_topic_message
    with pytest.raises(ValueError, match=r"(?i)no forum topic"):
        api.inject_message(api.make_user(), "x", chat=forum, thread=12345)


async def test_copy_buttons_and_link_preview_options_are_checked(
    fake_bot_api: FakeBotApi, ptb_bot: telegram.Bot
) -> None:
    api = fake_bot_api
    user = api.make_user("Ala")
    copy = InlineKeyboardMarkup(
        [[InlineKeyboardButton("KRS", copy_text=CopyTextButton("0000123456"))]]
    )
    await ptb_bot.send_message(
        user.id,
        "Nasz KRS: 0000123456 https://ngo.krakow.pl",
        reply_markup=copy,
        link_preview_options=telegram.LinkPreviewOptions(url="https://ngo.krakow.pl"),
    )
    (message,) = api.sent_messages(user.id)
    assert message.buttons == [[{"text": "KRS", "copy_text": {"text": "0000123456"}}]]
    assert message.message["link_preview_options"] == {"url": "https://ngo.krakow.pl"}
    too_long = InlineKeyboardMarkup(
        [[InlineKeyboardButton("KRS", copy_text=CopyTextButton("1" * 257))]]
    )
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_COPY_TEXT_INVALID"):
        await ptb_bot.send_message(user.id, "x", reply_markup=too_long)
    both = {"inline_keyboard": [[{"text": "x", "callback_data": "a", "copy_text": {"text": "1"}}]]}
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_TYPE_INVALID"):
        await ptb_bot.send_message(user.id, "x", reply_markup=both)  # type: ignore[arg-type]
