"""`python -m bot` is `ngo-bot`."""

import sys

from bot.cli import main

sys.exit(main())
