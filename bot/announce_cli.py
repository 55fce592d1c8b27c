"""`ngo-bot announce create|list|edit|cancel|rerun`, `ngo-bot deliveries ID` and `ngo-bot calendar
export` (contract in ARCHITECTURE.md): a caller of the announcement package, like the chat
commands and the web server.

The operator acts as an admin; actions are audited as `cli:<OS user>`. Times are read as the chat
reads them (bot.announcements.timeparse): ISO 8601, '30.04.2026 23:59', 'jutro 18:00', 'w piątek
18:00'; without an offset they are in BOT_TIMEZONE; a bare time like '20:00' for --ends-at is on
the day the meeting starts. Bad arguments exit 2 with one line saying what is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.announcements.model import (
    DEADLINE_TIME,
    FIELD_NAMES,
    AnnouncementError,
    Fields,
    Kind,
    repeat_error,
    tax_campaign_deadline,
)
from bot.announcements.service import AnnouncementService, UnknownAnnouncement
from bot.announcements.timeparse import TimeFormatError, parse_when
from bot.cli import EXIT_OK, EXIT_USAGE, EXTENSIONS, default_user
from bot.clock import utcnow
from bot.config import Settings
from bot.core.topics import load_topics
from bot.i18n import _, use_language
from bot.reminders.recurrence import parse_repeat
from bot.storage import Storage

TEXT_OPTIONS = ("title_pl", "text_pl", "title_uk", "text_uk", "title_en", "text_en")
OPTIONAL_TEXTS = ("title_uk", "text_uk", "title_en", "text_en", "location", "url")
TIME_OPTIONS = ("deadline", "starts_at", "ends_at", "publish_at")


class UsageError(ValueError):
    """A bad option value: printed as 'ngo-bot: <message>', exit 2."""


def add_commands(commands: Any) -> None:
    """Register `announce` and `deliveries` on the `ngo-bot` parser."""
    announce = commands.add_parser(
        "announce",
        help="create, list, correct or cancel announcements",
        description="Staff tool for announcements. Times are ISO 8601 (2027-04-30T18:00), "
        "30.04.2027 18:00 or words such as 'tomorrow 18:00', 'on Friday 18:00' (also in Polish "
        "and Ukrainian: 'jutro 9:00', 'w piątek 18:00'); without an offset they are in "
        "BOT_TIMEZONE.",
    )
    actions = announce.add_subparsers(dest="announce_command", metavar="ACTION", required=True)

    create = actions.add_parser(
        "create",
        help="create and publish (or schedule) an announcement",
        description="Create an announcement; it is published at --publish-at (default now) to "
        "the active chats subscribed to its topic.",
    )
    add_field_options(create, creating=True)
    create.add_argument("--json", action="store_true", help='print {"id": <int>}')
    create.set_defaults(func=cmd_create)

    listing = actions.add_parser(
        "list", help="announcements, latest first", description="Announcements, latest first."
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=cmd_list)

    edit = actions.add_parser(
        "edit",
        help="correct an announcement",
        description="Correct an announcement (same options as create). Waiting messages and "
        "reminders follow the new values; --notify also sends a short correction to the chats "
        "that have received it.",
    )
    edit.add_argument("id", type=int, help="announcement id")
    add_field_options(edit, creating=False)
    edit.add_argument(
        "--notify", action="store_true", help="send a correction notice to those who received it"
    )
    edit.add_argument(
        "--occurrence",
        metavar="DATE",
        help="with --location only: hold the recurring meeting's occurrence on this date "
        "(e.g. 2026-12-17) at another place; --location '' puts it back at the usual place",
    )
    edit.add_argument("--json", action="store_true", help='print {"id": <int>}')
    edit.set_defaults(func=cmd_edit)

    cancel = actions.add_parser(
        "cancel",
        help="cancel an announcement",
        description="Cancel: undelivered messages and reminders are not sent.",
    )
    cancel.add_argument("id", type=int, help="announcement id")
    cancel.set_defaults(func=cmd_cancel)

    rerun = actions.add_parser(
        "rerun",
        help="run a 1.5%% tax campaign again in another year",
        description="Create the campaign again for another year's season: the same texts, "
        "topic and reminders, the deadline 30 April of --year, published on 15 January at "
        "10:00 of that year (or now, if the season has begun).",
    )
    rerun.add_argument("id", type=int, help="the campaign announcement to copy")
    rerun.add_argument("--year", type=int, required=True, help="the season's year, e.g. 2027")
    rerun.add_argument("--publish-at", help="when to publish (default: the season's start)")
    rerun.add_argument("--json", action="store_true", help='print {"id": <int>}')
    rerun.set_defaults(func=cmd_rerun)

    calendar = commands.add_parser(
        "calendar",
        help="the upcoming deadlines and meetings as a calendar",
        description="Calendar tools.",
    )
    calendar_actions = calendar.add_subparsers(
        dest="calendar_command", metavar="ACTION", required=True
    )
    export = calendar_actions.add_parser(
        "export",
        help="iCalendar (.ics) of upcoming deadlines and meetings on stdout",
        description="Write an iCalendar file of the upcoming deadlines and meetings to stdout "
        "(times in BOT_TIMEZONE, stable UIDs, recurring meetings as RRULEs).",
    )
    export.add_argument("--topic", help="only this topic's announcements")
    export.set_defaults(func=cmd_calendar_export)

    deliveries = commands.add_parser(
        "deliveries",
        help="an announcement's messages by state",
        description="Counts of the announcement's messages by state: the publication, then "
        "each reminder that fell due.",
    )
    deliveries.add_argument("id", type=int, help="announcement id")
    deliveries.add_argument("--json", action="store_true", help="one JSON object")
    deliveries.set_defaults(func=cmd_deliveries)


def add_field_options(parser: argparse.ArgumentParser, *, creating: bool) -> None:
    kinds = [kind.value for kind in Kind]
    parser.add_argument(
        "--kind",
        choices=kinds,
        required=creating,
        help="grant-deadline, tax-campaign, meeting or news",
    )
    parser.add_argument("--topic", help="topic slug (default by kind: grants, tax, meetings, news)")
    for language, name in (("pl", "Polish"), ("uk", "Ukrainian"), ("en", "English")):
        required = creating and language == "pl"
        parser.add_argument(f"--title-{language}", required=required, help=f"{name} title")
        parser.add_argument(f"--text-{language}", required=required, help=f"{name} text")
    parser.add_argument(
        "--deadline", help="grant-deadline, tax-campaign (default 30 April); a date alone is 23:59"
    )
    parser.add_argument("--starts-at", help="meeting start")
    parser.add_argument(
        "--ends-at", help="meeting end; a time alone (20:00) is on the day it starts"
    )
    parser.add_argument("--location", help="meeting place")
    parser.add_argument(
        "--repeat",
        help="meeting: weekly, monthly, none or an RRULE such as FREQ=MONTHLY;BYDAY=3TH",
    )
    parser.add_argument(
        "--url", help="a link for details (http or https; ngo.krakow.pl/... gets https://)"
    )
    parser.add_argument(
        "--remind", help="reminder offsets like 14d@09:00,3d@09:00,1d@09:00, or none"
    )
    parser.add_argument("--publish-at", help="when to publish (default: now)")
    parser.add_argument(
        "--urgent",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="send also during quiet hours",
    )


def parse_time(
    option: str, value: str, tz: ZoneInfo, *, same_day_as: datetime | None = None
) -> datetime:
    """A time option as the chat reads it (same parser): ISO 8601, '30.04.2027 18:00', words
    like 'jutro 18:00'; a bare time like '20:00' is on the day of `same_day_as`."""
    try:
        return parse_when(
            value,
            tz,
            date_only_time=DEADLINE_TIME if option == "deadline" else None,
            same_day_as=same_day_as,
        )
    except TimeFormatError as exc:
        raise UsageError(time_error(f"--{option.replace('_', '-')}", value, exc, tz)) from None


def time_error(flag: str, value: str, exc: TimeFormatError, tz: ZoneInfo) -> str:
    """One line: the option, what was given, what is wrong and, when unreadable, examples."""
    problem = exc.message
    if exc.reason == TimeFormatError.FORMAT:
        problem += " " + time_examples(tz)
    return f"{flag} {value!r}: {problem}"


def time_examples(tz: ZoneInfo) -> str:
    """How to write a time, with a date a month from today (the injected clock)."""
    day = (utcnow().astimezone(tz) + timedelta(days=30)).date()
    return _("Write it like {iso}, {dotted} or \u201ctomorrow 18:00\u201d.").format(
        iso=f"{day.isoformat()}T18:00", dotted=day.strftime("%d.%m.%Y") + " 18:00"
    )


def given_values(
    args: argparse.Namespace, tz: ZoneInfo, *, starts_at: datetime | None = None
) -> dict[str, Any]:
    """The field values given on the command line ('' clears an optional one).

    A bare time for --ends-at is on the day of --starts-at, else of `starts_at` (the stored
    start of the meeting being edited).
    """
    values: dict[str, Any] = {}
    for name in (*TEXT_OPTIONS, "topic", "location", "url", "remind"):
        value = getattr(args, name)
        if value is None:
            continue
        values[name] = None if value == "" and name in OPTIONAL_TEXTS else value
    for name in TIME_OPTIONS:
        value = getattr(args, name)
        if value is None:
            continue
        if value == "" and name != "publish_at":
            values[name] = None
            continue
        same_day = (values.get("starts_at") or starts_at) if name == "ends_at" else None
        values[name] = parse_time(name, value, tz, same_day_as=same_day)
    if args.repeat is not None:
        try:
            values["repeat"] = parse_repeat(args.repeat, tz)
        except ValueError as exc:
            raise UsageError(f"--repeat: {repeat_error(str(exc))}") from exc
    if args.kind is not None:
        values["kind"] = Kind(args.kind)
    if args.urgent is not None:
        values["urgent"] = args.urgent
    return values


def parse_day(option: str, value: str, tz: ZoneInfo) -> date:
    """A local date: '2026-12-17' or '17.12.2026'."""
    try:
        return parse_when(value, tz, date_only_time=time(12, 0)).astimezone(tz).date()
    except TimeFormatError as exc:
        raise UsageError(time_error(option, value, exc, tz)) from None


async def open_service(
    settings: Settings, *, writable: bool = True
) -> tuple[Storage, AnnouncementService]:
    """The storage and the service; ``writable``: stop at once if the file is read-only."""
    topics = load_topics(settings.content_dir)
    storage = await Storage.open(settings.db_path, writable=writable)
    return storage, AnnouncementService(storage, settings, topics)


def actor() -> str:
    return f"cli:{default_user()}"


def fail(message: str) -> int:
    print(f"ngo-bot: {message}", file=sys.stderr)
    return EXIT_USAGE


async def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    with use_language("en"):
        storage, service = await open_service(settings)
        try:
            now = service.clock()
            values = given_values(args, settings.timezone)
            kind: Kind = values.pop("kind")
            values.setdefault("topic", kind.default_topic)
            values.setdefault("remind", kind.default_remind)
            values.setdefault("publish_at", now)
            values["urgent"] = bool(values.get("urgent"))
            if kind is Kind.TAX_CAMPAIGN and values.get("deadline") is None:
                values["deadline"] = tax_campaign_deadline(now, settings.timezone)
            announcement = await service.create(Fields(kind=kind, **values), actor=actor())
        except UsageError as exc:
            return fail(str(exc))
        except AnnouncementError as exc:
            return fail(f"{option_of(exc.field)}{exc.message}")
        finally:
            await storage.close()
    if args.json:
        print(json.dumps({"id": announcement.id}))
    elif announcement.published:
        print(f"announcement #{announcement.id} published")
    else:
        when = iso(announcement.fields.publish_at, settings.timezone)
        print(f"announcement #{announcement.id} scheduled for {when}")
    return EXIT_OK


async def cmd_edit(args: argparse.Namespace, settings: Settings) -> int:
    if args.occurrence is not None:
        return await edit_occurrence(args, settings)
    with use_language("en"):
        storage, service = await open_service(settings)
        try:
            starts_at = None
            if args.ends_at and args.starts_at is None:
                starts_at = (await service.get(args.id)).fields.starts_at
            changes = given_values(args, settings.timezone, starts_at=starts_at)
            if not changes:
                return fail("announce edit: give at least one option to change")
            result = await service.edit(args.id, changes, actor=actor(), notify=args.notify)
        except UsageError as exc:
            return fail(str(exc))
        except UnknownAnnouncement:
            return fail(f"there is no announcement #{args.id}")
        except AnnouncementError as exc:
            return fail(f"{option_of(exc.field)}{exc.message}")
        finally:
            await storage.close()
    if args.json:
        print(json.dumps({"id": args.id}))
    else:
        changed = ", ".join(sorted(result.changed)) or "nothing"
        notice = "; correction notice queued" if result.notified else ""
        print(f"announcement #{args.id} changed: {changed}{notice}")
    return EXIT_OK


async def edit_occurrence(args: argparse.Namespace, settings: Settings) -> int:
    """`announce edit ID --occurrence DATE --location PLACE`: one occurrence elsewhere."""
    tz = settings.timezone
    with use_language("en"):
        try:
            day = parse_day("--occurrence", args.occurrence, tz)
            changes = given_values(args, tz)
        except UsageError as exc:
            return fail(str(exc))
        if set(changes) != {"location"} or args.notify:
            return fail("--occurrence: give --location (only), the place of that occurrence")
        storage, service = await open_service(settings)
        try:
            start = await service.move_occurrence(args.id, day, changes["location"], actor=actor())
        except UnknownAnnouncement:
            return fail(f"there is no announcement #{args.id}")
        except AnnouncementError as exc:
            return fail(f"--occurrence: {exc.message}")
        finally:
            await storage.close()
    if args.json:
        print(json.dumps({"id": args.id}))
    else:
        print(f"announcement #{args.id}: the occurrence of {iso(start, tz)} changed: location")
    return EXIT_OK


async def cmd_rerun(args: argparse.Namespace, settings: Settings) -> int:
    tz = settings.timezone
    with use_language("en"):
        try:
            publish_at = parse_time("publish_at", args.publish_at, tz) if args.publish_at else None
        except UsageError as exc:
            return fail(str(exc))
        storage, service = await open_service(settings)
        try:
            announcement = await service.rerun(
                args.id, args.year, actor=actor(), publish_at=publish_at
            )
        except UnknownAnnouncement:
            return fail(f"there is no announcement #{args.id}")
        except AnnouncementError as exc:
            return fail(f"{option_of(exc.field)}{exc.message}")
        finally:
            await storage.close()
    if args.json:
        print(json.dumps({"id": announcement.id}))
    else:
        when = iso(announcement.fields.publish_at, tz)
        state = "published" if announcement.published else f"scheduled for {when}"
        print(f"announcement #{announcement.id} (the {args.year} campaign) {state}")
    return EXIT_OK


async def cmd_calendar_export(args: argparse.Namespace, settings: Settings) -> int:
    topics = load_topics(settings.content_dir)
    if args.topic is not None and topics.get(args.topic) is None:
        return fail(f"--topic: there is no topic {args.topic!r} ({', '.join(topics.slugs)})")
    storage = await Storage.open(settings.db_path)
    try:
        service = AnnouncementService(storage, settings, topics)
        data = await service.calendar(settings.default_language, args.topic)
    finally:
        await storage.close()
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return EXIT_OK


async def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    storage, service = await open_service(settings)
    try:
        cancelled = await service.cancel(args.id, actor=actor())
    except UnknownAnnouncement:
        return fail(f"there is no announcement #{args.id}")
    finally:
        await storage.close()
    print(f"announcement #{args.id} " + ("cancelled" if cancelled else "was cancelled already"))
    return EXIT_OK


def iso(moment: datetime | None, tz: ZoneInfo) -> str | None:
    """ISO 8601 with the offset of BOT_TIMEZONE, to the second; None stays None."""
    if moment is None:
        return None
    return moment.astimezone(tz).isoformat(timespec="seconds")


async def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    storage = await Storage.open(settings.db_path)
    try:
        items = await storage.announcements.recent(limit=None)
    finally:
        await storage.close()
    tz = settings.timezone
    for item in items:
        fields = item.fields
        row = {
            "id": item.id,
            "kind": fields.kind.value,
            "topic": fields.topic,
            "title_pl": fields.title_pl,
            "deadline": iso(fields.deadline, tz),
            "starts_at": iso(fields.starts_at, tz),
            "publish_at": iso(fields.publish_at, tz),
            "status": item.status.value,
        }
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            when = row["deadline"] or row["starts_at"] or "-"
            print(
                f"#{item.id}\t{item.status.value}\t{fields.kind.value}\t{fields.topic}\t"
                f"{row['publish_at']}\t{when}\t{fields.title_pl}"
            )
    return EXIT_OK


async def cmd_deliveries(args: argparse.Namespace, settings: Settings) -> int:
    storage, service = await open_service(settings, writable=False)
    try:
        report = await service.deliveries(args.id)
    except UnknownAnnouncement:
        return fail(f"there is no announcement #{args.id}")
    finally:
        await storage.close()
    data = report.as_json(settings.timezone)
    if args.json:
        print(json.dumps(data))
        return EXIT_OK
    print(f"announcement #{args.id}: " + counts_text(data))
    for reminder in data["reminders"]:
        if reminder.get("state") == "dropped":
            print(f"reminder at {reminder['at']}: dropped ({reminder.get('reason', '')})")
        else:
            print(f"reminder at {reminder['at']}: " + counts_text(reminder))
    for planned in report.planned:
        print(f"reminder planned for {iso(planned.send_at, settings.timezone)}")
    return EXIT_OK


def counts_text(counts: dict[str, Any]) -> str:
    states = ("pending", "sent", "retrying", "failed", "gone", "cancelled")
    return f"{counts['total']} messages (" + ", ".join(f"{s} {counts[s]}" for s in states) + ")"


def option_of(field: str) -> str:
    """The option a field comes from, as a message prefix ('--deadline: '); '' for others."""
    return f"--{field.replace('_', '-')}: " if field in (*FIELD_NAMES, "occurrence") else ""


EXTENSIONS.append(add_commands)
