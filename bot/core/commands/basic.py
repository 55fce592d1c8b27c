"""Everyday commands: start, help, topics, subscriptions, language, deadlines, events."""

from __future__ import annotations

from dataclasses import replace

from bot.announcements.agenda import (
    Entry,
    calendar_file,
    deadline_line,
    entries,
    feed_url,
    meeting_line,
)
from bot.announcements.model import Kind
from bot.clock import utcnow
from bot.core.context import Context
from bot.core.markup import bold, escape
from bot.core.messages import Attachment, Button, Reply
from bot.core.registry import registry
from bot.i18n import LANGUAGE_NAMES, N_, _, use_language

SUBSCRIBED_MARK = "✅"
UNSUBSCRIBED_MARK = "⬜"
DEADLINE_KINDS = (Kind.GRANT_DEADLINE, Kind.TAX_CAMPAIGN)
MEETING_KINDS = (Kind.MEETING,)
LISTED = 10
ICS = "ics"
ICS_MIME = "text/calendar"


@registry.command("start", N_("Start: what this bot does and topic choices"))
async def start(ctx: Context, args: str) -> list[Reply]:
    """Greet in the chat's language; with a topic (a deep link) subscribe to it."""
    if args and ctx.topics.get(args.lower()) is not None:
        if ctx.incoming.kind.is_shared and not ctx.incoming.sender_is_admin:
            return [await ctx.core.refuse_group_setting(ctx, "start")]
        await ctx.storage.chats.subscribe(ctx.chat.id, [args.lower()])
    lines = [
        bold(_("Hello! I am the NGO information bot.")),
        _(
            "• I send news about grant competitions, the 1.5% tax campaign and meetings "
            "on the topics you choose."
        ),
        _("• I remind you before deadlines and meetings."),
        _("• I answer questions about civic matters in Polish and Ukrainian — just write."),
        "",
        _("Choose a topic to subscribe or unsubscribe. {help} lists all commands.").format(
            help=ctx.cmd("help")
        ),
    ]
    return [Reply("\n".join(lines), buttons=await topic_buttons(ctx))]


@registry.command("help", N_("List the commands"))
async def help_command(ctx: Context, args: str) -> list[Reply]:
    """List what this sender may use, with one line each."""
    lines = [bold(_("What I can do:"))]
    # Everyday commands first, then staff, then admin ones, each group in registration order.
    for command in sorted(
        ctx.core.registry.visible(ctx.role, ctx.settings), key=lambda c: c.audience
    ):
        usage = f" {_(command.usage)}" if command.usage else ""
        lines.append(f"{escape(ctx.cmd(command.name))}{escape(usage)} — {_(command.summary)}")
    lines.append("")
    lines.append(_("You can also just write a question, for example about the 1.5% tax."))
    return [Reply("\n".join(lines))]


@registry.command("topics", N_("Topics and which of them this chat receives"))
async def topics_command(ctx: Context, args: str) -> list[Reply]:
    return [await topics_reply(ctx)]


@registry.command(
    "toggle",
    N_("Switch one topic on or off"),
    usage=N_("<topic>"),
    hidden=True,
    admin_in_groups=True,
)
async def toggle(ctx: Context, args: str) -> list[Reply]:
    """A topic button: flip the subscription and show the new state in place."""
    slug = args.lower()
    if ctx.topics.get(slug) is None:
        return [unknown_topic(ctx, args)]
    if slug in await ctx.storage.chats.topics_of(ctx.chat.id):
        await ctx.storage.chats.unsubscribe(ctx.chat.id, [slug])
    else:
        await ctx.storage.chats.subscribe(ctx.chat.id, [slug])
    reply = await topics_reply(ctx)
    return [Reply(reply.text, buttons=reply.buttons, update_in_place=True)]


@registry.command(
    "subscribe",
    N_("Receive a topic (or all of them)"),
    usage=N_("<topic|all>"),
    admin_in_groups=True,
)
async def subscribe(ctx: Context, args: str) -> list[Reply]:
    if not args:
        return [
            await topics_reply(
                ctx,
                _("Which topic? Choose one, or send {example}.").format(
                    example=ctx.cmd("subscribe grants")
                ),
            )
        ]
    slugs = resolve_topics(ctx, args)
    if slugs is None:
        return [unknown_topic(ctx, args)]
    added = await ctx.storage.chats.subscribe(ctx.chat.id, slugs)
    if not added:
        return [
            Reply(_("This chat already receives: {topics}.").format(topics=topic_names(ctx, slugs)))
        ]
    return [
        Reply(
            _("Subscribed: {topics}. Send {unsubscribe} to stop.").format(
                topics=topic_names(ctx, sorted_slugs(ctx, added)),
                unsubscribe=ctx.cmd("unsubscribe " + (args.lower() if len(slugs) == 1 else "all")),
            )
        )
    ]


@registry.command(
    "unsubscribe",
    N_("Stop receiving a topic (or all of them)"),
    usage=N_("<topic|all>"),
    admin_in_groups=True,
)
async def unsubscribe(ctx: Context, args: str) -> list[Reply]:
    if not args:
        return [
            await topics_reply(
                ctx,
                _("Which topic? Choose one, or send {example}.").format(
                    example=ctx.cmd("unsubscribe grants")
                ),
            )
        ]
    slugs = resolve_topics(ctx, args)
    if slugs is None:
        return [unknown_topic(ctx, args)]
    removed = await ctx.storage.chats.unsubscribe(ctx.chat.id, slugs)
    if not removed:
        return [
            Reply(
                _("This chat was not receiving: {topics}.").format(topics=topic_names(ctx, slugs))
            )
        ]
    return [
        Reply(
            _("Unsubscribed: {topics}. You will not get these messages any more.").format(
                topics=topic_names(ctx, sorted_slugs(ctx, removed))
            )
        )
    ]


@registry.command(
    "language", N_("Change the bot's language"), usage="<pl|uk|en>", admin_in_groups=True
)
async def language(ctx: Context, args: str) -> list[Reply]:
    choice = args.lower()
    if choice not in LANGUAGE_NAMES:
        buttons = tuple(
            (Button(name, f"language {code}"),) for code, name in LANGUAGE_NAMES.items()
        )
        intro = _("The current language is {language}. Choose another:").format(
            language=LANGUAGE_NAMES[ctx.language]
        )
        if args:
            intro = (
                _(
                    "I don't know the language {choice}. I speak Polish (pl), Ukrainian (uk) "
                    "and English (en)."
                ).format(choice=escape(args[:20]))
                + "\n"
                + intro
            )
        return [Reply(intro, buttons=buttons)]
    await ctx.storage.chats.set_language(ctx.chat.id, choice)
    with use_language(choice):
        return [
            Reply(
                _("Done: I will write to this chat in English.")
                + " "
                + _("Send {help} to see the commands.").format(help=ctx.cmd("help"))
            )
        ]


@registry.command("deadlines", N_("Upcoming grant and tax deadlines"), usage=N_("[ics]"))
async def deadlines(ctx: Context, args: str) -> list[Reply]:
    """The next deadlines; `deadlines ics` sends them as a calendar file."""
    items = await upcoming_entries(ctx, DEADLINE_KINDS)
    if args.lower() == ICS:
        return [await calendar_reply(ctx, items, "deadlines.ics", _("Deadlines"))]
    if not items:
        nothing = _("No deadlines have been announced yet.")
        return [with_feed_link(ctx, await nothing_announced(ctx, nothing, "grants"))]
    tz = ctx.settings.timezone
    lines = [bold(_("Upcoming deadlines:"))]
    lines.extend(deadline_line(item, ctx.language, tz) for item in items[:LISTED])
    return [with_feed_link(ctx, Reply("\n".join(lines), buttons=calendar_button("deadlines")))]


@registry.command("events", N_("Upcoming meetings and events"), usage=N_("[ics]"))
async def events(ctx: Context, args: str) -> list[Reply]:
    """The next meetings, each occurrence of a recurring one; `events ics`: a calendar file."""
    items = await upcoming_entries(ctx, MEETING_KINDS)
    if args.lower() == ICS:
        return [await calendar_reply(ctx, items, "events.ics", _("Meetings"))]
    if not items:
        nothing = _("No meetings have been announced yet.")
        return [with_feed_link(ctx, await nothing_announced(ctx, nothing, "meetings"))]
    tz = ctx.settings.timezone
    lines = [bold(_("Upcoming meetings and events:"))]
    lines.extend(meeting_line(item, ctx.language, tz) for item in items[:LISTED])
    return [with_feed_link(ctx, Reply("\n".join(lines), buttons=calendar_button("events")))]


def with_feed_link(ctx: Context, reply: Reply) -> Reply:
    """The reply with a last line linking the web server's calendar feed (when it runs): a
    calendar application subscribed to it keeps every deadline and meeting up to date."""
    base_url = ctx.settings.web_base_url
    if base_url is None:
        return reply
    url = feed_url(base_url, ctx.language)
    line = "🔔 " + _("Subscribe in your calendar (it updates by itself): {url}").format(
        url=escape(url)
    )
    return replace(reply, text=f"{reply.text}\n\n{line}")


async def nothing_announced(ctx: Context, nothing: str, slug: str) -> Reply:
    """An empty list; how to hear about new ones only to a chat not subscribed to the topic."""
    if slug in await ctx.storage.chats.topics_of(ctx.chat.id):
        return Reply(nothing)
    hint = _("Send {command} to hear about new ones.").format(command=ctx.cmd(f"subscribe {slug}"))
    return Reply(f"{nothing} {hint}")


async def upcoming_entries(ctx: Context, kinds: tuple[Kind, ...]) -> list[Entry]:
    """Deadlines, or meetings occurrence by occurrence, from now on."""
    now = utcnow()
    announcements = await ctx.storage.announcements.upcoming(kinds, now, limit=LISTED)
    locations = await ctx.storage.reminders.occurrence_locations(
        [a.id for a in announcements if a.fields.repeat]
    )
    return entries(announcements, locations, ctx.settings.timezone, after=now)


def calendar_button(command: str) -> tuple[tuple[Button, ...], ...]:
    return ((Button("📅 " + _("Add to my calendar (.ics)"), f"{command} {ICS}"),),)


async def calendar_reply(ctx: Context, items: list[Entry], filename: str, name: str) -> Reply:
    """The listed items as an .ics file (a recurring meeting once, with its rule)."""
    if not items:
        return Reply(_("There is nothing to add to a calendar yet."))
    announcements = list({item.announcement.id: item.announcement for item in items}.values())
    locations = await ctx.storage.reminders.occurrence_locations(
        [a.id for a in announcements if a.fields.repeat]
    )
    data = calendar_file(announcements, locations, ctx.language, ctx.settings.timezone, name=name)
    return Reply(
        _("Open the file to add these dates to your calendar; importing it again updates them."),
        attachment=Attachment(filename, ICS_MIME, data),
    )


# --- helpers ------------------------------------------------------------------------------------


async def topics_reply(ctx: Context, intro: str | None = None) -> Reply:
    """Each topic with this chat's state, and a button per topic to switch it."""
    subscribed = await ctx.storage.chats.topics_of(ctx.chat.id)
    lines = [bold(intro) if intro else bold(_("Topics:"))]
    for topic in ctx.topics.items:
        mark = SUBSCRIBED_MARK if topic.slug in subscribed else UNSUBSCRIBED_MARK
        lines.append(
            f"{mark} {bold(topic.name(ctx.language))} — "
            f"{escape(topic.description(ctx.language))} "
            f"<code>{escape(topic.slug)}</code>"
        )
    lines.append("")
    lines.append(
        _("Choose a topic to switch it on or off, or send {subscribe} to receive them all.").format(
            subscribe=ctx.cmd("subscribe all")
        )
    )
    return Reply("\n".join(lines), buttons=await topic_buttons(ctx, subscribed))


async def topic_buttons(
    ctx: Context, subscribed: set[str] | None = None
) -> tuple[tuple[Button, ...], ...]:
    if subscribed is None:
        subscribed = await ctx.storage.chats.topics_of(ctx.chat.id)
    return tuple(
        (
            Button(
                f"{SUBSCRIBED_MARK if topic.slug in subscribed else UNSUBSCRIBED_MARK} "
                f"{topic.name(ctx.language)}",
                f"toggle {topic.slug}",
            ),
        )
        for topic in ctx.topics.items
    )


def resolve_topics(ctx: Context, args: str) -> list[str] | None:
    """Topic slugs named in `args` ('all' = every topic now); None if any name is unknown."""
    names = [name for name in args.lower().replace(",", " ").split() if name]
    if names == ["all"]:
        return list(ctx.topics.slugs)
    if not names or any(ctx.topics.get(name) is None for name in names):
        return None
    return list(dict.fromkeys(names))


def sorted_slugs(ctx: Context, slugs: set[str]) -> list[str]:
    return [slug for slug in ctx.topics.slugs if slug in slugs]


def topic_names(ctx: Context, slugs: list[str]) -> str:
    return ", ".join(
        escape(topic.name(ctx.language))
        for slug in slugs
        if (topic := ctx.topics.get(slug)) is not None
    )


def unknown_topic(ctx: Context, given: str) -> Reply:
    return Reply(
        _("There is no topic {given}. Topics: {slugs}, or all.").format(
            given=escape(given[:40]), slugs=", ".join(ctx.topics.slugs)
        )
    )
