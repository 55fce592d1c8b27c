"""What a command handler gets: the message, its chat, the language, and the bot's services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.messages import Incoming
from bot.core.registry import Audience
from bot.storage.chats import Chat

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.core.service import Core
    from bot.core.topics import Topics
    from bot.storage import Storage

COMMAND_PREFIXES = {"matrix": "!"}


def command_prefix(platform: str) -> str:
    """How commands are written on a platform: '!' on Matrix, '/' elsewhere."""
    return COMMAND_PREFIXES.get(platform, "/")


@dataclass
class Context:
    core: Core
    incoming: Incoming
    chat: Chat
    language: str
    role: Audience

    @property
    def storage(self) -> Storage:
        return self.core.storage

    @property
    def settings(self) -> Settings:
        return self.core.settings

    @property
    def topics(self) -> Topics:
        return self.core.topics

    @property
    def actor(self) -> str:
        """The sender's identity for staff checks and the audit log."""
        return self.incoming.sender_identity

    def cmd(self, command: str) -> str:
        """A command as the person types it on this platform, e.g. '/help' or '!help'."""
        return command_prefix(self.chat.ref.platform) + command
