"""Links in announcements: an address typed without https:// is completed, other text refused."""

from __future__ import annotations

import pytest

from bot.announcements.model import AnnouncementError, check_url, validate
from bot.clock import utcnow
from bot.i18n import use_language
from bot.storage import Storage
from tests.conftest import Say
from tests.delivery_helpers import grant_fields

TOPICS = ("grants", "tax", "meetings", "consultations", "news")
BOSS = {"chat": "boss"}


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("ngo.krakow.pl/konkursy", "https://ngo.krakow.pl/konkursy"),
        ("www.krakow.pl", "https://www.krakow.pl"),
        (
            " ngo.krakow.pl/konkursy?rok=2027#lista ",
            "https://ngo.krakow.pl/konkursy?rok=2027#lista",
        ),
        ("kraków.pl/ngo", "https://kraków.pl/ngo"),
        ("ngo.krakow.pl:8443/a", "https://ngo.krakow.pl:8443/a"),
        ("https://ngo.krakow.pl/konkursy", "https://ngo.krakow.pl/konkursy"),
        ("http://ngo.krakow.pl", "http://ngo.krakow.pl"),
    ],
)
def test_an_address_without_a_scheme_gets_https(typed: str, kept: str) -> None:
    assert check_url(typed) == kept


@pytest.mark.parametrize(
    "typed",
    ["hello", "np.", "biuro@ngo.krakow.pl", "ngo krakow pl", "ngo.krakow.pl/a b", "192.168.0.1/x"],
)
def test_text_that_is_no_link_is_refused_clearly(typed: str) -> None:
    with pytest.raises(AnnouncementError) as raised, use_language("pl"):
        check_url(typed)
    assert raised.value.field == "url"
    assert raised.value.message.startswith("To nie jest link.")
    assert "ngo.krakow.pl/konkursy" in raised.value.message


def test_another_scheme_is_refused_as_before() -> None:
    with pytest.raises(AnnouncementError) as raised, use_language("uk"):
        check_url("ftp://ngo.krakow.pl")
    assert "https://" in raised.value.message and "Це не посилання" not in raised.value.message


@pytest.mark.dated
def test_validation_stores_the_completed_link() -> None:
    checked = validate(grant_fields(url="ngo.krakow.pl/konkursy"), now=utcnow(), topics=TOPICS)
    assert checked.url == "https://ngo.krakow.pl/konkursy"


@pytest.mark.dated
async def test_the_flow_accepts_an_address_without_https(say: Say, storage: Storage) -> None:
    await say("/announce", **BOSS)
    for answer in ("/announce pick kind news", "Aktualności", "Tekst.", "skip", "skip"):
        await say(answer, **BOSS)
    (refused,) = await say("zobacz stronę", **BOSS)
    assert "To nie jest link." in refused.text
    (topic,) = await say("ngo.krakow.pl/konkursy", **BOSS)
    assert "announce pick topic news" in [b.command for b in topic.all_buttons()]
    previews = await say("/announce pick topic default", **BOSS)
    assert "https://ngo.krakow.pl/konkursy" in previews[0].text
    (drafted,) = await storage.drafts.of_identity("console:boss")
    assert drafted.data["url"] == "https://ngo.krakow.pl/konkursy"
