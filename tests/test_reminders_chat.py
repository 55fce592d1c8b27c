"""Reminders, recurring meetings, the digest and calendars as people and staff see them in chat."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from bot.announcements.model import Fields, Kind
from bot.config import Settings
from bot.core.messages import ChatKind, ChatRef, Reply
from bot.reminders.planner import HORIZON
from bot.reminders.season import campaign_times
from bot.storage import Storage
from tests.conftest import Say
from tests.delivery_helpers import grant_fields, service_for

# Date-sensitive: .ci/run runs these again at its fixed moments (`pytest -m dated`).
pytestmark = pytest.mark.dated

BOSS = {"chat": "boss"}


def commands(reply: Reply) -> list[str]:
    return [button.command for button in reply.all_buttons()]


def third_thursday_ahead(settings: Settings, months: int = 1) -> datetime:
    """17:00 local on the third Thursday of the month `months` from now."""
    today = datetime.now(settings.timezone).date()
    first = (today.replace(day=1) + timedelta(days=32 * months)).replace(day=1)
    thursday = first + timedelta(days=(3 - first.weekday()) % 7 + 14)
    return datetime.combine(thursday, time(17, 0), tzinfo=settings.timezone)


def third_thursdays_from(start: datetime, count: int = 4) -> list[datetime]:
    """`start` and the next third Thursdays at its local time."""
    found: list[datetime] = []
    first = start.date().replace(day=1)
    while len(found) < count:
        thursday = first + timedelta(days=(3 - first.weekday()) % 7 + 14)
        found.append(datetime.combine(thursday, start.timetz()))
        first = (first + timedelta(days=32)).replace(day=1)
    return found


def series_fields(start: datetime, **extra: Any) -> Fields:
    values: dict[str, Any] = {
        "kind": Kind.MEETING,
        "topic": "meetings",
        "title_pl": "Spotkajmy się w 3. miejscu",
        "text_pl": "Co miesiąc, w trzeci czwartek.",
        "title_uk": "Зустріч у 3-му місці",
        "text_uk": "Щомісяця, в третій четвер.",
        "publish_at": datetime.now(start.tzinfo),
        "remind": "1d@18:00",
        "starts_at": start,
        "ends_at": start + timedelta(hours=2),
        "location": "ul. Dekerta 24",
        "repeat": "FREQ=MONTHLY;BYDAY=3TH",
    }
    values.update(extra)
    return Fields(**values)


def calendar_of(reply: Reply) -> Calendar:
    assert reply.attachment is not None
    assert reply.attachment.mime_type == "text/calendar"
    return Calendar.from_ical(reply.attachment.data)


# --- the digest --------------------------------------------------------------------------------


async def test_digest_on_off_in_export_and_erased_by_forget(say: Say, storage: Storage) -> None:
    (state,) = await say("/digest", chat="ala")
    assert "osobne przypomnienie" in state.text
    assert commands(state) == ["digest weekly", "digest off"]
    (on,) = await say("/digest weekly", chat="ala")
    assert "w każdy poniedziałek o 09:00" in on.text and "/digest off" in on.text
    (again,) = await say("/digest weekly", chat="ala")
    assert "już" in again.text
    (export,) = await say("/export", chat="ala")
    assert export.attachment is not None
    data = json.loads(export.attachment.data)
    assert data["digest"]["schedule"] == "weekly"
    chat = await storage.chats.get(ChatRef("console", "ala"))
    assert chat is not None
    await say("/forget yes", chat="ala")
    assert await storage.digests.get(chat.id) is None  # gone with the chat (cascade)
    (fresh,) = await say("/digest off", chat="ala")
    assert "nie dostaje" in fresh.text
    await say("/digest weekly", chat="ola")
    (off,) = await say("/digest off", chat="ola")
    assert "znów dostaje osobne przypomnienia" in off.text


async def test_only_group_admins_choose_the_digest(say: Say) -> None:
    (refused,) = await say("/digest weekly", chat="group", kind=ChatKind.GROUP, admin=False)
    assert "administratorzy" in refused.text
    (done,) = await say("/digest weekly", chat="group", kind=ChatKind.GROUP, admin=True)
    assert "poniedziałek" in done.text


# --- recurring meetings in listings and calendars ----------------------------------------------


async def test_events_list_each_occurrence_at_its_place_and_offer_a_calendar(
    say: Say, storage: Storage, settings: Settings
) -> None:
    start = third_thursday_ahead(settings)
    service = service_for(storage, settings)
    series = await service.create(series_fields(start), actor="console:boss")
    second = third_thursday_ahead(settings, 2)
    await service.move_occurrence(series.id, second.date(), "Pałac Sztuki", actor="console:boss")
    (events,) = await say("/events", chat="ala")
    lines = [line for line in events.text.splitlines() if "Spotkajmy" in line]
    assert len(lines) == 10  # a series lists its next ten occurrences
    assert "Dekerta" in lines[0] and "Pałac Sztuki" in lines[1] and "Dekerta" in lines[2]
    assert "17:00 – 19:00" in lines[0]
    assert commands(events) == ["events ics"]
    (ics,) = await say("/events ics", chat="olena", hint="uk")
    calendar = calendar_of(ics)
    assert "календар" in ics.text
    master, moved = calendar.walk("VEVENT")
    assert str(master["UID"]) == str(moved["UID"]) == f"announcement-{series.id}@ngo-outreach-bot"
    assert str(master["SUMMARY"]) == "Зустріч у 3-му місці"  # the chat's language
    assert master["RRULE"].to_ical() == b"FREQ=MONTHLY;BYDAY=3TH"
    assert master["DTSTART"].dt == start and master["DTSTART"].params["TZID"] == "Europe/Warsaw"
    assert moved["RECURRENCE-ID"].dt == second and str(moved["LOCATION"]) == "Pałac Sztuki"
    assert calendar.walk("VTIMEZONE")[0]["TZID"] == "Europe/Warsaw"


async def test_deadlines_offer_an_all_day_calendar_entry(
    say: Say, storage: Storage, settings: Settings
) -> None:
    deadline = (datetime.now(settings.timezone) + timedelta(days=9)).replace(
        hour=23, minute=59, second=0, microsecond=0
    )
    created = await service_for(storage, settings).create(
        grant_fields(deadline=deadline, url="https://ngo.krakow.pl/k?a=1,2"), actor="console:boss"
    )
    (listing,) = await say("/deadlines", chat="ala")
    assert commands(listing) == ["deadlines ics"]
    (ics,) = await say("/deadlines ics", chat="ala")
    (event,) = calendar_of(ics).walk("VEVENT")
    assert type(event["DTSTART"].dt) is date and event["DTSTART"].dt == deadline.date()
    assert str(event["UID"]) == f"announcement-{created.id}@ngo-outreach-bot"
    assert str(event["URL"]) == "https://ngo.krakow.pl/k?a=1,2"
    (none_yet,) = await say("/events ics", chat="ala")
    assert none_yet.attachment is None and "kalendarza" in none_yet.text


# --- staff: the flow's repetition step, corrections, show, rerun ---------------------------


async def test_the_flow_asks_whether_a_meeting_repeats(
    say: Say, storage: Storage, settings: Settings
) -> None:
    start = third_thursday_ahead(settings)
    await say("/announce", **BOSS)
    for answer in (
        "/announce pick kind meeting",
        "Spotkajmy się",
        "Zapraszamy",
        "/announce pick title_uk skip",
        "/announce pick title_en skip",
        start.strftime("%d.%m.%Y %H:%M"),
        "19:00",
    ):
        await say(answer, **BOSS)
    (repeat,) = await say("ul. Dekerta 24", **BOSS)
    assert commands(repeat) == [
        "announce pick repeat none",
        "announce pick repeat weekly",
        "announce pick repeat monthly",
        "announce pick repeat monthly-weekday",
    ]
    (wrong,) = await say("FREQ=MONTHLY;BYDAY=2TU", **BOSS)
    assert "Problem" in wrong.text and "repeat" in commands(wrong)[0]
    await say("/announce pick repeat monthly-weekday", **BOSS)
    await say("skip", **BOSS)
    await say("/announce pick topic default", **BOSS)
    previews = await say("/announce pick remind default", **BOSS)
    assert "Spotkanie cykliczne; kolejne terminy:" in previews[0].text
    await say("/announce publish", **BOSS)
    stored = await service_for(storage, settings).get(1)
    assert stored.fields.repeat == "FREQ=MONTHLY;BYDAY=3TH"
    rows = await storage.reminders.of_announcement(1)
    # Every occurrence within the planning horizon is reminded (whatever today's date), and
    # none far past it.
    horizon_end = datetime.now(settings.timezone) + HORIZON
    reminded = {row.target_at for row in rows}
    assert start in reminded
    assert {when for when in third_thursdays_from(start) if when <= horizon_end} <= reminded
    assert max(reminded) <= horizon_end + timedelta(days=3)


async def test_corrections_of_a_series_and_show(
    say: Say, storage: Storage, settings: Settings
) -> None:
    start = third_thursday_ahead(settings)
    series = await service_for(storage, settings).create(series_fields(start), actor="console:boss")
    (saved,) = (await say(f"/announce edit {series.id} location Nowa Huta, os. Centrum", **BOSS))[
        :1
    ]
    assert "Zapisano" in saved.text
    (weekly,) = (await say(f"/announce edit {series.id} repeat weekly", **BOSS))[:1]
    assert "Zapisano" in weekly.text
    (bad,) = await say(f"/announce edit {series.id} repeat FREQ=HOURLY", **BOSS)
    assert "Problem" in bad.text
    stored = await service_for(storage, settings).get(series.id)
    assert stored.fields.repeat == "FREQ=WEEKLY"
    assert stored.fields.location == "Nowa Huta, os. Centrum"
    (shown,) = await say(f"/announcements show {series.id}", **BOSS)
    assert "FREQ=WEEKLY" in shown.text and "Następne przypomnienia:" in shown.text
    rows = await storage.reminders.of_announcement(series.id)
    tz = settings.timezone
    targets = sorted({r.target_at.astimezone(tz) for r in rows if r.state.value == "planned"})
    assert targets[1] - targets[0] == timedelta(weeks=1)  # the same local time a week later


async def test_a_dropped_reminder_is_shown_with_its_reason(
    say: Say, storage: Storage, settings: Settings
) -> None:
    import dataclasses

    from bot.config import parse_quiet_hours

    quiet = dataclasses.replace(settings, quiet_hours=parse_quiet_hours("21:00-08:00"))
    start = (datetime.now(settings.timezone) + timedelta(days=5)).replace(
        hour=7, minute=30, second=0, microsecond=0
    )
    meeting = await service_for(storage, quiet).create(
        series_fields(start, repeat=None, remind="2h"), actor="console:boss"
    )
    (shown,) = await say(f"/announcements show {meeting.id}", **BOSS)
    assert "nie zostało wysłane: cisza nocna trwa aż do terminu." in shown.text


async def test_the_tax_campaign_default_schedule_and_a_rerun_from_chat(
    say: Say, storage: Storage, settings: Settings
) -> None:
    service = service_for(storage, settings)
    year = datetime.now(settings.timezone).year + 2
    fields = Fields(
        kind=Kind.TAX_CAMPAIGN,
        topic="tax",
        title_pl="Przekaż 1,5% podatku",
        text_pl="Wpisz KRS organizacji w zeznaniu.",
        publish_at=datetime.now(settings.timezone),
        remind=Kind.TAX_CAMPAIGN.default_remind,
        deadline=datetime(year, 4, 30, 23, 59, tzinfo=settings.timezone),
    )
    created = await service.create(fields, actor="console:boss")
    rows = await storage.reminders.of_announcement(created.id)
    assert [r.send_at for r in rows] == campaign_times(year, settings.timezone)
    (rerun,) = await say(f"/announcements rerun {created.id} {year + 1}", **BOSS)
    assert f"#{created.id + 1}" in rerun.text and f"{year + 1}" in rerun.text
    again = await service.get(created.id + 1)
    assert again.fields.deadline == datetime(year + 1, 4, 30, 23, 59, tzinfo=settings.timezone)
    assert again.fields.publish_at == datetime(year + 1, 1, 15, 10, 0, tzinfo=settings.timezone)
    assert again.status.value == "scheduled" and again.fields.text_pl == fields.text_pl
    next_rows = await storage.reminders.of_announcement(again.id)
    assert [r.send_at for r in next_rows] == campaign_times(year + 1, settings.timezone)
    (not_tax,) = await say(f"/announcements rerun {created.id + 5}", **BOSS)
    assert "#" in not_tax.text
    grant = await service.create(grant_fields(), actor="console:boss")
    (refused,) = await say(f"/announcements rerun {grant.id} {year}", **BOSS)
    assert "1,5%" in refused.text
