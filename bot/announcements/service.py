"""Creating, correcting and cancelling announcements: the rules the CLI and the chat share.

Every change is validated here, written by the storage layer in one transaction together with
the outbox rows it causes, and recorded in the audit log under the acting staff identity.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from bot.announcements.agenda import calendar_file, entries
from bot.announcements.model import (
    CORRECTABLE,
    FIELD_NAMES,
    Announcement,
    AnnouncementError,
    Fields,
    Kind,
    Status,
    TopicCatalog,
    validate,
)
from bot.announcements.render import NOTICEABLE, POSTED, Purpose
from bot.clock import utcnow
from bot.config import Settings
from bot.i18n import _, use_language
from bot.reminders.localtime import local_at
from bot.reminders.planner import HORIZON, PlannedReminder, plan, targets
from bot.reminders.season import DEFAULT_AT, SEASON_START, campaign_deadline
from bot.storage import Storage
from bot.storage.outbox import BroadcastCounts, Counts
from bot.storage.reminders import Reminder, ReminderState

Clock = Callable[[], datetime]

CALENDAR_KINDS = (Kind.GRANT_DEADLINE, Kind.TAX_CAMPAIGN, Kind.MEETING)
CALENDAR_LIMIT = 10_000


class UnknownAnnouncement(LookupError):
    """No announcement has this id."""


@dataclass(frozen=True)
class Edit:
    """The result of a correction: the announcement now, what changed, whether a notice went out."""

    announcement: Announcement
    changed: frozenset[str]
    notified: bool
    received: int = 0  # chats the publication has reached

    @property
    def mentionable(self) -> bool:
        """Whether the change is one a correction notice would tell about."""
        return self.announcement.published and bool(self.changed & set(NOTICEABLE))

    @property
    def noticeable(self) -> bool:
        """Whether the change is worth a correction notice to those who received it."""
        return self.mentionable and self.received > 0


class AnnouncementService:
    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        topics: TopicCatalog,
        clock: Clock = utcnow,
        *,
        horizon: timedelta = HORIZON,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.topics = topics
        self.clock = clock
        self.horizon = horizon
        # The latest calendar of each (topic, language), with what it was built from: a feed
        # polled again unchanged is not serialised again (building is most of its cost).
        self._calendars: dict[tuple[str | None, str], tuple[Hashable, bytes]] = {}

    def check(self, fields: Fields, changed: set[str] | None = None) -> Fields:
        """Validate against the current time and topics (raises AnnouncementError)."""
        return validate(
            fields,
            now=self.clock(),
            topics=self.topics.slugs,
            changed=changed,
            tz=self.settings.timezone,
        )

    def plan(self, fields: Fields, now: datetime) -> list[PlannedReminder]:
        """The reminders the announcement has from `now` on (stored with it, in one write)."""
        schedule = fields.schedule()
        if schedule is None:
            return []
        return plan(
            schedule,
            self.settings.timezone,
            self.settings.quiet_hours,
            now=now,
            horizon=self.horizon,
        )

    async def create(
        self, fields: Fields, *, actor: str, author_chat_ref: int | None = None
    ) -> Announcement:
        """Validate and store with its reminders; publish at once when due (the outbox rows in
        the same write)."""
        checked = self.check(fields)
        now = self.clock()
        announcement_id = await self.storage.announcements.create(
            checked,
            author=actor,
            author_chat_ref=author_chat_ref,
            now=now,
            plan=self.plan(checked, now),
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
        now = self.clock()
        await self.storage.announcements.update(
            announcement_id,
            checked,
            changed,
            now=now,
            notify=send_notice,
            plan=self.plan(checked, now),
            edit_posts=bool(changed & set(POSTED)),
        )
        await self.storage.staff.audit(
            actor,
            "announce edit",
            f"#{announcement_id} {','.join(sorted(changed)) or '-'}"
            + (" notified" if send_notice else ""),
        )
        return Edit(
            await self.get(announcement_id),
            frozenset(changed),
            send_notice,
            await self.received(announcement_id),
        )

    async def notify(self, announcement_id: int, *, actor: str) -> bool:
        """Send the correction notice of the latest edit (the chat's "yes" button)."""
        current = await self.get(announcement_id)
        if not current.published or not set(current.last_changed) & set(NOTICEABLE):
            return False
        if not await self.received(announcement_id):
            return False  # nobody has it: the waiting messages go out corrected anyway
        sent = await self.storage.announcements.notify(announcement_id, now=self.clock())
        if sent is not None:
            await self.storage.staff.audit(actor, "announce notify", f"#{announcement_id}")
        return sent is not None

    async def received(self, announcement_id: int) -> int:
        """How many chats the publication has reached (those a correction notice goes to:
        not channels, whose posts are edited instead)."""
        return await self.storage.outbox.notice_receivers(announcement_id)

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
        reminders = await self.storage.reminders.of_announcement(announcement_id)
        return DeliveryReport(announcement_id, broadcasts, reminders)

    async def top_up(self) -> int:
        """Plan again every announcement whose reminders may lie ahead; returns how many.

        This adds the occurrences of recurring meetings that entered the horizon, follows a
        change of BOT_QUIET_HOURS, and plans announcements written before reminders were
        stored; an unchanged plan writes nothing.
        """
        now = self.clock()
        current = await self.storage.announcements.plannable(now)
        for announcement in current:
            await self.storage.reminders.replan(
                announcement.id, self.plan(announcement.fields, now), now
            )
        return len(current)

    async def rerun(
        self,
        announcement_id: int,
        year: int,
        *,
        actor: str,
        publish_at: datetime | None = None,
    ) -> Announcement:
        """The 1.5% campaign again for another year's season: the same texts, topic and
        reminders, the deadline 30 April of `year`, published when that season starts (15
        January at 10:00) or now if it has started already."""
        source = await self.get(announcement_id)
        if source.fields.kind is not Kind.TAX_CAMPAIGN:
            raise AnnouncementError("kind", _("Only a 1.5% tax campaign can be run again."))
        tz = self.settings.timezone
        now = self.clock()
        if publish_at is None:
            publish_at = max(now, local_at(date(year, *SEASON_START), DEFAULT_AT, tz))
        fields = source.fields.replace(deadline=campaign_deadline(year, tz), publish_at=publish_at)
        announcement = await self.create(fields, actor=actor)
        await self.storage.staff.audit(
            actor, "announce rerun", f"#{announcement_id} -> #{announcement.id} {year}"
        )
        return announcement

    async def calendar(self, language: str, topic: str | None = None) -> bytes:
        """The upcoming published deadlines and meetings (of one topic) as an .ics file, titles
        in `language`: `ngo-bot calendar export` and the web server's feeds.

        DTSTAMP is the latest change of what the file holds, not the time of the request: the
        same content gives the same bytes, so a feed's ETag changes only with its content."""
        now, tz = self.clock(), self.settings.timezone
        upcoming = await self.storage.announcements.upcoming(
            CALENDAR_KINDS, now, limit=CALENDAR_LIMIT, topic=topic
        )
        locations = await self.storage.reminders.occurrence_locations(
            [a.id for a in upcoming if a.fields.repeat]
        )
        # A series whose last occurrence is over is no longer upcoming.
        current = [
            a for a in upcoming if not a.fields.repeat or entries([a], locations, tz, after=now)
        ]
        stamp = max((a.updated_at for a in current), default=now)
        # The file is a function of these (an empty one shows only the year, in its VTIMEZONE).
        built_from = (
            tuple((a.id, a.updated_at) for a in current),
            tuple(sorted((a.id, tuple(sorted(locations.get(a.id, {}).items()))) for a in current)),
            None if current else stamp.astimezone(tz).year,
        )
        cached = self._calendars.get((topic, language))
        if cached is not None and cached[0] == built_from:
            return cached[1]
        with use_language(language):
            name = _("Deadlines and meetings")
        data = calendar_file(current, locations, language, tz, name=name, stamp=stamp)
        self._calendars[(topic, language)] = (built_from, data)
        return data

    def occurrence_on(self, fields: Fields, day: date) -> datetime | None:
        """The start of the recurring meeting's occurrence on a local date, if it has one."""
        schedule = fields.schedule()
        if schedule is None or schedule.repeat is None:
            return None
        tz = self.settings.timezone
        found = targets(
            schedule,
            tz,
            after=local_at(day, time(0, 0), tz),
            before=local_at(day + timedelta(days=1), time(0, 0), tz),
        )
        return found[0] if found else None

    async def move_occurrence(
        self, announcement_id: int, day: date, location: str | None, *, actor: str
    ) -> datetime:
        """Hold one occurrence of a recurring meeting elsewhere (None: at the usual place)."""
        current = await self.get(announcement_id)
        if current.status is Status.CANCELLED:
            raise AnnouncementError("status", _("This announcement is cancelled."))
        if current.fields.repeat is None:
            raise AnnouncementError("repeat", _("Only a recurring meeting has occurrences."))
        start = self.occurrence_on(current.fields, day)
        if start is None:
            raise AnnouncementError("occurrence", _("The meeting does not take place on that day."))
        if location is not None:
            location = self.check(current.fields.replace(location=location), {"location"}).location
        await self.storage.reminders.set_occurrence_location(
            announcement_id, start, location, self.clock()
        )
        await self.storage.staff.audit(
            actor, "announce edit", f"#{announcement_id} occurrence {day.isoformat()} location"
        )
        return start


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
            {
                name: None
                for name in ("starts_at", "ends_at", "location", "repeat")
                if name not in given
            }
        )
    if "topic" not in given and before.topic == before.kind.default_topic:
        changes["topic"] = kind.default_topic
    if "remind" not in given and before.remind == before.kind.default_remind:
        changes["remind"] = kind.default_remind
    return after.replace(**changes)


@dataclass(frozen=True)
class DeliveryReport:
    """The messages of an announcement by broadcast, and its reminders: `ngo-bot deliveries`
    and `show`."""

    announcement_id: int
    broadcasts: list[BroadcastCounts]
    reminders: list[Reminder] = field(default_factory=list)

    def of(self, purpose: Purpose) -> list[BroadcastCounts]:
        return [b for b in self.broadcasts if b.purpose == purpose.value]

    @property
    def publication(self) -> Counts:
        counts = Counts()
        for broadcast in self.of(Purpose.PUBLICATION):
            for state, n in broadcast.counts.by_state.items():
                counts.add(state, n)
        return counts

    @property
    def planned(self) -> list[Reminder]:
        return [r for r in self.reminders if r.state is ReminderState.PLANNED]

    def as_json(self, tz: tzinfo) -> dict[str, Any]:
        """The contract's shape: top-level counts of the publication, then each reminder that
        fell due: sent, with its messages by state, or dropped, with the reason."""

        def iso(moment: datetime) -> str:
            return moment.astimezone(tz).isoformat(timespec="seconds")

        broadcasts = {b.id: b for b in self.of(Purpose.REMINDER)}
        due: list[tuple[datetime, dict[str, Any]]] = []
        for reminder in self.reminders:
            if reminder.state not in (ReminderState.SENT, ReminderState.DROPPED):
                continue
            broadcast = None
            if reminder.broadcast_id is not None:
                broadcast = broadcasts.pop(reminder.broadcast_id, None)
            counts = broadcast.counts if broadcast is not None else Counts()
            entry = {
                "at": iso(reminder.send_at),
                **counts.as_dict(),
                "state": reminder.state.value,
                "target": iso(reminder.target_at),
            }
            if reminder.reason:
                entry["reason"] = reminder.reason
            due.append((reminder.send_at, entry))
        # Reminder broadcasts written without a reminder row (AnnouncementStore.send_reminder).
        due.extend(
            (b.due_at, {"at": iso(b.due_at), **b.counts.as_dict()}) for b in broadcasts.values()
        )
        due.sort(key=lambda pair: pair[0])
        return {
            "id": self.announcement_id,
            **self.publication.as_dict(),
            "reminders": [entry for _at, entry in due],
        }
