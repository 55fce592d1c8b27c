"""Interface sentences of the FAQ ("I don't know", "which one?"), from the Babel catalogs.

The matcher itself never produces words; these are the only sentences the FAQ adds, and they are
interface strings like any other (`locales/*/LC_MESSAGES/messages.po`).
"""

from __future__ import annotations

from bot.i18n import _, use_language


def abstain_text(lang: str, help_command: str = "/help") -> str:
    """The "I don't know" sentence in `lang`, pointing to help and to the office."""
    with use_language(lang):
        return _(
            "Sorry, I don't know the answer to that, and I would rather not guess. Send {help} "
            "to see what I can help with, or ask me how to contact the Plenipotentiary's office."
        ).format(help=help_command)


def choice_text(lang: str) -> str:
    """The sentence introducing a choice between two entries, in `lang`."""
    with use_language(lang):
        return _("I'm not sure what you mean. Is it one of these?")
