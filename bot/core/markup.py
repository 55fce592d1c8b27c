"""The chat core's name for the message markup helpers, which live in `bot.markup` (the HTML
subset is shared by the core, the transports and the announcement package, which must not
import the core)."""

from bot.markup import (
    bold,
    escape,
    link,
    rendered_length,
    split_markup,
    to_plain_text,
    utf16_length,
)

__all__ = [
    "bold",
    "escape",
    "link",
    "rendered_length",
    "split_markup",
    "to_plain_text",
    "utf16_length",
]
