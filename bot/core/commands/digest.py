"""`digest weekly|off`: one Monday message with the week's deadlines and meetings instead of
separate reminders (the publications themselves still arrive as they are published)."""

from __future__ import annotations

from typing import Any

from bot.announcements.agenda import DIGEST_AT, digest_start, week_key
from bot.clock import to_db, utcnow
from bot.core.context import Context
from bot.core.messages import Button, Reply
from bot.core.registry import registry
from bot.i18n import N_, _

WEEKLY = "weekly"
OFF = "off"


@registry.command(
    "digest",
    N_("A weekly summary on Mondays instead of separate reminders"),
    usage=N_("[weekly|off]"),
    admin_in_groups=True,
)
async def digest(ctx: Context, args: str) -> list[Reply]:
    choice = args.lower()
    if choice == WEEKLY:
        return [await switch_on(ctx)]
    if choice == OFF:
        return [await switch_off(ctx)]
    current = await ctx.storage.digests.get(ctx.chat.id)
    if current is None:
        state = _("This chat gets a separate reminder before each deadline and meeting.")
    else:
        state = _("This chat gets the weekly digest on Mondays at {time}.").format(
            time=DIGEST_AT.strftime("%H:%M")
        )
    return [
        Reply(
            state,
            buttons=(
                (
                    Button(_("Weekly digest"), f"digest {WEEKLY}"),
                    Button(_("Separate reminders"), f"digest {OFF}"),
                ),
            ),
        )
    ]


async def switch_on(ctx: Context) -> Reply:
    now = utcnow()
    tz = ctx.settings.timezone
    start = digest_start(now, tz)
    # Switched on after this Monday's digest went out: the first one comes next Monday.
    last_week = week_key(start, tz) if now >= start else None
    enabled = await ctx.storage.digests.enable(ctx.chat.id, WEEKLY, now, last_week=last_week)
    if not enabled:
        return Reply(_("This chat already gets the weekly digest."))
    return Reply(
        _(
            "Done: every Monday at {time} this chat gets the week's deadlines and meetings of "
            "its topics, instead of separate reminders. {off} switches it off."
        ).format(time=DIGEST_AT.strftime("%H:%M"), off=ctx.cmd(f"digest {OFF}"))
    )


async def switch_off(ctx: Context) -> Reply:
    if not await ctx.storage.digests.disable(ctx.chat.id):
        return Reply(_("This chat does not get the weekly digest."))
    return Reply(_("Done: no weekly digest; this chat gets separate reminders again."))


async def export_digest(ctx: Context) -> dict[str, Any]:
    """The chat's digest choice, for its data export."""
    current = await ctx.storage.digests.get(ctx.chat.id)
    if current is None:
        return {}
    return {
        "digest": {
            "schedule": current.schedule,
            "since": to_db(current.created_at),
            "last_week": current.last_week,
        }
    }
