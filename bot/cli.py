"""The `ngo-bot` command line (contract in ARCHITECTURE.md). The operator acts as an admin."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from bot import __version__
from bot.app import NO_NETWORK_MESSAGE, build_core, run_bot
from bot.clock import utcnow
from bot.config import DEFAULT_HEALTH_POLL_SECONDS, LANGUAGES, ConfigError, Settings
from bot.core.topics import ContentError
from bot.delivery import Dispatcher
from bot.faq import FaqContentError
from bot.faq.cli import add_faq_parser
from bot.health import HEARTBEAT_LIMIT_SECONDS, HeartbeatService, check_health
from bot.logs import configure_logging
from bot.storage import Storage, StorageError, backup_database, backup_folder_of_databases
from bot.transports.console import ConsoleTransport, run_console

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

log = logging.getLogger("bot")

CommandFunc = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ngo-bot",
        description="NGO outreach chat bot: Telegram, Matrix and a console chat.",
        epilog="Configuration comes from environment variables; see the README.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="run the bot on every configured network",
        description="Run every configured transport with the scheduler and dispatcher. With no "
        "network configured it opens a console chat on a terminal, else exits 2.",
    )
    run.set_defaults(func=cmd_run)

    chat = commands.add_parser(
        "chat",
        help="a private chat with the bot in this terminal",
        description="A console chat as console:NAME. Reads piped input one message a line.",
    )
    chat.add_argument("--user", default=None, help="chat name (default: your OS user name)")
    chat.add_argument("--lang", choices=LANGUAGES, help="set the chat's language")
    chat.add_argument(
        "--files-dir",
        type=Path,
        default=Path("."),
        help="where attachments are saved (default: current folder)",
    )
    chat.set_defaults(func=cmd_chat)

    db = commands.add_parser("db", help="database maintenance", description="Database tools.")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    migrate = db_commands.add_parser(
        "migrate", help="apply pending migrations", description="Apply pending schema migrations."
    )
    migrate.set_defaults(func=cmd_db_migrate)
    backup = db_commands.add_parser(
        "backup",
        help="online copy of the database",
        description="Copy the database with SQLite's backup API; safe while the bot runs.",
    )
    backup.add_argument("path", type=Path, help="where to write the copy")
    backup.set_defaults(func=cmd_db_backup)

    stats = commands.add_parser(
        "stats",
        help="chats by platform, language and topic",
        description="Counts of chats; the by_ maps count active chats.",
    )
    stats.add_argument("--json", action="store_true", help="one JSON object")
    stats.set_defaults(func=cmd_stats)

    health = commands.add_parser(
        "health",
        help="exit 0 when the database opens and a running bot is answering",
        description=f"Exit 0 when the database opens and, if a bot runs on it (ngo-bot run, "
        f"console-only included), its heartbeat is under {HEARTBEAT_LIMIT_SECONDS} s old and "
        "each chat network it runs completed a Telegram poll (getUpdates), a Matrix sync or a "
        "Telegram webhook check (getWebhookInfo) within BOT_HEALTH_POLL_SECONDS (default "
        f"{DEFAULT_HEALTH_POLL_SECONDS:g} s; counted from the start until the first); else exit 1, "
        "naming what is late. Prints one line.",
    )
    health.set_defaults(func=cmd_health)

    for module in EXTENSION_MODULES:
        importlib.import_module(module)
    for extend in EXTENSIONS:
        extend(commands)
    return parser


EXTENSIONS: list[Callable[[Any], None]] = [add_faq_parser]
"""Feature modules add their sub-commands here (each gets the sub-parsers object)."""

EXTENSION_MODULES = ("bot.announce_cli", "bot.web.console.cli", "bot.questions.cli")
"""Modules imported before the parser is built; importing one appends to EXTENSIONS."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"ngo-bot: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    quiet_commands = (
        "chat",
        "stats",
        "health",
        "faq",
        "announce",
        "deliveries",
        "calendar",
        "web",
        "questions",
    )
    quiet = args.command in quiet_commands and "BOT_LOG_LEVEL" not in os.environ
    configure_logging("WARNING" if quiet else settings.log_level, settings.secrets())
    try:
        handler = getattr(args, "handler", None)
        if handler is not None:
            return int(handler(args))
        func: CommandFunc = args.func
        return asyncio.run(func(args, settings))
    except ConfigError as exc:  # found while starting, e.g. an incomplete MATRIX_* set
        print(f"ngo-bot: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (StorageError, ContentError, FaqContentError) as exc:
        print(f"ngo-bot: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK


async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    # With only the web server configured it runs as a server (web, scheduler, dispatcher for
    # console chats), on a terminal too.
    if not (settings.telegram_enabled or settings.matrix_enabled or settings.web_enabled):
        if sys.stdin.isatty():
            if "BOT_LOG_LEVEL" not in os.environ:
                logging.getLogger().setLevel(logging.WARNING)  # a chat, not a server log
            console = argparse.Namespace(user=None, lang=None, files_dir=Path("."))
            return await cmd_chat(console, settings, heartbeat=True)
        print(f"ngo-bot: {NO_NETWORK_MESSAGE}", file=sys.stderr)
        return EXIT_USAGE
    failure = await run_bot(settings)
    if failure:
        print(f"ngo-bot: {failure}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


async def cmd_chat(args: argparse.Namespace, settings: Settings, *, heartbeat: bool = False) -> int:
    """A console chat; `heartbeat`: it is a console-only `ngo-bot run`, which health watches."""
    user = args.user or default_user()
    if not user.strip() or any(ch.isspace() for ch in user):
        print("ngo-bot: --user must be one word", file=sys.stderr)
        return EXIT_USAGE
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    storage = await Storage.open(settings.db_path, writable=True)
    try:
        core = build_core(storage, settings)
        # Console chats are delivered to by whoever runs: here too, so a console-only setup
        # (staff and readers in terminals) gets its broadcasts and reminders without
        # `ngo-bot run`. A reminder fires once however many processes schedule it.
        dispatcher = Dispatcher(
            storage, settings, core.topics, {"console": ConsoleTransport(storage)}
        )
        core.outbox_written_hooks.append(dispatcher.wake)
        from bot.scheduler import ReminderScheduler

        scheduler = ReminderScheduler(storage, settings, core.topics, on_broadcast=dispatcher.wake)
        beats = HeartbeatService(storage, core.liveness) if heartbeat else None
        await dispatcher.start()
        await scheduler.start()
        try:
            if beats is not None:
                await beats.start()
            await dispatcher.deliver_due()
            await run_console(
                core,
                storage,
                user,
                language=args.lang,
                language_hint=os.environ.get("LC_ALL") or os.environ.get("LANG"),
                files_dir=args.files_dir,
                interactive=sys.stdin.isatty(),
            )
        finally:
            if beats is not None:
                await beats.stop()
            await scheduler.stop()
            await dispatcher.stop()
    finally:
        await storage.close()
    return EXIT_OK


def default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "console"


async def cmd_db_migrate(args: argparse.Namespace, settings: Settings) -> int:
    storage = await Storage.open(settings.db_path, migrate=False)
    try:
        applied = await storage.db.migrate()
        version = await storage.db.schema_version()
    finally:
        await storage.close()
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    print(f"database {settings.db_path} is at schema version {version}")
    return EXIT_OK


async def cmd_db_backup(args: argparse.Namespace, settings: Settings) -> int:
    target: Path = args.path
    if target.resolve() == settings.db_path.resolve():
        print("ngo-bot: the backup path is the database itself", file=sys.stderr)
        return EXIT_USAGE
    await asyncio.to_thread(backup_database, settings.db_path, target)
    print(f"backup of {settings.db_path} written to {target}")
    store = settings.matrix_store_path
    if store.is_dir():
        # The Matrix encryption keys, beside the copy as they are beside the database: the
        # copy used as BOT_DB finds them without setting MATRIX_STORE_DIR.
        store_copy = target.with_name(f"{target.stem}-matrix-store")
        await asyncio.to_thread(backup_folder_of_databases, store, store_copy)
        print(f"backup of the Matrix encryption store {store} written to {store_copy}")
    return EXIT_OK


async def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    storage = await Storage.open(settings.db_path)
    try:
        stats = await storage.chats.stats(settings.default_language)
    finally:
        await storage.close()
    if args.json:
        print(json.dumps(stats, ensure_ascii=False))
        return EXIT_OK
    print(f"chats: {stats['chats']} (active: {stats['active']})")
    for key in ("by_platform", "by_language", "by_topic"):
        counts = stats[key]
        assert isinstance(counts, dict)
        shown = ", ".join(f"{name} {count}" for name, count in counts.items()) or "-"
        print(f"{key.removeprefix('by_')}: {shown}")
    return EXIT_OK


async def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.db_path.exists():
        print(f"unhealthy: no database at {settings.db_path}")
        return EXIT_FAILURE
    storage = await Storage.open(settings.db_path, migrate=False)
    try:
        verdict = await check_health(storage, utcnow(), settings.health_poll_seconds)
    finally:
        await storage.close()
    print(verdict.line)
    return EXIT_OK if verdict.healthy else EXIT_FAILURE
