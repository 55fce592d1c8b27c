"""The transport-agnostic core: neutral messages in, replies out. Never imports a platform SDK."""

from bot.core.messages import Attachment, Button, ChatKind, ChatRef, Incoming, Reply

__all__ = ["Attachment", "Button", "ChatKind", "ChatRef", "Incoming", "Reply"]
