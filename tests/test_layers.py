"""One service layer, one direction: the announcement package imports none of its callers.

The chat core, the command line, the dispatcher, the scheduler and the web server call
`bot.announcements`; it gets what it needs from them (the command prefix, the topics) as
arguments. Read from the source, so an import inside a function or under TYPE_CHECKING counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "bot" / "announcements"
CALLERS = (
    "bot.core",
    "bot.transports",
    "bot.web",
    "bot.delivery",
    "bot.scheduler",
    "bot.cli",
    "bot.app",
    "bot.announce_cli",
)


def imported_modules(path: Path) -> list[str]:
    """Every module a file imports (absolute names; `from bot import core` gives bot.core)."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    package = "bot.announcements"
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append(module)
            found.extend(f"{module}.{alias.name}" for alias in node.names)
    return found


def callers_imported(path: Path) -> list[str]:
    return sorted(
        {
            module
            for module in imported_modules(path)
            if any(module == caller or module.startswith(caller + ".") for caller in CALLERS)
        }
    )


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda path: path.name)
def test_the_announcement_package_imports_none_of_its_callers(path: Path) -> None:
    assert callers_imported(path) == [], f"{path.relative_to(ROOT)} imports its callers"


def test_the_check_sees_every_form_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "import bot.core.markup\n"
        "from bot import transports\n"
        "from ..web import server\n"
        "if TYPE_CHECKING:\n"
        "    from bot.core.topics import Topics\n"
        "def later():\n"
        "    from bot.delivery import Dispatcher\n"
        "from bot.markup import bold\n",
        "utf-8",
    )
    assert callers_imported(sample) == [
        "bot.core.markup",
        "bot.core.topics",
        "bot.core.topics.Topics",
        "bot.delivery",
        "bot.delivery.Dispatcher",
        "bot.transports",
        "bot.web",
        "bot.web.server",
    ]
