"""What the commands share: exit codes, opening the engine, one indexing pass with its report."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import DesktopSearchError
from .progress import ProgressBar

if TYPE_CHECKING:
    from ..engine import Engine
    from ..indexer import IndexReport

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def open_engine(args: argparse.Namespace) -> Engine:
    """The engine on --home (with --model, when given); use it as `with open_engine(args)`."""
    from ..engine import Engine

    return Engine(args.home, model_path=getattr(args, "model", None))


def index_with_progress(eng: Engine, verb: str) -> IndexReport:
    """One indexing pass under a progress bar; ``verb`` names the command in the error."""
    if not eng.roots():
        raise DesktopSearchError(f"no folders to {verb}: add one with `desktop-search add FOLDER`")
    bar = ProgressBar("indexing", state=eng.index_progress)
    rep = eng.index(bar)
    bar.finish()
    return rep


def print_report(rep: IndexReport, stream: TextIO) -> None:
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


def report_json(rep: IndexReport) -> dict[str, Any]:
    return {
        "scanned": rep.scanned,
        "new": rep.new,
        "changed": rep.changed,
        "unchanged": rep.unchanged,
        "renamed": rep.renamed,
        "removed": rep.removed,
        "indexed": rep.indexed,
        "chunks_embedded": rep.chunks_embedded,
        "tokens_embedded": rep.tokens_embedded,
        "seconds": round(rep.seconds, 3),
        "cancelled": rep.cancelled,
        "timings": {k: round(v, 3) for k, v in rep.timings.items()},
        "failed": [{"path": p, "reason": r} for p, r in rep.failed],
        "skipped": [{"path": p, "reason": r} for p, r in rep.skipped],
    }
