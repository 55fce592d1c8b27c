"""`--repeat`, `--occurrence`, `announce rerun`, `calendar export` and the reminders of
`deliveries --json`, as real subprocesses on a real SQLite file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from bot.announcements.service import AnnouncementService
from bot.config import Settings
from bot.core.topics import load_topics
from bot.reminders.planner import Reason
from bot.reminders.season import campaign_times
from bot.scheduler import ReminderScheduler
from bot.storage import Storage
from bot.storage.reminders import ReminderState
from tests.delivery_helpers import add_chats, grant_fields
from tests.test_cli import ngo_bot

T = TypeVar("T")
WARSAW = ZoneInfo("Europe/Warsaw")
TITLE = 'Spotkajmy się, "w 3. miejscu"; edycja — Зустріч'


def third_thursday(months: int) -> datetime:
    today = datetime.now(WARSAW).date()
    first = (today.replace(day=1) + timedelta(days=32 * months)).replace(day=1)
    thursday = first + timedelta(days=(3 - first.weekday()) % 7 + 14)
    return datetime.combine(thursday, time(17, 0), tzinfo=WARSAW)


def run(tmp_path: Path, *args: str) -> str:
    result = ngo_bot(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(tmp_path: Path, *args: str) -> str:
    result = ngo_bot(tmp_path, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    return result.stderr


def create_series(tmp_path: Path, start: datetime, *extra: str) -> int:
    out = run(
        tmp_path,
        "announce",
        "create",
        "--kind=meeting",
        f"--title-pl={TITLE}",
        "--text-pl=Co miesiąc.",
        f"--starts-at={start.strftime('%Y-%m-%dT%H:%M')}",
        f"--ends-at={(start + timedelta(hours=2)).strftime('%Y-%m-%dT%H:%M')}",
        "--location=ul. Dekerta 24, Kraków",
        "--repeat=FREQ=MONTHLY;BYDAY=3TH",
        "--json",
        *extra,
    )
    return int(json.loads(out)["id"])


def stored(tmp_path: Path, read: Callable[[Storage], Awaitable[T]]) -> T:
    """Look into the database the subprocesses wrote."""

    async def go() -> T:
        storage = await Storage.open(tmp_path / "bot.sqlite3")
        try:
            return await read(storage)
        finally:
            await storage.close()

    return asyncio.run(go())


@pytest.mark.parametrize(
    "command", [["calendar"], ["calendar", "export"], ["announce", "rerun"], ["announce", "edit"]]
)
def test_new_commands_have_help(tmp_path: Path, command: list[str]) -> None:
    result = ngo_bot(tmp_path, *command, "--help")
    assert result.returncode == 0 and "usage: ngo-bot" in result.stdout


@pytest.mark.dated
def test_repeat_and_one_occurrence_elsewhere(tmp_path: Path) -> None:
    start = third_thursday(1)
    series = create_series(tmp_path, start)
    second = third_thursday(2)
    out = run(
        tmp_path,
        "announce",
        "edit",
        str(series),
        f"--occurrence={second.date().isoformat()}",
        "--location=Pałac Sztuki, pl. Szczepański 4",
    )
    assert "changed: location" in out and second.strftime("%Y-%m-%dT17:00:00") in out
    announcement, moved = stored(
        tmp_path,
        lambda s: asyncio.gather(
            s.announcements.get(series), s.reminders.occurrence_locations([series])
        ),
    )
    assert announcement.fields.repeat == "FREQ=MONTHLY;BYDAY=3TH"
    assert moved == {series: {second: "Pałac Sztuki, pl. Szczepański 4"}}
    # Back at the usual place.
    run(tmp_path, "announce", "edit", str(series), f"--occurrence={second:%d.%m.%Y}", "--location=")
    assert stored(tmp_path, lambda s: s.reminders.occurrence_locations([series])) == {}
    # Errors: no occurrence that day, other options with --occurrence, a bad date.
    wednesday = (second - timedelta(days=1)).date().isoformat()
    assert "does not take place" in refused(
        tmp_path, "announce", "edit", str(series), f"--occurrence={wednesday}", "--location=X"
    )
    assert "--location (only)" in refused(
        tmp_path, "announce", "edit", str(series), f"--occurrence={wednesday}", "--title-pl=X"
    )
    assert "could not read this date" in refused(
        tmp_path, "announce", "edit", str(series), "--occurrence=someday", "--location=X"
    )
    # The series' own place: an ordinary edit.
    run(tmp_path, "announce", "edit", str(series), "--location=Nowa Huta")
    assert stored(tmp_path, lambda s: s.announcements.get(series)).fields.location == "Nowa Huta"
    run(tmp_path, "announce", "edit", str(series), "--repeat=none")
    assert stored(tmp_path, lambda s: s.announcements.get(series)).fields.repeat is None
    assert "Only a recurring meeting" in refused(
        tmp_path, "announce", "edit", str(series), f"--occurrence={start.date()}", "--location=X"
    )


@pytest.mark.dated
@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--repeat=hourly", "--repeat: Repetition is weekly, monthly"),
        ("--repeat=FREQ=MONTHLY;BYDAY=2TU", "not an occurrence of FREQ=MONTHLY;BYDAY=2TU"),
        ("--repeat=FREQ=MONTHLY;BYMONTHDAY=30;BYMONTH=2", "never happens"),
    ],
)
def test_bad_repetitions_exit_2_naming_the_problem(
    tmp_path: Path, option: str, message: str
) -> None:
    start = third_thursday(1)
    stderr = refused(
        tmp_path,
        "announce",
        "create",
        "--kind=meeting",
        "--title-pl=T",
        "--text-pl=T",
        f"--starts-at={start.strftime('%Y-%m-%dT%H:%M')}",
        option,
    )
    assert message in stderr


@pytest.mark.dated
def test_only_meetings_repeat(tmp_path: Path) -> None:
    deadline = (datetime.now(WARSAW) + timedelta(days=20)).date().isoformat()
    stderr = refused(
        tmp_path,
        "announce",
        "create",
        "--kind=grant-deadline",
        "--title-pl=T",
        "--text-pl=T",
        f"--deadline={deadline}",
        "--repeat=weekly",
    )
    assert "--repeat: Only meetings can repeat." in stderr


@pytest.mark.dated
def test_rerun_the_tax_campaign_next_year(tmp_path: Path) -> None:
    year = datetime.now(WARSAW).year + 1
    first = json.loads(
        run(
            tmp_path,
            "announce",
            "create",
            "--kind=tax-campaign",
            "--title-pl=Przekaż 1,5% podatku",
            "--text-pl=Wpisz KRS w zeznaniu PIT.",
            "--title-uk=Передайте 1,5% податку",
            "--text-uk=Впишіть KRS у декларацію.",
            f"--deadline={year}-04-30",
            "--json",
        )
    )["id"]
    out = run(tmp_path, "announce", "rerun", str(first), f"--year={year + 1}", "--json")
    second = json.loads(out)["id"]
    assert second == first + 1
    again = stored(tmp_path, lambda s: s.announcements.get(second))
    fields = again.fields
    assert fields.deadline == datetime(year + 1, 4, 30, 23, 59, tzinfo=WARSAW)
    assert fields.publish_at == datetime(year + 1, 1, 15, 10, 0, tzinfo=WARSAW)
    assert (fields.title_uk, fields.remind) == (
        "Передайте 1,5% податку",
        "mondays@10:00,7d@10:00,1d@10:00",
    )
    assert again.status.value == "scheduled"
    rows = stored(tmp_path, lambda s: s.reminders.of_announcement(second))
    assert [r.send_at for r in rows] == campaign_times(year + 1, WARSAW)
    listed = [json.loads(line) for line in run(tmp_path, "announce", "list", "--json").splitlines()]
    assert [row["id"] for row in listed] == [second, first]
    text = run(tmp_path, "announce", "rerun", str(first), f"--year={year + 2}")
    assert f"the {year + 2} campaign" in text and "scheduled for" in text
    # A past season cannot be run again; only campaigns can.
    assert "in the past" in refused(tmp_path, "announce", "rerun", str(first), "--year=2020")
    assert "there is no announcement #99" in refused(
        tmp_path, "announce", "rerun", "99", "--year=2030"
    )
    series = create_series(tmp_path, third_thursday(1))
    assert "--kind: Only a 1.5% tax campaign" in refused(
        tmp_path, "announce", "rerun", str(series), f"--year={year}"
    )


@pytest.mark.dated
def test_calendar_export_is_valid_stable_and_filtered(tmp_path: Path) -> None:
    series = create_series(tmp_path, third_thursday(1))
    deadline = (datetime.now(WARSAW) + timedelta(days=12)).replace(
        hour=15, minute=30, second=0, microsecond=0
    )
    grant = json.loads(
        run(
            tmp_path,
            "announce",
            "create",
            "--kind=grant-deadline",
            "--title-pl=Konkurs; edycja 2, „Kraków”",
            "--text-pl=Wnioski:\nprzez Witkac.pl",
            f"--deadline={deadline.strftime('%Y-%m-%dT%H:%M')}",
            "--url=https://www.ngo.krakow.pl/konkurs?id=3,4",
            "--json",
        )
    )["id"]
    scheduled = json.loads(
        run(
            tmp_path,
            "announce",
            "create",
            "--kind=grant-deadline",
            "--title-pl=Jeszcze nie",
            "--text-pl=T",
            f"--deadline={(deadline + timedelta(days=5)).date().isoformat()}",
            f"--publish-at={(deadline + timedelta(days=1)).strftime('%Y-%m-%dT%H:%M')}",
            "--json",
        )
    )["id"]
    first = ngo_bot(tmp_path, "calendar", "export")
    assert first.returncode == 0 and first.stdout.startswith("BEGIN:VCALENDAR")
    second = run(tmp_path, "calendar", "export")
    calendar = Calendar.from_ical(first.stdout)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {
        f"announcement-{series}@ngo-outreach-bot",
        f"announcement-{grant}@ngo-outreach-bot",
    }
    assert f"announcement-{scheduled}@" not in first.stdout  # not published yet
    uids = [line for line in first.stdout.splitlines() if line.startswith("UID:")]
    assert uids == [line for line in second.splitlines() if line.startswith("UID:")]
    meeting = events[f"announcement-{series}@ngo-outreach-bot"]
    assert meeting["RRULE"].to_ical() == b"FREQ=MONTHLY;BYDAY=3TH"
    assert str(meeting["SUMMARY"]) == TITLE and str(meeting["LOCATION"]) == "ul. Dekerta 24, Kraków"
    competition = events[f"announcement-{grant}@ngo-outreach-bot"]
    assert competition["DTEND"].dt == deadline and str(competition["TRANSP"]) == "TRANSPARENT"
    assert str(competition["SUMMARY"]) == "Konkurs; edycja 2, „Kraków”"
    assert str(competition["DESCRIPTION"]).startswith("Wnioski:\nprzez Witkac.pl")
    assert calendar.walk("VTIMEZONE")[0]["TZID"] == "Europe/Warsaw"
    assert calendar.get_missing_tzids() == set()
    only_meetings = Calendar.from_ical(run(tmp_path, "calendar", "export", "--topic=meetings"))
    assert [str(e["UID"]) for e in only_meetings.walk("VEVENT")] == [
        f"announcement-{series}@ngo-outreach-bot"
    ]
    assert "no topic 'parties'" in refused(tmp_path, "calendar", "export", "--topic=parties")
    # A cancelled announcement leaves the calendar.
    run(tmp_path, "announce", "cancel", str(grant))
    assert f"announcement-{grant}@" not in run(tmp_path, "calendar", "export")


@pytest.mark.dated
def test_deliveries_lists_each_due_reminder_with_its_counts(tmp_path: Path) -> None:
    settings = Settings(db_path=tmp_path / "bot.sqlite3", quiet_hours=None)
    stored(tmp_path, lambda s: add_chats(s, "console", ["ala", "ola"], topics=["grants"]))
    deadline = (datetime.now(UTC) + timedelta(hours=3)).astimezone(WARSAW).replace(microsecond=0)
    announcement = json.loads(
        run(
            tmp_path,
            "announce",
            "create",
            "--kind=grant-deadline",
            "--title-pl=Konkurs",
            "--text-pl=T",
            f"--deadline={deadline.isoformat()}",
            "--remind=2h,1h",
            "--json",
        )
    )["id"]

    async def fire_one_drop_one(storage: Storage) -> ReminderState | None:
        first, second = await storage.reminders.of_announcement(announcement)
        # The first is sent (its time has come on this clock); the second was missed until
        # after the deadline.
        scheduler = ReminderScheduler(
            storage, settings, load_topics(None), clock=lambda: first.send_at
        )
        await storage.reminders.settle(
            second.id, ReminderState.DROPPED, Reason.TARGET_PASSED, deadline
        )
        return await scheduler.fire(first.id)

    assert stored(tmp_path, fire_one_drop_one) is ReminderState.SENT
    report = json.loads(run(tmp_path, "deliveries", str(announcement), "--json"))
    assert report["total"] == 2 and report["pending"] == 2  # the publication, not yet delivered
    sent, dropped = report["reminders"]
    assert (sent["state"], sent["total"], sent["pending"], sent["sent"]) == ("sent", 2, 2, 0)
    assert datetime.fromisoformat(sent["at"]) == deadline.astimezone(UTC) - timedelta(hours=2)
    assert datetime.fromisoformat(sent["target"]) == deadline
    assert (dropped["state"], dropped["reason"], dropped["total"]) == (
        "dropped",
        "target-passed",
        0,
    )
    assert datetime.fromisoformat(dropped["at"]) == deadline.astimezone(UTC) - timedelta(hours=1)
    text = run(tmp_path, "deliveries", str(announcement))
    assert "dropped (target-passed)" in text and "2 messages (pending 2" in text


@pytest.mark.dated
def test_a_console_only_setup_gets_reminders_missed_while_nothing_ran(tmp_path: Path) -> None:
    settings = Settings(db_path=tmp_path / "bot.sqlite3", quiet_hours=None)
    deadline = (datetime.now(UTC) + timedelta(hours=1)).astimezone(WARSAW)

    async def plan_in_the_past(storage: Storage) -> None:
        await add_chats(storage, "console", ["ala"], topics=["grants"], language="pl")
        written = (datetime.now(UTC) - timedelta(hours=3)).astimezone(WARSAW)
        service = AnnouncementService(storage, settings, load_topics(None), lambda: written)
        fields = grant_fields(
            title="Konkurs z przypomnieniem", publish_at=written, deadline=deadline, remind="2h"
        )
        await service.create(fields, actor="console:boss")

    stored(tmp_path, plan_in_the_past)
    shown = run(tmp_path, "chat", "--user", "ala")
    assert "Konkurs z przypomnieniem" in shown
    assert "Przypomnienie: termin mija za 1 godzinę." in shown  # the time really left
    rows = stored(tmp_path, lambda s: s.reminders.of_announcement(1))
    assert [r.state for r in rows] == [ReminderState.SENT]
    assert "Przypomnienie" not in run(tmp_path, "chat", "--user", "ala")  # shown once
