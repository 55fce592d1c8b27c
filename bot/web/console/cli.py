"""`ngo-bot web login IDENTITY [--json]`: a one-time login link to the web console.

The operator on the server acts as an admin: this prints a link for any staff member or
administrator (the URL is the last line of stdout; `--json`: {"url": ...}).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.cli import EXIT_OK, EXIT_USAGE, EXTENSIONS
from bot.config import Settings
from bot.storage import Storage
from bot.weblogin import LINK_LIFETIME, ConsoleAuth, NotStaff, web_base_url


def add_commands(commands: Any) -> None:
    web = commands.add_parser(
        "web",
        help="the office's web console",
        description="Tools for the web console (BOT_WEB_LISTEN, BOT_WEB_URL).",
    )
    actions = web.add_subparsers(dest="web_command", metavar="ACTION", required=True)
    login = actions.add_parser(
        "login",
        help="print a one-time login link for a staff member",
        description="Print a link that logs IDENTITY (telegram:<id>, matrix:<@user:server>, "
        f"console:<name>; staff or admin) in to the web console; valid "
        f"{int(LINK_LIFETIME.total_seconds() // 60)} minutes, once.",
    )
    login.add_argument("identity", help="the staff member, e.g. telegram:123456")
    login.add_argument("--json", action="store_true", help='print {"url": ...}')
    login.set_defaults(func=cmd_login)


async def cmd_login(args: argparse.Namespace, settings: Settings) -> int:
    base_url = web_base_url(settings)
    if base_url is None:
        print(
            "ngo-bot: the web console is off: set BOT_WEB_LISTEN (and BOT_WEB_URL when it is "
            "reached through another address)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    storage = await Storage.open(settings.db_path, writable=True)
    try:
        url = await ConsoleAuth(storage, settings).login_link(args.identity, base_url)
    except NotStaff:
        print(
            f"ngo-bot: {args.identity!r} is not staff or an administrator "
            "(BOT_ADMINS, or 'staff add' in chat)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    finally:
        await storage.close()
    if args.json:
        print(json.dumps({"url": url}))
    else:
        print(f"Login link for {args.identity}, valid 15 minutes, once:")
        print(url)
    return EXIT_OK


EXTENSIONS.append(add_commands)
