"""`deadlines` and `events` with nothing announced: the subscribe hint only where it helps."""

from __future__ import annotations

import pytest

from tests.conftest import Say

# Date-sensitive: .ci/run runs these again at its fixed moments (`pytest -m dated`).
pytestmark = pytest.mark.dated

HINTS = {
    "pl": "aby dowiadywać się o nowych",
    "uk": "щоб дізнаватися про нові",
    "en": "to hear about new ones",
}


@pytest.mark.parametrize("language", ["pl", "uk", "en"])
@pytest.mark.parametrize(("command", "topic"), [("deadlines", "grants"), ("events", "meetings")])
async def test_the_hint_is_for_chats_not_subscribed_to_the_topic(
    say: Say, language: str, command: str, topic: str
) -> None:
    await say(f"/language {language}")
    (unsubscribed,) = await say(f"/{command}")
    assert HINTS[language] in unsubscribed.text
    assert f"/subscribe {topic}" in unsubscribed.text
    assert "Subscribe to /subscribe" not in unsubscribed.text
    await say(f"/subscribe {topic}")
    (subscribed,) = await say(f"/{command}")
    assert HINTS[language] not in subscribed.text
    assert "/subscribe" not in subscribed.text
    assert subscribed.text.strip()


async def test_the_hint_follows_the_topic_of_the_list(say: Say) -> None:
    await say("/subscribe grants")
    (events,) = await say("/events")
    assert "/subscribe meetings" in events.text
