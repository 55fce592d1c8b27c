"""Delivery: the outbox dispatcher and the pacing of each platform's sender."""

from bot.delivery.dispatcher import DeliveryPolicy, Dispatcher
from bot.delivery.limits import PlatformLimits, Priority, SendLimiter, limits_for

__all__ = [
    "DeliveryPolicy",
    "Dispatcher",
    "PlatformLimits",
    "Priority",
    "SendLimiter",
    "limits_for",
]
