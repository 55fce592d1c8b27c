"""Neutral message types shared by the core and every transport."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

MAX_MESSAGE_LENGTH = 4096
# A chat id '<chat>#<thread>' is a thread of that chat with settings of its own (a topic of a
# Telegram forum group): it is a chat like any other, kept, exported and erased with its chat.
THREAD_MARK = "#"


class ChatKind(StrEnum):
    """What kind of conversation a chat is; groups and rooms have administrators."""

    PRIVATE = "private"
    GROUP = "group"
    ROOM = "room"

    @property
    def is_shared(self) -> bool:
        """Whether several people share the chat (then only its administrators change settings)."""
        return self is not ChatKind.PRIVATE


@dataclass(frozen=True, order=True)
class ChatRef:
    """A chat on a platform: ('telegram', '123'), ('matrix', '!room:server'), ('console', 'ala')."""

    platform: str
    chat_id: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.chat_id}"

    @property
    def parent_id(self) -> str:
        """The chat a thread belongs to (the chat id itself for a chat that is not a thread)."""
        return self.chat_id.partition(THREAD_MARK)[0]


@dataclass(frozen=True)
class Incoming:
    """One message from a person, translated by a transport into platform-neutral terms.

    `text` is what the person wrote; transports turn their own command syntax into a leading "/"
    (Matrix "!help" -> "/help", Telegram "/help@NgoBot" -> "/help").
    """

    chat: ChatRef
    kind: ChatKind
    sender: str
    sender_is_admin: bool
    text: str
    language_hint: str | None = None
    # The platform's id of the bot message this one replies to (Telegram reply_to_message,
    # Matrix m.in_reply_to), when it replies to one: a staff member answering a question post.
    reply_to: str | None = None
    # How the sender is called on the platform (shown to the office's staff only).
    sender_name: str | None = None

    @property
    def sender_identity(self) -> str:
        """The sender as written in BOT_ADMINS and the staff table: 'telegram:42'."""
        return f"{self.chat.platform}:{self.sender}"


@dataclass(frozen=True)
class Button:
    """A choice offered with a reply; pressing it sends `command` (without prefix) as a command."""

    label: str
    command: str
    # A button that copies this text to the clipboard instead of sending a command (Telegram).
    copy_text: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file sent with a reply (an export, an .ics calendar)."""

    filename: str
    mime_type: str
    data: bytes


@dataclass(frozen=True)
class Confirmation:
    """A yes/no question: the commands (without prefix) that a typed yes or no runs."""

    yes: str
    no: str


@dataclass(frozen=True)
class Reply:
    """What the core answers: text in a small HTML subset (<b> <i> <a href> <code>).

    `buttons` are rows of buttons. `update_in_place` tells a transport that can edit messages
    (Telegram) that this reply is a new state of the message whose button was pressed.
    `confirmation` marks a yes/no question for the core (transports show only its buttons).
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    attachment: Attachment | None = None
    update_in_place: bool = False
    extra: dict[str, str] = field(default_factory=dict, compare=False)
    confirmation: Confirmation | None = None
    # The link a client should preview (None: no preview), and whether the message should
    # arrive without a sound (a platform that cannot do either ignores them).
    link_preview: str | None = None
    silent: bool = False

    def all_buttons(self) -> list[Button]:
        return [button for row in self.buttons for button in row]


def confirmation_reply(text: str, yes: Button, no: Button) -> Reply:
    """A yes/no question with its two buttons; typing yes or no answers it too."""
    return Reply(text, buttons=((yes, no),), confirmation=Confirmation(yes.command, no.command))
