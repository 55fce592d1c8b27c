"""Started by every bot subprocess of the tests (tests/conftest.py puts this folder first on its
PYTHONPATH): move its clock by the test process's offset, so that both see the same injected time.

The offset is seconds between the test's clock and the real one (NGO_TEST_CLOCK_OFFSET); the
clock keeps ticking from there. Nothing here runs outside the tests.
"""

from __future__ import annotations

import os

_OFFSET = os.environ.get("NGO_TEST_CLOCK_OFFSET")

if _OFFSET is not None:
    import sys
    import time

    # time_machine imports pytest (for its plugin) and dateutil's parser (for strings) when they
    # are there: a fifth of a second in every bot subprocess, which needs neither. Hide them while
    # it loads, then let the bot import them as usual.
    _HIDDEN = ("pytest", "dateutil.parser")
    for _name in _HIDDEN:
        sys.modules.setdefault(_name, None)  # type: ignore[assignment]
    try:
        import time_machine
    finally:
        for _name in _HIDDEN:
            if sys.modules.get(_name, 0) is None:
                del sys.modules[_name]

    time_machine.travel(time.time() + float(_OFFSET), tick=True).start()
