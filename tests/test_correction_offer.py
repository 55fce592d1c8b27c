"""A correction notice is offered only when somebody has received the announcement."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.core.messages import Reply
from bot.storage import Storage
from tests.conftest import Say
from tests.delivery_helpers import add_chats, grant_fields, service_for

# Date-sensitive: .ci/run runs these again at its fixed moments (`pytest -m dated`).
pytestmark = pytest.mark.dated

BOSS = {"chat": "boss"}


def commands(reply: Reply) -> list[str]:
    return [button.command for button in reply.all_buttons()]


async def announced(storage: Storage, settings: Settings, readers: list[str]) -> int:
    """A published grant announcement for `readers` (nothing delivered yet); its id."""
    await add_chats(storage, "console", readers)
    announcement = await service_for(storage, settings).create(
        grant_fields(title="Konkurs"), actor="console:boss"
    )
    return announcement.id


async def purposes(storage: Storage, settings: Settings, announcement_id: int) -> list[str]:
    report = await service_for(storage, settings).deliveries(announcement_id)
    return [broadcast.purpose for broadcast in report.broadcasts]


async def test_no_notice_is_offered_while_nobody_has_received_it(
    say: Say, storage: Storage, settings: Settings
) -> None:
    announcement_id = await announced(storage, settings, ["a", "b"])
    saved, offer = await say(f"/announce edit {announcement_id} title Konkurs 2027", **BOSS)
    assert f"#{announcement_id}" in saved.text
    assert "Nikt go jeszcze nie otrzymał" in offer.text
    assert commands(offer) == [f"announce edit {announcement_id}"]
    (late,) = await say(f"/announce notify {announcement_id} yes", **BOSS)  # an old button
    assert "w drodze" not in late.text
    assert await purposes(storage, settings, announcement_id) == ["publication"]


async def test_nobody_at_all_to_receive_it(say: Say, storage: Storage, settings: Settings) -> None:
    announcement_id = await announced(storage, settings, [])
    (_saved, offer) = await say(f"/announce edit {announcement_id} text Nowa treść", **BOSS)
    assert commands(offer) == [f"announce edit {announcement_id}"]


async def test_the_notice_is_offered_once_one_chat_has_it(
    say: Say, storage: Storage, settings: Settings
) -> None:
    announcement_id = await announced(storage, settings, ["a", "b"])
    await storage.db.execute(
        "UPDATE outbox SET state = 'sent' WHERE id = (SELECT MIN(id) FROM outbox)"
    )
    (_saved, offer) = await say(f"/announce edit {announcement_id} title Konkurs 2027", **BOSS)
    assert commands(offer) == [
        f"announce notify {announcement_id} yes",
        f"announce notify {announcement_id} no",
    ]
    (yes,) = await say(f"/announce notify {announcement_id} yes", **BOSS)
    assert "w drodze" in yes.text
    assert await purposes(storage, settings, announcement_id) == ["publication", "correction"]
