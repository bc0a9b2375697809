"""The watcher keeps the index current from real filesystem events (watchdog)."""

from __future__ import annotations

import time
from pathlib import Path

from desktop_search.engine import Engine
from desktop_search.search import SearchOptions
from desktop_search.watcher import Watcher, collapse


def wait_for(cond, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


def test_saved_file_becomes_findable_and_deleted_file_goes(engine: Engine, docs: Path) -> None:
    (docs / "old.txt").write_text(
        "The lighthouse keeper logged every passing ship.", encoding="utf-8"
    )
    engine.add_root(docs)
    engine.index()
    w = Watcher(engine, debounce_s=0.3)
    w.start()
    try:
        time.sleep(0.3)
        (docs / "new.txt").write_text(
            "Glaciers carve U-shaped valleys as they retreat.", encoding="utf-8"
        )
        (docs / "old.txt").unlink()

        def settled() -> bool:
            w.process_pending()
            got = [Path(r.path).name for r in engine.search("glacier valleys", SearchOptions(k=5))]
            gone = not engine.search("lighthouse", SearchOptions(mode="keyword"))
            return got[:1] == ["new.txt"] and gone

        assert wait_for(settled)
    finally:
        w.stop()


def test_burst_of_events_is_coalesced(engine: Engine, docs: Path) -> None:
    engine.add_root(docs)
    engine.index()
    w = Watcher(engine, debounce_s=0.5)
    w.start()
    try:
        time.sleep(0.3)
        for i in range(300):
            (docs / f"f{i % 30}.txt").write_text(f"revision {i} of note {i % 30}", encoding="utf-8")
        assert wait_for(lambda: w.queue.events_seen >= 300)
        reports = []

        def settled() -> bool:
            r = w.process_pending()
            if r is not None:
                reports.append(r)
            return bool(engine.status().files["indexed"] == 30 and w.queue.pending() == 0)

        assert wait_for(settled)
        assert w.queue.events_seen >= 300
        assert len(reports) <= 3  # hundreds of events, a handful of index updates
        st = engine.status()
        assert st.files["indexed"] == 30 and st.chunks == 30
        assert engine.search("revision 299", SearchOptions(mode="keyword", k=1))[0].path.endswith(
            "f29.txt"
        )
    finally:
        w.stop()


def test_collapse_keeps_folders_and_drops_their_children(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    paths = {str(tmp_path / "a"), str(tmp_path / "a" / "x.txt"), str(tmp_path / "b.txt")}
    assert collapse(paths) == [str(tmp_path / "a"), str(tmp_path / "b.txt")]
