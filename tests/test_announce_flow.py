"""Staff in chat: authorisation, the guided announce flow, corrections, listings, GDPR."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from bot.app import build_core
from bot.config import Settings
from bot.core.messages import ChatKind, ChatRef, Incoming, Reply
from bot.core.service import Core
from bot.storage import Storage
from tests.conftest import Say
from tests.delivery_helpers import add_chats, grant_fields, service_for

# Date-sensitive: .ci/run runs these again at its fixed moments (`pytest -m dated`).
pytestmark = pytest.mark.dated

BOSS = {"chat": "boss"}


def day(days: int, settings: Settings, clock: str = "") -> str:
    """A local date `days` ahead, as staff type it: '30.04.2027' or '30.04.2027 18:00'."""
    moment = datetime.now(settings.timezone) + timedelta(days=days)
    return moment.strftime("%d.%m.%Y") + (f" {clock}" if clock else "")


def commands(reply: Reply) -> list[str]:
    return [button.command for button in reply.all_buttons()]


async def draft_step(storage: Storage, identity: str = "console:boss") -> str | None:
    drafts = await storage.drafts.of_identity(identity)
    return drafts[0].step if drafts else None


async def test_non_staff_are_refused_and_logged(say: Say, storage: Storage) -> None:
    for command in ("/announce", "/announcements", "/announce edit 1 title x"):
        (reply,) = await say(command, chat="ala")
        assert "tylko dla pracowników" in reply.text
    (admin_only,) = await say("/staff add console:ola", chat="ala")
    assert "administratorzy" in admin_only.text
    denied = await storage.staff.audit_log("console:ala")
    assert [e.detail for e in reversed(denied)] == [
        "announce",
        "announcements",
        "announce",
        "staff",
    ]
    assert all(e.action == "denied" for e in denied)


async def test_admins_add_list_and_remove_staff(say: Say, storage: Storage) -> None:
    (added,) = await say("/staff add console:ola", **BOSS)
    assert "console:ola" in added.text
    (again,) = await say("/staff add console:ola", **BOSS)
    assert "already" in again.text or "już" in again.text
    (start,) = (await say("/announce", chat="ola"))[:1]
    assert "/cancel" in start.text
    (staff_refused,) = await say("/staff add console:eve", chat="ola")
    assert "administratorzy" in staff_refused.text
    (listing,) = await say("/staff list", **BOSS)
    assert "console:boss" in listing.text and "console:ola" in listing.text
    (bad,) = await say("/staff add bob", **BOSS)
    assert "telegram:123456" in bad.text
    (env_admin,) = await say("/staff remove console:boss", **BOSS)
    assert "BOT_ADMINS" in env_admin.text
    (removed,) = await say("/staff remove console:ola", **BOSS)
    assert "console:ola" in removed.text
    (refused,) = await say("/announce", chat="ola")
    assert "tylko dla pracowników" in refused.text
    (free,) = await say("news", chat="ola")  # her old draft no longer takes her text
    assert "/cancel" not in free.text  # not a step of the flow: the FAQ answered it
    actions = [(e.action, e.detail) for e in await storage.staff.audit_log("console:boss")]
    assert ("staff add", "console:ola") in actions and ("staff remove", "console:ola") in actions


async def test_the_guided_flow_with_bad_input_at_every_step(
    say: Say, storage: Storage, settings: Settings
) -> None:
    await add_chats(storage, "console", ["reader"])
    intro, kind = await say("/announce", **BOSS)
    assert "/cancel" in intro.text
    assert commands(kind) == [
        f"announce pick kind {k}" for k in ("grant-deadline", "tax-campaign", "meeting", "news")
    ]
    (bad,) = await say("weather", **BOSS)
    assert "⚠️" in bad.text and len(bad.all_buttons()) == 4
    (title,) = await say("/announce pick kind grant-deadline", **BOSS)
    assert "200" in title.text
    (stale,) = (await say("/announce pick kind news", **BOSS))[:1]
    assert "wcześniejszego pytania" in stale.text
    (too_long,) = await say("T" * 201, **BOSS)
    assert "201" in too_long.text and "200" in too_long.text
    await say("Nabór <wniosków> 2027", **BOSS)
    (long_text,) = await say("x" * 3001, **BOSS)
    assert "3001" in long_text.text
    (uk_title,) = await say("Wnioski do końca miesiąca & więcej.", **BOSS)
    assert commands(uk_title) == ["announce pick title_uk skip"]
    await say("Конкурс 2027", **BOSS)
    await say("Заявки до кінця місяця.", **BOSS)
    (deadline,) = await say("skip", **BOSS)  # no English version
    assert "23:59" in deadline.text
    assert await draft_step(storage) == "deadline"
    for wrong, expected in (
        ("sometime", "nie mogę odczytać"),
        ("31.02.2027", "nie ma dnia 31 lutego 2027: luty 2027 ma 28 dni"),
        ("01.01.2020", "przeszłości"),
    ):
        (reply,) = await say(wrong, **BOSS)
        assert expected in reply.text.lower() and day(30, settings, "23:59") in reply.text
    (link,) = await say(day(40, settings), **BOSS)
    assert commands(link) == ["announce pick url skip"]
    (bad_link,) = await say("ftp://example.org", **BOSS)
    assert "https://" in bad_link.text
    (topic,) = await say("https://ngo.krakow.pl/konkurs", **BOSS)
    assert commands(topic)[0] == "announce pick topic grants"
    (bad_topic,) = await say("weather", **BOSS)
    assert "weather" in bad_topic.text
    (remind,) = await say("/announce pick topic default", **BOSS)
    assert "14d@09:00,3d@09:00,1d@09:00" in remind.text
    (bad_remind,) = await say("3x", **BOSS)
    assert "„3x”" in bad_remind.text and "reminder offset" not in bad_remind.text
    assert "announce pick remind 7d@09:00,1d@09:00" in commands(bad_remind)
    previews = await say("7d@09:00, 1d", **BOSS)
    assert len(previews) == 3  # Polish and Ukrainian previews, then the choices
    polish, ukrainian, choices = previews
    assert "Nabór &lt;wniosków&gt; 2027" in polish.text and "/unsubscribe grants" in polish.text
    assert "23:59" in polish.text and "ngo.krakow.pl/konkurs" in polish.text
    assert "Конкурс 2027" in ukrainian.text and "Щоб відписатися від теми" in ukrainian.text
    assert "Podgląd — Українська" in ukrainian.text
    assert commands(choices) == [
        "announce publish",
        "announce schedule",
        "announce edit",
        "announce cancel",
    ]
    (free_text,) = await say("hello?", **BOSS)
    assert commands(free_text) == commands(choices)
    (published,) = await say("/announce publish", **BOSS)
    assert "#1" in published.text and "Liczba odbiorców: 1." in published.text
    assert await draft_step(storage) is None
    stored = await service_for(storage, settings).get(1)
    assert stored.fields.remind == "7d@09:00,1d" and stored.fields.title_en is None
    assert stored.author_chat_ref is not None
    actions = [e.action for e in await storage.staff.audit_log("console:boss")]
    assert "announce publish" in actions


async def test_a_meeting_with_dates_checked_then_scheduled(
    say: Say, storage: Storage, settings: Settings
) -> None:
    await say("/announce", **BOSS)
    await say("/announce pick kind meeting", **BOSS)
    await say("Spotkajmy się w 3. miejscu", **BOSS)
    await say("Zapraszamy!", **BOSS)
    await say("/announce pick title_uk skip", **BOSS)
    (start,) = await say("/announce pick title_en skip", **BOSS)
    assert day(14, settings, "18:00") in start.text
    (date_only,) = await say(day(20, settings), **BOSS)
    assert "Dodaj też godzinę" in date_only.text
    (end,) = await say(day(20, settings, "18:00"), **BOSS)
    assert "20:00" in end.text
    (before,) = await say("17:00", **BOSS)
    assert "po rozpoczęciu" in before.text
    (where,) = await say("20:00", **BOSS)
    assert commands(where) == ["announce pick location skip"]
    (repeat,) = await say("ul. Dekerta 24, Kraków", **BOSS)
    assert "announce pick repeat weekly" in commands(repeat)
    await say("/announce pick repeat none", **BOSS)
    await say("skip", **BOSS)
    (remind,) = await say("/announce pick topic default", **BOSS)
    assert "1d@18:00,2h" in remind.text
    previews = await say("/announce pick remind default", **BOSS)
    assert "18:00 – 20:00" in previews[0].text and "Dekerta 24" in previews[0].text
    (when,) = await say("/announce schedule", **BOSS)
    assert day(1, settings, "09:00") in when.text
    (past,) = await say("01.01.2020 10:00", **BOSS)
    assert "przeszłości" in past.text
    (scheduled,) = await say(day(2, settings, "09:00"), **BOSS)
    assert "#1" in scheduled.text
    stored = await service_for(storage, settings).get(1)
    assert stored.status.value == "scheduled" and stored.fields.topic == "meetings"


async def test_edit_from_the_preview_keeps_the_other_answers(
    say: Say, storage: Storage, settings: Settings
) -> None:
    await say("/announce", **BOSS)
    for answer in ("/announce pick kind news", "Stary", "Tekst", "skip", "skip", "skip"):
        await say(answer, **BOSS)
    previews = await say("/announce pick topic default", **BOSS)  # news: no reminders step
    assert "Stary" in previews[0].text
    (menu,) = await say("/announce edit", **BOSS)
    assert "announce goto title_pl" in commands(menu) and "announce goto remind" not in commands(
        menu
    )
    await say("/announce goto title_pl", **BOSS)
    previews = await say("Nowy", **BOSS)
    assert "Nowy" in previews[0].text and "Tekst" in previews[0].text
    await say("/announce goto kind", **BOSS)
    (deadline,) = await say("/announce pick kind tax-campaign", **BOSS)
    assert commands(deadline) == ["announce pick deadline default"]
    (topic,) = await say("/announce pick deadline default", **BOSS)
    assert commands(topic)[0] == "announce pick topic tax"
    await say("/announce pick topic default", **BOSS)
    previews = await say("/announce pick remind default", **BOSS)
    assert "30 kwietnia" in previews[0].text and "Nowy" in previews[0].text


async def test_cancel_leaves_at_any_step_and_commands_still_work(
    say: Say, storage: Storage
) -> None:
    await say("/announce", **BOSS)
    await say("/announce pick kind news", **BOSS)
    (help_reply,) = await say("/help", **BOSS)
    assert "/announce" in help_reply.text and "/staff" in help_reply.text
    assert await draft_step(storage) == "title_pl"
    (cancelled,) = await say("anuluj", **BOSS)
    assert "Anulowano" in cancelled.text and await draft_step(storage) is None
    (free,) = await say("anuluj", **BOSS)
    assert "nie znam odpowiedzi" in free.text  # no flow any more: the text goes to the FAQ
    await say("/announce", **BOSS)
    await say("/announce pick kind news", **BOSS)
    (slash,) = await say("/cancel", **BOSS)
    assert "Anulowano" in slash.text and await draft_step(storage) is None
    (nothing,) = await say("/cancel", **BOSS)
    assert "Nie ma czego" in nothing.text


async def test_the_flow_only_runs_in_private_chats(say: Say, storage: Storage) -> None:
    group = {"chat": "-5", "sender": "boss", "kind": ChatKind.GROUP}
    (reply,) = await say("/announce", **group)
    assert "prywatnym" in reply.text


def talk(core: Core) -> Say:
    async def send(text: str, *, chat: str = "boss") -> list[Reply]:
        return await core.handle(
            Incoming(ChatRef("console", chat), ChatKind.PRIVATE, chat, True, text)
        )

    return send


async def test_a_restart_mid_flow_continues_where_it_was(settings: Settings) -> None:
    storage = await Storage.open(settings.db_path)
    before = talk(build_core(storage, settings))
    await before("/announce")
    await before("/announce pick kind news")
    await before("Tytuł przed restartem")
    await storage.close()

    storage = await Storage.open(settings.db_path)
    after = talk(build_core(storage, settings))
    (uk_title,) = await after("Tekst po restarcie")
    assert "ukraińsku" in uk_title.text
    (offer,) = await after("/announce")
    assert commands(offer) == ["announce continue", "announce restart"]
    (same,) = await after("/announce continue")
    assert same.text == uk_title.text
    for answer in ("skip", "skip", "skip"):
        await after(answer)
    previews = await after("/announce pick topic news")
    assert "Tytuł przed restartem" in previews[0].text and "Tekst po restarcie" in previews[0].text
    (fresh_intro, kind) = await after("/announce restart")
    assert "/cancel" in fresh_intro.text
    assert len(kind.all_buttons()) == 4
    await storage.close()


async def test_corrections_in_chat(say: Say, storage: Storage, settings: Settings) -> None:
    await add_chats(storage, "console", ["reader"])
    service = service_for(storage, settings)
    announcement = await service.create(grant_fields(title="Konkurs"), actor="console:boss")
    await storage.db.execute("UPDATE outbox SET state = 'sent'")  # as if delivered
    new = day(50, settings)
    saved, question = await say(f"/announce edit {announcement.id} deadline {new}", **BOSS)
    assert "#1" in saved.text
    assert commands(question) == ["announce notify 1 yes", "announce notify 1 no"]
    (no,) = await say("/announce notify 1 no", **BOSS)
    assert "bez informacji" in no.text
    assert [b.purpose for b in (await service.deliveries(1)).broadcasts] == ["publication"]
    (yes,) = await say("/announce notify 1 yes", **BOSS)
    assert "w drodze" in yes.text
    assert [b.purpose for b in (await service.deliveries(1)).broadcasts] == [
        "publication",
        "correction",
    ]
    stored = await service.get(1)
    assert stored.fields.deadline is not None
    assert stored.fields.deadline.astimezone(settings.timezone).strftime("%d.%m.%Y %H:%M") == (
        new + " 23:59"
    )

    (ask,) = await say("/announce edit 1 title-en", **BOSS)
    assert "po angielsku" in ask.text and "/cancel" in ask.text
    assert await draft_step(storage) == "title_en"
    (ask_text,) = await say("Competition", **BOSS)
    assert "Tekst po angielsku" in ask_text.text
    assert await draft_step(storage) == "text_en"
    replies = await say("Apply by the deadline.", **BOSS)
    assert "#1" in replies[0].text
    assert (await service.get(1)).fields.text_en == "Apply by the deadline."

    (menu,) = await say("/announce edit 1 colour red", **BOSS)
    assert "colour" in menu.text and "announce edit 1 title_pl" in commands(menu)
    (empty,) = await say("/announce edit 1 title skip", **BOSS)
    assert "⚠️" in empty.text
    (past,) = await say("/announce edit 1 deadline 01.01.2020", **BOSS)
    assert "przeszłości" in past.text
    (kept,) = await say("/cancel", **BOSS)
    assert "Nic nie zostało zmienione" in kept.text
    (kind_fixed,) = await say("/announce edit 1 publish-at " + day(3, settings, "10:00"), **BOSS)
    assert "⚠️" in kind_fixed.text
    (unknown,) = await say("/announce edit 99 title x", **BOSS)
    assert "#99" in unknown.text


async def test_announcements_list_show_and_cancel(
    say: Say, storage: Storage, settings: Settings
) -> None:
    await add_chats(storage, "console", ["a", "b"])
    service = service_for(storage, settings)
    first = await service.create(grant_fields(title="Pierwsze"), actor="console:boss")
    await service.create(
        grant_fields(
            title="Drugie", publish_at=datetime.now(settings.timezone) + timedelta(days=1)
        ),
        actor="console:boss",
    )
    await storage.announcements.send_reminder(
        first.id, datetime.now(settings.timezone), now=datetime.now(settings.timezone)
    )
    (listing,) = await say("/announcements", **BOSS)
    assert listing.text.index("Drugie") < listing.text.index("Pierwsze")
    assert "zaplanowane" in listing.text and "Wiadomości: 2" in listing.text
    (shown,) = await say(f"/announcements show {first.id}", **BOSS)
    assert "Pierwsze" in shown.text and "Przypomnienie" in shown.text
    (cancelled,) = await say(f"/announcements cancel {first.id} yes", **BOSS)
    assert "#1" in cancelled.text
    (again,) = await say(f"/announcements cancel {first.id}", **BOSS)
    assert "już" in again.text
    (shown,) = await say(f"/announcements show {first.id}", **BOSS)
    assert "anulowane" in shown.text
    (missing,) = await say("/announcements show 42", **BOSS)
    assert "#42" in missing.text


async def test_deadlines_and_events_list_upcoming_ones_with_babel_dates(
    say: Say, storage: Storage, settings: Settings
) -> None:
    from bot.announcements.model import Kind

    service = service_for(storage, settings)
    now = datetime.now(settings.timezone)
    deadline = (now + timedelta(days=10)).replace(hour=23, minute=59, second=0, microsecond=0)
    await service.create(
        grant_fields(title="Konkurs A", title_uk="Конкурс А", text_uk="Т", deadline=deadline),
        actor="console:boss",
    )
    await service.create(
        grant_fields(title="Jeszcze niepublikowany", publish_at=now + timedelta(days=1)),
        actor="console:boss",
    )
    cancelled = await service.create(grant_fields(title="Odwołany"), actor="console:boss")
    await service.cancel(cancelled.id, actor="console:boss")
    starts = (now + timedelta(days=5)).replace(hour=18, minute=0, second=0, microsecond=0)
    await service.create(
        grant_fields(
            title="Spotkanie",
            kind=Kind.MEETING,
            topic="meetings",
            deadline=None,
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            location="Dekerta 24",
            remind="none",
        ),
        actor="console:boss",
    )
    (polish,) = await say("/deadlines", chat="ala")
    assert "Konkurs A" in polish.text and "Odwołany" not in polish.text
    assert "niepublikowany" not in polish.text and "Spotkanie" not in polish.text
    from babel.dates import format_datetime

    expected = format_datetime(
        deadline, "EEEE, d MMMM y, HH:mm", tzinfo=settings.timezone, locale="pl"
    )
    assert expected in polish.text
    await say("/language uk", chat="olena")
    (ukrainian,) = await say("/deadlines", chat="olena")
    uk_date = format_datetime(
        deadline, "EEEE, d MMMM y, HH:mm", tzinfo=settings.timezone, locale="uk"
    )
    assert "Конкурс А" in ukrainian.text and uk_date in ukrainian.text
    (events,) = await say("/events", chat="ala")
    assert (
        "Spotkanie" in events.text and "18:00 – 20:00" in events.text and "Dekerta" in events.text
    )
    assert "Konkurs" not in events.text


async def test_export_has_the_senders_drafts_and_forget_cascades(
    say: Say, storage: Storage, settings: Settings
) -> None:
    boss = await add_chats(storage, "console", ["boss"], topics=["grants"])
    await service_for(storage, settings).create(
        grant_fields(), actor="console:boss", author_chat_ref=boss[0]
    )
    await say("/announce", **BOSS)
    await say("/announce pick kind news", **BOSS)
    (export,) = await say("/export", **BOSS)
    assert export.attachment is not None
    data = json.loads(export.attachment.data)
    assert data["announcement_drafts"][0]["step"] == "title_pl"
    assert data["announcement_drafts"][0]["answers"]["kind"] == "news"
    assert data["broadcasts_received"] == 0
    await say("/forget yes", **BOSS)
    for table in ("outbox", "drafts"):
        row = await storage.db.fetch_one(f"SELECT COUNT(*) FROM {table} WHERE chat_ref = ?", boss)
        assert row is not None and row[0] == 0
    author = await storage.db.fetch_one("SELECT author_chat_ref FROM announcements")
    assert author is not None and author[0] is None


async def test_show_lists_the_reminders_recomputed_after_an_edit(
    say: Say, storage: Storage, settings: Settings
) -> None:
    service = service_for(storage, settings)
    deadline = (datetime.now(settings.timezone) + timedelta(days=20)).replace(
        hour=23, minute=59, second=0, microsecond=0
    )
    announcement = await service.create(
        grant_fields(deadline=deadline, remind="3d@09:00"), actor="console:boss"
    )
    (shown,) = await say(f"/announcements show {announcement.id}", **BOSS)
    first = (deadline - timedelta(days=3)).strftime("%-d")
    assert "Następne przypomnienia" in shown.text and f", {first} " in shown.text
    await service.edit(announcement.id, {"deadline": deadline + timedelta(days=5)}, actor="x")
    (again,) = await say(f"/announcements show {announcement.id}", **BOSS)
    moved = (deadline + timedelta(days=2)).strftime("%-d")
    assert f", {moved} " in again.text and f", {first} " not in again.text


async def test_a_change_of_kind_before_publication_follows_the_new_kinds_defaults(
    storage: Storage, settings: Settings
) -> None:
    from bot.announcements.model import Kind

    service = service_for(storage, settings)
    later = datetime.now(settings.timezone) + timedelta(days=1)
    scheduled = await service.create(grant_fields(publish_at=later), actor="console:boss")
    result = await service.edit(scheduled.id, {"kind": Kind.NEWS}, actor="console:boss")
    fields = result.announcement.fields
    assert (fields.kind, fields.topic, fields.remind, fields.deadline) == (
        Kind.NEWS,
        "news",
        "none",
        None,
    )
    assert result.changed == {"kind", "topic", "remind", "deadline"}


async def test_prompts_give_future_examples_and_reminder_choices_as_buttons(
    say: Say, storage: Storage
) -> None:
    with time_machine.travel(datetime(2031, 6, 10, 10, 0, tzinfo=UTC), tick=False):
        await say("/announce", **BOSS)
        await say("/announce pick kind grant-deadline", **BOSS)
        for answer in ("Nabór 2031", "Tekst naboru.", "skip", "skip"):
            (question,) = await say(answer, **BOSS)
        assert "10.07.2031 23:59" in question.text and "2026" not in question.text
        await say("20.07.2031", **BOSS)
        await say("skip", **BOSS)  # no link
        (remind,) = await say("/announce pick topic default", **BOSS)
        assert commands(remind) == [
            "announce pick remind default",
            "announce pick remind 7d@09:00,1d@09:00",
            "announce pick remind 1d@09:00",
            "announce pick remind 2h",
            "announce pick remind none",
        ]
        (bad,) = await say("3x", chat="boss", hint="uk")
        assert "⚠️" in bad.text and "reminder offset" not in bad.text
        previews = await say("/announce pick remind 1d@09:00", **BOSS)
        assert commands(previews[-1])[0] == "announce publish"
