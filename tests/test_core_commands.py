"""The core's commands through its public API, as any transport would call it."""

from __future__ import annotations

import json
import logging

import pytest

from bot.core.messages import ChatKind, ChatRef, Reply
from bot.core.registry import Audience, CommandRegistry
from bot.core.service import Core
from bot.storage import Storage
from tests.conftest import Say

ALA = ChatRef("console", "ala")


async def test_start_greets_and_offers_topic_buttons(say: Say) -> None:
    (reply,) = await say("/start")
    assert "Dzień dobry" in reply.text
    commands = [button.command for button in reply.all_buttons()]
    assert commands == [
        f"toggle {slug}" for slug in ("grants", "tax", "meetings", "consultations", "news")
    ]


async def test_language_hint_at_first_contact_is_stored(say: Say, storage: Storage) -> None:
    (reply,) = await say("/start", chat="olena", hint="uk")
    assert "Вітаю" in reply.text
    chat = await storage.chats.get(ChatRef("console", "olena"))
    assert chat is not None and chat.language == "uk"
    (later,) = await say("/help", chat="olena", hint="en")
    assert "Що я вмію" in later.text


@pytest.mark.parametrize(("hint", "expected"), [("ru", "uk"), ("pl-PL", "pl"), ("de", "en")])
async def test_hint_mapping(say: Say, storage: Storage, hint: str, expected: str) -> None:
    await say("/help", chat=f"c-{hint}", hint=hint)
    chat = await storage.chats.get(ChatRef("console", f"c-{hint}"))
    assert chat is not None and chat.language == expected


async def test_no_hint_uses_the_default_language_without_storing_it(
    say: Say, storage: Storage
) -> None:
    (reply,) = await say("/help")
    assert "Co potrafię" in reply.text
    chat = await storage.chats.get(ALA)
    assert chat is not None and chat.language is None


async def test_subscribe_unsubscribe_and_topics(say: Say, storage: Storage) -> None:
    (reply,) = await say("/subscribe grants")
    assert "Zapisano na" in reply.text and "Granty" in reply.text
    (again,) = await say("/subscribe grants")
    assert "już otrzymuje" in again.text
    (topics,) = await say("/topics")
    assert "✅ <b>Granty i konkursy</b>" in topics.text
    assert "⬜ <b>1,5% podatku</b>" in topics.text
    await say("/subscribe all")
    chat = await storage.chats.get(ALA)
    assert chat is not None
    assert await storage.chats.topics_of(chat.id) == {
        "grants",
        "tax",
        "meetings",
        "consultations",
        "news",
    }
    (off,) = await say("/unsubscribe all")
    assert "Wypisano z" in off.text
    assert await storage.chats.topics_of(chat.id) == set()


async def test_unknown_topic_lists_the_real_ones(say: Say) -> None:
    (reply,) = await say("/subscribe weather")
    assert "weather" in reply.text and "grants, tax, meetings, consultations, news" in reply.text


async def test_subscribe_without_argument_shows_buttons(say: Say) -> None:
    (reply,) = await say("/subscribe")
    assert reply.buttons and "grants" in reply.text


async def test_toggle_edits_in_place(say: Say, storage: Storage) -> None:
    (on,) = await say("/toggle tax")
    assert on.update_in_place
    assert any(b.label.startswith("✅") and b.command == "toggle tax" for b in on.all_buttons())
    (off,) = await say("/toggle tax")
    assert any(b.label.startswith("⬜") and b.command == "toggle tax" for b in off.all_buttons())


async def test_deep_link_start_subscribes(say: Say, storage: Storage) -> None:
    await say("/start grants")
    chat = await storage.chats.get(ALA)
    assert chat is not None and await storage.chats.topics_of(chat.id) == {"grants"}


async def test_language_switch_and_bad_language(say: Say) -> None:
    (done,) = await say("/language uk")
    assert "українською" in done.text
    (topics,) = await say("/topics")
    assert "Гранти та конкурси" in topics.text
    (bad,) = await say("/language xx")
    assert "xx" in bad.text and len(bad.all_buttons()) == 3
    (english,) = await say("/language EN")
    assert "English" in english.text


@pytest.mark.dated
async def test_group_settings_only_for_admins(say: Say, storage: Storage) -> None:
    group = {"chat": "-42", "platform": "telegram", "kind": ChatKind.GROUP}
    (refused,) = await say("/subscribe grants", sender="7", admin=False, **group)
    assert "administratorzy" in refused.text
    (refused_lang,) = await say("/language uk", sender="7", admin=False, **group)
    assert "administratorzy" in refused_lang.text
    (refused_forget,) = await say("/forget yes", sender="7", admin=False, **group)
    assert "administratorzy" in refused_forget.text
    (refused_deeplink,) = await say("/start grants", sender="7", admin=False, **group)
    assert "administratorzy" in refused_deeplink.text
    (topics,) = await say("/topics", sender="7", admin=False, **group)
    assert "grants" in topics.text
    await say("/subscribe grants", sender="8", admin=True, **group)
    chat = await storage.chats.get(ChatRef("telegram", "-42"))
    assert chat is not None and await storage.chats.topics_of(chat.id) == {"grants"}


async def test_privacy_names_the_operator(say: Say) -> None:
    (reply,) = await say("/privacy")
    assert "Dekerta 24" in reply.text and "/export" in reply.text and "/forget" in reply.text


async def test_privacy_and_the_faq_answer_name_the_same_stored_data(say: Say) -> None:
    (privacy,) = await say("/privacy")
    (faq,) = await say("/faq bot-privacy")
    for stored in ("identyfikator i rodzaj", "datą zapisu", "tygodniowego podsumowania", "90 dni"):
        assert stored in privacy.text and stored in faq.text, stored
    assert "Kto odpowiada za bota" in privacy.text and "Administrator danych" not in privacy.text


async def test_privacy_uses_the_configured_operator(storage: Storage, settings) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from bot.app import build_core
    from bot.core.messages import Incoming

    core = build_core(
        storage, replace(settings, operator="Fundacja <Test> & Co, kontakt@example.org")
    )
    (reply,) = await core.handle(Incoming(ALA, ChatKind.PRIVATE, "ala", True, "/privacy"))
    assert "Fundacja &lt;Test&gt; &amp; Co" in reply.text


@pytest.mark.dated
async def test_export_is_a_json_file_of_this_chat(say: Say) -> None:
    await say("/language uk")
    await say("/subscribe grants")
    (reply,) = await say("/export")
    assert reply.attachment is not None
    assert reply.attachment.mime_type == "application/json"
    data = json.loads(reply.attachment.data)
    assert data["chat"]["chat_id"] == "ala" and data["chat"]["language"] == "uk"
    assert [s["topic"] for s in data["subscriptions"]] == ["grants"]
    assert "staff" not in data


@pytest.mark.dated
async def test_export_of_a_staff_member_includes_their_record(say: Say, storage: Storage) -> None:
    await storage.staff.add("console:ewa", "staff", "console:boss")
    await storage.staff.audit("console:ewa", "announce", "id=3")
    (reply,) = await say("/export", chat="ewa")
    assert reply.attachment is not None
    data = json.loads(reply.attachment.data)
    assert data["staff"]["role"] == "staff"
    assert data["audit_log"][0]["action"] == "announce"


@pytest.mark.dated
async def test_forget_needs_confirmation_then_erases(say: Say, storage: Storage) -> None:
    await say("/subscribe all")
    (ask,) = await say("/forget")
    assert [b.command for b in ask.all_buttons()] == ["forget yes", "forget no"]
    assert await storage.chats.get(ALA) is not None
    (done,) = await say("/forget yes")
    assert "usunięte" in done.text
    assert await storage.chats.get(ALA) is None
    count = await storage.db.fetch_one("SELECT COUNT(*) FROM subscriptions")
    assert count is not None and count[0] == 0


@pytest.mark.dated
async def test_deadlines_and_events_say_nothing_is_announced(say: Say) -> None:
    (deadlines,) = await say("/deadlines")
    (events,) = await say("/events")
    assert "Nie ogłoszono" in deadlines.text and "Nie ogłoszono" in events.text


async def test_a_question_is_answered_in_its_own_language_with_the_link(say: Say) -> None:
    (polish,) = await say("Do kiedy mogę przekazać 1,5% podatku na fundację?")
    assert "30 kwietnia" in polish.text and '<a href="https://' in polish.text
    (ukrainian,) = await say("Як передати півтора відсотка податку на фундацію?")
    assert "30 квітня" in ukrainian.text


async def test_out_of_scope_questions_abstain_kindly_and_are_kept_without_user_id(
    say: Say, storage: Storage
) -> None:
    (reply,) = await say("Jaka będzie jutro pogoda w Krakowie?")
    assert "nie znam odpowiedzi" in reply.text and "/help" in reply.text
    assert [b.command for b in reply.all_buttons()] == ["help", "faq contact"]
    rows = await storage.db.fetch_all("SELECT * FROM unanswered_questions")
    assert [row["text"] for row in rows] == ["Jaka będzie jutro pogoda w Krakowie?"]
    # question_id: the number of the question for the office it became, if any (no chat id)
    assert set(rows[0].keys()) == {"id", "asked_at", "language", "text", "question_id"}
    assert rows[0]["question_id"] is None
    (contact,) = await say("/faq contact")
    assert "Dekerta 24" in contact.text


@pytest.mark.dated
async def test_unanswered_is_for_staff(say: Say, storage: Storage) -> None:
    for _n in range(3):
        await say("Gdzie kupić bilet na tramwaj?", chat="resident")
    await say("Ile kosztuje paszport?", chat="resident")
    (refused,) = await say("/unanswered", chat="resident")
    assert "pracowników biura" in refused.text
    (listing,) = await say("/unanswered", chat="boss")
    lines = listing.text.splitlines()
    assert lines[1] == "3× [pl] Gdzie kupić bilet na tramwaj?"
    assert lines[2] == "1× [pl] Ile kosztuje paszport?"


async def test_unknown_command_is_answered_politely_and_escaped(say: Say) -> None:
    (reply,) = await say("/<script>alert(1)</script>")
    assert "<script>" not in reply.text and "&lt;script&gt;" in reply.text
    assert "/help" in reply.text


async def test_command_with_bot_name_suffix(say: Say) -> None:
    (reply,) = await say("/help@NgoBot")
    assert "Co potrafię" in reply.text


async def test_too_long_message_is_refused(say: Say) -> None:
    (reply,) = await say("a" * 10_000)
    assert "10000" in reply.text and "4096" in reply.text


async def test_binary_junk_gets_a_hint(say: Say) -> None:
    (reply,) = await say("\x00\x01\x02\x1b")
    assert "tekstowe" in reply.text


async def test_matrix_chats_see_bang_commands(say: Say) -> None:
    (reply,) = await say("/help", platform="matrix", chat="!room:localhost", sender="@a:localhost")
    assert "!subscribe" in reply.text and "/subscribe" not in reply.text


async def test_help_hides_internal_commands(say: Say) -> None:
    (reply,) = await say("/help")
    assert "/toggle" not in reply.text and "/subscribe" in reply.text


@pytest.mark.dated
async def test_a_failing_command_gives_an_apology_with_reference(
    storage: Storage,
    settings,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    registry = CommandRegistry()

    @registry.command("boom", "explodes")
    async def boom(ctx, args):  # type: ignore[no-untyped-def]
        raise RuntimeError("kaboom")

    from bot.core.topics import load_topics

    core = Core(storage, settings, load_topics(), registry=registry)
    from bot.core.messages import Incoming

    with caplog.at_level(logging.ERROR):
        (reply,) = await core.handle(Incoming(ALA, ChatKind.PRIVATE, "ala", True, "/boom secret"))
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    reference = errors[0].getMessage().split()[1]
    assert reference in reply.text and "Przepraszam" in reply.text
    assert "secret" not in errors[0].getMessage()
    # The bot keeps working after the failure.
    (after,) = await core.handle(Incoming(ALA, ChatKind.PRIVATE, "ala", True, "/nothing"))
    assert isinstance(after, Reply)


@pytest.mark.dated
async def test_staff_only_command_is_refused_and_audited(storage: Storage, settings) -> None:  # type: ignore[no-untyped-def]
    registry = CommandRegistry()

    @registry.command("secret", "staff thing", audience=Audience.STAFF)
    async def secret(ctx, args):  # type: ignore[no-untyped-def]
        return [Reply("ok")]

    from bot.core.messages import Incoming
    from bot.core.topics import load_topics

    core = Core(storage, settings, load_topics(), registry=registry)
    (refused,) = await core.handle(Incoming(ALA, ChatKind.PRIVATE, "ala", True, "/secret"))
    assert "pracowników biura" in refused.text
    log = await storage.staff.audit_log("console:ala")
    assert [(e.action, e.detail) for e in log] == [("denied", "secret")]
    boss = ChatRef("console", "boss")
    (allowed,) = await core.handle(Incoming(boss, ChatKind.PRIVATE, "boss", True, "/secret"))
    assert allowed.text == "ok"


async def test_a_blocked_chat_writing_again_is_active(say: Say, storage: Storage) -> None:
    await say("/start")
    await storage.chats.set_active(ALA, False)
    await say("/help")
    chat = await storage.chats.get(ALA)
    assert chat is not None and chat.active
