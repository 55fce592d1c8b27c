"""Interface strings: Babel/gettext catalogs per language, the current language in a ContextVar.

The catalogs are the `.po` sources in `locales/<lang>/LC_MESSAGES/messages.po`, compiled in memory
at first use: nothing is written next to the installed package (the Docker user cannot), and no
hand-committed `.mo` file can drift from its source.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from bot.config import LANGUAGES

DOMAIN = "messages"
_current_language: ContextVar[str] = ContextVar("current_language", default="pl")


def locales_dir() -> Path:
    """Where the catalogs are: inside the installed package, else the source checkout."""
    packaged = Path(__file__).parent / "locales"
    if packaged.is_dir():
        return packaged
    return Path(__file__).parent.parent / "locales"


def catalog_path(language: str) -> Path:
    return locales_dir() / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of one language (cached for the process)."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    with catalog_path(language).open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(fp=compiled, domain=DOMAIN)


def current_language() -> str:
    return _current_language.get()


@contextmanager
def use_language(language: str) -> Iterator[None]:
    """Run a block with `_()` translating into `language`."""
    token = _current_language.set(language)
    try:
        yield
    finally:
        _current_language.reset(token)


def _(message: str) -> str:
    """Translate an interface string into the current language."""
    return translations(_current_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate with the plural form the current language needs for `n`."""
    return translations(_current_language.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (translate later with `_`)."""
    return message


class LocalisedError(ValueError):
    """An error a person reads: `message` in the current language, `str()` in English (for logs).

    `template` is a catalog msgid (mark it with N_); a param may be a function of no arguments,
    called in the language of the message (month names, plurals).
    """

    def __init__(self, template: str, **params: object) -> None:
        self.template = template
        self.params = params
        with use_language("en"):
            english = self.message
        super().__init__(english)

    @property
    def message(self) -> str:
        """The error in the current language (bot.i18n.use_language)."""
        values = {name: _value(param) for name, param in self.params.items()}
        return _(self.template).format(**values)


def _value(param: object) -> object:
    return param() if callable(param) else param


def language_from_hint(hint: str | None) -> str | None:
    """Map a platform's language hint (e.g. Telegram's language_code) to a bot language.

    Ukrainian and Russian speakers get Ukrainian, Polish speakers Polish, anyone else English;
    no hint gives None so the configured default applies.
    """
    if not hint:
        return None
    primary = hint.split(".")[0].split("@")[0].replace("_", "-").split("-")[0].strip().lower()
    if not primary or primary in ("c", "posix"):
        return None
    if primary in ("uk", "ru"):
        return "uk"
    if primary == "pl":
        return "pl"
    return "en"


# Each language's own name (an autonym reads the same in every interface language).
LANGUAGE_NAMES = {"pl": "Polski", "uk": "Українська", "en": "English"}
