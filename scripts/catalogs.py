"""Keep locales/<lang>/LC_MESSAGES/messages.po in step with the source.

    python scripts/catalogs.py          # extract, add new msgids, drop obsolete ones, fill English
    python scripts/catalogs.py --check  # exit 1 listing untranslated, fuzzy or stale entries

Catalogs are written sorted by msgid and without source locations, so that two branches adding
strings merge cleanly. English msgstrs are copies of the msgids (the source strings are English).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("pl", "uk", "en")
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
PROJECT = "ngo-outreach-bot"
# A fixed header date: regenerating the catalogs must not change files that did not change.
FIXED_DATE = datetime(2026, 11, 25, tzinfo=UTC)


def extract(source: Path = ROOT / "bot") -> Catalog:
    """Every interface string in the bot's Python code and its HTML templates (Jinja2)."""
    template = Catalog(project=PROJECT)
    for _filename, _lineno, message, comments, context in extract_from_dir(
        str(source),
        method_map=[("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")],
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
        keywords=KEYWORDS,
        comment_tags=("i18n:",),
    ):
        template.add(message, None, [], auto_comments=comments, context=context)
    return template


def po_path(language: str, root: Path = ROOT) -> Path:
    return root / "locales" / language / "LC_MESSAGES" / "messages.po"


def read_catalog(language: str, root: Path = ROOT) -> Catalog:
    path = po_path(language, root)
    if not path.exists():
        return Catalog(locale=language, project=PROJECT)
    with path.open("rb") as source:
        return read_po(source, locale=language)


def updated(language: str, template: Catalog, existing: Catalog) -> Catalog:
    """The catalog for `language`: template's msgids with the existing translations."""
    catalog = Catalog(
        locale=Locale.parse(language),
        project=PROJECT,
        version=None,
        header_comment=f"# {PROJECT} interface strings: {language}.",
        creation_date=FIXED_DATE,
        revision_date=FIXED_DATE,
        last_translator=f"{PROJECT} developers",
        language_team=f"{PROJECT} developers",
        fuzzy=False,
    )
    for message in template:
        if not message.id:
            continue
        old = existing.get(message.id, message.context)
        string = old.string if old is not None and not old.fuzzy else None
        if language == "en" and not has_translation(string):
            string = message.id
        catalog.add(
            message.id,
            string or ("" if isinstance(message.id, str) else ("",) * 2),
            auto_comments=message.auto_comments,
            context=message.context,
        )
    return catalog


def has_translation(string: object) -> bool:
    if isinstance(string, (list, tuple)):
        return all(string)
    return bool(string)


def problems(language: str, template: Catalog, root: Path = ROOT) -> list[str]:
    """Why the committed catalog is not complete and current (empty list when it is)."""
    catalog = read_catalog(language, root)
    found = []
    wanted = {(m.id if isinstance(m.id, str) else m.id[0]) for m in template if m.id}
    for message in catalog:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        if key not in wanted:
            found.append(f"{language}: obsolete entry {key!r}")
        elif message.fuzzy:
            found.append(f"{language}: fuzzy entry {key!r}")
        elif not has_translation(message.string):
            found.append(f"{language}: untranslated entry {key!r}")
        elif not isinstance(message.id, str) and len(message.string) != catalog.num_plurals:
            found.append(f"{language}: {key!r} needs {catalog.num_plurals} plural forms")
    have = {(m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id}
    found.extend(f"{language}: missing entry {key!r}" for key in sorted(wanted - have))
    return found


def write(language: str, catalog: Catalog, root: Path = ROOT) -> None:
    path = po_path(language, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as target:
        write_po(
            target,
            catalog,
            width=100,
            no_location=True,
            sort_output=True,
            include_previous=False,
            ignore_obsolete=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report problems")
    args = parser.parse_args()
    template = extract()
    if args.check:
        found = [p for language in LANGUAGES for p in problems(language, template)]
        print("\n".join(found) or "catalogs complete")
        return 1 if found else 0
    for language in LANGUAGES:
        write(language, updated(language, template, read_catalog(language)))
    found = [p for language in LANGUAGES for p in problems(language, template)]
    print("\n".join(found) or "catalogs complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
