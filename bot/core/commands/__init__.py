"""Chat commands, one module per feature; importing this package registers them all."""

from bot.core.commands import announce, announcements, basic, digest, faq, privacy, staff
from bot.core.commands.basic import default_text_handler
from bot.core.registry import registry

__all__ = [
    "announce",
    "announcements",
    "basic",
    "default_text_handler",
    "digest",
    "faq",
    "privacy",
    "registry",
    "staff",
]
