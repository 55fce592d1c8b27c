"""The scheduler: sends each planned reminder when it falls due, the weekly digests, and the
daily reminder of questions for the office left open.

One APScheduler 3 `AsyncIOScheduler` in BOT_TIMEZONE, a Service of BotRuntime started after the
dispatcher. The database is the only source of truth: every reminder is a row of the
`reminders` table, planned when its announcement is created or edited (by the chat or by the
command line, in the same transaction); the scheduler only mirrors the planned rows as one
date job each. It rebuilds the jobs from the table at start and polls a change counter (one
row, bumped by triggers) every `poll_interval` seconds, so rows written by another process are
picked up within about a second. Recurring meetings are planned a horizon ahead; the scheduler
plans again at start and every hour, which tops that plan up (and follows a change of quiet
hours, and plans announcements stored before reminders were).

When a reminder fires it is checked against the announcement as it is now (edited, cancelled,
not yet published) and against quiet hours; then its broadcast and outbox rows are written and
the row marked sent in one transaction, so a reminder goes out once, also across restarts and
processes. A reminder missed while the bot was down fires at start: it is sent if its deadline
or meeting is still ahead (saying the time really left), otherwise dropped and recorded.

Jobs never misfire: `misfire_grace_time=None`. APScheduler's default of one second silently
drops a job that starts late, which happens when the event loop is busy (a large broadcast being
recorded, a slow disk); whether a late reminder is still worth sending is decided here, from
the database, by the rule above — not by how late the loop was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.announcements.agenda import (
    DIGEST_AT,
    DIGEST_WEEK,
    digest_start,
    entries,
    render_digest,
    week_key,
)
from bot.announcements.model import Kind, Status
from bot.announcements.render import reminder_detail
from bot.announcements.service import AnnouncementService
from bot.clock import utcnow
from bot.config import Settings
from bot.core.context import command_prefix
from bot.core.topics import Topics
from bot.questions.service import QuestionService
from bot.reminders.planner import HORIZON, Reason, send_time, wanted
from bot.storage import Storage
from bot.storage.reminders import Reminder, ReminderState

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# A reminder that fires within this of its send time counts the time left from its send time
# ("in 3 days", not "in 2 days and 23 hours"); one sent later, e.g. after the bot was down,
# counts from the moment it is really sent.
ON_TIME = timedelta(minutes=1)
# A reminder of an announcement the dispatcher has not published yet (it does so about every
# second) is tried again after this.
NOT_PUBLISHED_RETRY = timedelta(seconds=1)
# A reminder whose firing failed (e.g. the database was locked too long) is tried again after.
RETRY_AFTER_ERROR = timedelta(minutes=1)
# A digest missed while the bot was down is still sent within this after Monday 09:00.
DIGEST_GRACE = timedelta(hours=12)
# Quiet hours ending less than this from now: send now rather than postponing a moment.
_POSTPONE_FROM = timedelta(seconds=1)


@dataclass(frozen=True)
class SchedulerPolicy:
    """Timings of the scheduler (defaults for production; tests shrink them)."""

    poll_interval: float = 1.0
    top_up_interval: float = 3600.0
    horizon: timedelta = HORIZON
    stop_timeout: float = 10.0


class ReminderScheduler:
    """A Service of BotRuntime: start() rebuilds the jobs from the database, stop() lets a
    reminder being written finish."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        topics: Topics,
        *,
        policy: SchedulerPolicy | None = None,
        clock: Clock = utcnow,
        on_broadcast: Callable[[], None] | None = None,
    ) -> None:
        self._storage = storage
        self._settings = settings
        self._policy = policy or SchedulerPolicy()
        self._clock = clock
        self._on_broadcast = on_broadcast
        self._service = AnnouncementService(
            storage, settings, topics, clock, horizon=self._policy.horizon
        )
        self._questions = QuestionService(storage, settings)
        self._scheduler: Any = None
        self._jobs: dict[int, datetime] = {}
        self._version: int | None = None
        self._poller: asyncio.Task[None] | None = None
        self._busy: set[asyncio.Task[Any]] = set()
        # Reminders being fired now, and those waiting for a retry: a sync leaves them alone.
        self._firing: set[int] = set()
        self._retries: set[int] = set()

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Top up recurring meetings, send or drop what was missed while no scheduler ran,
        mirror the planned reminders, catch up a missed digest."""
        tz = self._settings.timezone
        self._scheduler = AsyncIOScheduler(
            timezone=tz,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        self._scheduler.start()
        await self.top_up()
        await self.catch_up()
        await self.sync()
        self._scheduler.add_job(
            self.top_up,
            IntervalTrigger(seconds=self._policy.top_up_interval, timezone=tz),
            id="top-up",
        )
        self._scheduler.add_job(
            self.send_digests,
            CronTrigger(
                day_of_week="mon", hour=DIGEST_AT.hour, minute=DIGEST_AT.minute, timezone=tz
            ),
            id="digest",
        )
        await self.send_digests()
        # Ask the office: every hour (at :00, so 09:00 is on time) remind the staff chats of old
        # open questions once a working day, and drop questions past their 90 days.
        self._scheduler.add_job(
            self.questions_housekeeping, CronTrigger(minute=0, timezone=tz), id="questions"
        )
        await self.questions_housekeeping()
        self._poller = asyncio.create_task(self._poll_loop(), name="reminder-sync")

    async def stop(self) -> None:
        """Stop polling and firing; a reminder being written is finished first."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._scheduler is None:
            return
        self._scheduler.pause()
        if self._busy:
            await asyncio.wait(list(self._busy), timeout=self._policy.stop_timeout)
        self._scheduler.shutdown(wait=False)
        self._scheduler = None
        self._jobs.clear()
        self._version = None
        await asyncio.sleep(0)  # the shutdown runs as a loop callback

    @property
    def scheduled(self) -> dict[int, datetime]:
        """Reminder id -> send time of each job (a copy)."""
        return dict(self._jobs)

    # --- mirroring the table --------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self._policy.poll_interval)
            try:
                await self.sync(only_if_changed=True)
            except Exception:
                log.exception("reminder sync failed; trying again")

    async def sync(self, *, only_if_changed: bool = False) -> bool:
        """Make the jobs the planned rows; with `only_if_changed`, only when the change counter
        moved. Returns whether it looked at the rows."""
        version = await self._storage.reminders.version()
        if only_if_changed and version == self._version:
            return False
        self._version = version
        planned = await self._storage.reminders.planned()
        for reminder_id in set(self._jobs) - set(planned):
            self._remove_job(reminder_id)
        for reminder_id, send_at in planned.items():
            if reminder_id in self._firing or reminder_id in self._retries:
                continue
            if self._jobs.get(reminder_id) != send_at:
                self._add_job(reminder_id, send_at)
        return True

    async def catch_up(self) -> int:
        """Fire, before anything else, every planned reminder whose time has passed; returns
        how many were looked at."""
        now = self._clock()
        overdue = [
            rid for rid, at in (await self._storage.reminders.planned()).items() if at <= now
        ]
        for reminder_id in overdue:
            await self.fire(reminder_id)
        if overdue:
            log.info("looked at %d reminders missed while no scheduler ran", len(overdue))
        return len(overdue)

    def _add_job(self, reminder_id: int, send_at: datetime) -> None:
        if self._scheduler is None:
            return
        self._scheduler.add_job(
            self.fire,
            DateTrigger(run_date=send_at),
            args=[reminder_id],
            id=f"reminder-{reminder_id}",
            replace_existing=True,
        )
        self._jobs[reminder_id] = send_at

    def _retry(self, reminder_id: int, at: datetime) -> None:
        """Fire again at `at`, whatever the row's send time says."""
        self._retries.add(reminder_id)
        self._add_job(reminder_id, at)

    def _remove_job(self, reminder_id: int) -> None:
        self._jobs.pop(reminder_id, None)
        self._retries.discard(reminder_id)
        if self._scheduler is not None:
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(f"reminder-{reminder_id}")

    async def top_up(self) -> None:
        """Plan again (recurring meetings' occurrences that entered the horizon, mostly)."""
        try:
            await self._service.top_up()
        except Exception:
            log.exception("planning recurring meetings failed; trying again later")

    # --- firing --------------------------------------------------------------------------------

    async def fire(self, reminder_id: int) -> ReminderState | None:
        """Send, postpone, drop or cancel one planned reminder; returns its state afterwards
        (None when it was not planned)."""
        task = asyncio.current_task()
        if task is not None:
            self._busy.add(task)
        self._jobs.pop(reminder_id, None)  # a date job runs once
        self._retries.discard(reminder_id)
        self._firing.add(reminder_id)
        try:
            return await self._fire(reminder_id)
        except Exception:
            log.exception("reminder %d failed; trying again in a minute", reminder_id)
            self._retry(reminder_id, self._clock() + RETRY_AFTER_ERROR)
            return ReminderState.PLANNED
        finally:
            self._firing.discard(reminder_id)
            # A sync that ran meanwhile skipped this reminder: the next one looks again (e.g.
            # at a reminder postponed to the end of quiet hours).
            self._version = None
            if task is not None:
                self._busy.discard(task)

    async def _fire(self, reminder_id: int) -> ReminderState | None:
        now = self._clock()
        reminder = await self._storage.reminders.get(reminder_id)
        if reminder is None or reminder.state is not ReminderState.PLANNED:
            return None
        announcement = await self._storage.announcements.get(reminder.announcement_id)
        if announcement is None:
            return None
        if announcement.status is Status.CANCELLED:
            return await self._settle(reminder, ReminderState.CANCELLED, Reason.CANCELLED, now)
        fields = announcement.fields
        schedule = fields.schedule()
        tz = self._settings.timezone
        if schedule is None or not wanted(schedule, reminder.target_at, reminder.due_at, tz):
            return await self._settle(reminder, ReminderState.CANCELLED, Reason.EDITED, now)
        if announcement.status is Status.SCHEDULED:
            self._retry(reminder_id, max(now, fields.publish_at) + NOT_PUBLISHED_RETRY)
            return ReminderState.PLANNED
        quiet = None if fields.urgent else self._settings.quiet_hours
        send_at = send_time(reminder.send_at, reminder.target_at, quiet, tz, now=now)
        if send_at is None:
            reason = Reason.TARGET_PASSED if now >= reminder.target_at else Reason.QUIET_HOURS
            return await self._settle(reminder, ReminderState.DROPPED, reason, now)
        if send_at - now >= _POSTPONE_FROM:
            # Quiet hours hold now (it was missed while the bot was down): wait for their end.
            await self._storage.reminders.postpone(reminder_id, send_at, now)
            log.info("reminder %d waits for the end of quiet hours", reminder_id)
            return ReminderState.PLANNED
        moment = reminder.send_at if now - reminder.send_at <= ON_TIME else now
        location = None
        if fields.repeat is not None:
            moved = await self._storage.reminders.occurrence_locations([announcement.id])
            location = moved.get(announcement.id, {}).get(reminder.target_at)
        broadcast_id = await self._storage.reminders.fire(
            reminder_id,
            now=now,
            moment=moment,
            detail=reminder_detail(reminder.target_at, moment, location),
        )
        if broadcast_id is None:
            return None
        log.info(
            "reminder %d of announcement #%d sent (broadcast %d)",
            reminder_id,
            announcement.id,
            broadcast_id,
        )
        self._notify()
        return ReminderState.SENT

    async def _settle(
        self, reminder: Reminder, state: ReminderState, reason: Reason, now: datetime
    ) -> ReminderState | None:
        if not await self._storage.reminders.settle(reminder.id, state, reason, now):
            return None
        log.info(
            "reminder %d of announcement #%d %s: %s",
            reminder.id,
            reminder.announcement_id,
            state.value,
            reason.value,
        )
        return state

    def _notify(self) -> None:
        if self._on_broadcast is not None:
            self._on_broadcast()

    # --- questions for the office -----------------------------------------------------------------

    async def questions_housekeeping(self) -> int:
        """The day's reminder of old open questions (if due), and the 90-day purge; returns the
        reminder messages queued."""
        task = asyncio.current_task()
        if task is not None:
            self._busy.add(task)
        try:
            now = self._clock()
            purged = await self._questions.purge(now)
            if purged:
                log.info("dropped %d questions answered or closed more than 90 days ago", purged)
            queued = await self._questions.remind(now)
            if queued:
                log.info("reminded %d staff chats of open questions", queued)
                self._notify()
            return queued
        except Exception:
            log.exception("the questions' reminder or purge failed")
            return 0
        finally:
            if task is not None:
                self._busy.discard(task)

    # --- the weekly digest -----------------------------------------------------------------------

    async def send_digests(self) -> int:
        """Write this week's digest for each chat that has it and has not had it (from Monday
        09:00 local, for DIGEST_GRACE); returns how many messages were queued."""
        task = asyncio.current_task()
        if task is not None:
            self._busy.add(task)
        try:
            return await self._send_digests()
        except Exception:
            log.exception("writing the weekly digests failed")
            return 0
        finally:
            if task is not None:
                self._busy.discard(task)

    async def _send_digests(self) -> int:
        now = self._clock()
        tz = self._settings.timezone
        start = digest_start(now, tz)
        if not start <= now < start + DIGEST_GRACE:
            return 0
        week = week_key(start, tz)
        chats = await self._storage.digests.waiting(week)
        if not chats:
            return 0
        announcements = await self._storage.announcements.upcoming(
            (Kind.GRANT_DEADLINE, Kind.TAX_CAMPAIGN, Kind.MEETING), start, limit=1000
        )
        locations = await self._storage.reminders.occurrence_locations(
            [a.id for a in announcements if a.fields.repeat]
        )
        items = entries(announcements, locations, tz, after=start, before=start + DIGEST_WEEK)
        queued = 0
        for chat in chats:
            language = chat.language or self._settings.default_language
            prefix = command_prefix(chat.ref.platform)
            text = render_digest(items, chat.topics, language, tz, start, prefix=prefix)
            if await self._storage.digests.write(chat.chat_ref, week, text, now) is not None:
                queued += 1
        if queued:
            log.info("queued %d weekly digests for %s", queued, week)
            self._notify()
        return queued
