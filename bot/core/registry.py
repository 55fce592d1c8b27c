"""One registry of chat commands, exposed by every transport (menus, help, dispatch)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.context import Context
    from bot.core.messages import Reply

Handler = Callable[["Context", str], Awaitable[list["Reply"]]]


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
    ) -> Callable[[Handler], Handler]:
        """Register the decorated coroutine as the handler of `name`."""

        def register(handler: Handler) -> Handler:
            if name in self._commands:
                raise ValueError(f"command {name!r} is registered twice")
            self._commands[name] = Command(
                name, handler, summary, usage, audience, hidden, admin_in_groups
            )
            return handler

        return register

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def visible(self, audience: Audience) -> list[Command]:
        """Commands to list for someone with `audience` rights (hidden ones left out)."""
        return [c for c in self._commands.values() if not c.hidden and c.audience <= audience]

    def for_audience_exactly(self, audience: Audience) -> list[Command]:
        """Commands first available at exactly this role (for per-role menus)."""
        return [c for c in self._commands.values() if not c.hidden and c.audience == audience]


registry = CommandRegistry()
"""The bot's commands; feature modules in bot.core.commands register into it on import."""
