"""Prints the peak memory of indexing a folder of hostile files, for the indexing process and for
its extraction worker, and which file the worker was reading at its peak. Not a test: numbers
only (python tests/reliability/bench_hostile_memory.py [--big]).

The folder is the nasty_files corpus (zip bombs, billion laughs, a 3 GB sparse log, 100,000
nested divs, binary named .txt...) plus 200,000 nested HTML elements and, with --big, a 30 MB
log (whose 5 million kept characters take minutes to embed on two cores).

Memory is sampled from /proc every 20 ms: VmHWM of the worker (its own high-water mark, reset by
exec) and VmRSS of this process. ru_maxrss is not used: Linux carries a parent's peak over
fork+exec into the child's figure.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from nasty_files import GENERATORS, write_corpus

from desktop_search.engine import Engine


def _status_kb(pid: int | str, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def hostile_folder(root: Path, big: bool) -> None:
    write_corpus(root, only=tuple(g for g in GENERATORS if g != "stuck_pdf"))
    (root / "deep200k.html").write_bytes(
        b"<html><body>"
        + b"<div><span>" * 100_000
        + b"the tapir sleeps"
        + b"</span></div>" * 100_000
        + b"</body></html>"
    )
    if big:
        line = b"2024-05-01 12:00:00 INFO worker 7 moved the tapir to the next pen\n"
        (root / "big30.log").write_bytes(line * (30_000_000 // len(line)))


def main() -> None:
    big = "--big" in sys.argv
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "hostile"
        hostile_folder(root, big)
        eng = Engine(Path(d) / "home")
        peaks = {"indexer": 0, "worker": 0}
        at_peak = {"worker": ""}
        current = {"file": ""}
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peaks["indexer"] = max(peaks["indexer"], _status_kb("self", "VmRSS"))
                w = eng._worker
                pid = w.pid if w is not None else None
                if pid is not None:
                    hwm = _status_kb(pid, "VmHWM")
                    if hwm > peaks["worker"]:
                        peaks["worker"], at_peak["worker"] = hwm, current["file"]
                time.sleep(0.02)

        # which file the worker is on: wrap its extract (a benchmark may look inside)
        worker = eng.extract_worker()
        real_extract = worker.extract

        def extract(path: str | os.PathLike[str], **kw: object) -> object:
            current["file"] = Path(path).name
            return real_extract(path, **kw)  # type: ignore[arg-type]

        worker.extract = extract  # type: ignore[method-assign]
        t = threading.Thread(target=sample, daemon=True)
        t.start()
        eng.add_root(root)
        t0 = time.perf_counter()
        rep = eng.index()
        seconds = time.perf_counter() - t0
        stop.set()
        t.join()
        eng.close()
        files = sum(1 for p in root.rglob("*") if p.is_file())
        print(
            f"hostile folder: {files} files{' (with a 30 MB log)' if big else ''}, indexed "
            f"{rep.indexed}, failed {len(rep.failed)}, skipped {len(rep.skipped)} in "
            f"{seconds:.1f} s"
        )
        print(
            f"peak memory: indexer {peaks['indexer'] / 1024:.0f} MB, extraction worker "
            f"{peaks['worker'] / 1024:.0f} MB (at {at_peak['worker'] or '-'}); "
            f"worker starts {worker.starts}, crashes {worker.crashes}"
        )
        for p, r in rep.failed + rep.skipped:
            if "memory" in r or "too large" in r:
                print(f"  {Path(p).name}: {r}")


if __name__ == "__main__":
    main()
