"""`add`, `remove` and `roots`: the folders the index covers."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import EXIT_OK, open_engine


def add_add(sub: Any) -> None:
    a = sub.add_parser("add", help="add folders to index")
    a.add_argument("paths", nargs="+", metavar="PATH")
    a.add_argument(
        "--include",
        action="append",
        metavar="GLOB",
        help="only files whose name matches (repeatable)",
    )
    a.add_argument(
        "--exclude",
        action="append",
        metavar="GLOB",
        help="skip files or folders whose name matches (repeatable)",
    )
    a.set_defaults(handler=cmd_add)


def add_remove(sub: Any) -> None:
    r = sub.add_parser("remove", help="remove a folder and its text from the index")
    r.add_argument("path", metavar="PATH")
    r.set_defaults(handler=cmd_remove)


def add_roots(sub: Any) -> None:
    ro = sub.add_parser("roots", help="list the indexed folders")
    ro.add_argument("--json", action="store_true")
    ro.set_defaults(handler=cmd_roots)


def cmd_add(args: argparse.Namespace) -> int:
    with open_engine(args) as eng:
        for p in args.paths:
            root = eng.add_root(p, includes=args.include or [], excludes=args.exclude or [])
            print(f"added {root.path}")
    print("run `desktop-search index` to index, or `desktop-search watch` to keep it current")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    with open_engine(args) as eng:
        n = eng.remove_root(args.path)
    print(f"removed {args.path} ({n} files dropped from the index)")
    return EXIT_OK


def cmd_roots(args: argparse.Namespace) -> int:
    with open_engine(args) as eng:
        roots = eng.roots()
    if args.json:
        print(
            json.dumps(
                [{"path": r.path, "includes": r.includes, "excludes": r.excludes} for r in roots],
                indent=2,
            )
        )
    elif not roots:
        print("no folders yet: add one with `desktop-search add FOLDER`")
    else:
        for r in roots:
            extra = ""
            if r.includes:
                extra += f"  include {','.join(r.includes)}"
            if r.excludes:
                extra += f"  exclude {','.join(r.excludes)}"
            print(r.path + extra)
    return EXIT_OK
