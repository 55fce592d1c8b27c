"""`announcements`: the latest announcements with their delivery; show or cancel one."""

from __future__ import annotations

from bot.announcements.model import AnnouncementError, Status
from bot.announcements.render import format_span, format_when
from bot.announcements.service import DeliveryReport, UnknownAnnouncement
from bot.clock import utcnow
from bot.core.commands.announce_steps import service, unknown
from bot.core.context import Context
from bot.core.conversation import CONFIRM_WORD, DECLINE_WORD
from bot.core.markup import bold, escape
from bot.core.messages import Button, Reply, confirmation_reply
from bot.core.registry import Audience, registry
from bot.i18n import N_, _
from bot.reminders.planner import Reason
from bot.reminders.season import campaign_year
from bot.storage.outbox import Counts
from bot.storage.reminders import ReminderState

LIST_LIMIT = 10
# How many planned reminders `show` lists.
PLANNED_SHOWN = 5


def status_label(status: Status) -> str:
    labels = {
        Status.SCHEDULED: N_("scheduled"),
        Status.SENDING: N_("sending"),
        Status.SENT: N_("delivered"),
        Status.CANCELLED: N_("cancelled"),
    }
    return _(labels[status])


def reason_label(code: str) -> str:
    """Why a reminder was not sent, in the current language."""
    labels = {
        Reason.QUIET_HOURS.value: N_("quiet hours last until the date"),
        Reason.SAME_TIME.value: N_("another reminder goes out at the same moment"),
        Reason.TARGET_PASSED.value: N_("the date passed before it could be sent"),
        Reason.EDITED.value: N_("the announcement was changed"),
        Reason.CANCELLED.value: N_("the announcement was cancelled"),
    }
    return _(labels[code]) if code in labels else code


def counts_line(counts: Counts) -> str:
    return _(
        "Messages: {total} — sent {sent}, waiting {pending}, retrying {retrying}, "
        "failed {failed}, unreachable {gone}, cancelled {cancelled}"
    ).format(**counts.as_dict())


@registry.command(
    "announcements",
    N_("Announcements with their delivery; cancel or inspect one"),
    usage=N_("[show ID | cancel ID | rerun ID [YEAR]]"),
    audience=Audience.STAFF,
)
async def announcements(ctx: Context, args: str) -> list[Reply]:
    word, _sep, rest = args.partition(" ")
    word, rest = word.lower(), rest.strip()
    if word == "rerun":
        return [await rerun(ctx, rest)]
    if word in ("show", "cancel"):
        id_text, _sep, answer = rest.partition(" ")
        if not id_text.isdigit():
            return [
                Reply(
                    _("Send {example}.").format(example=escape(ctx.cmd(f"announcements {word} ID")))
                )
            ]
        if word == "show":
            return [await show(ctx, int(id_text))]
        return [await cancel_step(ctx, int(id_text), answer.strip().lower())]
    return [await latest(ctx)]


async def rerun(ctx: Context, args: str) -> Reply:
    """`announcements rerun ID [YEAR]`: a 1.5% campaign again, for the next season by default."""
    parts = args.split()
    if not parts or not all(part.isdigit() for part in parts) or len(parts) > 2:
        return Reply(
            _("Send {example}.").format(example=escape(ctx.cmd("announcements rerun ID 2027")))
        )
    tz = ctx.settings.timezone
    year = int(parts[1]) if len(parts) == 2 else campaign_year(utcnow(), tz)
    try:
        announcement = await service(ctx).rerun(int(parts[0]), year, actor=ctx.actor)
    except UnknownAnnouncement:
        return unknown(int(parts[0]))
    except AnnouncementError as exc:
        return Reply("⚠️ " + exc.message)
    return Reply(
        _("The {year} campaign is announcement #{id}, published {when}. Details: {show}").format(
            id=announcement.id,
            year=year,
            when=format_when(announcement.fields.publish_at, ctx.language, tz),
            show=escape(ctx.cmd(f"announcements show {announcement.id}")),
        )
    )


async def latest(ctx: Context) -> Reply:
    items = await ctx.storage.announcements.recent(LIST_LIMIT)
    if not items:
        return Reply(
            _("No announcements yet. Send {announce} to write one.").format(
                announce=ctx.cmd("announce")
            )
        )
    counts = await ctx.storage.outbox.publication_counts([a.id for a in items])
    tz = ctx.settings.timezone
    lines = [bold(_("Announcements, latest first:"))]
    for item in items:
        lines.append(
            f"#{item.id} {bold(item.fields.title_pl)} — {escape(status_label(item.status))}"
        )
        detail = _("{kind}, topic {topic}, published {when}").format(
            kind=escape(item.fields.kind.label),
            topic=escape(item.fields.topic),
            when=format_when(item.fields.publish_at, ctx.language, tz),
        )
        lines.append(f"    {detail}")
        if item.id in counts:
            lines.append(f"    {counts_line(counts[item.id])}")
    lines.append("")
    lines.append(
        _("Details: {show}; cancel: {cancel}").format(
            show=escape(ctx.cmd("announcements show ID")),
            cancel=escape(ctx.cmd("announcements cancel ID")),
        )
    )
    return Reply("\n".join(lines))


async def show(ctx: Context, announcement_id: int) -> Reply:
    svc = service(ctx)
    try:
        announcement = await svc.get(announcement_id)
        report = await svc.deliveries(announcement_id)
    except UnknownAnnouncement:
        return unknown(announcement_id)
    fields = announcement.fields
    tz = ctx.settings.timezone
    lines = [
        f"#{announcement.id} {bold(fields.title_pl)} — {escape(status_label(announcement.status))}",
        _("{kind}, topic {topic}, published {when}").format(
            kind=escape(fields.kind.label),
            topic=escape(fields.topic),
            when=format_when(fields.publish_at, ctx.language, tz),
        ),
    ]
    if fields.deadline:
        lines.append(
            _("Deadline: {when}").format(when=format_when(fields.deadline, ctx.language, tz))
        )
    if fields.starts_at:
        lines.append(
            _("When: {when}").format(
                when=format_span(fields.starts_at, fields.ends_at, ctx.language, tz)
            )
        )
    lines.append(_("Reminders: {remind}").format(remind=escape(fields.remind)))
    if fields.repeat:
        lines.append(_("Repeats: {rule}").format(rule=f"<code>{escape(fields.repeat)}</code>"))
    planned = report.planned[:PLANNED_SHOWN]
    if planned:
        moments = "; ".join(format_when(r.send_at, ctx.language, tz) for r in planned)
        lines.append(_("Next reminders: {moments}").format(moments=moments))
    lines.extend(["", bold(_("Publication:")), counts_line(report.publication)])
    lines.extend(broadcast_lines(ctx, report))
    return Reply("\n".join(lines))


def broadcast_lines(ctx: Context, report: DeliveryReport) -> list[str]:
    lines = []
    tz = ctx.settings.timezone
    for reminder in report.reminders:
        if reminder.state is ReminderState.DROPPED:
            lines.append(
                _("Reminder of {when} was not sent: {reason}.").format(
                    when=format_when(reminder.send_at, ctx.language, tz),
                    reason=reason_label(reminder.reason),
                )
            )
    for broadcast in report.broadcasts:
        if broadcast.purpose == "reminder":
            title = _("Reminder of {when}:").format(
                when=format_when(broadcast.due_at, ctx.language, tz)
            )
        elif broadcast.purpose == "correction":
            title = _("Correction of {when}:").format(
                when=format_when(broadcast.due_at, ctx.language, tz)
            )
        else:
            continue
        lines.extend([bold(title), counts_line(broadcast.counts)])
    return lines


async def cancel_step(ctx: Context, announcement_id: int, answer: str) -> Reply:
    """`cancel ID` asks first; `cancel ID yes` cancels, `cancel ID no` keeps it."""
    if answer == CONFIRM_WORD:
        return await cancel_announcement(ctx, announcement_id)
    if answer == DECLINE_WORD:
        return Reply(_("All right: announcement #{id} stays as it is.").format(id=announcement_id))
    try:
        announcement = await service(ctx).get(announcement_id)
    except UnknownAnnouncement:
        return unknown(announcement_id)
    if announcement.status is Status.CANCELLED:
        return already_cancelled(announcement_id)
    command = f"announcements cancel {announcement_id}"
    return confirmation_reply(
        _(
            "Cancel announcement #{id} “{title}”? Its messages not sent yet and its reminders "
            "will not be sent. Are you sure?"
        ).format(id=announcement_id, title=escape(announcement.fields.title_pl)),
        Button(_("Yes, cancel it"), f"{command} {CONFIRM_WORD}"),
        Button(_("No, keep it"), f"{command} {DECLINE_WORD}"),
    )


def already_cancelled(announcement_id: int) -> Reply:
    return Reply(_("Announcement #{id} was cancelled already.").format(id=announcement_id))


async def cancel_announcement(ctx: Context, announcement_id: int) -> Reply:
    try:
        cancelled = await service(ctx).cancel(announcement_id, actor=ctx.actor)
    except UnknownAnnouncement:
        return unknown(announcement_id)
    if not cancelled:
        return already_cancelled(announcement_id)
    return Reply(
        _("Cancelled announcement #{id}: messages not sent yet will not be sent.").format(
            id=announcement_id
        )
    )
