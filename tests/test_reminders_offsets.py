"""`--remind` offsets: grammar, defaults, canonical text, and the instants across DST."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.reminders.offsets import (
    DEFAULT_OFFSETS,
    DEFAULT_SPECS,
    MAX_OFFSETS,
    Offset,
    OffsetError,
    canonical,
    default_offsets,
    format_offsets,
    normalise,
    parse_offsets,
    reminder_times,
)

WARSAW = ZoneInfo("Europe/Warsaw")


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=WARSAW)  # type: ignore[misc]


def as_local(instants: list[datetime]) -> list[str]:
    return [t.astimezone(WARSAW).strftime("%Y-%m-%d %H:%M %Z") for t in instants]


# --- grammar ---------------------------------------------------------------------------------


def test_parses_every_unit_with_and_without_a_time_of_day() -> None:
    assert parse_offsets("2w,3d@09:00,5h,45m") == (
        Offset(2, "w"),
        Offset(3, "d", time(9, 0)),
        Offset(5, "h"),
        Offset(45, "m"),
    )


def test_spaces_after_commas_and_any_case() -> None:
    assert parse_offsets("14D@09:00,  3d@09:00 , 1d@09:00") == parse_offsets(
        "14d@09:00,3d@09:00,1d@09:00"
    )
    assert parse_offsets(" 2H ") == (Offset(2, "h"),)


@pytest.mark.parametrize("spec", ["none", "NONE", " None "])
def test_none_means_no_reminders(spec: str) -> None:
    assert parse_offsets(spec) == ()


def test_duplicates_are_removed_also_when_spelled_differently() -> None:
    assert parse_offsets("1w,7d,7D") == (Offset(1, "w"),)
    assert parse_offsets("2h,120m") == (Offset(2, "h"),)
    assert parse_offsets("1d@9:00,1d@09:00") == (Offset(1, "d", time(9, 0)),)
    # Same amount, different meaning: calendar day vs 24 exact hours; other times of day.
    assert len(parse_offsets("1d,24h")) == 2
    assert len(parse_offsets("1d@09:00,1d@18:00,1d")) == 3


def test_a_single_hour_digit_is_accepted_and_written_with_two() -> None:
    assert format_offsets(parse_offsets("1d@9:05")) == "1d@09:05"


def test_zero_is_allowed_with_a_time_of_day() -> None:
    assert parse_offsets("0d@08:00") == (Offset(0, "d", time(8, 0)),)


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("3x", "'3x'"),
        ("1d,2y", "'2y'"),
        ("d", "'d'"),
        ("1.5d", "'1.5d'"),
        ("-1d", "'-1d'"),
        ("1 d", "'1 d'"),
        ("1d@25:00", "'1d@25:00'"),
        ("1d@09:60", "'1d@09:60'"),
        ("1d@9", "'1d@9'"),
        ("1d@09:00:00", "'1d@09:00:00'"),
        ("400d", "'400d'"),
        ("53w", "'53w'"),
        ("9000h", "'9000h'"),
        ("0h", "'0h'"),
        ("0d", "'0d'"),
        ("12345m", "'12345m'"),
    ],
)
def test_a_bad_part_is_named_in_the_error(spec: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        parse_offsets(spec)


@pytest.mark.parametrize("spec", ["", "  ", "1d,", ",1d", "1d,,2h"])
def test_empty_parts_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match=r"empty|no reminder offsets"):
        parse_offsets(spec)


def test_mondays_of_the_targets_month() -> None:
    assert parse_offsets("MONDAYS@10:00, 7d@10:00") == (
        Offset(0, "mondays", time(10, 0)),
        Offset(7, "d", time(10, 0)),
    )
    assert canonical("1d@10:00,mondays@10:00,mondays@10:00") == "mondays@10:00,1d@10:00"
    times = reminder_times(local(2026, 4, 30, 23, 59), parse_offsets("mondays@10:00"), WARSAW)
    assert as_local(times) == [f"2026-04-{day:02d} 10:00 CEST" for day in (6, 13, 20, 27)]
    # Only those before the target: a deadline on Wednesday 15 April 2026.
    times = reminder_times(local(2026, 4, 15, 12, 0), parse_offsets("mondays@09:00"), WARSAW)
    assert as_local(times) == ["2026-04-06 09:00 CEST", "2026-04-13 09:00 CEST"]
    with pytest.raises(ValueError, match="instants"):
        Offset(0, "mondays", time(10, 0)).instant(local(2026, 4, 30, 23, 59), WARSAW)


@pytest.mark.parametrize("spec", ["mondays", "2mondays@10:00", "mondays@24:00", "monday@10:00"])
def test_mondays_need_a_time_and_no_number(spec: str) -> None:
    with pytest.raises(OffsetError):
        parse_offsets(spec)


def test_at_most_ten_reminders() -> None:
    assert len(parse_offsets(",".join(f"{n}d" for n in range(1, MAX_OFFSETS + 1)))) == MAX_OFFSETS
    with pytest.raises(OffsetError, match="at most 10"):
        parse_offsets(",".join(f"{n}d" for n in range(1, MAX_OFFSETS + 2)))


def test_none_cannot_be_combined() -> None:
    with pytest.raises(ValueError, match="cannot be combined"):
        parse_offsets("none,1d")


def test_a_year_back_is_the_limit() -> None:
    assert parse_offsets("366d") == (Offset(366, "d"),)
    assert parse_offsets("52w") == (Offset(52, "w"),)
    assert parse_offsets("8784h") == (Offset(8784, "h"),)


def test_offsets_built_in_code_are_checked_too() -> None:
    with pytest.raises(ValueError, match="negative"):
        Offset(-1, "d")
    with pytest.raises(ValueError, match="unit"):
        Offset(1, "y")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="plain local HH:MM"):
        Offset(1, "d", time(9, 0, 30))


# --- defaults and canonical text ------------------------------------------------------------


def test_defaults_per_kind() -> None:
    assert DEFAULT_SPECS == {
        "grant-deadline": "14d@09:00,3d@09:00,1d@09:00",
        "meeting": "1d@18:00,2h",
        "news": "none",
        "tax-campaign": "mondays@10:00,7d@10:00,1d@10:00",
    }
    for kind, spec in DEFAULT_SPECS.items():
        assert default_offsets(kind) == DEFAULT_OFFSETS[kind] == parse_offsets(spec)
        assert format_offsets(DEFAULT_OFFSETS[kind]) == spec
    assert default_offsets("news") == ()


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="'party'"):
        default_offsets("party")


def test_canonical_order_is_longest_lead_first() -> None:
    assert format_offsets(parse_offsets("2h,1d@18:00")) == "1d@18:00,2h"
    assert format_offsets(parse_offsets("1d@18:00,1d@09:00,2w")) == "2w,1d@09:00,1d@18:00"
    assert format_offsets(parse_offsets("30m,0d@08:00")) == "30m,0d@08:00"
    assert format_offsets([]) == "none"


ATOMS = [
    "1w",
    "7d",
    "3d@09:00",
    "1d@18:00",
    "1d",
    "24h",
    "2h",
    "120m",
    "45m",
    "0d@08:00",
    "2h@07:30",
]


@pytest.mark.parametrize("size", [1, 2, 3])
def test_format_round_trips(size: int) -> None:
    for combo in itertools.permutations(ATOMS, size):
        spec = ",".join(combo)
        parsed = parse_offsets(spec)
        text = format_offsets(parsed)
        assert parse_offsets(text) == parsed, spec
        assert format_offsets(parse_offsets(text)) == text
        assert normalise(reversed(parsed)) == parsed


# --- instants --------------------------------------------------------------------------------


def test_grant_defaults_for_a_deadline_at_midnight_minus_one() -> None:
    times = reminder_times(local(2026, 4, 30, 23, 59), DEFAULT_OFFSETS["grant-deadline"], WARSAW)
    assert as_local(times) == [
        "2026-04-16 09:00 CEST",
        "2026-04-27 09:00 CEST",
        "2026-04-29 09:00 CEST",
    ]
    assert all(t.tzinfo is UTC for t in times)


def test_meeting_defaults() -> None:
    times = reminder_times(local(2026, 5, 21, 17, 0), DEFAULT_OFFSETS["meeting"], WARSAW)
    assert as_local(times) == ["2026-05-20 18:00 CEST", "2026-05-21 15:00 CEST"]


def test_a_calendar_day_across_the_spring_change_is_23_hours() -> None:
    # Summer time starts on Sunday 29.03.2026 at 02:00 in Europe/Warsaw.
    deadline = local(2026, 3, 29, 9, 0)
    (reminder,) = reminder_times(deadline, parse_offsets("1d"), WARSAW)
    assert as_local([reminder]) == ["2026-03-28 09:00 CET"]
    assert deadline - reminder == timedelta(hours=23)
    # The day after the change both are summer time: a plain 24 hours.
    later = local(2026, 3, 30, 9, 0)
    (reminder,) = reminder_times(later, parse_offsets("1d"), WARSAW)
    assert as_local([reminder]) == ["2026-03-29 09:00 CEST"]
    assert later - reminder == timedelta(hours=24)


def test_a_calendar_day_across_the_autumn_change_is_25_hours() -> None:
    # Summer time ends on Sunday 25.10.2026 at 03:00 in Europe/Warsaw.
    deadline = local(2026, 10, 25, 9, 0)
    (reminder,) = reminder_times(deadline, parse_offsets("1d"), WARSAW)
    assert as_local([reminder]) == ["2026-10-24 09:00 CEST"]
    assert deadline - reminder == timedelta(hours=25)
    (three,) = reminder_times(local(2026, 10, 27, 9, 0), parse_offsets("3d@18:00"), WARSAW)
    assert as_local([three]) == ["2026-10-24 18:00 CEST"]


def test_a_week_across_the_spring_change_keeps_the_local_time() -> None:
    deadline = local(2026, 4, 2, 12, 0)
    (reminder,) = reminder_times(deadline, parse_offsets("1w"), WARSAW)
    assert as_local([reminder]) == ["2026-03-26 12:00 CET"]
    assert deadline - reminder == timedelta(days=7, hours=-1)


def test_hours_are_exact_across_a_change() -> None:
    meeting = local(2026, 3, 29, 4, 0)  # CEST, 02:00 UTC
    (reminder,) = reminder_times(meeting, parse_offsets("3h"), WARSAW)
    assert meeting - reminder == timedelta(hours=3)
    assert as_local([reminder]) == ["2026-03-29 00:00 CET"]
    autumn = local(2026, 10, 25, 4, 0)  # CET, 03:00 UTC
    (reminder,) = reminder_times(autumn, parse_offsets("180m"), WARSAW)
    assert autumn - reminder == timedelta(hours=3)
    assert as_local([reminder]) == ["2026-10-25 02:00 CEST"]  # the first 02:00 of the night


def test_a_local_time_in_the_spring_gap_moves_forward_by_the_gap() -> None:
    deadline = local(2026, 3, 30, 2, 30)
    (reminder,) = reminder_times(deadline, parse_offsets("1d"), WARSAW)
    assert as_local([reminder]) == ["2026-03-29 03:30 CEST"]
    (snapped,) = reminder_times(local(2026, 3, 30, 9, 0), parse_offsets("1d@02:15"), WARSAW)
    assert as_local([snapped]) == ["2026-03-29 03:15 CEST"]


def test_a_local_time_in_the_autumn_fold_means_the_first_one() -> None:
    deadline = local(2026, 10, 26, 2, 30)
    (reminder,) = reminder_times(deadline, parse_offsets("1d"), WARSAW)
    assert reminder == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, not CET
    assert as_local([reminder]) == ["2026-10-25 02:30 CEST"]


def test_at_snaps_to_the_local_time_of_the_day_reached() -> None:
    target = local(2026, 5, 15, 1, 0)
    assert as_local(reminder_times(target, parse_offsets("2h@08:00"), WARSAW)) == [
        "2026-05-14 08:00 CEST"
    ]
    assert as_local(reminder_times(target, parse_offsets("1d@18:00"), WARSAW)) == [
        "2026-05-14 18:00 CEST"
    ]


def test_instants_at_or_after_the_target_are_dropped() -> None:
    deadline = local(2026, 6, 10, 9, 0)
    assert reminder_times(deadline, parse_offsets("0d@18:00,0d@09:00"), WARSAW) == []
    assert as_local(reminder_times(deadline, parse_offsets("0d@08:00"), WARSAW)) == [
        "2026-06-10 08:00 CEST"
    ]


def test_offsets_already_past_are_skipped_with_after() -> None:
    deadline = local(2026, 4, 30, 23, 59)
    offsets = DEFAULT_OFFSETS["grant-deadline"]
    published = local(2026, 4, 20, 12, 0)
    assert as_local(reminder_times(deadline, offsets, WARSAW, after=published)) == [
        "2026-04-27 09:00 CEST",
        "2026-04-29 09:00 CEST",
    ]
    exactly = local(2026, 4, 27, 9, 0)
    assert len(reminder_times(deadline, offsets, WARSAW, after=exactly)) == 2


def test_equal_instants_are_listed_once_and_sorted() -> None:
    target = local(2026, 6, 10, 9, 0)
    times = reminder_times(target, parse_offsets("1d,24h,2h,1w"), WARSAW)
    assert as_local(times) == [
        "2026-06-03 09:00 CEST",
        "2026-06-09 09:00 CEST",
        "2026-06-10 07:00 CEST",
    ]


def test_the_target_may_be_given_in_any_zone() -> None:
    in_utc = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert as_local(reminder_times(in_utc, parse_offsets("1d"), WARSAW)) == [
        "2026-03-29 09:00 CEST"
    ]


def test_naive_targets_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        reminder_times(datetime(2026, 1, 1), parse_offsets("1d"), WARSAW)
    with pytest.raises(ValueError, match="naive"):
        reminder_times(local(2026, 1, 2), parse_offsets("1d"), WARSAW, after=datetime(2026, 1, 1))
