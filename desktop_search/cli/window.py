"""`gui`: opens the search window (desktop_search.gui), the other edge."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import DesktopSearchError


def add_gui(sub: Any) -> None:
    g = sub.add_parser("gui", help="open the search window")
    g.add_argument("--query", default=None)
    g.add_argument("--screenshot", default=None, metavar="FILE")
    g.set_defaults(handler=cmd_gui)


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from ..gui.app import run_gui
    except ImportError as e:
        raise DesktopSearchError(f"the window cannot start: {e}") from e
    return int(run_gui(home=args.home, query=args.query, screenshot=args.screenshot))
