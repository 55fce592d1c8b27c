"""The Matrix transport in-process against the real test homeserver, plus its pure helpers."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from nio import MemoryDownloadResponse, RoomBanResponse

from bot.config import ConfigError, Settings
from bot.core.context import Context
from bot.core.markup import escape
from bot.core.messages import Attachment, Button, ChatKind, ChatRef, Reply
from bot.storage import Storage
from bot.transports.base import OutcomeKind
from bot.transports.matrix import (
    MatrixConfig,
    notice_content,
    privileged_creators,
    strip_mentions,
    strip_reply_fallback,
)
from tests.matrix_helpers import (
    DEADLINE_SECONDS,
    InProcessBot,
    MakeResident,
    MatrixResident,
    running_bot,
)
from tests.synapse_server import MatrixUser, SynapseServer, _free_port

BOT_NAME = "NGO Bot"


async def echo(ctx: Context, text: str) -> list[Reply]:
    """A text handler that shows what the core was given (instead of the FAQ)."""
    incoming = ctx.incoming
    return [
        Reply(
            f"echo [{escape(text)}] actor={escape(ctx.actor)} role={ctx.role.name} "
            f"kind={incoming.kind.value} admin={incoming.sender_is_admin} "
            f"hint={incoming.language_hint}"
        )
    ]


def set_display_name(synapse: SynapseServer, user_id: str, name: str) -> None:
    path = f"/v2/users/{urllib.parse.quote(user_id, safe='')}"
    status, body = synapse.admin_api("PUT", path, {"displayname": name})
    assert status == 200, body


async def eventually_inactive(storage: Storage, room_id: str) -> None:
    """Wait until the bot has marked the chat inactive (it learns of a kick by syncing)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_SECONDS
    while loop.time() < deadline:
        chat = await storage.chats.get(ChatRef("matrix", room_id))
        if chat is not None and not chat.active:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"chat {room_id} never became inactive")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.sqlite3"


# ------------------------------------------------------------------ rooms and who may do what


async def test_in_a_group_room_only_moderators_change_settings(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    make_resident: MakeResident,
    db_path: Path,
) -> None:
    alice, bob = await make_resident("alice"), await make_resident("bob")
    async with running_bot(synapse, bot_user, db_path) as bot:
        room = await alice.create_room(name="NGO group", invite=[bot_user.user_id, bob.user_id])
        await bob.accept_invite(room)
        await alice.wait_for_membership(room, bot_user.user_id, "join")

        topics = await bob.ask(room, "!topics")  # reading is for everyone
        assert "Tematy:" in topics["body"]
        refused = await bob.ask(room, "!subscribe grants")
        assert "Ustawienia tej grupy mogą zmieniać tylko jej administratorzy." in refused["body"]
        refused = await bob.ask(room, "!language uk")
        assert "tylko jej administratorzy" in refused["body"]

        await alice.set_power_level(room, bob.user_id, 50)
        allowed = await bob.ask(room, "!subscribe grants")
        assert "Zapisano na: Granty i konkursy" in allowed["body"]

        chat = await bot.storage.chats.get(ChatRef("matrix", room))
        assert chat is not None and chat.kind is ChatKind.ROOM
        assert await bot.storage.chats.topics_of(chat.id) == {"grants"}


async def test_free_text_in_a_group_room_needs_a_mention(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    make_resident: MakeResident,
    db_path: Path,
) -> None:
    set_display_name(synapse, bot_user.user_id, BOT_NAME)
    alice, bob = await make_resident("alice"), await make_resident("bob")
    admins = frozenset({f"matrix:{alice.user_id}"})
    async with running_bot(synapse, bot_user, db_path, admins=admins) as bot:
        bot.core.text_handler = echo
        room = await alice.create_room(invite=[bot_user.user_id, bob.user_id])
        await bob.accept_invite(room)
        await alice.wait_for_membership(room, bot_user.user_id, "join")

        chatter = await bob.say(room, "Does anyone know when the grant deadline is?")
        await bob.say(room, "!weather krakow")  # another bot's command
        by_name = await bob.ask(room, "ngo bot, when is the grant deadline?")
        assert (await bob.first_from_bot_after(room, chatter))["content"] == by_name
        assert by_name["body"].startswith("echo [when is the grant deadline?]")
        assert f"actor=matrix:{bob.user_id} role=EVERYONE kind=room admin=False" in by_name["body"]
        assert "hint=None" in by_name["body"]

        by_id = await alice.ask(room, f"{bot_user.user_id}: 1.5% tax?")
        assert by_id["body"].startswith("echo [1.5% tax?]")
        assert f"actor=matrix:{alice.user_id} role=ADMIN kind=room admin=True" in by_id["body"]

        by_pill = await bob.ask(room, "is anyone here?", mentions=[bot_user.user_id])
        assert by_pill["body"].startswith("echo [is anyone here?]")

        question = await bob.say(room, "Shall we meet on Friday?")
        reply_to_it = await alice.ask(
            room,
            f"> <{bob.user_id}> Shall we meet on Friday?\n\n{BOT_NAME}: which meetings are next?",
            extra={"m.relates_to": {"m.in_reply_to": {"event_id": question}}},
        )
        assert reply_to_it["body"].startswith("echo [which meetings are next?]")

        only_name = await bob.ask(room, BOT_NAME)
        assert "!subscribe" in only_name["body"]  # a bare mention gets the help


async def test_a_private_chat_gets_every_text_and_turns_into_a_room(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    make_resident: MakeResident,
    db_path: Path,
) -> None:
    alice, carol = await make_resident("alice"), await make_resident("carol")
    async with running_bot(synapse, bot_user, db_path) as bot:
        bot.core.text_handler = echo
        room = await alice.start_chat_with_bot()

        text = await alice.ask(room, "  when is the next meeting?  ")
        assert text["body"].startswith("echo [when is the next meeting?]")
        assert "kind=private admin=True" in text["body"]

        image = {"msgtype": "m.image", "body": "photo.png", "url": "mxc://localhost/abc"}
        await alice.client.room_send(room, "m.room.message", image)
        only_text = await alice.next_notice(room)
        assert "Czytam tylko wiadomości tekstowe" in only_text["body"]

        emote = await alice.say(room, "waves", extra={"msgtype": "m.emote"})  # not for the bot
        await alice.invite(room, carol.user_id)
        await carol.accept_invite(room)
        await carol.say(room, "hello?")  # three members now: free text needs a mention
        now_a_room = await alice.ask(room, f"{bot_user.user_id} are we a room now?")
        assert now_a_room["body"].startswith("echo [are we a room now?]")
        assert "kind=room admin=True" in now_a_room["body"]  # alice created the room
        assert (await alice.first_from_bot_after(room, emote))["content"] == now_a_room
        chat = await bot.storage.chats.get(ChatRef("matrix", room))
        assert chat is not None and chat.kind is ChatKind.ROOM


# ------------------------------------------------------------------------------ invitations


@pytest.mark.parametrize("allowed", [frozenset({"example.org"}), frozenset({"localhost"})])
async def test_invites_only_from_allowed_servers(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    resident: MatrixResident,
    db_path: Path,
    allowed: frozenset[str],
) -> None:
    async with running_bot(synapse, bot_user, db_path, matrix_allowed_servers=allowed):
        room = await resident.create_room(invite=[bot_user.user_id], direct=True)
        expected = "join" if "localhost" in allowed else "leave"
        await resident.wait_for_membership(room, bot_user.user_id, expected)
        if expected == "join":
            assert "Co potrafię:" in (await resident.ask(room, "!help"))["body"]


async def test_history_from_before_the_bot_joined_is_not_answered(
    synapse: SynapseServer, bot_user: MatrixUser, resident: MatrixResident, db_path: Path
) -> None:
    async with running_bot(synapse, bot_user, db_path):
        room = await resident.create_room()
        early = await resident.say(room, "!help")  # visible to members who join later
        await resident.invite(room, bot_user.user_id)
        await resident.wait_for_membership(room, bot_user.user_id, "join")
        first = await resident.ask(room, "!topics")
        assert "Tematy:" in first["body"]
        assert (await resident.first_from_bot_after(room, early))["content"] == first


async def test_a_first_login_does_not_answer_what_was_said_before(
    synapse: SynapseServer, bot_user: MatrixUser, resident: MatrixResident, db_path: Path
) -> None:
    # The account was already in a room (someone used it in a Matrix app) before the bot ran.
    room = await resident.create_room(invite=[bot_user.user_id])
    other_app = await synapse.login_client(bot_user.user_id, bot_user.password)
    try:
        await other_app.join(room)
    finally:
        await other_app.close()
    await resident.wait_for_membership(room, bot_user.user_id, "join")
    early = await resident.say(room, "!help")
    async with running_bot(synapse, bot_user, db_path) as bot:
        # After its first sync (which skips what was said before), not during it: a question
        # asked while that sync is on its way would be history too.
        deadline = time.monotonic() + 30
        while "matrix" not in bot.core.liveness.last_completed:
            assert time.monotonic() < deadline, "the bot's first sync never completed"
            await asyncio.sleep(0.05)
        first = await resident.ask(room, "!topics")
        assert "Tematy:" in first["body"]
        assert (await resident.first_from_bot_after(room, early))["content"] == first


# ----------------------------------------------------------------------- leaving and send()


async def test_a_kick_marks_the_chat_inactive_and_a_new_invite_revives_it(
    synapse: SynapseServer, bot_user: MatrixUser, resident: MatrixResident, db_path: Path
) -> None:
    async with running_bot(synapse, bot_user, db_path) as bot:
        room = await resident.start_chat_with_bot()
        await resident.ask(room, "!subscribe news")

        await resident.kick(room, bot_user.user_id)
        await eventually_inactive(bot.storage, room)
        gone = await bot.transport.send(room, Reply("news"))
        assert gone.kind is OutcomeKind.GONE and "M_FORBIDDEN" in gone.detail

        await resident.invite(room, bot_user.user_id)
        await resident.wait_for_membership(room, bot_user.user_id, "join")
        await resident.ask(room, "!topics")
        chat = await bot.storage.chats.get(ChatRef("matrix", room))
        assert chat is not None and chat.active
        assert (await bot.transport.send(room, Reply("news"))).kind is OutcomeKind.SENT
        assert (await resident.next_notice(room))["body"] == "news"


async def test_a_ban_marks_the_chat_inactive(
    synapse: SynapseServer, bot_user: MatrixUser, resident: MatrixResident, db_path: Path
) -> None:
    async with running_bot(synapse, bot_user, db_path) as bot:
        room = await resident.start_chat_with_bot()
        await resident.ask(room, "!start")
        banned = await resident.client.room_ban(room, bot_user.user_id, "spam")
        assert isinstance(banned, RoomBanResponse), banned
        await eventually_inactive(bot.storage, room)
        assert (await bot.transport.send(room, Reply("news"))).kind is OutcomeKind.GONE


async def test_the_bot_leaves_a_room_everyone_else_left(
    synapse: SynapseServer, bot_user: MatrixUser, resident: MatrixResident, db_path: Path
) -> None:
    async with running_bot(synapse, bot_user, db_path) as bot:
        room = await resident.start_chat_with_bot()
        await resident.ask(room, "!start")
        await resident.client.room_leave(room)
        await eventually_inactive(bot.storage, room)
        gone = await bot.transport.send(room, Reply("anyone?"))
        assert gone.kind is OutcomeKind.GONE


async def test_send_outcomes(
    synapse: SynapseServer, bot_user: MatrixUser, resident: MatrixResident, db_path: Path
) -> None:
    async with running_bot(synapse, bot_user, db_path) as bot:
        room = await resident.start_chat_with_bot()
        transport = bot.transport

        sent = await transport.send(room, Reply("<b>Grant</b> deadline", ((Button("Yes", "x"),),)))
        assert sent.kind is OutcomeKind.SENT
        notice = await resident.next_notice(room)
        assert notice["formatted_body"].startswith("<b>Grant</b> deadline")
        assert notice["body"].startswith("Grant deadline") and "Yes — !x" in notice["body"]

        unknown = await transport.send("!no-such-room:localhost", Reply("hi"))
        assert unknown.kind is OutcomeKind.GONE

        too_big = await transport.send(room, Reply("x" * 70_000))
        assert too_big.kind is OutcomeKind.FAILED and "M_TOO_LARGE" in too_big.detail

        # A homeserver with Synapse's usual rate limit: at most 1 message/s after a burst of 1.
        synapse.override_ratelimit(bot_user.user_id, 1, 1)
        outcomes = [await transport.send(room, Reply(f"news {n}")) for n in range(4)]
        limited = [o for o in outcomes if o.kind is OutcomeKind.RETRY]
        assert limited, outcomes
        assert all(o.retry_after is not None and 0 < o.retry_after <= 5 for o in limited)
        assert all("M_LIMIT_EXCEEDED" in o.detail for o in limited)


@dataclass
class BadGateway:
    """A reverse proxy whose homeserver is down: every request gets 502 with an HTML page."""

    url: str
    requests: list[str]


@pytest.fixture
def bad_gateway() -> Iterator[BadGateway]:
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            requests.append(f"{self.command} {self.path.partition('?')[0]}")
            body = b"<html><body>502 Bad Gateway</body></html>"
            self.send_response(502)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET = do_PUT

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield BadGateway(f"http://127.0.0.1:{server.server_address[1]}", requests)
    finally:
        server.shutdown()
        server.server_close()


async def test_network_trouble_means_retry_without_a_wait(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    resident: MatrixResident,
    db_path: Path,
    bad_gateway: BadGateway,
) -> None:
    async with running_bot(synapse, bot_user, db_path) as bot:
        room = await resident.start_chat_with_bot()
        client = bot.transport.client
        real = client.homeserver
        try:
            client.homeserver = bad_gateway.url
            proxy_error = await bot.transport.send(room, Reply("hi"))
            client.homeserver = f"http://127.0.0.1:{_free_port()}"
            refused = await bot.transport.send(room, Reply("hi"))
        finally:
            client.homeserver = real
        assert proxy_error.kind is OutcomeKind.RETRY and proxy_error.retry_after is None
        assert "502" in proxy_error.detail
        assert refused.kind is OutcomeKind.RETRY and refused.retry_after is None
        assert (await bot.transport.send(room, Reply("back"))).kind is OutcomeKind.SENT


async def test_the_sync_loop_backs_off_and_recovers(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    resident: MatrixResident,
    db_path: Path,
    bad_gateway: BadGateway,
) -> None:
    async with running_bot(synapse, bot_user, db_path) as bot:
        room = await resident.start_chat_with_bot()
        client = bot.transport.client
        real, client.homeserver = client.homeserver, bad_gateway.url
        try:
            # Something the bot ignores ends the poll in flight: the next ones hit the proxy.
            await resident.say(room, "a notice", extra={"msgtype": "m.notice"})
            await eventually(lambda: len(sync_requests(bad_gateway)) >= 2, "two failed syncs")
        finally:
            client.homeserver = real
        assert "Co potrafię:" in (await resident.ask(room, "!help"))["body"]
        assert bot.transport.running


def sync_requests(gateway: BadGateway) -> list[str]:
    return [r for r in gateway.requests if r.startswith("GET ") and r.endswith("/sync")]


async def eventually(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_SECONDS
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


async def test_replies_wait_out_a_rate_limit(
    synapse: SynapseServer, bot_user: MatrixUser, resident: MatrixResident, db_path: Path
) -> None:
    async with running_bot(synapse, bot_user, db_path):
        room = await resident.start_chat_with_bot()
        synapse.override_ratelimit(bot_user.user_id, 1, 1)  # the second reply gets a 429
        for command in ("!help", "!topics"):
            await resident.say(room, command)
        assert "Co potrafię:" in (await resident.next_notice(room))["body"]
        assert "Tematy:" in (await resident.next_notice(room))["body"]


async def test_an_unreachable_homeserver_is_retried_in_the_background(
    bot_user: MatrixUser, db_path: Path, synapse: SynapseServer
) -> None:
    settings = {"matrix_homeserver": f"http://127.0.0.1:{_free_port()}"}
    async with running_bot(synapse, bot_user, db_path, **settings) as bot:
        outcome = await bot.transport.send("!room:localhost", Reply("hi"))
        assert outcome.kind is OutcomeKind.RETRY and "not connected" in outcome.detail
    # leaving the block stopped the transport while it was waiting to retry


async def test_an_access_token_instead_of_a_password(
    synapse: SynapseServer, bot_user: MatrixUser, resident: MatrixResident, db_path: Path
) -> None:
    elsewhere = await synapse.login_client(bot_user.user_id, bot_user.password)
    token, device = elsewhere.access_token, elsewhere.device_id
    await elsewhere.client_session.close()  # keep the session (no logout), drop the connection
    options = {"matrix_password": None, "matrix_access_token": token}
    async with running_bot(synapse, bot_user, db_path, **options) as bot:
        room = await resident.start_chat_with_bot()
        assert "Co potrafię:" in (await resident.ask(room, "!help"))["body"]
        assert await bot.storage.sync_state.get("matrix", "device_id") == device
        assert await bot.storage.sync_state.get("matrix", "access_token") is None  # in env only


async def test_refused_credentials_raise_config_error(
    synapse: SynapseServer, bot_user: MatrixUser, db_path: Path
) -> None:
    wrong = MatrixUser(bot_user.user_id, bot_user.localpart, "wrong horse")
    with pytest.raises(ConfigError, match=r"MATRIX_PASSWORD.*M_FORBIDDEN"):
        async with running_bot(synapse, wrong, db_path):
            pass


# ------------------------------------------------------------------------ what replies carry


async def test_export_arrives_as_a_file(
    synapse: SynapseServer, bot_user: MatrixUser, resident: MatrixResident, db_path: Path
) -> None:
    async with running_bot(synapse, bot_user, db_path):
        room = await resident.start_chat_with_bot()
        await resident.ask(room, "!subscribe tax")
        text = await resident.ask(room, "!export")
        assert "Oto wszystkie dane" in text["body"]
        file_event = (await resident.next_from_bot(room))["content"]
        assert file_event["msgtype"] == "m.file"
        assert file_event["filename"].endswith(".json") and file_event["url"].startswith("mxc://")
        assert file_event["info"]["mimetype"] == "application/json"

        downloaded = await resident.client.download(mxc=file_event["url"])
        assert isinstance(downloaded, MemoryDownloadResponse), downloaded
        assert len(downloaded.body) == file_event["info"]["size"]
        data = json.loads(downloaded.body)
        assert data["chat"]["chat_id"] == room and data["chat"]["platform"] == "matrix"
        assert [s["topic"] for s in data["subscriptions"]] == ["tax"]


async def test_html_in_what_people_write_comes_back_escaped(
    synapse: SynapseServer, bot_user: MatrixUser, resident: MatrixResident, db_path: Path
) -> None:
    async with running_bot(synapse, bot_user, db_path):
        room = await resident.start_chat_with_bot()
        reply = await resident.ask(room, '!subscribe <b onclick="x()">grants</b>')
        assert "&lt;b onclick=&quot;x()&quot;&gt;" in reply["formatted_body"]
        assert "<b onclick" not in reply["formatted_body"]
        assert '<b onclick="x()">' in reply["body"]  # the plain body shows it as typed


async def test_an_encrypted_room_is_told_once(
    synapse: SynapseServer, bot_user: MatrixUser, resident: MatrixResident, db_path: Path
) -> None:
    """MATRIX_E2EE=off: today's behaviour, a one-time notice asking for an unencrypted room."""
    async with running_bot(synapse, bot_user, db_path, matrix_e2ee=False):
        encrypted = await resident.start_chat_with_bot(encrypted=True)
        notice = await resident.next_notice(encrypted)
        assert "szyfrowan" in notice["body"] and "formatted_body" not in notice
        await answered_help_next(resident, encrypted, "Co potrafię:")

        plain = await resident.start_chat_with_bot()
        await resident.ask(plain, "!language uk")
        # An encrypted event in a room without the state: e.g. a client that ignores it.
        megolm = await resident.send_encrypted(plain)
        told = await resident.first_from_bot_after(plain, megolm)
        assert "шифрування" in told["content"]["body"]  # in the chat's language
        await answered_help_next(resident, plain, "Що я вмію:")

    async with running_bot(synapse, bot_user, db_path, matrix_e2ee=False) as bot:  # restarted
        await answered_help_next(resident, plain, "Що я вмію:")
        await answered_help_next(resident, encrypted, "Co potrafię:")
        # `forget` erases the room's record too: nothing about the room is left behind.
        await resident.ask(encrypted, "!forget yes")
        keys = await bot.storage.sync_state.get_all("matrix", "encryption_notice:")
        assert encrypted not in {key.removeprefix("encryption_notice:") for key in keys}


async def answered_help_next(resident: MatrixResident, room: str, heading: str) -> None:
    """After another encrypted event, the bot's next message is the help, not a notice."""
    megolm = await resident.send_encrypted(room)
    help_text = await resident.ask(room, "!help")
    assert heading in help_text["body"]
    assert (await resident.first_from_bot_after(room, megolm))["content"] == help_text


async def test_stop_ends_a_long_poll_cleanly(
    synapse: SynapseServer,
    bot_user: MatrixUser,
    resident: MatrixResident,
    db_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot: InProcessBot
    # Polls that would outlast the test: each ends early only because an event arrives.
    async with running_bot(synapse, bot_user, db_path, poll_ms=600_000) as bot:
        room = await resident.start_chat_with_bot()
        assert "Co potrafię:" in (await resident.ask(room, "!help"))["body"]
        assert bot.transport.running
    assert not bot.transport.running
    assert bot.transport.client.client_session is None  # the HTTP session is closed
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == []  # in particular not "did not stop in time; cancelled"


# ------------------------------------------------------------------------- pure helpers


def test_mentions_are_found_and_removed() -> None:
    names = ["@ngo-bot:localhost", "NGO Bot"]
    assert strip_mentions("NGO Bot: what is 1.5%?", names) == (True, "what is 1.5%?")
    assert strip_mentions("hey ngo bot, what now?", names) == (True, "hey what now?")
    assert strip_mentions("ask @ngo-bot:localhost about grants", names) == (
        True,
        "ask about grants",
    )
    assert strip_mentions("the NGO Bots are great", names) == (False, "the NGO Bots are great")
    assert strip_mentions("no mention here", names) == (False, "no mention here")
    assert strip_mentions("NGO Bot", names) == (True, "")


def test_reply_fallback_is_removed() -> None:
    body = "> <@ala:localhost> first line\n> second line\n\nthe answer"
    assert strip_reply_fallback(body) == "the answer"
    assert strip_reply_fallback("no quote\n> later") == "no quote\n> later"


def test_notice_content_renders_html_plain_text_and_hints() -> None:
    reply = Reply(
        '<b>Title</b>\nSee <a href="https://example.org/a?b=1&amp;c=2">the page</a>',
        buttons=((Button("✅ Grants", "toggle grants"), Button("<Tax>", "toggle tax")),),
    )
    content = notice_content(reply)
    assert content["msgtype"] == "m.notice" and content["format"] == "org.matrix.custom.html"
    assert content["formatted_body"].startswith(
        '<b>Title</b><br>See <a href="https://example.org/a?b=1&amp;c=2">the page</a>'
    )
    assert "&lt;Tax&gt; — <code>!toggle tax</code>" in content["formatted_body"]
    assert content["body"].startswith("Title\nSee the page (https://example.org/a?b=1&c=2)")
    assert content["body"].endswith("✅ Grants — !toggle grants\n<Tax> — !toggle tax")
    assert content["m.mentions"] == {}


def test_room_version_12_creators_outrank_power_levels() -> None:
    create = {
        "type": "m.room.create",
        "sender": "@ala:localhost",
        "content": {"room_version": "12", "additional_creators": ["@ola:localhost"]},
    }
    assert privileged_creators(create) == {"@ala:localhost", "@ola:localhost"}
    older = {**create, "content": {"room_version": "11"}}
    assert privileged_creators(older) == frozenset()


def test_attachment_reply_renders_its_text() -> None:
    reply = Reply("file", attachment=Attachment("a.ics", "text/calendar", b"BEGIN"))
    assert notice_content(reply)["body"] == "file"


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"matrix_homeserver": "matrix.example.org"}, "MATRIX_HOMESERVER"),
        ({"matrix_user_id": None}, "MATRIX_USER_ID is not set"),
        ({"matrix_user_id": "ngo-bot"}, "MATRIX_USER_ID: 'ngo-bot'"),
        ({"matrix_password": None}, "MATRIX_PASSWORD or MATRIX_ACCESS_TOKEN"),
    ],
)
def test_config_errors_name_the_variable(changes: dict[str, Any], variable: str) -> None:
    complete = {
        "matrix_homeserver": "https://matrix.example.org/",
        "matrix_user_id": "@ngo-bot:example.org",
        "matrix_password": "secret",
    }
    assert MatrixConfig.from_settings(Settings(**complete)).homeserver == (
        "https://matrix.example.org"
    )
    with pytest.raises(ConfigError, match=variable):
        MatrixConfig.from_settings(Settings(**{**complete, **changes}))


def test_allowed_servers() -> None:
    anyone = MatrixConfig("https://m.example.org", "@bot:example.org")
    assert anyone.may_invite("@ala:elsewhere.net")
    listed = MatrixConfig(
        "https://m.example.org", "@bot:example.org", allowed_servers=frozenset({"example.org"})
    )
    assert listed.may_invite("@ala:example.org")
    assert not listed.may_invite("@ala:localhost")
    assert not listed.may_invite("@ala:evil-example.org")
