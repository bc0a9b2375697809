"""`desktop-search ...`: a thin edge over the engine. Errors reach people as one line.

Exit codes: 0 success; 1 the operation failed (one line on stderr says why); 2 bad usage;
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .about import VersionAction
from .errors import DesktopSearchError
from .index_progress import EMBEDDING, IndexProgress, duration

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class ProgressBar:
    """Counts, rate and ETA on one line, redrawn on a terminal; quiet lines otherwise."""

    def __init__(self, label: str, stream: TextIO | None = None, enabled: bool | None = None,
                 unit: str = "files", state: Callable[[], IndexProgress | None] | None = None):
        self.label = label
        self.unit = unit
        # an indexing run's own picture (words, then meaning, ETA by tokens) when given
        self.state = state
        # looked up now, not at import: sys.stderr may have been replaced since (tests, GUI)
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if enabled is None else enabled
        self.t0 = time.monotonic()
        self.last = 0.0
        self.done = 0
        self.total = 0

    def __call__(self, done: int, total: int) -> bool:
        self.done, self.total = done, total
        now = time.monotonic()
        if self.tty and (now - self.last > 0.1 or done == total):
            self.last = now
            self.stream.write("\r" + self.line(now) + "\x1b[K")
            self.stream.flush()
        return True

    def line(self, now: float | None = None) -> str:
        now = now or time.monotonic()
        st = self.state() if self.state is not None else None
        if st is not None:
            return _index_line(self.label, st, now - self.t0)
        el = now - self.t0
        frac = self.done / self.total if self.total else 1.0
        width = 24
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        rate = self.done / el if el > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        return (f"{self.label} [{bar}] {self.done}/{self.total} {self.unit}  {rate:.1f}/s  "
                f"elapsed {_dur(el)}  ETA {_dur(eta) if self.done else '?'}")

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\r" + self.line() + "\x1b[K\n")
            self.stream.flush()


def _index_line(label: str, st: IndexProgress, elapsed: float) -> str:
    """While reading: files findable by words so far. Then: passages with meaning, the speed
    and the time left (by tokens, so a huge file counts for what it costs)."""
    words = f"words {st.files_read:,}/{st.files_total:,} files"
    if st.phase != EMBEDDING:
        return f"{label} {words}  elapsed {_dur(elapsed)}"
    frac = st.passages_done / st.passages_total if st.passages_total else 1.0
    width = 20
    bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
    eta = st.eta_s()
    return (f"{label} {words} · meaning [{bar}] {st.passages_done:,}/{st.passages_total:,} "
            f"passages  {st.passages_per_s():.1f}/s  elapsed {_dur(elapsed)}  "
            f"ETA {_dur(eta) if eta is not None else '?'}")


def _dur(s: float) -> str:
    s = int(s)
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def _engine(args: argparse.Namespace) -> Any:
    from .engine import Engine

    return Engine(args.home, model_path=getattr(args, "model", None))


def cmd_add(args: argparse.Namespace) -> int:
    eng = _engine(args)
    for p in args.paths:
        root = eng.add_root(p, includes=args.include or [], excludes=args.exclude or [])
        print(f"added {root.path}")
    print("run `desktop-search index` to index, or `desktop-search watch` to keep it current")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    eng = _engine(args)
    n = eng.remove_root(args.path)
    print(f"removed {args.path} ({n} files dropped from the index)")
    return EXIT_OK


def cmd_roots(args: argparse.Namespace) -> int:
    eng = _engine(args)
    roots = eng.roots()
    if args.json:
        print(json.dumps([{"path": r.path, "includes": r.includes, "excludes": r.excludes}
                          for r in roots], indent=2))
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


def _print_report(rep: Any, stream: TextIO) -> None:
    mins = rep.seconds or 1e-9
    print(
        f"indexed {rep.indexed} files ({rep.new} new, {rep.changed} changed, {rep.renamed} "
        f"renamed, {rep.removed} removed, {rep.unchanged} unchanged) in {rep.seconds:.1f}s; "
        f"{rep.chunks_embedded} chunks embedded, {rep.tokens_embedded / mins:.0f} tokens/s",
        file=stream,
    )
    for label, items in (("failed", rep.failed), ("skipped", rep.skipped)):
        if items:
            print(f"{len(items)} {label}:", file=stream)
            for path, reason in items:
                print(f"  {path}: {reason}", file=stream)


def _index_with_progress(eng: Any, verb: str) -> Any:
    """One indexing pass under a progress bar; ``verb`` names the command in the error."""
    if not eng.roots():
        raise DesktopSearchError(f"no folders to {verb}: add one with `desktop-search add FOLDER`")
    bar = ProgressBar("indexing", state=eng.index_progress)
    rep = eng.index(bar)
    bar.finish()
    return rep


def _settle_model(eng: Any, args: argparse.Namespace) -> int | None:
    from .model_commands import settle_model

    return settle_model(eng, getattr(args, "model", None), args.yes)


def cmd_index(args: argparse.Namespace) -> int:
    eng = _engine(args)
    if (stop := _settle_model(eng, args)) is not None:
        return stop
    rep = _index_with_progress(eng, "index")
    eng.close()
    if args.json:
        print(json.dumps(_report_json(rep), indent=2))
    else:
        _print_report(rep, sys.stdout)
    return EXIT_OK


def _report_json(rep: Any) -> dict[str, Any]:
    return {
        "scanned": rep.scanned, "new": rep.new, "changed": rep.changed,
        "unchanged": rep.unchanged, "renamed": rep.renamed, "removed": rep.removed,
        "indexed": rep.indexed, "chunks_embedded": rep.chunks_embedded,
        "tokens_embedded": rep.tokens_embedded, "seconds": round(rep.seconds, 3),
        "cancelled": rep.cancelled, "timings": {k: round(v, 3) for k, v in rep.timings.items()},
        "failed": [{"path": p, "reason": r} for p, r in rep.failed],
        "skipped": [{"path": p, "reason": r} for p, r in rep.skipped],
    }


def _bold(s: str, spans: Sequence[tuple[int, int]], tty: bool) -> str:
    if not tty or not spans:
        return s
    out, pos = [], 0
    for a, b in spans:
        out += [s[pos:a], "\x1b[1;33m", s[a:b], "\x1b[0m"]
        pos = b
    out.append(s[pos:])
    return "".join(out)


def result_label(r: Any) -> str:
    """"relevance 72, words+meaning": what the score means, in words."""
    if r.match == "name":
        from .reasons import plain_reason

        why = f"; its text cannot be searched: {plain_reason(r.name_only)}" if r.name_only else ""
        return "found by its name" + why
    rel = f"relevance {r.relevance}, " if r.relevance is not None else ""
    return rel + (r.match or "")


def cmd_search(args: argparse.Namespace) -> int:
    from .search import SearchOptions

    eng = _engine(args)
    if args.reranker:
        eng.settings.reranker_path = args.reranker
    opts = SearchOptions(k=args.k, mode=args.mode, kinds=args.type or [],
                         folders=args.folder or [], rerank=args.rerank)
    if args.after or args.before:
        from .query import parse_date

        opts.after = parse_date(args.after) if args.after else None
        opts.before = parse_date(args.before) if args.before else None
    results = eng.search(args.query, opts)
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2, ensure_ascii=False))
        return EXIT_OK
    tty = sys.stdout.isatty()
    if not results:
        st = eng.status()
        if not st.chunks:
            print("nothing indexed yet: `desktop-search add FOLDER` then `desktop-search index`")
        else:
            print("no results")
        return EXIT_OK
    if not any(r.good_match for r in results):
        print("no good match: nothing indexed is close to that; the nearest results:")
    for i, r in enumerate(results, 1):
        page = f"  p.{r.page}" if r.page else ""
        print(f"{i:2d}. {r.path}{page}  ({r.score:.3f})  {result_label(r)}")
        for p in r.passages:
            print("    " + _bold(p.snippet, p.highlights, tty))
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    eng = _engine(args)
    st = eng.status()
    if args.json:
        print(json.dumps(asdict(st), indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"home:    {st.home}")
    print("folders: " + (", ".join(st.roots) if st.roots else "none"))
    print("files:   " + ", ".join(f"{n} {s}" for s, n in st.files.items() if n) if any(
        st.files.values()) else "files:   none")
    print(f"chunks:  {st.chunks} ({st.vectors} with vectors)")
    m = st.meaning
    if m.get("passages"):
        line = (f"meaning: {m['passages_with_meaning']:,} of {m['passages']:,} passages; "
                f"{m['files_findable_by_words']:,} files findable by words, "
                f"{m['files_with_meaning']:,} by meaning")
        if m.get("eta_s"):
            line += (f"; about {duration(m['eta_s'])} of embedding left at "
                     f"{m['passages_per_s']} passages/s")
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
    from .watcher import Watcher

    eng = _engine(args)
    if (stop := _settle_model(eng, args)) is not None:
        return stop

    def on_update(r: Any) -> None:
        if r.indexed or r.removed or r.renamed or r.failed or r.skipped:
            print(f"{time.strftime('%H:%M:%S')} updated: {r.indexed} indexed, {r.removed} "
                  f"removed, {r.renamed} renamed, {len(r.failed)} failed", file=sys.stderr)

    w = Watcher(eng, debounce_s=args.debounce, on_update=on_update)

    # Ctrl+C or a TERM (logout, service stop) asks the loop to stop between updates instead of
    # raising KeyboardInterrupt at whatever line runs then: that can land inside a lock's
    # bookkeeping and leave the shutdown waiting on it. A second Ctrl+C still stops at once.
    def on_signal(signum: int, _frame: Any) -> None:
        w.request_stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous: dict[int, Any] = {}
    try:
        # Events are watched before the catch-up scan: a file saved during it (or just after
        # the "watching" line) is queued, never missed until the next start.
        w.start()
        _print_report(_index_with_progress(eng, "watch"), sys.stderr)
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
    from .repair import describe, repair

    bar = ProgressBar("re-indexing")
    report = repair(args.home, bar)
    bar.finish()
    for line in describe(report):
        print(line)
    return EXIT_OK


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from .gui.app import run_gui
    except ImportError as e:
        raise DesktopSearchError(f"the window cannot start: {e}") from e
    return int(run_gui(home=args.home, query=args.query, screenshot=args.screenshot))


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "add": cmd_add, "remove": cmd_remove, "roots": cmd_roots, "index": cmd_index,
    "search": cmd_search, "status": cmd_status, "watch": cmd_watch, "gui": cmd_gui,
    "repair": cmd_repair,
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="desktop-search",
        description="Search your own files by meaning, offline.",
    )
    p.add_argument("--version", action=VersionAction)
    p.add_argument("--home", default=None,
                   help="where the settings and index live (default: $DESKTOP_SEARCH_HOME or "
                   "the platform's data folder)")
    p.add_argument("--model", default=None, help="an embedding GGUF to use instead of the "
                   "bundled default (also saved with `index`)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    a = sub.add_parser("add", help="add folders to index")
    a.add_argument("paths", nargs="+", metavar="PATH")
    a.add_argument("--include", action="append", metavar="GLOB",
                   help="only files whose name matches (repeatable)")
    a.add_argument("--exclude", action="append", metavar="GLOB",
                   help="skip files or folders whose name matches (repeatable)")

    r = sub.add_parser("remove", help="remove a folder and its text from the index")
    r.add_argument("path", metavar="PATH")

    ro = sub.add_parser("roots", help="list the indexed folders")
    ro.add_argument("--json", action="store_true")

    i = sub.add_parser("index", help="bring the index up to date once")
    i.add_argument("--json", action="store_true")
    i.add_argument("--yes", action="store_true",
                   help="agree to switch models (re-embeds; asked on a terminal)")

    s = sub.add_parser("search", help="search by meaning and words")
    s.add_argument("query", metavar="QUERY")
    s.add_argument("--k", type=int, default=10, help="number of files (default 10)")
    s.add_argument("--mode", choices=("hybrid", "dense", "keyword", "rerank"), default="hybrid")
    s.add_argument("--rerank", action="store_true",
                   help="rerank the top passages with a cross-encoder (slower, sharper)")
    s.add_argument("--reranker", metavar="GGUF", default=None,
                   help="the cross-encoder to use (default: the configured or installed one)")
    s.add_argument("--json", action="store_true", help="print a JSON array, best first")
    s.add_argument("--type", action="append", metavar="KIND", help="only this file type")
    s.add_argument("--folder", action="append", metavar="DIR", help="only under this folder")
    s.add_argument("--after", metavar="DATE", help="modified on or after (YYYY-MM-DD, 7d...)")
    s.add_argument("--before", metavar="DATE", help="modified before (YYYY-MM-DD, 7d...)")

    st = sub.add_parser("status", help="what is indexed, and what could not be")
    st.add_argument("--json", action="store_true")

    w = sub.add_parser("watch", help="keep the index current until interrupted")
    w.add_argument("--debounce", type=float, default=1.0, metavar="SECONDS")
    w.add_argument("--yes", action="store_true", help="agree to switch models (re-embeds)")

    sub.add_parser("repair", help="rebuild a damaged index: the damaged catalog is kept "
                   "aside, what can be read is salvaged, the rest re-indexed")

    g = sub.add_parser("gui", help="open the search window")
    g.add_argument("--query", default=None)
    g.add_argument("--screenshot", default=None, metavar="FILE")

    for module in COMMAND_MODULES:
        _register(module, sub)
    return p


# Modules that add their own subcommands: each has `add_commands(subparsers)` returning
# {command name: handler}. Keeps this edge thin and each feature's CLI beside its code.
COMMAND_MODULES = (
    "desktop_search.evaluation",
    "desktop_search.model_commands",
    "desktop_search.bench",
    "desktop_search.hardware",
    "desktop_search.desktop_entry",
)


def _register(module: str, sub: Any) -> None:
    import importlib
    import importlib.util

    if importlib.util.find_spec(module) is None:
        return
    mod = importlib.import_module(module)
    COMMANDS.update(mod.add_commands(sub))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "k", 1) is not None and getattr(args, "k", 1) < 1:
        parser.error("--k must be at least 1")
    try:
        return COMMANDS[args.command](args)
    except DesktopSearchError as e:
        print(f"desktop-search: {e}", file=sys.stderr)
        return EXIT_FAIL
    except sqlite3.DatabaseError as e:  # met on a page read anywhere: see store.is_damage
        from .store import is_damage

        if not is_damage(e):
            raise
        from .errors import CatalogDamaged
        from .paths import resolve_home

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


if __name__ == "__main__":
    sys.exit(main())
