"""`index`, `status`, `watch` and `repair`: bringing the index up to date and saying how it is."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from dataclasses import asdict
from typing import Any

from ..index_progress import duration
from .common import EXIT_OK, index_with_progress, open_engine, print_report, report_json
from .models import settle_model
from .progress import ProgressBar


def add_index(sub: Any) -> None:
    i = sub.add_parser("index", help="bring the index up to date once")
    i.add_argument("--json", action="store_true")
    i.add_argument(
        "--yes", action="store_true", help="agree to switch models (re-embeds; asked on a terminal)"
    )
    i.set_defaults(handler=cmd_index)


def add_status(sub: Any) -> None:
    st = sub.add_parser("status", help="what is indexed, and what could not be")
    st.add_argument("--json", action="store_true")
    st.set_defaults(handler=cmd_status)


def add_watch(sub: Any) -> None:
    w = sub.add_parser("watch", help="keep the index current until interrupted")
    w.add_argument("--debounce", type=float, default=1.0, metavar="SECONDS")
    w.add_argument("--yes", action="store_true", help="agree to switch models (re-embeds)")
    w.set_defaults(handler=cmd_watch)


def add_repair(sub: Any) -> None:
    r = sub.add_parser(
        "repair",
        help="rebuild a damaged index: the damaged catalog is kept "
        "aside, what can be read is salvaged, the rest re-indexed",
    )
    r.set_defaults(handler=cmd_repair)


def cmd_index(args: argparse.Namespace) -> int:
    with open_engine(args) as eng:
        if (stop := settle_model(eng, getattr(args, "model", None), args.yes)) is not None:
            return stop
        rep = index_with_progress(eng, "index")
    if args.json:
        print(json.dumps(report_json(rep), indent=2))
    else:
        print_report(rep, sys.stdout)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    with open_engine(args) as eng:
        st = eng.status()
    if args.json:
        print(json.dumps(asdict(st), indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"home:    {st.home}")
    print("folders: " + (", ".join(st.roots) if st.roots else "none"))
    print(
        "files:   " + ", ".join(f"{n} {s}" for s, n in st.files.items() if n)
        if any(st.files.values())
        else "files:   none"
    )
    print(f"chunks:  {st.chunks} ({st.vectors} with vectors)")
    m = st.meaning
    if m.get("passages"):
        line = (
            f"meaning: {m['passages_with_meaning']:,} of {m['passages']:,} passages; "
            f"{m['files_findable_by_words']:,} files findable by words, "
            f"{m['files_with_meaning']:,} by meaning"
        )
        if m.get("eta_s"):
            line += (
                f"; about {duration(m['eta_s'])} of embedding left at "
                f"{m['passages_per_s']} passages/s"
            )
        print(line)
    m = st.model
    print(f"model:   {m.get('name') or '-'} ({m.get('dims') or '?'} dims)  {m.get('path') or ''}")
    print(f"index:   {st.index_bytes / 1e6:.1f} MB on disk")
    for n in st.notices:
        print(f"note:    {n}")
    if st.problems:
        print(f"{len(st.problems)} files not indexed, or indexed in part:")
        for p in st.problems:
            print(f"  [{p['state']}] {p['path']}: {p['reason']}")
    return EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    from ..watcher import Watcher

    with open_engine(args) as eng:
        if (stop := settle_model(eng, getattr(args, "model", None), args.yes)) is not None:
            return stop

        def on_update(r: Any) -> None:
            if r.indexed or r.removed or r.renamed or r.failed or r.skipped:
                print(
                    f"{time.strftime('%H:%M:%S')} updated: {r.indexed} indexed, {r.removed} "
                    f"removed, {r.renamed} renamed, {len(r.failed)} failed",
                    file=sys.stderr,
                )

        w = Watcher(eng, debounce_s=args.debounce, on_update=on_update)

        # Ctrl+C or a TERM (logout, service stop) asks the loop to stop between updates
        # instead of raising KeyboardInterrupt at whatever line runs then: that can land inside
        # a lock's bookkeeping and leave the shutdown waiting on it. A second Ctrl+C still
        # stops at once.
        def on_signal(signum: int, _frame: Any) -> None:
            w.request_stop()
            signal.signal(signal.SIGINT, signal.default_int_handler)

        previous: dict[int, Any] = {}
        try:
            # Events are watched before the catch-up scan: a file saved during it (or just
            # after the "watching" line) is queued, never missed until the next start.
            w.start()
            print_report(index_with_progress(eng, "watch"), sys.stderr)
            previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
            print(f"watching {len(eng.roots())} folders; Ctrl+C to stop", file=sys.stderr)
            w.run_forever()
        finally:
            w.stop()
            eng.close()
            for s, handler in previous.items():
                signal.signal(s, handler)
    print("stopped watching", file=sys.stderr)
    return EXIT_OK


def cmd_repair(args: argparse.Namespace) -> int:
    from ..repair import describe, repair

    bar = ProgressBar("re-indexing")
    report = repair(args.home, bar)
    bar.finish()
    for line in describe(report):
        print(line)
    return EXIT_OK
