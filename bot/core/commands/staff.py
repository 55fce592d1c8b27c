"""Staff management by administrators: `staff add|remove|list <identity>`, all audited."""

from __future__ import annotations

import re

from bot.core.context import Context
from bot.core.markup import bold, escape
from bot.core.messages import Reply
from bot.core.registry import Audience, registry
from bot.i18n import N_, _

STAFF_ROLE = "staff"
_IDENTITY = re.compile(r"^(?:telegram:-?\d{1,20}|matrix:@[^:\s]+:[^\s]+|console:[^\s]{1,64})$")


def valid_identity(identity: str) -> bool:
    """telegram:<user id>, matrix:<@user:server> or console:<name>."""
    return bool(_IDENTITY.match(identity))


@registry.command(
    "staff",
    N_("Add, remove or list the staff who may post announcements"),
    usage=N_("add|remove|list <identity>"),
    audience=Audience.ADMIN,
)
async def staff(ctx: Context, args: str) -> list[Reply]:
    action, _sep, identity = args.partition(" ")
    action, identity = action.lower(), identity.strip()
    if action == "list" or not action:
        return [await staff_list(ctx)]
    if action not in ("add", "remove") or not identity:
        return [usage(ctx)]
    if not valid_identity(identity):
        return [
            Reply(
                _(
                    "{identity} is not an identity. Write it like telegram:123456, "
                    "matrix:@name:server.org or console:name."
                ).format(identity=escape(identity[:80]))
            )
        ]
    if action == "add":
        return [await staff_add(ctx, identity)]
    return [await staff_remove(ctx, identity)]


async def staff_add(ctx: Context, identity: str) -> Reply:
    if identity in ctx.settings.admins:
        return Reply(
            _("{identity} is an administrator (BOT_ADMINS) already.").format(
                identity=escape(identity)
            )
        )
    if not await ctx.storage.staff.add(identity, STAFF_ROLE, ctx.actor):
        return Reply(_("{identity} is staff already.").format(identity=escape(identity)))
    await ctx.storage.staff.audit(ctx.actor, "staff add", identity)
    await ctx.core.staff_changed(identity)
    return Reply(
        _("Added {identity} to the staff: they can now use {announce}.").format(
            identity=escape(identity), announce=ctx.cmd("announce")
        )
    )


async def staff_remove(ctx: Context, identity: str) -> Reply:
    if identity in ctx.settings.admins:
        return Reply(
            _("{identity} is an administrator set in BOT_ADMINS; remove them there.").format(
                identity=escape(identity)
            )
        )
    if not await ctx.storage.staff.remove(identity):
        return Reply(_("{identity} is not staff.").format(identity=escape(identity)))
    await ctx.storage.staff.audit(ctx.actor, "staff remove", identity)
    await ctx.core.staff_changed(identity)
    return Reply(_("Removed {identity} from the staff.").format(identity=escape(identity)))


async def staff_list(ctx: Context) -> Reply:
    lines = [bold(_("Administrators (BOT_ADMINS):"))]
    lines.extend(f"• <code>{escape(admin)}</code>" for admin in sorted(ctx.settings.admins))
    members = await ctx.storage.staff.all()
    lines.append(bold(_("Staff:")))
    if not members:
        lines.append(_("nobody yet"))
    lines.extend(
        "• <code>{identity}</code> — {role}, {added}".format(
            identity=escape(m.identity),
            role=escape(m.role),
            added=_("added by {who}").format(who=escape(m.added_by)),
        )
        for m in members
    )
    return Reply("\n".join(lines))


def usage(ctx: Context) -> Reply:
    return Reply(
        _("Use: {add}, {remove} or {list}.").format(
            add=escape(ctx.cmd("staff add telegram:123456")),
            remove=escape(ctx.cmd("staff remove telegram:123456")),
            list=escape(ctx.cmd("staff list")),
        )
    )
