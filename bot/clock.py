"""Time helpers: one format for every timestamp stored in the database."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def to_db(moment: datetime) -> str:
    """Serialise an aware datetime for the database (UTC, ISO 8601, microseconds).

    A fixed width keeps lexicographic order equal to time order, so SQL can compare the text.
    """
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware one")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def from_db(text: str) -> datetime:
    """Parse a timestamp written by :func:`to_db`."""
    return datetime.fromisoformat(text)
