"""Chat commands, one module per feature; importing this package registers them all."""

from bot.core.commands import (
    announce,
    announcements,
    basic,
    digest,
    faq,
    privacy,
    questions,
    staff,
    web,
)
from bot.core.registry import registry

__all__ = [
    "announce",
    "announcements",
    "basic",
    "digest",
    "faq",
    "privacy",
    "questions",
    "registry",
    "staff",
    "web",
]
