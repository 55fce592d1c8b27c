"""Started by every bot subprocess of the tests (tests/conftest.py puts this folder first on its
PYTHONPATH): move its clock by the test process's offset, so that both see the same injected time.

The offset is seconds between the test's clock and the real one (NGO_TEST_CLOCK_OFFSET); the
clock keeps ticking from there. Nothing here runs outside the tests.
"""

from __future__ import annotations

import os

_OFFSET = os.environ.get("NGO_TEST_CLOCK_OFFSET")

if _OFFSET is not None:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_OFFSET), tick=True).start()
