"""`ngo-bot announce` reads times as the chat does (the same parser), as a real subprocess:
'--ends-at 19:00' is on the day the meeting starts, words such as 'jutro 18:00' work, and a bad
value gets one clear line (no Python message). Expectations come from the injected clock, so the
file holds on any date."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.announcements.model import Announcement
from bot.storage import Storage
from tests.test_reminders_cli import refused, run, stored

# Date-sensitive: .ci/run runs these again at its fixed moments (`pytest -m dated`).
pytestmark = pytest.mark.dated

WARSAW = ZoneInfo("Europe/Warsaw")
NEWS = ("announce", "create", "--kind=news", "--title-pl=Wiadomość", "--text-pl=Treść.")


def today() -> date:
    return datetime.now(WARSAW).date()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=WARSAW)


def announcement(tmp_path: Path, announcement_id: int) -> Announcement:
    async def read(storage: Storage) -> Announcement:
        found = await storage.announcements.get(announcement_id)
        assert found is not None
        return found

    return stored(tmp_path, read)


def create(tmp_path: Path, *args: str) -> int:
    return int(json.loads(run(tmp_path, "announce", "create", "--json", *args))["id"])


def meeting(tmp_path: Path, *args: str) -> int:
    return create(
        tmp_path, "--kind=meeting", "--title-pl=Spotkanie", "--text-pl=Zapraszamy.", *args
    )


def test_a_bare_end_time_is_on_the_day_the_meeting_starts(tmp_path: Path) -> None:
    tomorrow = today() + timedelta(days=1)
    created = meeting(tmp_path, "--starts-at=jutro 18:00", "--ends-at=19:00")
    fields = announcement(tmp_path, created).fields
    assert (fields.starts_at, fields.ends_at) == (at(tomorrow, 18), at(tomorrow, 19))
    # Editing the end alone: the day of the stored start.
    run(tmp_path, "announce", "edit", str(created), "--ends-at=20:30")
    assert announcement(tmp_path, created).fields.ends_at == at(tomorrow, 20, 30)
    # Both at once: the day of the new start.
    in_two_days = today() + timedelta(days=2)
    run(tmp_path, "announce", "edit", str(created), "--starts-at=pojutrze 17:00", "--ends-at=19:00")
    fields = announcement(tmp_path, created).fields
    assert (fields.starts_at, fields.ends_at) == (at(in_two_days, 17), at(in_two_days, 19))


def test_words_in_every_language(tmp_path: Path) -> None:
    ahead = (4 - today().weekday() - 1) % 7 + 1  # the next Friday after today
    grant = create(
        tmp_path,
        "--kind=grant-deadline",
        "--title-pl=Nabór",
        "--text-pl=Treść.",
        "--deadline=w piątek",
    )
    assert announcement(tmp_path, grant).fields.deadline == at(today() + timedelta(ahead), 23, 59)
    ukrainian = meeting(tmp_path, "--starts-at=завтра о 9:00", "--ends-at=11:00")
    fields = announcement(tmp_path, ukrainian).fields
    assert fields.starts_at == at(today() + timedelta(days=1), 9)
    english = meeting(tmp_path, "--starts-at=on Friday 18:00")
    assert announcement(tmp_path, english).fields.starts_at == at(today() + timedelta(ahead), 18)


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "isoformat" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "--starts-at",
            "31.02.2027 18:00",
            "There is no 31 February 2027: February 2027 has 28 days.",
        ),
        ("--starts-at", "30.04.2027 25:00", "There is no hour 25: hours are 0 to 23."),
        ("--starts-at", "30.04.2027 18:61", "There is no minute 61: minutes are 0 to 59."),
        ("--starts-at", "2027-13-01T18:00", "There is no month 13: months are numbered 1 to 12."),
        ("--starts-at", "jutro 25:00", "There is no hour 25: hours are 0 to 23."),
        ("--starts-at", "jutro", "Please add the time of day."),
        ("--ends-at", "19:00", "A time alone is not enough here: please add the date."),
    ],
)
def test_a_bad_time_gets_one_clear_line(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    # No --starts-at: a bare --ends-at has no day to be on.
    line = one_line(
        refused(
            tmp_path,
            "announce",
            "create",
            "--kind=meeting",
            "--title-pl=x",
            "--text-pl=x",
            f"{option}={value}",
        )
    )
    assert line == f"ngo-bot: {option} {value!r}: {message}"


def test_an_unreadable_time_gets_examples_from_today(tmp_path: Path) -> None:
    line = one_line(refused(tmp_path, *NEWS, "--publish-at=soon"))
    assert line.startswith(
        "ngo-bot: --publish-at 'soon': I could not read this date. Write it like"
    )
    (example,) = re.findall(r"\d{4}-\d{2}-\d{2}T18:00", line)
    assert date.fromisoformat(example[:10]) > today()
    assert line.endswith("or \u201ctomorrow 18:00\u201d.")


def test_a_link_without_https_and_text_that_is_no_link(tmp_path: Path) -> None:
    news = create(tmp_path, *NEWS[2:], "--url=ngo.krakow.pl/konkursy")
    assert announcement(tmp_path, news).fields.url == "https://ngo.krakow.pl/konkursy"
    line = one_line(refused(tmp_path, *NEWS, "--url=see the website"))
    assert line.startswith("ngo-bot: --url: This is not a link.")


def test_a_bad_reminder_offset_is_one_line_naming_the_part(tmp_path: Path) -> None:
    line = one_line(
        refused(
            tmp_path,
            "announce",
            "create",
            "--kind=grant-deadline",
            "--title-pl=x",
            "--text-pl=x",
            "--deadline=pojutrze",
            "--remind=0d",
        )
    )
    assert line.startswith("ngo-bot: --remind: ")
    assert line.endswith("Problem: Reminder offset '0d': 0 needs a time of day, e.g. 0d@08:00.")


@pytest.mark.parametrize("years", [11, 1001])
def test_a_date_years_ahead_is_a_typo_to_check(tmp_path: Path, years: int) -> None:
    """'30.04.3027' for 2027 was accepted, and building the calendar for it froze the bot."""
    far = f"30.04.{today().year + years} 23:59"
    message = refused(
        tmp_path,
        "announce",
        "create",
        "--kind=grant-deadline",
        "--title-pl=Konkurs",
        "--text-pl=T",
        f"--deadline={far}",
    )
    assert "more than 10 years ahead" in message and "Traceback" not in message


@pytest.mark.parametrize("value", ["01.01.0001 00:30", "0001-01-01T00:30"])
def test_year_one_is_unreadable_not_a_crash(tmp_path: Path, value: str) -> None:
    message = refused(tmp_path, *NEWS, f"--publish-at={value}")
    assert "Traceback" not in message and "Overflow" not in message
