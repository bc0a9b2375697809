"""`python -m desktop_search ...`: the same as `desktop-search ...`."""

import sys

from .cli import main

sys.exit(main())
