"""The reminder scheduler with a real APScheduler, a real SQLite file and the dispatcher.

Reminders that must really fire are planned seconds ahead (`m` offsets: a deadline a minute and
two seconds away with `--remind 1m`); everything that depends on the time of day (quiet hours,
DST, a reminder missed while the bot was down) runs on an injected clock instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.announcements.model import AnnouncementError, Fields, Kind
from bot.announcements.service import AnnouncementService
from bot.clock import utcnow
from bot.config import Settings, parse_quiet_hours
from bot.core.topics import load_topics
from bot.delivery import Dispatcher
from bot.scheduler import ReminderScheduler, SchedulerPolicy
from bot.storage import Storage
from bot.storage.reminders import Reminder, ReminderState
from tests.delivery_helpers import (
    ScriptedTransport,
    add_chats,
    dispatcher_for,
    eventually,
    grant_fields,
    service_for,
)

# Date-sensitive: .ci/run runs these again at its fixed moments (`pytest -m dated`).
pytestmark = pytest.mark.dated

WARSAW = ZoneInfo("Europe/Warsaw")
BOSS = "console:boss"
FAST = SchedulerPolicy(poll_interval=0.05, stop_timeout=5.0)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=WARSAW)  # type: ignore[misc]


def scheduler_for(
    storage: Storage,
    settings: Settings,
    dispatcher: Dispatcher | None = None,
    clock: Any = utcnow,
) -> ReminderScheduler:
    return ReminderScheduler(
        storage,
        settings,
        load_topics(settings.content_dir),
        policy=FAST,
        clock=clock,
        on_broadcast=dispatcher.wake if dispatcher is not None else None,
    )


def meeting_fields(start: datetime, **extra: Any) -> Fields:
    values: dict[str, Any] = {
        "kind": Kind.MEETING,
        "topic": "meetings",
        "title_pl": "Spotkajmy się w 3. miejscu",
        "text_pl": "Zapraszamy",
        "title_uk": "Зустріч",
        "text_uk": "Запрошуємо",
        "publish_at": extra.pop("publish_at", start - timedelta(days=3)),
        "remind": Kind.MEETING.default_remind,
        "starts_at": start,
        "ends_at": start + timedelta(hours=2),
        "location": "ul. Dekerta 24",
    }
    values.update(extra)
    return Fields(**values)


async def reminders_of(storage: Storage, announcement_id: int) -> list[Reminder]:
    return await storage.reminders.of_announcement(announcement_id)


async def states(storage: Storage, announcement_id: int) -> list[str]:
    return [r.state.value for r in await reminders_of(storage, announcement_id)]


async def reminder_texts(storage: Storage, announcement_id: int) -> list[str]:
    """How many reminder broadcasts the announcement has (each row of the outbox counts)."""
    rows = await storage.db.fetch_all(
        "SELECT o.id FROM outbox o JOIN broadcasts b ON b.id = o.broadcast_id"
        " WHERE b.announcement_id = ? AND b.purpose = 'reminder'",
        (announcement_id,),
    )
    return [str(row["id"]) for row in rows]


def reminders_to(transport: ScriptedTransport, chat: str) -> list[str]:
    return [text for text in transport.delivered().get(chat, []) if "⏰" in text]


async def deliver(storage: Storage, settings: Settings, clock: Clock) -> ScriptedTransport:
    """Run a dispatcher on the clock until every waiting message is delivered."""
    transport = ScriptedTransport("telegram")
    dispatcher = dispatcher_for(storage, settings, {"telegram": transport}, clock=clock)
    await dispatcher.start()
    try:
        await eventually(lambda: _outbox_empty(storage))
    finally:
        await dispatcher.stop()
    return transport


async def _outbox_empty(storage: Storage) -> bool:
    return await storage.outbox.open_count() == 0


@pytest.fixture
async def running(
    storage: Storage, settings: Settings
) -> AsyncIterator[tuple[ScriptedTransport, Dispatcher, ReminderScheduler]]:
    """A dispatcher and a scheduler on the real clock, to Telegram chats ala (pl), olena (uk)."""
    await add_chats(storage, "telegram", ["ala"], language="pl")
    await add_chats(storage, "telegram", ["olena"], language="uk")
    transport = ScriptedTransport("telegram")
    dispatcher = dispatcher_for(storage, settings, {"telegram": transport})
    scheduler = scheduler_for(storage, settings, dispatcher)
    await dispatcher.start()
    await scheduler.start()
    yield transport, dispatcher, scheduler
    await scheduler.stop()
    await dispatcher.stop()


# --- real reminders, seconds away --------------------------------------------------------------


async def test_a_reminder_fires_once_in_each_chats_language(
    storage: Storage,
    settings: Settings,
    running: tuple[ScriptedTransport, Dispatcher, ReminderScheduler],
) -> None:
    transport, _dispatcher, scheduler = running
    service = service_for(storage, settings)
    deadline = utcnow() + timedelta(minutes=1, seconds=2)
    announcement = await service.create(
        grant_fields(deadline=deadline, remind="1m", title_uk="Конкурс", text_uk="Текст"),
        actor=BOSS,
    )
    (planned,) = await reminders_of(storage, announcement.id)
    assert planned.send_at == deadline - timedelta(minutes=1)
    await eventually(lambda: _has_reminder(transport, "olena"), timeout=30)
    await eventually(lambda: _has_reminder(transport, "ala"), timeout=10)
    (polish,) = reminders_to(transport, "ala")
    (ukrainian,) = reminders_to(transport, "olena")
    assert "Przypomnienie: termin mija za 1 minutę." in polish
    assert "Нагадування: термін спливає через 1 хвилину." in ukrainian and "Конкурс" in ukrainian
    assert await states(storage, announcement.id) == ["sent"]
    assert len(await reminder_texts(storage, announcement.id)) == 2
    assert announcement.id not in scheduler.scheduled


async def _has_reminder(transport: ScriptedTransport, chat: str) -> bool:
    return bool(reminders_to(transport, chat))


async def test_a_restart_between_scheduling_and_firing_sends_it_once(
    storage: Storage, settings: Settings
) -> None:
    await add_chats(storage, "telegram", ["ala"], language="pl")
    transport = ScriptedTransport("telegram")
    dispatcher = dispatcher_for(storage, settings, {"telegram": transport})
    await dispatcher.start()
    first = scheduler_for(storage, settings, dispatcher)
    await first.start()
    announcement = await service_for(storage, settings).create(
        grant_fields(deadline=utcnow() + timedelta(minutes=1, seconds=3), remind="1m"),
        actor=BOSS,
    )
    await eventually(lambda: _scheduled(first, 1))
    await first.stop()
    assert first.scheduled == {}
    second = scheduler_for(storage, settings, dispatcher)
    await second.start()  # rebuilt from the table
    (reminder,) = await reminders_of(storage, announcement.id)
    assert second.scheduled == {reminder.id: reminder.send_at}
    await eventually(lambda: _has_reminder(transport, "ala"), timeout=30)
    await second.stop()
    third = scheduler_for(storage, settings, dispatcher)
    await third.start()  # nothing planned any more: nothing to send again
    assert third.scheduled == {}
    await third.stop()
    await dispatcher.stop()
    assert len(reminders_to(transport, "ala")) == 1
    assert len(await reminder_texts(storage, announcement.id)) == 1


async def _scheduled(scheduler: ReminderScheduler, count: int) -> bool:
    return len(scheduler.scheduled) == count


async def test_rows_written_by_another_process_are_picked_up(
    storage: Storage,
    settings: Settings,
    running: tuple[ScriptedTransport, Dispatcher, ReminderScheduler],
) -> None:
    transport, _dispatcher, scheduler = running
    other = await Storage.open(settings.db_path)  # another connection: as the command line
    try:
        announcement = await service_for(other, settings).create(
            grant_fields(deadline=utcnow() + timedelta(minutes=1, seconds=2), remind="1m"),
            actor="cli:operator",
        )
    finally:
        await other.close()
    await eventually(lambda: _scheduled(scheduler, 1), timeout=10)
    await eventually(lambda: _has_reminder(transport, "ala"), timeout=30)
    assert await states(storage, announcement.id) == ["sent"]


async def test_edits_move_and_cancelling_removes_the_jobs(
    storage: Storage,
    settings: Settings,
    running: tuple[ScriptedTransport, Dispatcher, ReminderScheduler],
) -> None:
    _transport, _dispatcher, scheduler = running
    service = service_for(storage, settings)
    deadline = (utcnow() + timedelta(days=20)).astimezone(WARSAW).replace(hour=23, minute=59)
    announcement = await service.create(grant_fields(deadline=deadline), actor=BOSS)
    await scheduler.sync()
    before = sorted(scheduler.scheduled.values())
    assert [t.astimezone(WARSAW).strftime("%d %H:%M") for t in before] == [
        (deadline - timedelta(days=n)).strftime("%d 09:00") for n in (14, 3, 1)
    ]
    await service.edit(announcement.id, {"deadline": deadline + timedelta(days=2)}, actor=BOSS)
    await scheduler.sync()
    assert sorted(scheduler.scheduled.values()) == [
        t.astimezone(WARSAW) + timedelta(days=2) for t in before
    ]
    rows = await reminders_of(storage, announcement.id)
    assert sorted(r.reason for r in rows if r.state is ReminderState.CANCELLED) == ["edited"] * 3
    await service.edit(announcement.id, {"remind": "2h"}, actor=BOSS)
    await scheduler.sync()
    (only,) = scheduler.scheduled.values()
    assert only == deadline + timedelta(days=2, hours=-2)
    await service.cancel(announcement.id, actor=BOSS)
    await scheduler.sync()
    assert scheduler.scheduled == {}
    assert "planned" not in await states(storage, announcement.id)


async def test_announcements_stored_without_a_plan_are_planned_at_start(
    storage: Storage, settings: Settings
) -> None:
    announcement = await service_for(storage, settings).create(
        grant_fields(deadline=utcnow() + timedelta(days=20)), actor=BOSS
    )
    planned = [r.send_at for r in await reminders_of(storage, announcement.id)]
    assert len(planned) == 3
    async with storage.db.transaction() as tx:  # as on a database from before migration 0005
        await tx.execute("DELETE FROM reminders")
    scheduler = scheduler_for(storage, settings)
    await scheduler.start()
    try:
        assert sorted(scheduler.scheduled.values()) == planned
    finally:
        await scheduler.stop()


# --- the injected clock: missed reminders, quiet hours, DST, wording ------------------------


async def test_a_reminder_missed_while_down_is_sent_if_its_date_is_ahead_else_dropped(
    storage: Storage, settings: Settings
) -> None:
    await add_chats(storage, "telegram", ["ala"], topics=("grants", "meetings"), language="pl")
    start = utcnow() - timedelta(days=3)  # the whole story is in the real past
    clock = Clock(start)
    service = service_for(storage, settings, clock)
    grant = await service.create(
        grant_fields(publish_at=start, deadline=start + timedelta(days=2), remind="24h"),
        actor=BOSS,
    )
    meeting = await service.create(
        meeting_fields(start + timedelta(days=1, hours=1), publish_at=start, remind="24h"),
        actor=BOSS,
    )
    clock.now = start + timedelta(days=1, hours=2)  # the bot was down for a day and two hours
    transport = ScriptedTransport("telegram")
    dispatcher = dispatcher_for(storage, settings, {"telegram": transport}, clock=clock)
    scheduler = scheduler_for(storage, settings, dispatcher, clock)
    await dispatcher.start()
    await scheduler.start()  # the jobs are overdue: APScheduler runs them at once
    await eventually(lambda: _settled(storage, grant.id, meeting.id))
    await eventually(lambda: _has_reminder(transport, "ala"))
    await scheduler.stop()
    await dispatcher.stop()
    (sent,) = await reminders_of(storage, grant.id)
    (dropped,) = await reminders_of(storage, meeting.id)
    assert sent.state is ReminderState.SENT
    assert (dropped.state, dropped.reason) == (ReminderState.DROPPED, "target-passed")
    (text,) = reminders_to(transport, "ala")
    assert "za 22 godziny" in text  # the time really left, not the day it was planned with


async def _settled(storage: Storage, *ids: int) -> bool:
    for announcement_id in ids:
        if "planned" in await states(storage, announcement_id):
            return False
    return True


async def test_a_reminder_due_with_its_publication_waits_for_the_publication(
    storage: Storage, settings: Settings
) -> None:
    clock = Clock(local(2030, 5, 1, 12, 0))
    service = service_for(storage, settings, clock)
    announcement = await service.create(
        grant_fields(
            publish_at=clock.now + timedelta(minutes=10),
            deadline=clock.now + timedelta(hours=1),
            remind="50m",
        ),
        actor=BOSS,
    )
    (reminder,) = await reminders_of(storage, announcement.id)
    assert reminder.send_at == announcement.fields.publish_at
    clock.now = reminder.send_at  # the dispatcher has not published it yet
    scheduler = scheduler_for(storage, settings, clock=clock)
    await scheduler.start()
    try:
        assert await states(storage, announcement.id) == ["planned"]
        assert reminder.id in scheduler.scheduled  # tried again in a second
        await scheduler.sync()
        assert scheduler.scheduled[reminder.id] > reminder.send_at  # a sync keeps the retry
        assert await storage.announcements.publish_due(clock.now) == [announcement.id]
        assert await scheduler.fire(reminder.id) is ReminderState.SENT
    finally:
        await scheduler.stop()


def quiet_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, quiet_hours=parse_quiet_hours("21:00-08:00"))


async def test_quiet_hours_delay_a_reminder_or_drop_it_when_the_date_comes_first(
    storage: Storage, settings: Settings
) -> None:
    settings = quiet_settings(settings)
    await add_chats(storage, "telegram", ["ala"], topics=("grants", "meetings"), language="pl")
    clock = Clock(local(2030, 5, 6, 12, 0))
    service = service_for(storage, settings, clock)
    # Due at 05:30 in quiet hours; their end (08:00) is after the 07:30 meeting: dropped now.
    early = await service.create(
        meeting_fields(local(2030, 5, 8, 7, 30), publish_at=clock.now, remind="2h"), actor=BOSS
    )
    (planned_drop,) = await reminders_of(storage, early.id)
    assert (planned_drop.state, planned_drop.reason) == (ReminderState.DROPPED, "quiet-hours")
    # Due at 06:00, sent at 08:00 when the quiet hours end.
    morning = await service.create(
        grant_fields(publish_at=clock.now, deadline=local(2030, 5, 9, 12, 0), remind="1d@06:00"),
        actor=BOSS,
    )
    (waiting,) = await reminders_of(storage, morning.id)
    assert waiting.due_at == local(2030, 5, 8, 6, 0) and waiting.send_at == local(2030, 5, 8, 8)
    # Due at 12:00; the bot was down then and comes back at 23:00, in quiet hours.
    late = await service.create(
        grant_fields(publish_at=clock.now, deadline=local(2030, 5, 8, 12, 0), remind="1d"),
        actor=BOSS,
    )
    passing = await service.create(
        grant_fields(publish_at=clock.now, deadline=local(2030, 5, 8, 7, 0), remind="1d@12:00"),
        actor=BOSS,
    )
    scheduler = scheduler_for(storage, settings, clock=clock)
    clock.now = local(2030, 5, 7, 23, 0)
    (late_row,) = await reminders_of(storage, late.id)
    (passing_row,) = await reminders_of(storage, passing.id)
    assert await scheduler.fire(late_row.id) is ReminderState.PLANNED
    (late_row,) = await reminders_of(storage, late.id)
    assert late_row.send_at == local(2030, 5, 8, 8, 0)  # waits for the end of quiet hours
    assert await scheduler.fire(passing_row.id) is ReminderState.DROPPED
    (passing_row,) = await reminders_of(storage, passing.id)
    assert passing_row.reason == "quiet-hours"
    clock.now = local(2030, 5, 8, 8, 0)
    assert await scheduler.fire(late_row.id) is ReminderState.SENT
    assert await scheduler.fire(waiting.id) is ReminderState.SENT
    assert await scheduler.fire(waiting.id) is None  # never twice
    transport = await deliver(storage, settings, clock)
    texts = reminders_to(transport, "ala")
    assert any("termin mija za 4 godziny" in text for text in texts)  # 08:00 -> 12:00
    assert any("termin mija za 1 dzień i 4 godziny" in text for text in texts)  # -> 9 May 12:00


async def test_dst_changes_as_computed_times_and_words(
    storage: Storage, settings: Settings
) -> None:
    settings = quiet_settings(settings)
    await add_chats(storage, "telegram", ["olena"], topics=("grants", "meetings"), language="uk")
    clock = Clock(local(2030, 3, 20, 12, 0))
    service = service_for(storage, settings, clock)
    # Summer time starts on Sunday 31.03.2030 at 02:00: a calendar day before 09:00 that Sunday
    # is 23 hours; 24 exact hours reach back to 08:00 on Saturday.
    spring = await service.create(
        grant_fields(publish_at=clock.now, deadline=local(2030, 3, 31, 9, 0), remind="1d,24h"),
        actor=BOSS,
    )
    rows = await reminders_of(storage, spring.id)
    assert [r.send_at.astimezone(WARSAW).strftime("%d.%m %H:%M %Z") for r in rows] == [
        "30.03 08:00 CET",
        "30.03 09:00 CET",
    ]
    # Winter time returns on Sunday 27.10.2030 (03:00 -> 02:00). Before a 09:00 meeting that
    # day, 2h is 07:00 and 1d@21:30 the evening before: both in quiet hours, both pushed to
    # 08:00, the end of the (25-hour) night: the reminder is sent once.
    autumn = await service.create(
        meeting_fields(local(2030, 10, 27, 9, 0), publish_at=clock.now, remind="2h,1d@21:30"),
        actor=BOSS,
    )
    autumn_rows = await reminders_of(storage, autumn.id)
    assert [
        (r.due_at.astimezone(WARSAW).strftime("%d %H:%M %Z"), r.send_at, r.state.value)
        for r in autumn_rows
    ] == [
        ("26 21:30 CEST", local(2030, 10, 27, 8, 0), "planned"),
        ("27 07:00 CET", local(2030, 10, 27, 8, 0), "dropped"),
    ]
    assert autumn_rows[1].reason == "same-time"
    # The words count real hours: the calendar day before the spring change is 23 of them.
    scheduler = scheduler_for(storage, settings, clock=clock)
    clock.now = rows[1].send_at
    assert await scheduler.fire(rows[1].id) is ReminderState.SENT
    clock.now = autumn_rows[0].send_at
    assert await scheduler.fire(autumn_rows[0].id) is ReminderState.SENT
    transport = await deliver(storage, settings, clock)
    texts = reminders_to(transport, "olena")
    assert any("термін спливає через 23 години" in text for text in texts)
    assert any("зустріч починається через 1 годину" in text for text in texts)


WORDINGS = [
    # (lead, remind, deadline local time, Polish, Ukrainian)
    (timedelta(days=3), "3d", (12, 0), "za 3 dni", "через 3 дні"),
    (timedelta(days=21), "3w", (12, 0), "za 21 dni", "через 21 день"),
    (timedelta(hours=2), "2h", (12, 0), "za 2 godziny", "через 2 години"),
    (timedelta(hours=5), "5h", (12, 0), "za 5 godzin", "через 5 годин"),
    (timedelta(minutes=45), "45m", (12, 0), "za 45 minut", "через 45 хвилин"),
    (
        timedelta(hours=38, minutes=59),
        "1d@09:00",
        (23, 59),
        "za 1 dzień i 15 godzin",
        "через 1 день і 15 годин",
    ),
    (
        timedelta(hours=1, minutes=30),
        "90m",
        (12, 0),
        "za 1 godzinę i 30 minut",
        "через 1 годину і 30 хвилин",
    ),
]


@pytest.mark.parametrize(("lead", "remind", "at", "polish", "ukrainian"), WORDINGS)
async def test_the_time_left_with_plural_forms_in_the_message(
    storage: Storage,
    settings: Settings,
    lead: timedelta,
    remind: str,
    at: tuple[int, int],
    polish: str,
    ukrainian: str,
) -> None:
    await add_chats(storage, "telegram", ["ala"], language="pl")
    await add_chats(storage, "telegram", ["olena"], language="uk")
    deadline = local(2030, 6, 26, *at)  # a Wednesday in summer: no DST change nearby
    clock = Clock(local(2030, 5, 1, 12, 0))
    service = service_for(storage, settings, clock)
    announcement = await service.create(
        grant_fields(publish_at=clock.now, deadline=deadline, remind=remind), actor=BOSS
    )
    (reminder,) = await reminders_of(storage, announcement.id)
    assert deadline - reminder.send_at == lead
    clock.now = reminder.send_at + timedelta(seconds=20)  # a little late: the words stay
    assert await scheduler_for(storage, settings, clock=clock).fire(reminder.id) is (
        ReminderState.SENT
    )
    transport = await deliver(storage, settings, clock)
    (pl_text,) = reminders_to(transport, "ala")
    (uk_text,) = reminders_to(transport, "olena")
    assert f"Przypomnienie: termin mija {polish}." in pl_text
    assert f"Нагадування: термін спливає {ukrainian}." in uk_text


# --- recurring meetings ------------------------------------------------------------------------


async def test_a_recurring_meeting_is_reminded_occurrence_by_occurrence(
    storage: Storage, settings: Settings
) -> None:
    await add_chats(storage, "telegram", ["ala"], topics=("meetings",), language="pl")
    clock = Clock(local(2030, 1, 1, 12, 0))
    service = AnnouncementService(
        storage, settings, load_topics(None), clock, horizon=timedelta(days=60)
    )
    # The third Thursday of each month at 17:00, from 17 January 2030.
    announcement = await service.create(
        meeting_fields(
            local(2030, 1, 17, 17, 0), publish_at=clock.now, repeat="FREQ=MONTHLY;BYDAY=3TH"
        ),
        actor=BOSS,
    )
    rows = await reminders_of(storage, announcement.id)
    targets = [r.target_at.astimezone(WARSAW).strftime("%d.%m %H:%M") for r in rows]
    # 60 days plus the longest offset (and a day's slack) from 1 January reach 4 March.
    assert targets == ["17.01 17:00"] * 2 + ["21.02 17:00"] * 2  # 1d@18:00 and 2h each
    moved_start = await service.move_occurrence(
        announcement.id, local(2030, 2, 21, 0, 0).date(), "Pałac Sztuki", actor=BOSS
    )
    assert moved_start == local(2030, 2, 21, 17, 0)
    with pytest.raises(AnnouncementError, match="Tego dnia spotkania nie ma"):
        await service.move_occurrence(
            announcement.id, local(2030, 2, 20, 0, 0).date(), "Gdzie indziej", actor=BOSS
        )
    # A month later the horizon reaches March: the scheduler tops the plan up.
    clock.now = local(2030, 2, 1, 12, 0)
    assert await service.top_up() == 1
    rows = await reminders_of(storage, announcement.id)
    assert sorted({r.target_at.astimezone(WARSAW).strftime("%d.%m") for r in rows}) == [
        "17.01",
        "21.02",
        "21.03",
    ]
    # The reminder of the moved occurrence says where it is.
    scheduler = scheduler_for(storage, settings, clock=clock)
    (evening,) = [
        r
        for r in await reminders_of(storage, announcement.id)
        if r.target_at == moved_start and r.due_at.astimezone(WARSAW).hour == 18
    ]
    clock.now = evening.send_at
    assert await scheduler.fire(evening.id) is ReminderState.SENT
    transport = await deliver(storage, settings, clock)
    (text,) = reminders_to(transport, "ala")
    assert "spotkanie zaczyna się za 23 godziny" in text
    assert "Pałac Sztuki" in text and "Dekerta" not in text
    assert "czwartek, 21 lutego 2030, 17:00 – 19:00" in text


async def test_a_series_edit_keeps_sent_reminders_and_replans_the_rest(
    storage: Storage, settings: Settings
) -> None:
    clock = Clock(local(2030, 1, 1, 12, 0))
    service = service_for(storage, settings, clock)
    announcement = await service.create(
        meeting_fields(
            local(2030, 1, 3, 17, 0), publish_at=clock.now, repeat="weekly", remind="1d"
        ),
        actor=BOSS,
    )
    assert announcement.fields.repeat == "FREQ=WEEKLY"
    first = (await reminders_of(storage, announcement.id))[0]
    clock.now = first.send_at
    await add_chats(storage, "telegram", ["ala"], topics=("meetings",))
    assert await scheduler_for(storage, settings, clock=clock).fire(first.id) is ReminderState.SENT
    clock.now = first.send_at + timedelta(hours=1)
    await service.edit(announcement.id, {"repeat": None}, actor=BOSS)
    rows = await reminders_of(storage, announcement.id)
    assert rows[0].state is ReminderState.SENT
    assert {r.state for r in rows[1:]} == {ReminderState.CANCELLED}


# --- the weekly digest --------------------------------------------------------------------------


async def test_the_digest_replaces_reminders_for_chats_that_chose_it(
    storage: Storage, settings: Settings
) -> None:
    (digest_chat,) = await add_chats(storage, "telegram", ["ala"], language="pl")
    await add_chats(storage, "telegram", ["ola"], language="pl")
    await add_chats(storage, "telegram", ["bogdan"], topics=("meetings",), language="uk")
    clock = Clock(local(2030, 6, 3, 8, 0))  # Monday 3 June 2030, before the digest
    service = service_for(storage, settings, clock)
    grant = await service.create(
        grant_fields(publish_at=clock.now, deadline=local(2030, 6, 5, 23, 59), remind="1d@09:00"),
        actor=BOSS,
    )
    await service.create(
        grant_fields(
            title="Później", publish_at=clock.now, deadline=local(2030, 6, 20, 12, 0), remind="none"
        ),
        actor=BOSS,
    )
    assert await storage.digests.enable(digest_chat, "weekly", clock.now, last_week=None)
    scheduler = scheduler_for(storage, settings, clock=clock)
    assert await scheduler.send_digests() == 0  # not yet 09:00
    clock.now = local(2030, 6, 3, 9, 0)
    assert await scheduler.send_digests() == 1  # ala only: bogdan has no digest, ola neither
    assert await scheduler.send_digests() == 0  # once a week
    (reminder,) = await reminders_of(storage, grant.id)
    clock.now = reminder.send_at
    assert await scheduler.fire(reminder.id) is ReminderState.SENT
    transport = await deliver(storage, settings, clock)
    delivered = transport.delivered()
    (digest,) = [text for text in delivered["ala"] if "🗞" in text]
    assert "Tydzień od 3 czerwca:" in digest
    assert "Nabór wniosków" in digest and "Później" not in digest
    assert "środa, 5 czerwca 2030, 23:59" in digest and "/digest off" in digest
    assert reminders_to(transport, "ala") == []  # the digest instead of the reminder
    assert len(reminders_to(transport, "ola")) == 1
    assert "bogdan" not in delivered
    # Next week nothing is due: no empty digest.
    clock.now = local(2030, 6, 10, 9, 0)
    assert await scheduler.send_digests() == 0
    stored = await storage.digests.get(digest_chat)
    assert stored is not None and stored.last_week == "2030-W24"


async def test_a_digest_missed_while_down_goes_out_the_same_day_only(
    storage: Storage, settings: Settings
) -> None:
    (chat,) = await add_chats(storage, "telegram", ["ala"])
    clock = Clock(local(2030, 6, 3, 8, 0))
    await service_for(storage, settings, clock).create(
        grant_fields(publish_at=clock.now, deadline=local(2030, 6, 7, 12, 0)), actor=BOSS
    )
    await storage.digests.enable(chat, "weekly", clock.now, last_week=None)
    scheduler = scheduler_for(storage, settings, clock=clock)
    clock.now = local(2030, 6, 3, 23, 0)
    assert await scheduler.send_digests() == 0  # more than 12 hours late: skipped
    clock.now = local(2030, 6, 10, 15, 0)
    assert await scheduler.send_digests() == 0  # nothing due that week
    assert await scheduler.send_digests() == 0
