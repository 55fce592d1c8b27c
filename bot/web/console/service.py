"""What the console's pages show and do, over the same services as the chat and the CLI.

Handlers (bot/web/console/pages.py) call this and render templates; this calls the
announcement service for every change and the storage for counts. No SQL, no HTTP here.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.announcements.model import Announcement, Fields, Status
from bot.announcements.render import render_publication
from bot.announcements.service import AnnouncementService, DeliveryReport
from bot.clock import utcnow
from bot.config import LANGUAGES, Settings
from bot.core.commands.staff import STAFF_ROLE, valid_identity
from bot.core.context import command_prefix
from bot.core.topics import Topics
from bot.faq.unanswered import QuestionGroup, group_questions, question_key
from bot.i18n import _, use_language
from bot.questions.service import PLATFORM_NAMES, language_name
from bot.storage import Storage
from bot.storage.outbox import Counts
from bot.storage.questions import Question, QuestionState
from bot.storage.staff import AuditEntry, StaffMember
from bot.storage.web import ChatCount, PlannedSend

CHART_DAYS = 90
LATEST = 8
PLANNED = 10
PAGE_SIZE = 20
# The chat table and the chart count every subscription (tens of thousands of rows): computed
# at most this often, so a dashboard left open, or many staff, cost one count.
SNAPSHOT_SECONDS = 15.0
UNANSWERED_LIMIT = 100
AUDIT_LIMIT = 200
QUESTIONS_PAGE = 20
PREVIEW_PLATFORMS = ("telegram", "matrix")

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DayCount:
    day: date
    added: int
    removed: int
    total: int  # subscriptions at the end of the day


@dataclass(frozen=True)
class ChatTable:
    """Active chats by topic (rows) and language × platform (columns)."""

    topics: list[str]
    columns: list[tuple[str, str]]
    cells: dict[tuple[str, str, str], int]
    row_totals: dict[str, int]

    def cell(self, topic: str, language: str, platform: str) -> int:
        return self.cells.get((topic, language, platform), 0)


@dataclass(frozen=True)
class Progress:
    """An announcement with its publication's counts."""

    announcement: Announcement
    counts: Counts

    @property
    def delivered(self) -> int:
        return self.counts.get("sent")

    @property
    def settled(self) -> int:
        return sum(self.counts.get(s) for s in ("sent", "failed", "gone", "cancelled"))


@dataclass(frozen=True)
class Snapshot:
    chats: ChatTable
    days: list[DayCount]
    taken: float


@dataclass(frozen=True)
class AnnouncementPage:
    items: list[Progress]
    page: int
    pages: int


@dataclass(frozen=True)
class Dashboard:
    chats: ChatTable
    days: list[DayCount]
    planned: list[tuple[PlannedSend, Announcement | None]]
    latest: list[Progress]


@dataclass(frozen=True)
class Preview:
    """One language's message as each platform will show it (the HTML subset)."""

    language: str
    by_platform: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InboxItem:
    """A question for the office as the inbox page shows it."""

    question: Question

    def language_name(self, in_language: str) -> str:
        return language_name(self.question.language, in_language)

    @property
    def platform(self) -> str:
        platform = self.question.chat.platform
        return PLATFORM_NAMES.get(platform, platform)

    @property
    def is_open(self) -> bool:
        return self.question.state is QuestionState.OPEN


@dataclass(frozen=True)
class InboxPage:
    items: list[InboxItem]
    page: int
    pages: int
    total: int


class ConsoleService:
    def __init__(
        self, storage: Storage, settings: Settings, topics: Topics, clock: Clock = utcnow
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.topics = topics
        self.clock = clock
        self.announcements = AnnouncementService(storage, settings, topics, clock)
        self._snapshot: Snapshot | None = None

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.timezone

    # --- dashboard --------------------------------------------------------------------------

    async def dashboard(self) -> Dashboard:
        snapshot = await self.snapshot()
        planned = await self.storage.web.planned_sends(self.clock(), PLANNED)
        known = await self.storage.announcements.get_many({p.announcement_id for p in planned})
        return Dashboard(
            chats=snapshot.chats,
            days=snapshot.days,
            planned=[(p, known.get(p.announcement_id)) for p in planned],
            latest=await self.progress(await self.storage.announcements.recent(LATEST)),
        )

    async def snapshot(self) -> Snapshot:
        """The chat table and the chart's days, at most SNAPSHOT_SECONDS old."""
        now = time.monotonic()
        if self._snapshot is None or now - self._snapshot.taken >= SNAPSHOT_SECONDS:
            counts = await self.storage.web.active_chats(self.settings.default_language)
            self._snapshot = Snapshot(self.chat_table(counts), await self.subscription_days(), now)
        return self._snapshot

    def chat_table(self, counts: list[ChatCount]) -> ChatTable:
        columns = sorted({(c.language, c.platform) for c in counts})
        cells = {(c.topic, c.language, c.platform): c.chats for c in counts}
        known = list(self.topics.slugs)
        topics = known + sorted({c.topic for c in counts} - set(known))
        totals: dict[str, int] = defaultdict(int)
        for c in counts:
            totals[c.topic] += c.chats
        return ChatTable(topics, columns, cells, dict(totals))

    async def subscription_days(self) -> list[DayCount]:
        """Subscriptions started and ended each local day of the last 90, with the total."""
        tz = self.tz
        today = self.clock().astimezone(tz).date()
        first = today - timedelta(days=CHART_DAYS - 1)
        since = datetime.combine(first, datetime.min.time(), tz)
        added: dict[date, int] = defaultdict(int)
        removed: dict[date, int] = defaultdict(int)
        for hour in await self.storage.web.subscription_hours(since):
            day = hour.hour.astimezone(tz).date()
            added[day] += hour.added
            removed[day] += hour.removed
        total = await self.storage.web.subscriptions_total()
        days: list[DayCount] = []
        for offset in range(CHART_DAYS):
            day = today - timedelta(days=offset)
            days.append(DayCount(day, added[day], removed[day], total))
            total -= added[day] - removed[day]
        days.reverse()
        return days

    async def progress(self, announcements: list[Announcement]) -> list[Progress]:
        counts = await self.storage.web.publication_counts([a.id for a in announcements])
        return [Progress(a, counts.get(a.id, Counts())) for a in announcements]

    # --- announcements ----------------------------------------------------------------------

    async def list_announcements(self, page: int = 1) -> AnnouncementPage:
        """One page of announcements, latest first, with their delivery counts."""
        pages = max(1, -(-await self.storage.web.announcement_count() // PAGE_SIZE))
        page = min(max(page, 1), pages)
        found = await self.storage.announcements.recent(PAGE_SIZE, (page - 1) * PAGE_SIZE)
        return AnnouncementPage(await self.progress(found), page, pages)

    async def announcement(self, announcement_id: int) -> tuple[Announcement, DeliveryReport]:
        """Raises bot.announcements.service.UnknownAnnouncement."""
        announcement = await self.announcements.get(announcement_id)
        return announcement, await self.announcements.deliveries(announcement_id)

    async def recipients(self, topic: str) -> int:
        return await self.storage.web.recipients(topic)

    def previews(self, fields: Fields) -> list[Preview]:
        """The publication in each language it is written in, per platform, exactly as the
        dispatcher renders it (a chat in a missing language gets Polish with a note)."""
        result = []
        for language in LANGUAGES:
            if not fields.has_language(language):
                continue
            with use_language(language):
                rendered = {
                    platform: render_publication(
                        fields, language, self.topics, self.tz, prefix=command_prefix(platform)
                    )
                    for platform in PREVIEW_PLATFORMS
                }
            result.append(Preview(language, rendered))
        return result

    def cancellable(self, announcement: Announcement) -> bool:
        return announcement.status is not Status.CANCELLED

    # --- other pages ------------------------------------------------------------------------

    async def unanswered(self) -> list[QuestionGroup]:
        questions = await self.storage.unanswered.most_frequent(limit=None, now=self.clock())
        return group_questions(questions, UNANSWERED_LIMIT)

    async def sent_to_the_office(self, groups: list[QuestionGroup]) -> list[list[int]]:
        """For each unanswered group, the numbers of the questions it became (as the chat's
        `unanswered` marks them with → #N)."""
        marks: dict[str, set[int]] = defaultdict(set)
        for text, numbers in (await self.storage.questions.unanswered_marks()).items():
            marks[question_key(text)].update(numbers)
        return [sorted(marks.get(question_key(group.text), ())) for group in groups]

    async def questions(self, state: QuestionState | None, page: int = 1) -> InboxPage:
        """One page of the office's questions in one state (or all): the open ones oldest
        first (the next to answer on top), the settled ones latest first. Questions are few
        (3 open a chat at most, dropped 90 days after they are settled): read whole, then cut."""
        found = await self.storage.questions.in_state(state, limit=1_000_000)
        if state is not QuestionState.OPEN:
            found.sort(key=lambda question: question.id, reverse=True)
        pages = max(1, -(-len(found) // QUESTIONS_PAGE))
        page = min(max(page, 1), pages)
        shown = found[(page - 1) * QUESTIONS_PAGE : page * QUESTIONS_PAGE]
        return InboxPage([InboxItem(question) for question in shown], page, pages, len(found))

    async def question(self, number: int) -> InboxItem | None:
        question = await self.storage.questions.get(number)
        return InboxItem(question) if question is not None else None

    async def staff(self) -> list[StaffMember]:
        return await self.storage.staff.all()

    async def audit_log(self) -> list[AuditEntry]:
        return await self.storage.staff.audit_log(limit=AUDIT_LIMIT)


class StaffChangeError(ValueError):
    """A staff change that cannot be made; the message says why, in the current language."""


async def add_staff(
    storage: Storage,
    settings: Settings,
    identity: str,
    *,
    actor: str,
    changed: Callable[[str], Awaitable[None]],
) -> None:
    """`staff add` from the page: the same checks, record and audit as the chat command."""
    if not valid_identity(identity):
        raise StaffChangeError(
            _(
                "{identity} is not an identity. Write it like telegram:123456, "
                "matrix:@name:server.org or console:name."
            ).format(identity=identity[:80])
        )
    if identity in settings.admins:
        raise StaffChangeError(
            _("{identity} is an administrator (BOT_ADMINS) already.").format(identity=identity)
        )
    if not await storage.staff.add(identity, STAFF_ROLE, actor):
        raise StaffChangeError(_("{identity} is staff already.").format(identity=identity))
    await storage.staff.audit(actor, "staff add", identity)
    await changed(identity)


async def remove_staff(
    storage: Storage,
    settings: Settings,
    identity: str,
    *,
    actor: str,
    changed: Callable[[str], Awaitable[None]],
) -> None:
    """`staff remove` from the page; the person's console sessions end at once."""
    if identity in settings.admins:
        raise StaffChangeError(
            _("{identity} is an administrator set in BOT_ADMINS; remove them there.").format(
                identity=identity
            )
        )
    if not await storage.staff.remove(identity):
        raise StaffChangeError(_("{identity} is not staff.").format(identity=identity))
    await storage.staff.audit(actor, "staff remove", identity)
    await storage.web.end_sessions_of(identity)
    await changed(identity)
