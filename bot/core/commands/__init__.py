"""Chat commands, one module per feature; importing this package registers them all."""

from bot.core.commands import basic, faq, privacy
from bot.core.commands.basic import default_text_handler
from bot.core.registry import registry

__all__ = ["basic", "default_text_handler", "faq", "privacy", "registry"]
