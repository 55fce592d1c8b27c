"""The console: a private chat in the terminal, and the inbox that broadcasts go to.

Buttons are shown as numbered choices (type the number), attachments are written to files,
and piped input is read one message a line until the end of input.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bot.core.markup import to_plain_text
from bot.core.messages import Button, ChatKind, ChatRef, Incoming, Reply
from bot.core.service import Core
from bot.i18n import _, language_from_hint, use_language
from bot.storage import Storage
from bot.transports.base import SendOutcome

PLATFORM = "console"
INBOX_POLL_SECONDS = 1.0
QUIT_COMMANDS = ("/quit", "/exit")
_BOLD = re.compile(r"<b>(.*?)</b>", re.DOTALL)


class ConsoleTransport:
    """Broadcast side of the console: a message to a console chat goes into its inbox."""

    platform = PLATFORM

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def start(self) -> None:
        """Nothing to connect: console chats read their inbox themselves."""

    async def stop(self) -> None:
        """Nothing to disconnect."""

    async def send(self, chat_id: str, reply: Reply) -> SendOutcome:
        await self._storage.inbox.deliver(ChatRef(PLATFORM, chat_id), render_text(reply.text))
        return SendOutcome.sent()


def render_text(markup: str, *, ansi: bool = False) -> str:
    """The reply's HTML subset as terminal text (bold as ANSI on a terminal)."""
    if ansi:
        markup = _BOLD.sub(lambda m: "\x1b[1m" + m.group(1) + "\x1b[0m", markup)
    return to_plain_text(markup)


@dataclass
class ConsoleChat:
    """One person's private chat with the bot in a terminal."""

    core: Core
    user: str
    output: TextIO
    files_dir: Path
    interactive: bool
    choices: list[Button] = field(default_factory=list)

    @property
    def ref(self) -> ChatRef:
        return ChatRef(PLATFORM, self.user)

    async def send_text(self, text: str, language_hint: str | None = None) -> None:
        """Handle one line typed by the person, printing the bot's replies."""
        stripped = text.strip()
        if stripped.isdigit() and self.choices and 1 <= int(stripped) <= len(self.choices):
            text = "/" + self.choices[int(stripped) - 1].command
        incoming = Incoming(
            chat=self.ref,
            kind=ChatKind.PRIVATE,
            sender=self.user,
            sender_is_admin=True,
            text=text,
            language_hint=language_hint,
        )
        replies = await self.core.handle(incoming)
        with use_language(await self.language()):
            for reply in replies:
                self.show(reply)

    async def language(self) -> str:
        """The chat's language now (it may have just changed, or the chat been erased)."""
        chat = await self.core.storage.chats.get(self.ref)
        return (chat.language if chat else None) or self.core.settings.default_language

    def show(self, reply: Reply) -> None:
        self._print(render_text(reply.text, ansi=self.interactive))
        buttons = reply.all_buttons()
        if buttons:
            self.choices = buttons
            for number, button in enumerate(buttons, start=1):
                self._print(f"  {number}) {button.label}")
            self._print(_("(type a number to choose)"))
        if reply.attachment is not None:
            path = unique_path(self.files_dir, reply.attachment.filename)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(reply.attachment.data)
            self._print(_("File saved: {path}").format(path=path))
        self._print("")

    async def show_inbox(self) -> None:
        """Print what was delivered to this chat since it was last shown."""
        messages = await self.core.storage.inbox.take_unshown(self.ref)
        for message in messages:
            self._print("📬 " + message.text)
            self._print("")

    def _print(self, line: str) -> None:
        self.output.write(line + "\n")
        self.output.flush()


def unique_path(folder: Path, filename: str) -> Path:
    """A path in `folder` that does not overwrite an earlier file."""
    candidate = folder / filename
    stem, suffix = candidate.stem, candidate.suffix
    number = 1
    while candidate.exists():
        candidate = folder / f"{stem}-{number}{suffix}"
        number += 1
    return candidate


def start_line_reader(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Read stdin in a daemon thread (never blocks exit), one line per queue item, None at EOF.

    The thread reads the file descriptor with os.read rather than through sys.stdin: a daemon
    thread blocked inside a buffered reader holds its lock, and the interpreter aborts when it
    finds that lock taken at exit (after /quit on a terminal).
    """

    def put(line: str | None) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, line)

    def read() -> None:
        pending = b""
        fd = sys.stdin.fileno()
        while chunk := os.read(fd, 65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                put(raw.decode("utf-8", errors="replace").rstrip("\r"))
        if pending:
            put(pending.decode("utf-8", errors="replace").rstrip("\r"))
        put(None)

    threading.Thread(target=read, name="console-stdin", daemon=True).start()


async def run_console(
    core: Core,
    storage: Storage,
    user: str,
    *,
    language: str | None,
    language_hint: str | None,
    files_dir: Path,
    interactive: bool,
    output: TextIO | None = None,
) -> None:
    """The chat loop: show the inbox, then answer each line until EOF or /quit."""
    chat = ConsoleChat(core, user, output or sys.stdout, files_dir, interactive)
    stored = await storage.chats.ensure(
        chat.ref, ChatKind.PRIVATE, language_from_hint(language_hint)
    )
    if language is not None and stored.language != language:
        await storage.chats.set_language(stored.id, language)
    if interactive:
        with use_language(language or stored.language or core.settings.default_language):
            chat.show(
                Reply(
                    _(
                        "Console chat as {chat}. Type /help for the commands, /quit to leave."
                    ).format(chat=chat.ref)
                )
            )
    await chat.show_inbox()
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    start_line_reader(asyncio.get_running_loop(), queue)
    while True:
        line = await _next_line(chat, queue, interactive)
        if line is None or line.strip().lower() in QUIT_COMMANDS:
            break
        if not line.strip():
            continue
        await chat.send_text(line, language_hint=language_hint)
        await chat.show_inbox()


async def _next_line(
    chat: ConsoleChat, queue: asyncio.Queue[str | None], interactive: bool
) -> str | None:
    """The next input line; show inbox deliveries while waiting (on a terminal, or a pipe
    that is kept open: another person's answer arrives while nothing is typed)."""
    while True:
        try:
            return await asyncio.wait_for(queue.get(), timeout=INBOX_POLL_SECONDS)
        except TimeoutError:
            await chat.show_inbox()
