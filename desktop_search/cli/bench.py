"""`bench`: how fast this machine embeds, indexes, searches and starts (the measuring is in
bench.py), or with --first-hour, the first hour with a real folder (first_hour.py)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import DesktopSearchError


def add_bench(sub: Any) -> None:
    b = sub.add_parser(
        "bench",
        help="measure indexing, search and start-up speed here",
        description="Measures this machine in one run, in a throwaway home; "
        "your own index is not touched.",
    )
    b.add_argument("--json", action="store_true")
    b.add_argument(
        "--corpus",
        metavar="DIR",
        help="index this folder (default: 1,000 SciFact "
        "abstracts when present, else generated text)",
    )
    b.add_argument(
        "--scale",
        type=int,
        default=100_000,
        metavar="N",
        help="passages to time queries at (default 100,000)",
    )
    b.add_argument("--files", type=int, default=1000, help="documents in the default corpus")
    b.add_argument("--queries", type=int, default=50, help="queries per mode (default 50)")
    b.add_argument(
        "--embed-chunks", type=int, default=16, help="passages for the embedding speed (default 16)"
    )
    b.add_argument("--no-cold-start", action="store_true", help="skip the window start-up")
    b.add_argument(
        "--first-hour",
        metavar="DIR",
        help="the first hour with this real folder "
        "in a fresh home: seconds until every file is findable by words (beside "
        "Recoll when installed), until meaning, PDF pages/s, ETA, memory",
    )
    b.add_argument(
        "--meaning-minutes",
        type=float,
        default=None,
        metavar="M",
        help="with --first-hour: stop adding meaning after M minutes and project "
        "the rest from the measured speed",
    )
    b.add_argument(
        "--keep",
        action="store_true",
        help="keep the throwaway home and corpus (the path is printed) to dig in",
    )
    b.set_defaults(handler=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    from ..bench import render, run_bench
    from ..models import installed_reranker
    from ..paths import resolve_home

    if args.scale < 1:
        raise DesktopSearchError("--scale must be at least 1")
    corpus = Path(args.corpus).expanduser() if args.corpus else None
    if corpus is not None and not corpus.is_dir():
        raise DesktopSearchError(f"not a folder: {corpus}")
    reranker = None
    with contextlib.suppress(DesktopSearchError, OSError):
        found = installed_reranker(resolve_home(args.home).models_dir)
        reranker = str(found) if found else None

    def say(msg: str) -> None:
        if not args.json or msg.startswith("kept"):
            print(msg, file=sys.stderr, flush=True)

    if args.first_hour:
        from ..first_hour import render_first_hour, run_first_hour

        folder = Path(args.first_hour).expanduser().resolve()
        if not folder.is_dir():
            raise DesktopSearchError(f"not a folder: {folder}")
        fh = run_first_hour(folder, say, args.meaning_minutes, keep=args.keep)
        print(json.dumps(fh, indent=2) if args.json else render_first_hour(fh))
        return 0
    r = run_bench(
        corpus,
        args.scale,
        args.files,
        args.queries,
        args.embed_chunks,
        not args.no_cold_start,
        say,
        reranker=reranker,
        keep=args.keep,
    )
    print(json.dumps(r, indent=2) if args.json else render(r))
    return 0
