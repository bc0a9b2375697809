"""Window benchmark (not a test; prints figures): the longest GUI stall while the window indexes a
folder, and keystroke-to-results-painted latency while typing queries.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/gui/bench_window.py \\
        --docs /tmp/scifact1k/docs --home /tmp/scifact1k/home \\
        --queries /work/shared/eval/scifact-train/queries.jsonl

The folder is indexed through the window (writer lane) unless --home already holds its index.
Latency is measured from the moment the last key of a query has been handled to the end of the
first paint of the result list that shows that query's results (it includes the 150 ms debounce;
the figure after the debounce is printed too).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


OUT: list[str] = []


def say(line: str) -> None:
    # llama-cpp-python points fds 1 and 2 at /dev/null while any thread loads a model; lines
    # are also kept for --out, a file of its own
    OUT.append(line)
    print(line, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", required=True)
    ap.add_argument("--home", required=True)
    ap.add_argument("--queries", required=True, help="a JSONL file with a 'text' field per line")
    ap.add_argument("--n", type=int, default=25, help="queries to type")
    ap.add_argument("--out", default=None, help="also write the figures to this file")
    args = ap.parse_args()

    from PySide6.QtCore import QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from desktop_search.gui.main_window import MainWindow
    from desktop_search.gui.search_page import DEBOUNCE_MS
    from desktop_search.gui.style import apply_style

    app = QApplication(sys.argv[:1])
    apply_style(app)
    fresh = not (Path(args.home) / "catalog.sqlite3").exists()
    win = MainWindow(args.home, watch=False, index_on_start=False)
    win.resize(1280, 800)
    win.show()

    def wait(cond, timeout: float = 3600.0) -> None:  # type: ignore[no-untyped-def]
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise SystemExit("timed out")
            app.processEvents()
            time.sleep(0.001)

    # the heartbeat: a 5 ms timer on the GUI thread; a gap between ticks is a stall
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    beat = QTimer()
    beat.setInterval(5)
    beat.timeout.connect(tick)
    t_open = time.perf_counter()
    wait(lambda: win.backend.snapshot is not None)
    say(f"index open, window usable: {time.perf_counter() - t_open:.2f}s after the window")

    queries = []
    with open(args.queries, encoding="utf-8") as f:
        for line in f:
            queries.append(json.loads(line)["text"])
            if len(queries) >= args.n:
                break
    sp = win.search_page
    view = sp.results
    painted: list[tuple[int, float]] = []
    view.painted.connect(lambda gen: painted.append((gen, time.perf_counter())))
    fired: list[float] = []
    sp.debounce.timeout.connect(lambda: fired.append(time.perf_counter()))

    def type_queries(qs: list[str], label: str) -> None:
        """Types each query, waits for its results to be painted; says the figures."""
        sp.box.setFocus()
        total: list[float] = []
        after_debounce: list[float] = []
        search_s: list[float] = []
        for q in qs:
            sp.box.clear()
            wait(lambda: not win.backend.query.busy())
            app.processEvents()
            gen0 = view.model_.generation
            painted.clear()
            fired.clear()
            QTest.keyClicks(sp.box, q)
            t_key = time.perf_counter()  # the last key has been handled
            wait(
                lambda q=q, gen0=gen0: (
                    sp.outcome is not None
                    and sp.outcome.text == q.strip()
                    and any(g > gen0 for g, _t in painted)
                ),
                timeout=60,
            )
            t_paint = next(t for g, t in painted if g > gen0)
            total.append(t_paint - t_key)
            if fired:
                after_debounce.append(t_paint - fired[-1])
            search_s.append(sp.outcome.seconds)
        med = statistics.median
        say(
            f"{label}: keystroke to results painted, {len(total)} queries: median "
            f"{med(total) * 1000:.0f} ms (p90 {sorted(total)[int(len(total) * 0.9)] * 1000:.0f}"
            f" ms), of which the debounce is {DEBOUNCE_MS} ms; after the debounce: median "
            f"{med(after_debounce) * 1000:.0f} ms; the search on the query lane: median "
            f"{med(search_s) * 1000:.0f} ms"
        )

    if fresh:
        n_files = sum(1 for p in Path(args.docs).iterdir() if p.is_file())
        last[0] = time.perf_counter()
        beat.start()
        t0 = time.perf_counter()
        win.add_folder(args.docs)
        wait(lambda: win.backend.state.running)
        # type while the writer lane indexes: the query lane must not wait behind it
        wait(lambda: win.backend.state.done >= min(200, n_files // 4))
        win.backend.warm_up()
        type_queries(queries[: max(5, len(queries) // 2)], "while indexing")
        sp.box.clear()
        wait(
            lambda: (
                not win.backend.state.running
                and win.backend.snapshot is not None
                and win.backend.snapshot.indexed + len(win.backend.snapshot.status.problems)
                >= n_files
            )
        )
        beat.stop()
        took = time.perf_counter() - t0
        wait(lambda: not win.backend.query.busy())  # the query model loads after the run
        gaps.sort()
        say(
            f"indexed {n_files} files through the window in {took:.0f}s (typing queries "
            f"meanwhile); GUI heartbeat (5 ms): longest stall {gaps[-1] * 1000:.0f} ms, 99.9th "
            f"percentile {gaps[int(len(gaps) * 0.999)] * 1000:.0f} ms, median "
            f"{statistics.median(gaps) * 1000:.1f} ms over {len(gaps)} ticks"
        )

    win.backend.warm_up()
    wait(lambda: not win.backend.query.busy())
    type_queries(queries, "idle")
    win.close()
    if args.out:
        Path(args.out).write_text("\n".join(OUT) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
