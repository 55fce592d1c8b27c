"""`web`: a staff member asks for a one-time link to the office's web console."""

from __future__ import annotations

from typing import Any

from bot.core.context import Context
from bot.core.markup import escape, link
from bot.core.messages import Reply
from bot.core.registry import Audience, registry
from bot.i18n import N_, _
from bot.weblogin import ConsoleAuth, NotStaff, web_base_url


@registry.command(
    "web",
    N_("A link to log in to the office's web console"),
    audience=Audience.STAFF,
)
async def web(ctx: Context, args: str) -> list[Reply]:
    """Only in a private chat: a link in a group would let its members log in as you."""
    if ctx.incoming.kind.is_shared:
        return [
            Reply(
                _(
                    "For your safety I send login links only in a private chat. "
                    "Write {command} to me there."
                ).format(command=escape(ctx.cmd("web")))
            )
        ]
    base_url = web_base_url(ctx.settings)
    if base_url is None:
        return [
            Reply(
                _(
                    "The web console is not switched on. The bot's operator turns it on with "
                    "BOT_WEB_LISTEN."
                )
            )
        ]
    try:
        url = await ConsoleAuth(ctx.storage, ctx.settings).login_link(ctx.actor, base_url)
    except NotStaff:
        return [Reply(_("Sorry, this command is for the office's staff only."))]
    return [
        Reply(
            "\n".join(
                [
                    _("Your link to the office's web console (valid 15 minutes, once):"),
                    link(url),
                    "<i>" + _("Do not forward it: whoever opens it is logged in as you.") + "</i>",
                ]
            )
        )
    ]


async def export_web(ctx: Context) -> dict[str, Any]:
    """For `export` in a private chat: the person's console sessions and login links."""
    if ctx.incoming.kind.is_shared:
        return {}
    data = await ctx.storage.web.export_identity(ctx.actor)
    return {key: value for key, value in data.items() if value}
