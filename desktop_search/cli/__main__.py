"""`python -m desktop_search.cli ...`, as the tests and the crash checks run it."""

import sys

from . import main

sys.exit(main())
