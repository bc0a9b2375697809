"""`search QUERY`: the results, best first, with their passages' matched words marked."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from .common import EXIT_OK, open_engine


def add_search(sub: Any) -> None:
    s = sub.add_parser("search", help="search by meaning and words")
    s.add_argument("query", metavar="QUERY")
    s.add_argument("--k", type=int, default=10, help="number of files (default 10)")
    s.add_argument("--mode", choices=("hybrid", "dense", "keyword", "rerank"), default="hybrid")
    s.add_argument(
        "--rerank",
        action="store_true",
        help="rerank the top passages with a cross-encoder (slower, sharper)",
    )
    s.add_argument(
        "--reranker",
        metavar="GGUF",
        default=None,
        help="the cross-encoder to use (default: the configured or installed one)",
    )
    s.add_argument("--json", action="store_true", help="print a JSON array, best first")
    s.add_argument("--type", action="append", metavar="KIND", help="only this file type")
    s.add_argument("--folder", action="append", metavar="DIR", help="only under this folder")
    s.add_argument("--after", metavar="DATE", help="modified on or after (YYYY-MM-DD, 7d...)")
    s.add_argument("--before", metavar="DATE", help="modified before (YYYY-MM-DD, 7d...)")
    s.set_defaults(handler=cmd_search)


def cmd_search(args: argparse.Namespace) -> int:
    from ..search import SearchOptions

    with open_engine(args) as eng:
        if args.reranker:
            eng.settings.reranker_path = args.reranker
        opts = SearchOptions(
            k=args.k,
            mode=args.mode,
            kinds=args.type or [],
            folders=args.folder or [],
            rerank=args.rerank,
        )
        if args.after or args.before:
            from ..query import parse_date

            opts.after = parse_date(args.after) if args.after else None
            opts.before = parse_date(args.before) if args.before else None
        results = eng.search(args.query, opts)
        if args.json:
            print(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False))
            return EXIT_OK
        if not results:
            print(
                "nothing indexed yet: `desktop-search add FOLDER` then `desktop-search index`"
                if not eng.status().chunks
                else "no results"
            )
            return EXIT_OK
    tty = sys.stdout.isatty()
    if not any(r.good_match for r in results):
        print("no good match: nothing indexed is close to that; the nearest results:")
    for i, r in enumerate(results, 1):
        page = f"  p.{r.page}" if r.page else ""
        print(f"{i:2d}. {r.path}{page}  ({r.score:.3f})  {result_label(r)}")
        for p in r.passages:
            print("    " + _bold(p.snippet, p.highlights, tty))
    return EXIT_OK


def result_label(r: Any) -> str:
    """ "relevance 72, words+meaning": what the score means, in words."""
    if r.match == "name":
        from ..reasons import plain_reason

        why = f"; its text cannot be searched: {plain_reason(r.name_only)}" if r.name_only else ""
        return "found by its name" + why
    rel = f"relevance {r.relevance}, " if r.relevance is not None else ""
    return rel + (r.match or "")


def _bold(s: str, spans: Sequence[tuple[int, int]], tty: bool) -> str:
    if not tty or not spans:
        return s
    out, pos = [], 0
    for a, b in spans:
        out += [s[pos:a], "\x1b[1;33m", s[a:b], "\x1b[0m"]
        pos = b
    out.append(s[pos:])
    return "".join(out)
