"""Local wall-clock times and instants: the rules for the DST gap and fold."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.reminders.localtime import exists, first_instant_at_or_after, local_at, resolve_local

WARSAW = ZoneInfo("Europe/Warsaw")


def test_an_ordinary_time() -> None:
    assert resolve_local(datetime(2026, 7, 1, 9, 0), WARSAW) == datetime(
        2026, 7, 1, 7, 0, tzinfo=UTC
    )
    assert local_at(date(2026, 1, 5), time(9, 0), WARSAW) == datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def test_the_spring_gap_moves_forward_by_its_length() -> None:
    wall = datetime(2026, 3, 29, 2, 30)
    assert not exists(wall, WARSAW)
    assert resolve_local(wall, WARSAW) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST


def test_the_autumn_fold_means_the_first_occurrence() -> None:
    wall = datetime(2026, 10, 25, 2, 30)
    assert exists(wall, WARSAW)
    assert resolve_local(wall, WARSAW) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # CEST


def test_first_instant_at_or_after() -> None:
    gap = datetime(2026, 3, 29, 2, 30)
    before = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert first_instant_at_or_after(gap, WARSAW, before) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    fold = datetime(2026, 10, 25, 2, 30)
    assert first_instant_at_or_after(fold, WARSAW, before.replace(month=10, day=24)) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    between = datetime(2026, 10, 25, 0, 45, tzinfo=UTC)
    assert first_instant_at_or_after(fold, WARSAW, between) == datetime(
        2026, 10, 25, 1, 30, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="before"):
        first_instant_at_or_after(fold, WARSAW, datetime(2026, 10, 25, 2, 0, tzinfo=UTC))


def test_naive_and_aware_are_not_mixed_up() -> None:
    with pytest.raises(ValueError, match="naive local"):
        resolve_local(datetime(2026, 1, 1, tzinfo=UTC), WARSAW)
    with pytest.raises(ValueError, match="naive"):
        first_instant_at_or_after(datetime(2026, 1, 1), WARSAW, datetime(2026, 1, 1))
