"""Who holds a claim on outbox rows, and whether that holder is known to have died.

A claim names its dispatcher: host, process id, a token of the process and one of the
dispatcher. A restarted bot takes back at once the claims of a process on this host that no
longer runs (a `kill -9`, a crash); other claims wait for the lease to expire.
"""

from __future__ import annotations

import os
import secrets
import socket

_PROCESS_TOKEN = secrets.token_hex(4)
_SEPARATOR = "/"  # cannot occur in a host name


def new_owner() -> str:
    """A claim owner for one dispatcher of this process."""
    parts = (socket.gethostname(), str(os.getpid()), _PROCESS_TOKEN, secrets.token_hex(4))
    return _SEPARATOR.join(parts)


def owner_is_gone(owner: str) -> bool:
    """True only when the owner's process is certainly not running any more.

    Unknown formats, other hosts and live processes are not gone: their claims wait for the
    lease. A claim of this very process id with another process token comes from an earlier
    process that had the same id (a container restarted: the bot is pid 1 again).
    """
    parts = owner.split(_SEPARATOR)
    if len(parts) != 4 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid, process_token = int(parts[1]), parts[2]
    if pid == os.getpid():
        return process_token != _PROCESS_TOKEN
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # e.g. EPERM: the process exists under another user
    return False
