"""Ask the office across platforms, through one real `ngo-bot run` with Telegram (the fake Bot
API) and Matrix (the test Synapse): Telegram residents are answered from a Matrix staff room,
by replying to the question's post or with `!answer N`; a member who is not staff is refused;
`forget` edits the room's copy."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable
from typing import Any

from tests.conftest import BOT_COMMAND, bot_env
from tests.fakebotapi import FakeBotApi
from tests.matrix_helpers import BotProcess, MakeResident, MatrixResident
from tests.synapse_server import MatrixUser

QUESTION = "Чи можна отримати компенсацію за оренду приміщення для гуртка вишивки?"
SECOND = "Де знайти бланк звіту з малого гранту?"


async def bot_message_with(resident: MatrixResident, room: str, text: str) -> dict[str, Any]:
    """The bot's next message in the room whose body contains `text` (others are skipped)."""
    while True:
        event = await resident.next_from_bot(room)
        if text in event["content"].get("body", ""):
            return event


def reply_content(event: dict[str, Any], body: str) -> dict[str, Any]:
    """What a Matrix client sends as a reply: the quoted fallback, then the relation."""
    quoted = "> <{}> {}".format(event["sender"], event["content"]["body"].splitlines()[0])
    return {
        "body": f"{quoted}\n\n{body}",
        "m.relates_to": {"m.in_reply_to": {"event_id": event["event_id"]}},
    }


async def test_telegram_residents_answered_from_a_matrix_staff_room(
    fake_bot_api: FakeBotApi,
    bot_process: Callable[..., BotProcess],
    make_resident: MakeResident,
    bot_user: MatrixUser,
) -> None:
    api = fake_bot_api
    staff = await make_resident("staff")
    member = await make_resident("member")
    room = await staff.create_room(invite=[bot_user.user_id, member.user_id], name="Biuro")
    await member.accept_invite(room)
    bot = bot_process(
        **api.env(), BOT_ADMINS=f"matrix:{staff.user_id}", BOT_STAFF_CHATS=f"matrix:{room}"
    )
    bot.start()
    try:
        await staff.wait_for_membership(room, bot_user.user_id, "join")
        olena = api.make_user("Olena", language_code="uk")
        ivan = api.make_user("Ivan", language_code="uk")
        api.inject_command(olena, "ask", QUESTION)
        filed = await api.wait_for_messages(olena.id, 1, timeout=30)
        assert "#1" in filed[0].text
        post = await bot_message_with(staff, room, "#1")
        assert QUESTION in post["content"]["body"] and "Telegram" in post["content"]["body"]

        await member.say(room, "Ні", extra=reply_content(post, "Ні"))
        refusal = await bot_message_with(staff, room, "")
        assert "#" not in refusal["content"]["body"]
        await staff.say(room, "Так, пишіть нам.", extra=reply_content(post, "Так, пишіть нам."))
        answer = await api.wait_for_async(
            lambda: [m for m in api.sent_messages(olena.id) if "Так, пишіть нам." in m.plain_text],
            timeout=30,
            what="the answer from Matrix in the Telegram chat",
        )
        assert "#1" in answer[0].text
        await bot_message_with(staff, room, "✅ #1")

        api.inject_command(ivan, "ask", SECOND)
        await bot_message_with(staff, room, "#2")
        await staff.say(room, "!answer 2 На сайті ngo.krakow.pl.")
        await api.wait_for_async(
            lambda: [m for m in api.sent_messages(ivan.id) if "ngo.krakow.pl" in m.plain_text],
            timeout=30,
            what="the !answer reply in the Telegram chat",
        )

        api.inject_command(ivan, "forget", "yes")

        def edited() -> list[dict[str, Any]]:
            return [
                e
                for e in staff.events[room]
                if e.get("sender") == bot_user.user_id
                and e.get("content", {}).get("m.relates_to", {}).get("rel_type") == "m.replace"
            ]

        (edit,) = await staff.wait_until(edited, "the question's copy edited after forget")
        assert SECOND not in json.dumps(edit["content"], ensure_ascii=False)
    finally:
        code = bot.stop()
    assert code == 0, bot.log()
    listed = subprocess.run(
        [*BOT_COMMAND, "questions", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=bot_env(bot.db_path),
    )
    (only,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert only["state"] == "answered" and only["platform"] == "telegram"
    with sqlite3.connect(bot.db_path) as db:
        refused = db.execute("SELECT actor FROM audit_log WHERE action = 'denied'").fetchall()
    assert refused == [(f"matrix:{member.user_id}",)]
