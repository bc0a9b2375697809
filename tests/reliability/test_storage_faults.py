"""Storage faults: a disk that fills up, a home that cannot be written, two writers on one
home, a vector file left over from a state the catalog lost. Each is one clear error (or a
silent repair), and the index stays intact and searchable."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import cli, home_problems

from desktop_search.engine import Engine, writer_failure
from desktop_search.search import SearchOptions
from desktop_search.vector_index import VectorIndex


def write_notes(folder: Path, start: int, n: int, words: int = 120) -> None:
    folder.mkdir(exist_ok=True)
    for i in range(start, start + n):
        body = " ".join(f"w{(i * 7 + k) % 997}" for k in range(words))
        (folder / f"note{i:03d}.txt").write_text(
            f"Note {i} about the heron{i:03d}q.\n\n{body}", encoding="utf-8"
        )


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("desktop-search: "), lines
    assert all(n in lines[0] for n in needles), lines[0]
    return lines[0]


def fill(fs: Path, leave: int) -> Path:
    """Fills the filesystem, then frees `leave` bytes."""
    filler = fs / "filler"
    # unbuffered: a buffered file keeps the bytes of a short write and fails again on close
    with open(filler, "wb", buffering=0) as f:
        block = b"\0" * 65536
        try:
            while True:
                f.write(block)
        except OSError as e:
            assert e.errno == errno.ENOSPC
        size = f.tell()
    with open(filler, "r+b") as f:
        f.truncate(max(0, size - leave))
    return filler


@pytest.mark.slow
def test_disk_full_is_one_clear_error_and_nothing_is_lost(
    tmp_path: Path, small_fs: Callable[[int], Path]
) -> None:
    fs = small_fs(6144)
    home = fs / "home"
    docs = tmp_path / "docs"
    write_notes(docs, 0, 10)
    cli(home, "add", str(docs))
    cli(home, "index")
    failures = []
    # Run out of space at different points: on opening (no room for the WAL index), during
    # the catalog's commits early and late in the run.
    for step, leave in enumerate((0, 64 << 10, 400 << 10)):
        write_notes(docs, 10 + 10 * step, 10, words=150)
        filler = fill(fs, leave)
        proc = cli(home, "index", check=False)
        if proc.returncode != 0:
            failures.append(one_line_error(proc, "disk is full"))
        problems, _how = home_problems(home)
        assert problems == [], (leave, problems)
        if step == 0:  # searching needs no space
            res = json.loads(cli(home, "search", "heron003q", "--mode", "keyword", "--json").stdout)
            assert [Path(r["path"]).name for r in res] == ["note003.txt"]
        filler.unlink()
        problems, _how = home_problems(home)  # again, with room for FTS5's own check
        assert problems == [], (leave, problems)
    assert len(failures) >= 2, failures
    assert any(f.startswith("desktop-search: cannot index: the disk is full") for f in failures)
    cli(home, "index")
    problems, how = home_problems(home)
    assert problems == [] and how == "loaded"
    db = sqlite3.connect(f"file:{home / 'catalog.sqlite3'}?mode=ro", uri=True)
    states = dict(db.execute("SELECT state, count(*) FROM files GROUP BY state"))
    db.close()
    assert states == {"indexed": 40}
    assert not list(home.rglob("*.tmp")), "no half-written temp file is left behind"
    print("\ndisk full:", *failures, sep="\n  ")


def test_vector_index_save_on_a_full_disk(small_fs: Callable[[int], Path]) -> None:
    """USearch says only "Failed to serialize into stream": it becomes ENOSPC, the half-written
    temp file goes, the file saved before stays, and the engine's message says disk full."""
    fs = small_fs(512)
    rng = np.random.default_rng(6)
    vi = VectorIndex(fs / "index" / "vectors-test", 384)
    vi.add(np.arange(100, dtype=np.uint64), rng.random((100, 384), dtype=np.float32))
    vi.save(1)
    before = sorted(p.name for p in (fs / "index").iterdir())
    vi.add(np.arange(100, 1000, dtype=np.uint64), rng.random((900, 384), dtype=np.float32))
    with pytest.raises(OSError) as e:
        vi.save(2)
    assert e.value.errno == errno.ENOSPC
    assert sorted(p.name for p in (fs / "index").iterdir()) == before
    assert "disk is full" in str(writer_failure(e.value, fs))
    loaded = VectorIndex(fs / "index" / "vectors-test", 384)
    loaded._index.load(str(fs / "index" / before[0]))
    assert len(loaded) == 100


def test_read_only_home_still_searches(tmp_path: Path, unprivileged: list[str]) -> None:
    home = tmp_path / "home"
    docs = tmp_path / "docs"
    write_notes(docs, 0, 5)
    cli(home, "add", str(docs))
    cli(home, "index")
    copies = {"clean": tmp_path / "ro-clean"}
    shutil.copytree(home, copies["clean"])
    # a copy taken while a writer had it open: a WAL and its index are present
    eng = Engine(home)
    write_notes(docs, 5, 2)
    eng.index()
    copies["open"] = tmp_path / "ro-open"
    shutil.copytree(home, copies["open"])
    eng.close()
    assert (copies["open"] / "catalog.sqlite3-wal").exists()
    for kind, ro in copies.items():
        for p in [ro, *ro.rglob("*")]:
            p.chmod(0o500 if p.is_dir() else 0o400)
        try:
            res = json.loads(cli(ro, "search", "heron002q", "--json", prefix=unprivileged).stdout)
            assert [Path(r["path"]).name for r in res][:1] == ["note002.txt"], kind
            one_line_error(cli(ro, "index", check=False, prefix=unprivileged), "read-only")
            if kind == "clean":
                st = json.loads(cli(ro, "status", "--json", prefix=unprivileged).stdout)
                assert st["files"]["indexed"] == 5
                one_line_error(
                    cli(ro, "add", str(docs), check=False, prefix=unprivileged), "read-only"
                )
        finally:
            for p in [ro, *ro.rglob("*")]:
                p.chmod(0o700 if p.is_dir() else 0o600)
        problems, _ = home_problems(ro)
        assert problems == []


def test_two_writers_never_write_at_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    docs = tmp_path / "docs"
    write_notes(docs, 0, 20, words=60)
    eng = Engine(home)
    try:
        eng.add_root(docs)
        started = threading.Event()
        release = threading.Event()

        def slow_progress(done: int, total: int) -> bool:
            started.set()
            release.wait(30)
            return True

        t = threading.Thread(target=eng.index, args=(slow_progress,))
        t.start()
        assert started.wait(60)
        proc = cli(home, "index", check=False)  # another process, while this one indexes
        one_line_error(proc, "another desktop-search process")
        release.set()
        t.join()
        # now the other process may index (more files); this engine's in-memory vector index
        # then no longer matches the catalog and is reopened before its next write
        write_notes(docs, 20, 3, words=60)
        (docs / "note021.txt").write_text(
            "The lighthouse keeper logged every passing ship in a leather book.", encoding="utf-8"
        )
        cli(home, "index")
        (docs / "note000.txt").unlink()
        eng.index()
        assert eng.verify() == []  # its vector index holds exactly the indexed chunks
        res = eng.search(
            "who records the boats going by the coast", SearchOptions(mode="dense", k=3)
        )
        assert Path(res[0].path).name == "note021.txt"
    finally:
        eng.close()
    problems, how = home_problems(home)
    assert problems == [] and how == "loaded"


def test_vector_file_from_a_lost_future_is_never_loaded(tmp_path: Path) -> None:
    """After a power cut the catalog can be older than the saved vector file. The stale file
    must go at once: if the catalog later reached its generation again, with other contents,
    it would be loaded as if it were current."""
    home = tmp_path / "home"
    docs = tmp_path / "docs"
    write_notes(docs, 0, 6)
    eng = Engine(home)
    eng.add_root(docs)
    eng.index()
    eng.close()
    saved = tmp_path / "catalog-then"
    shutil.copyfile(home / "catalog.sqlite3", saved)  # closed cleanly: no WAL
    eng = Engine(home)
    write_notes(docs, 6, 4)
    eng.index()
    eng.close()
    stale = list((home / "index").glob("*.usearch"))
    assert len(stale) == 1
    shutil.copyfile(saved, home / "catalog.sqlite3")  # the later commits are lost
    eng = Engine(home)
    try:
        eng.vector_index()
        assert eng.open_notice == "vector index rebuilt from stored vectors"
        files = list((home / "index").glob("*.usearch"))
        assert stale[0] not in files and len(files) == 1
        assert eng.verify() == []
        rep = eng.index()  # the lost files are simply indexed again
        assert rep.indexed == 4 and eng.verify() == []
    finally:
        eng.close()


def test_engine_refuses_to_start_where_it_cannot_create_its_home(
    tmp_path: Path, unprivileged: list[str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        proc = cli(locked / "home", "status", check=False, prefix=unprivileged)
        one_line_error(proc, "cannot create the index folder")
    finally:
        locked.chmod(0o700)
    assert not os.path.exists(locked / "home")
