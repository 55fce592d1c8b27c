"""Creating, correcting and cancelling announcements: the rules the CLI and the chat share.

Every change is validated here, written by the storage layer in one transaction together with
the outbox rows it causes, and recorded in the audit log under the acting staff identity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from bot.announcements.model import (
    CORRECTABLE,
    FIELD_NAMES,
    Announcement,
    AnnouncementError,
    Fields,
    Status,
    validate,
)
from bot.announcements.render import NOTICEABLE, Purpose
from bot.clock import utcnow
from bot.config import Settings
from bot.core.topics import Topics
from bot.i18n import _
from bot.storage import Storage
from bot.storage.outbox import BroadcastCounts, Counts

Clock = Callable[[], datetime]


class UnknownAnnouncement(LookupError):
    """No announcement has this id."""


@dataclass(frozen=True)
class Edit:
    """The result of a correction: the announcement now, what changed, whether a notice went out."""

    announcement: Announcement
    changed: frozenset[str]
    notified: bool

    @property
    def noticeable(self) -> bool:
        """Whether the change is worth a correction notice to those who received it."""
        return self.announcement.published and bool(self.changed & set(NOTICEABLE))


class AnnouncementService:
    def __init__(
        self, storage: Storage, settings: Settings, topics: Topics, clock: Clock = utcnow
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.topics = topics
        self.clock = clock

    def check(self, fields: Fields, changed: set[str] | None = None) -> Fields:
        """Validate against the current time and topics (raises AnnouncementError)."""
        return validate(fields, now=self.clock(), topics=self.topics.slugs, changed=changed)

    async def create(
        self, fields: Fields, *, actor: str, author_chat_ref: int | None = None
    ) -> Announcement:
        """Validate and store; publish at once when due (the outbox rows in the same write)."""
        checked = self.check(fields)
        now = self.clock()
        announcement_id = await self.storage.announcements.create(
            checked, author=actor, author_chat_ref=author_chat_ref, now=now
        )
        announcement = await self.get(announcement_id)
        action = "announce publish" if announcement.published else "announce schedule"
        await self.storage.staff.audit(actor, action, f"#{announcement_id} {checked.kind}")
        return announcement

    async def get(self, announcement_id: int) -> Announcement:
        announcement = await self.storage.announcements.get(announcement_id)
        if announcement is None:
            raise UnknownAnnouncement(announcement_id)
        return announcement

    async def edit(
        self, announcement_id: int, changes: Mapping[str, Any], *, actor: str, notify: bool = False
    ) -> Edit:
        """Correct fields; with `notify`, those who received it get a short correction notice."""
        current = await self.get(announcement_id)
        if current.status is Status.CANCELLED:
            raise AnnouncementError("status", _("This announcement is cancelled."))
        fixed = {"kind", "topic", "publish_at"} if current.published else set()
        if fixed & set(changes):
            raise AnnouncementError(
                sorted(fixed & set(changes))[0],
                _(
                    "The kind, topic and publication time of a published announcement cannot "
                    "change; cancel it and create a new one."
                ),
            )
        unknown = set(changes) - set(CORRECTABLE) - {"kind", "topic"}
        if unknown:
            raise AnnouncementError(sorted(unknown)[0], _("This field cannot be changed."))
        updated = adapt_to_kind(current.fields, current.fields.replace(**changes), changes)
        changed = {
            name for name in FIELD_NAMES if getattr(current.fields, name) != getattr(updated, name)
        }
        checked = self.check(updated, changed)
        send_notice = notify and current.published and bool(changed & set(NOTICEABLE))
        await self.storage.announcements.update(
            announcement_id, checked, changed, now=self.clock(), notify=send_notice
        )
        await self.storage.staff.audit(
            actor,
            "announce edit",
            f"#{announcement_id} {','.join(sorted(changed)) or '-'}"
            + (" notified" if send_notice else ""),
        )
        return Edit(await self.get(announcement_id), frozenset(changed), send_notice)

    async def notify(self, announcement_id: int, *, actor: str) -> bool:
        """Send the correction notice of the latest edit (the chat's "yes" button)."""
        current = await self.get(announcement_id)
        if not current.published or not set(current.last_changed) & set(NOTICEABLE):
            return False
        sent = await self.storage.announcements.notify(announcement_id, now=self.clock())
        if sent is not None:
            await self.storage.staff.audit(actor, "announce notify", f"#{announcement_id}")
        return sent is not None

    async def cancel(self, announcement_id: int, *, actor: str) -> bool:
        """Stop undelivered messages and reminders; False when it was cancelled already."""
        await self.get(announcement_id)
        cancelled = await self.storage.announcements.cancel(announcement_id, now=self.clock())
        if cancelled:
            await self.storage.staff.audit(actor, "announce cancel", f"#{announcement_id}")
        return cancelled

    async def deliveries(self, announcement_id: int) -> DeliveryReport:
        await self.get(announcement_id)
        broadcasts = await self.storage.outbox.broadcast_counts(announcement_id)
        return DeliveryReport(announcement_id, broadcasts)


def adapt_to_kind(before: Fields, after: Fields, given: Mapping[str, Any]) -> Fields:
    """After a change of kind: drop dates the new kind lacks, follow its defaults not given."""
    if before.kind is after.kind:
        return after
    kind = after.kind
    changes: dict[str, Any] = {}
    if not kind.has_deadline and "deadline" not in given:
        changes["deadline"] = None
    if not kind.is_event:
        changes.update(
            {name: None for name in ("starts_at", "ends_at", "location") if name not in given}
        )
    if "topic" not in given and before.topic == before.kind.default_topic:
        changes["topic"] = kind.default_topic
    if "remind" not in given and before.remind == before.kind.default_remind:
        changes["remind"] = kind.default_remind
    return after.replace(**changes)


@dataclass(frozen=True)
class DeliveryReport:
    """The messages of an announcement by broadcast: `ngo-bot deliveries` and `show`."""

    announcement_id: int
    broadcasts: list[BroadcastCounts]

    def of(self, purpose: Purpose) -> list[BroadcastCounts]:
        return [b for b in self.broadcasts if b.purpose == purpose.value]

    @property
    def publication(self) -> Counts:
        counts = Counts()
        for broadcast in self.of(Purpose.PUBLICATION):
            for state, n in broadcast.counts.by_state.items():
                counts.add(state, n)
        return counts

    def as_json(self, tz: tzinfo) -> dict[str, Any]:
        """The contract's shape: top-level counts of the publication, then each reminder."""
        return {
            "id": self.announcement_id,
            **self.publication.as_dict(),
            "reminders": [
                {"at": b.due_at.astimezone(tz).isoformat(timespec="seconds"), **b.counts.as_dict()}
                for b in self.of(Purpose.REMINDER)
            ],
        }
