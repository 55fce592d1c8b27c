"""One registry of chat commands, exposed by every transport (menus, help, dispatch)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.core.context import Context
    from bot.core.messages import Reply

Handler = Callable[["Context", str], Awaitable[list["Reply"]]]
# Whether a feature's command is offered with these settings (e.g. only with BOT_STAFF_CHATS).
Availability = Callable[["Settings"], bool]


class Audience(IntEnum):
    """Who may use a command; a higher role may use everything a lower one may."""

    EVERYONE = 0
    STAFF = 1
    ADMIN = 2


@dataclass(frozen=True)
class Command:
    """A chat command. `summary` and `usage` are catalog msgids, translated when shown."""

    name: str
    handler: Handler
    summary: str
    usage: str = ""
    audience: Audience = Audience.EVERYONE
    hidden: bool = False
    admin_in_groups: bool = False
    available: Availability | None = None

    def offered(self, settings: Settings | None) -> bool:
        """Whether help and menus list it with these settings (None: no settings to ask)."""
        return self.available is None or settings is None or self.available(settings)


class CommandRegistry:
    """Commands in registration order, looked up by name."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    def command(
        self,
        name: str,
        summary: str,
        *,
        usage: str = "",
        audience: Audience = Audience.EVERYONE,
        hidden: bool = False,
        admin_in_groups: bool = False,
        available: Availability | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated coroutine as the handler of `name`."""

        def register(handler: Handler) -> Handler:
            if name in self._commands:
                raise ValueError(f"command {name!r} is registered twice")
            self._commands[name] = Command(
                name, handler, summary, usage, audience, hidden, admin_in_groups, available
            )
            return handler

        return register

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def visible(self, audience: Audience, settings: Settings | None = None) -> list[Command]:
        """Commands to list for someone with `audience` rights (hidden ones, and those of a
        feature these settings switch off, left out)."""
        return [
            c
            for c in self._commands.values()
            if not c.hidden and c.audience <= audience and c.offered(settings)
        ]

    def for_audience_exactly(self, audience: Audience) -> list[Command]:
        """Commands first available at exactly this role (for per-role menus)."""
        return [c for c in self._commands.values() if not c.hidden and c.audience == audience]


registry = CommandRegistry()
"""The bot's commands; feature modules in bot.core.commands register into it on import."""
