"""`desktop-search ...`: the command-line edge, a few lines per command over the engine. Errors
reach people as one line.

Exit codes: 0 success; 1 the operation failed (one line on stderr says why); 2 bad usage;
130 interrupted.

Each module here adds its commands' parsers (`add_*(sub)`, the handler set as the parser's
default) and holds their handlers: folders (add, remove, roots), index (index, status, watch,
repair), search, window (gui), evaluate (eval), models, bench, hardware, desktop (desktop-entry).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence

from ..errors import DesktopSearchError
from . import bench, desktop, evaluate, folders, hardware, index, models, search, window
from .about import VersionAction
from .common import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

__all__ = ["EXIT_FAIL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

# in the order `desktop-search --help` lists them
_COMMANDS = (
    folders.add_add,
    folders.add_remove,
    folders.add_roots,
    index.add_index,
    search.add_search,
    index.add_status,
    index.add_watch,
    index.add_repair,
    window.add_gui,
    evaluate.add_eval,
    models.add_models,
    bench.add_bench,
    hardware.add_hardware,
    desktop.add_desktop_entry,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="desktop-search",
        description="Search your own files by meaning, offline.",
    )
    p.add_argument("--version", action=VersionAction)
    p.add_argument(
        "--home",
        default=None,
        help="where the settings and index live (default: $DESKTOP_SEARCH_HOME or "
        "the platform's data folder)",
    )
    p.add_argument(
        "--model",
        default=None,
        help="an embedding GGUF to use instead of the bundled default (also saved with `index`)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in _COMMANDS:
        add(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "k", 1) is not None and getattr(args, "k", 1) < 1:
        parser.error("--k must be at least 1")
    try:
        return int(args.handler(args))
    except DesktopSearchError as e:
        print(f"desktop-search: {e}", file=sys.stderr)
        return EXIT_FAIL
    except sqlite3.DatabaseError as e:  # met on a page read anywhere: see errors.is_damage
        from ..errors import is_damage

        if not is_damage(e):
            raise
        from ..errors import CatalogDamaged
        from ..paths import resolve_home

        print(f"desktop-search: {CatalogDamaged(resolve_home(args.home).home)}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("desktop-search: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as e:
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        print(f"desktop-search: {e.strerror or e}{where}", file=sys.stderr)
        return EXIT_FAIL
    except MemoryError:
        print("desktop-search: out of memory", file=sys.stderr)
        return EXIT_FAIL
