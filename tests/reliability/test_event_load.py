"""Load: bursts of file events are coalesced and the watcher keeps up, ending with an index that
matches the disk; searches keep answering while indexing runs on another thread."""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop_search.engine import Engine
from desktop_search.indexer import file_hash
from desktop_search.search import SearchOptions
from desktop_search.store import INDEXED, Catalog
from desktop_search.watcher import Watcher


def matches_disk(home: Path, folder: Path) -> list[str]:
    """What still differs between the catalog and the files under folder ([] when none)."""
    on_disk = {str(p) for p in folder.rglob("*") if p.is_file()}
    cat = Catalog(home / "catalog.sqlite3", readonly=True)
    try:
        rows = {
            p: (s, h) for p, s, h in cat.db.execute("SELECT path, state, content_hash FROM files")
        }
    finally:
        cat.close()
    out = [f"missing {p}" for p in on_disk - set(rows)]
    out += [f"stale row {p}" for p in set(rows) - on_disk]
    for p in on_disk & set(rows):
        state, h = rows[p]
        if state != INDEXED:
            out.append(f"{p} is {state}")
        else:
            try:
                if h != file_hash(p, 50 << 20):
                    out.append(f"{p} has old content")
            except OSError:
                out.append(f"{p} vanished")
    return out


@contextlib.contextmanager
def watching(engine: Engine) -> Iterator[tuple[Watcher, list[Any]]]:
    """A running watcher and the index passes it reports; stopped and joined on the way out."""
    passes: list[Any] = []
    w = Watcher(engine, debounce_s=0.5, max_wait_s=10.0, on_update=passes.append)
    w.start()
    t = threading.Thread(target=w.run_forever, name="watcher")
    t.start()
    time.sleep(0.3)
    try:
        yield w, passes
    finally:
        w.stop()
        t.join(timeout=60)


def settle(engine: Engine, w: Watcher, folder: Path, timeout: float) -> list[str]:
    end = time.monotonic() + timeout
    diff = ["not checked"]
    while time.monotonic() < end:
        time.sleep(0.5)
        if w.queue.pending():
            continue
        diff = matches_disk(engine.paths.home, folder)
        if not diff:
            break
    return diff


@pytest.mark.slow
def test_ten_thousand_events_are_coalesced_and_the_index_ends_right(
    engine: Engine, docs: Path
) -> None:
    n = 200
    for i in range(n):
        (docs / f"n{i:03d}.txt").write_text(f"Note {i} tok{i:03d}r00", encoding="utf-8")
    engine.add_root(docs)
    engine.index()
    with watching(engine) as (w, passes):
        t0 = time.monotonic()
        rev = 0
        # an editor saving the same few hundred files over and over (a build, a sync client)
        while w.queue.events_seen < 10_000 and rev < 99:
            rev += 1
            for i in range(n):
                (docs / f"n{i:03d}.txt").write_text(
                    f"Note {i} tok{i:03d}r{rev:02d}", encoding="utf-8"
                )
        burst_s = time.monotonic() - t0
        events = w.queue.events_seen
        diff = settle(engine, w, docs, timeout=180)
        settled_s = time.monotonic() - t0
    assert events >= 10_000
    assert diff == []
    assert engine.verify() == []
    assert 1 <= len(passes) <= 12, f"{len(passes)} index passes for {events} events"
    for i in (0, n // 2, n - 1):  # spot check: only the last revision is findable
        tok = f"tok{i:03d}r{rev:02d}"
        assert [Path(r.path).name for r in engine.search(tok, SearchOptions(mode="keyword"))] == [
            f"n{i:03d}.txt"
        ]
        assert not engine.search(f"tok{i:03d}r{rev - 1:02d}", SearchOptions(mode="keyword"))
    print(
        f"\n{events} events from {rev * n} writes in {burst_s:.1f} s -> {len(passes)} index "
        f"passes; index matched the disk {settled_s:.1f} s after the burst began"
    )


@pytest.mark.slow
def test_a_checkout_sized_burst_of_new_moved_and_deleted_files(engine: Engine, docs: Path) -> None:
    """Thousands of files appear, a folder of them is renamed, another is deleted, as a git
    checkout or an unzip does; the same text in each, so the test pays for one embedding."""
    engine.add_root(docs)
    engine.index()
    with watching(engine) as (w, passes):
        t0 = time.monotonic()
        for d in range(20):
            sub = docs / f"pkg{d:02d}"
            sub.mkdir()
            for i in range(100):
                (sub / f"m{i:03d}.md").write_text(
                    "# Module\n\nShared boilerplate text.\n", encoding="utf-8"
                )
        time.sleep(1.0)  # part of it is indexed meanwhile: moves and deletions race with it
        (docs / "pkg00").rename(docs / "renamed00")
        shutil.rmtree(docs / "pkg01")
        events = w.queue.events_seen
        diff = settle(engine, w, docs, timeout=240)
        settled_s = time.monotonic() - t0
    assert diff == []
    assert engine.verify() == []
    n_files = engine.catalog.db.execute("SELECT count(*) FROM files").fetchone()[0]
    assert n_files == 1900
    print(
        f"\n{events}+ events for 2,000 new files, a renamed and a deleted folder -> "
        f"{len(passes)} index passes, index matched the disk after {settled_s:.1f} s"
    )


def test_searches_keep_answering_while_indexing(engine: Engine, docs: Path) -> None:
    for i in range(40):
        (docs / f"d{i:03d}.txt").write_text(
            f"Document {i}. The migration of the arctic tern covers {i * 1000} kilometres.\n\n"
            + "Seabirds nest on cliffs and feed on small fish. " * 10,
            encoding="utf-8",
        )
    engine.add_root(docs)
    (docs / "first.txt").write_text("The puffin has a colourful beak.", encoding="utf-8")
    engine.index(paths=[str(docs / "first.txt")])
    searcher = engine.searcher()
    errors: list[BaseException] = []
    latencies: list[float] = []
    done = threading.Event()
    seen_paths: set[str] = set()

    def search_loop() -> None:
        queries = [
            ("puffin beak", "hybrid"),
            ("tern", "keyword"),
            ("birds at sea", "dense"),
            ("migration -puffin", "hybrid"),
        ]
        i = 0
        while not done.is_set():
            q, mode = queries[i % len(queries)]
            i += 1
            t0 = time.perf_counter()
            try:
                for r in searcher.search(q, SearchOptions(mode=mode, k=5)):
                    seen_paths.add(r.path)
            except BaseException as e:  # every error is a failure here
                errors.append(e)
            latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=search_loop) for _ in range(2)]
    for th in threads:
        th.start()
    try:
        t0 = time.monotonic()
        rep = engine.index()
        index_s = time.monotonic() - t0
    finally:
        done.set()
        for th in threads:
            th.join()
    assert errors == [], errors[:3]
    assert rep.indexed == 40
    assert len(latencies) >= 10, "the query lane kept answering during indexing"
    assert str(docs / "first.txt") in seen_paths
    assert {str(docs / f"d{i:03d}.txt") for i in range(40)} & seen_paths, (
        "files became findable while the run went on"
    )
    assert engine.verify() == []
    lat = sorted(latencies)
    print(
        f"\n{len(lat)} searches during a {index_s:.1f} s indexing run: median "
        f"{lat[len(lat) // 2] * 1000:.0f} ms, p95 {lat[int(len(lat) * 0.95)] * 1000:.0f} ms, "
        "0 errors"
    )


def test_an_overflowed_event_queue_leads_to_a_full_recheck(engine: Engine, docs: Path) -> None:
    """When the kernel drops events (inotify's queue is 16,384 deep by default), watchdog only
    logs it; the watcher then re-checks its roots whole."""
    (docs / "old.txt").write_text("The loris moves slowly.", encoding="utf-8")
    engine.add_root(docs)
    engine.index()
    w = Watcher(engine, debounce_s=0.2)
    w.start()
    try:
        # changes whose events were lost: made with no watch on the folder
        w._observer.unschedule_all()
        (docs / "old.txt").unlink()
        (docs / "new.txt").write_text("The tarsier has huge eyes.", encoding="utf-8")
        time.sleep(0.3)
        assert w.queue.pending() == 0
        logging.getLogger("watchdog.observers.inotify_c").warning(
            "Inotify queue overflowed; filesystem events were lost"
        )
        assert w.overflows == 1
        time.sleep(0.3)
        rep = w.process_pending()
        assert rep is not None and rep.indexed == 1 and rep.removed == 1
    finally:
        w.stop()
    assert matches_disk(engine.paths.home, docs) == []
