"""The Synapse test harness against a real homeserver on 127.0.0.1, driven by matrix-nio."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from nio import (
    AsyncClient,
    JoinResponse,
    RoomCreateResponse,
    RoomInviteError,
    RoomInviteResponse,
    RoomMessageText,
    RoomSendError,
    RoomSendResponse,
    SyncResponse,
)

from tests.fixtures_matrix import MakeClient, MakeUser, require_synapse
from tests.synapse_server import (
    MatrixUser,
    SynapseRequestError,
    SynapseServer,
    SynapseStartError,
)

SYNC_DEADLINE = 20.0  # seconds; a generous bound so a slow CI machine does not flake


async def sync_until(
    client: AsyncClient, done: Callable[[SyncResponse], bool], what: str
) -> SyncResponse:
    """Long-poll sync until ``done`` holds for a response; fail naming ``what`` otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SYNC_DEADLINE
    while loop.time() < deadline:
        response = await client.sync(timeout=1000)
        assert isinstance(response, SyncResponse), response
        if done(response):
            return response
    raise AssertionError(f"{client.user_id} never saw {what} within {SYNC_DEADLINE} s")


def timeline_messages(response: SyncResponse, room_id: str) -> list[RoomMessageText]:
    room = response.rooms.join.get(room_id)
    if room is None:
        return []
    return [event for event in room.timeline.events if isinstance(event, RoomMessageText)]


async def send_text(client: AsyncClient, room_id: str, body: str) -> Any:
    content = {"msgtype": "m.text", "body": body}
    return await client.room_send(room_id, "m.room.message", content)


# --------------------------------------------------------------------------- server


def test_server_answers_on_loopback_as_localhost(synapse: SynapseServer) -> None:
    assert synapse.server_name == "localhost"
    assert synapse.base_url.startswith("http://127.0.0.1:")
    assert synapse.running
    with urllib.request.urlopen(f"{synapse.base_url}/_matrix/client/versions") as response:
        versions = json.load(response)["versions"]
    assert "v1.1" in versions
    # The homeserver's output goes to its own log file, not to the test output.
    assert "Synapse now listening" in synapse.log_path.read_text(encoding="utf-8")


def test_missing_synapse_fails_instead_of_skipping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.fixtures_matrix.importlib.util.find_spec", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="test extra"):
        require_synapse()


# -------------------------------------------------------------------------- accounts


async def test_registered_user_is_local_and_can_log_in(
    synapse: SynapseServer, make_matrix_client: MakeClient
) -> None:
    localpart = f"carol-{uuid.uuid4().hex[:8]}"
    user_id = synapse.register_user(localpart, "correct horse")
    assert user_id == f"@{localpart}:localhost"

    client = await make_matrix_client(MatrixUser(user_id, localpart, "correct horse"))
    assert client.user_id == user_id
    assert client.access_token

    with pytest.raises(SynapseRequestError) as wrong_password:
        await synapse.login_client(user_id, "wrong horse")
    assert wrong_password.value.errcode == "M_FORBIDDEN"

    with pytest.raises(SynapseRequestError) as taken:
        synapse.register_user(localpart, "another password")
    assert taken.value.errcode == "M_USER_IN_USE"


def test_fresh_users_have_unique_names(make_matrix_user: MakeUser) -> None:
    first, second = make_matrix_user("dup"), make_matrix_user("dup")
    assert first.user_id != second.user_id
    assert first.user_id.startswith("@dup-") and first.user_id.endswith(":localhost")


async def test_users_of_another_server_name_are_refused(
    synapse: SynapseServer, make_matrix_user: MakeUser, make_matrix_client: MakeClient
) -> None:
    with pytest.raises(SynapseRequestError) as bad_name:
        synapse.register_user("bob:example.org", "secret")
    assert bad_name.value.errcode == "M_INVALID_USERNAME"

    alice = await make_matrix_client(make_matrix_user("alice"))
    created = await alice.room_create(name="local only")
    assert isinstance(created, RoomCreateResponse), created
    # Federation is off: an invite to another server is refused at once, nothing goes out.
    invite = await alice.room_invite(created.room_id, "@bob:example.org")
    assert isinstance(invite, RoomInviteError), invite
    assert invite.status_code == "M_FORBIDDEN"


# ---------------------------------------------------------------------- rooms, sync


async def test_invite_join_and_message_between_two_clients(
    make_matrix_user: MakeUser, make_matrix_client: MakeClient
) -> None:
    alice_user, bob_user = make_matrix_user("alice"), make_matrix_user("bob")
    alice = await make_matrix_client(alice_user)
    bob = await make_matrix_client(bob_user)

    created = await alice.room_create(name="harness room")
    assert isinstance(created, RoomCreateResponse), created
    room_id = created.room_id
    invited = await alice.room_invite(room_id, bob_user.user_id)
    assert isinstance(invited, RoomInviteResponse), invited

    await sync_until(bob, lambda r: room_id in r.rooms.invite, "the invite")
    joined = await bob.join(room_id)
    assert isinstance(joined, JoinResponse), joined

    text = f"hello from alice {uuid.uuid4().hex}"
    sent = await send_text(alice, room_id, text)
    assert isinstance(sent, RoomSendResponse), sent

    def has_text(response: SyncResponse) -> bool:
        return any(m.body == text for m in timeline_messages(response, room_id))

    response = await sync_until(bob, has_text, "alice's message")
    [message] = [m for m in timeline_messages(response, room_id) if m.body == text]
    assert message.sender == alice_user.user_id
    assert message.event_id == sent.event_id
    assert room_id in bob.rooms


# ------------------------------------------------------------------------ rate limits


def test_override_ratelimit_is_stored(synapse: SynapseServer, make_matrix_user: MakeUser) -> None:
    user = make_matrix_user("broadcaster")
    assert synapse.override_ratelimit(user.user_id) == {"messages_per_second": 0, "burst_count": 0}

    status, stored = synapse.admin_api("GET", f"/v1/users/{user.user_id}/override_ratelimit")
    assert (status, stored) == (200, {"messages_per_second": 0, "burst_count": 0})

    assert synapse.override_ratelimit(user.user_id, 5, 20) == {
        "messages_per_second": 5,
        "burst_count": 20,
    }

    with pytest.raises(SynapseRequestError) as unknown:
        synapse.override_ratelimit("@nobody-here:localhost")
    assert unknown.value.status == 404
    with pytest.raises(SynapseRequestError) as foreign:
        synapse.override_ratelimit("@bob:example.org")
    assert foreign.value.status == 400


@pytest.fixture(scope="module")
def synapse_default_limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """A second homeserver with Synapse's default message rate limit (0.2/s, burst 10)."""
    require_synapse()
    server = SynapseServer(config_overrides={"rc_message": None})
    server.start(tmp_path_factory.mktemp("synapse-default-limits"))
    try:
        yield server
    finally:
        server.stop()


async def send_burst(server: SynapseServer, user: MatrixUser, count: int) -> list[Any]:
    client = await server.login_client(user.user_id, user.password)
    try:
        created = await client.room_create()
        assert isinstance(created, RoomCreateResponse), created
        return [await send_text(client, created.room_id, f"news {n}") for n in range(count)]
    finally:
        await client.close()


async def test_default_message_limit_bites_and_override_lifts_it(
    synapse_default_limits: SynapseServer,
) -> None:
    server = synapse_default_limits
    plain = server.create_user("plain")
    lifted = server.create_user("lifted")
    server.override_ratelimit(lifted.user_id)

    # The burst of 10 also pays for creating the room, so 13 sends overrun it by 4; Synapse
    # holds each refused request for 0.5 s, hence no bigger burst.
    plain_results = await send_burst(server, plain, 13)
    lifted_results = await send_burst(server, lifted, 13)

    limited = [r for r in plain_results if isinstance(r, RoomSendError)]
    assert limited, "the default limit should refuse part of a 13-message burst"
    assert {r.status_code for r in limited} == {"M_LIMIT_EXCEEDED"}
    assert all(isinstance(r, RoomSendResponse) for r in lifted_results), lifted_results


# -------------------------------------------------------------------------- lifecycle


def test_stop_closes_the_port_and_copes_with_a_dead_process(tmp_path: Path) -> None:
    require_synapse()
    server = SynapseServer()
    server.start(tmp_path)
    try:
        url = f"{server.base_url}/_matrix/client/versions"
        server.stop()
        assert not server.running
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(url, timeout=5)

        server.start(tmp_path)  # restarts on the same data folder and signing key
        pid = server.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        server.stop()
        assert not server.running
        server.stop()  # stopping twice is harmless
    finally:
        server.stop()


def test_start_failure_reports_the_log_tail(tmp_path: Path) -> None:
    require_synapse()
    server = SynapseServer(config_overrides={"database": {"name": "no-such-engine"}})
    with pytest.raises(SynapseStartError) as failure:
        server.start(tmp_path)
    message = str(failure.value)
    assert "exited with code" in message
    assert "no-such-engine" in message  # Synapse's own complaint, taken from the log
    assert not server.running
