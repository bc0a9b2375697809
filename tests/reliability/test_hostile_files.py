"""Hostile and odd input: every file is recorded with a reason (or indexed, maybe in part), none
stops the run, none makes memory or time run away."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, cli, unprivileged_prefix
from nasty_files import GENERATORS, Expect, busy_pdf, long_pdf, unreadable, write_corpus

from desktop_search.engine import Engine
from desktop_search.errors import ExtractionError, ExtractionTimeout, ModelError
from desktop_search.extract.worker import ExtractWorker, WorkerCrashed
from desktop_search.scan import storable_path
from desktop_search.search import SearchOptions
from desktop_search.store import INDEXED, Catalog

MEMORY_CEILING_MB = 1024


def outcomes(home: Path, root: Path) -> dict[str, tuple[str, str]]:
    """name relative to root -> (outcome, reason), outcome as the Expect states name them."""
    cat = Catalog(home / "catalog.sqlite3", readonly=True)
    try:
        rows = cat.db.execute("SELECT path, state, coalesce(error, '') FROM files").fetchall()
    finally:
        cat.close()
    out = {}
    for path, state, error in rows:
        if state in ("chunked", INDEXED):
            state = "partial" if error else "indexed"
        out[os.path.relpath(path, storable_path(str(root))[0])] = (state, error)
    return out


def check_outcomes(
    expected: dict[str, Expect], got: dict[str, tuple[str, str]], hits: dict[str, list[str]]
) -> None:
    wrong = []
    for name, exp in expected.items():
        key = storable_path(name)[0]
        state, reason = got.get(key, ("absent", ""))
        if state not in exp.states:
            wrong.append(f"{name!r}: {state} ({reason}), expected {exp.states}")
        elif exp.reason and state != "indexed" and not reason.startswith(exp.reason):
            wrong.append(f"{name!r}: reason {reason!r} does not start with {exp.reason!r}")
        elif state in ("failed", "skipped", "partial") and not reason:
            wrong.append(f"{name!r}: {state} without a reason")
        found = [p for p in hits.get(exp.word, []) if Path(p).name == Path(key).name]
        if exp.word and state in ("indexed", "partial") and not found:
            wrong.append(f"{name!r}: {exp.word!r} not found by keyword search")
    assert not wrong, "\n".join(wrong)


@pytest.mark.slow
def test_hostile_corpus_is_recorded_and_never_stops_the_run(tmp_path: Path) -> None:
    root = tmp_path / "nasty"
    expected = write_corpus(root, only=tuple(g for g in GENERATORS if g != "stuck_pdf"))
    prefix = unprivileged_prefix()
    if prefix is not None:  # permissions can be made to apply: include an unreadable file
        expected.update(unreadable(root))
    words = sorted({e.word for e in expected.values() if e.word})
    spec = {
        "home": str(tmp_path / "home"),
        "roots": [str(root)],
        "timeout": 60,
        "words": words,
        "query": "a small animal",
    }
    proc = subprocess.run(
        [
            *(prefix or []),
            sys.executable,
            str(Path(__file__).with_name("engine_run.py")),
            json.dumps(spec),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["verify"] == []
    check_outcomes(expected, outcomes(tmp_path / "home", root), result["hits"])
    # status says why, for every file it could not index in full
    reasons = {Path(p["path"]).name: p for p in result["status"]["problems"]}
    for name in ("stuck.pdf", "bomb.docx", "encrypted.pdf", "binary.txt", "huge.log"):
        if name in expected:
            assert reasons[name]["reason"], name
    assert result["maxrss_mb"] < MEMORY_CEILING_MB, result["maxrss_mb"]
    assert result["worker_maxrss_mb"] < MEMORY_CEILING_MB, result["worker_maxrss_mb"]
    assert result["dense"], "searching by meaning still works after the hostile run"
    print(
        f"\nhostile corpus: {len(expected)} files, indexed in {result['report']['seconds']:.1f}"
        f" s, peak RSS {result['maxrss_mb']:.0f} MB (worker {result['worker_maxrss_mb']:.0f}"
        f" MB); unreadable file included: {prefix is not None}"
    )


def test_a_pdf_that_keeps_the_parser_busy_is_stopped_and_the_run_goes_on(
    tmp_path: Path, docs: Path
) -> None:
    (docs / "stuck.pdf").write_bytes(busy_pdf())
    (docs / "after.txt").write_text("The dugong grazes on seagrass.", encoding="utf-8")
    eng = Engine(tmp_path / "home")
    try:
        eng.extract_timeout_s = 0.25  # the page takes seconds
        eng.add_root(docs)
        rep = eng.index()
        assert [Path(p).name for p, _ in rep.failed] == ["stuck.pdf"]
        assert rep.failed[0][1].startswith("timeout:")
        assert rep.indexed == 1
        worker = eng.extract_worker()
        assert worker.kills == 1
        assert [Path(r.path).name for r in eng.search("dugong", SearchOptions(mode="keyword"))] == [
            "after.txt"
        ]
        problems = {Path(p["path"]).name: p for p in eng.status().problems}
        assert problems["stuck.pdf"]["state"] == "failed"
        # a failed file is not retried while it stays the same
        rep2 = eng.index()
        assert rep2.failed == [] and worker.kills == 1
        assert eng.verify() == []
    finally:
        eng.close()


def test_cancel_does_not_wait_for_a_stuck_file(tmp_path: Path, docs: Path) -> None:
    """A run cancelled while the worker is stuck in a file stops (the worker is killed); the
    file is not recorded as failed, and the next run meets it afresh."""
    (docs / "stuck.pdf").write_bytes(busy_pdf(pages=8))  # ~10 s of pages, then cancelled
    eng = Engine(tmp_path / "home")
    try:
        eng.extract_timeout_s = 600  # longer than this test may take: only cancel can stop it
        eng.add_root(docs)
        eng.embedder()
        cancel = threading.Event()
        result: list[Any] = []
        t = threading.Thread(
            target=lambda: result.append(eng.index(lambda _d, _t: not cancel.is_set()))
        )
        t.start()
        time.sleep(1.5)
        assert t.is_alive()
        cancel.set()
        t.join(timeout=60)
        assert not t.is_alive(), "cancel was not honoured while a file was stuck"
        assert result[0].cancelled
        assert eng.catalog.file_by_path(str(docs / "stuck.pdf")) is None
        eng.extract_timeout_s = 0.25
        rep = eng.index()
        assert [Path(p).name for p, _ in rep.failed] == ["stuck.pdf"]
        assert rep.failed[0][1].startswith("timeout")
    finally:
        eng.close()


def test_worker_memory_cap_and_crash_are_per_file_errors(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * (12 << 20))  # 60 MB of text: more than a 200 MB cap holds
    small = tmp_path / "small.txt"
    small.write_text("The quoll hunts at night.", encoding="utf-8")
    long = tmp_path / "long.pdf"
    long.write_bytes(long_pdf(3000, 2000))  # seconds of steady work in ~30 MB
    with ExtractWorker(timeout_s=30, memory_mb=200) as w:  # idle, the worker maps ~110 MB
        with pytest.raises(ExtractionError) as e:
            w.extract(big, max_bytes=64 << 20, max_chars=64 << 20)
        assert e.value.reason in ("too-large", "crashed", "corrupt")
        assert "memory" in str(e.value).lower() or e.value.reason == "crashed"
        assert "quoll" in w.extract(small).text  # the next file is fine

        # the worker dies under a file (an OOM kill, a crash in a parser)
        def kill_soon() -> None:
            time.sleep(0.5)
            pid = w.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_soon)
        killer.start()
        with pytest.raises(WorkerCrashed):
            w.extract(long)
        killer.join()
        assert "quoll" in w.extract(small).text
        assert w.crashes == 1 and w.starts == 2  # a MemoryError is survived in place
    busy = tmp_path / "busy.pdf"
    busy.write_bytes(busy_pdf())
    with ExtractWorker(timeout_s=0.25) as w:
        with pytest.raises(ExtractionTimeout):
            w.extract(busy)
        old = w.pid
        assert old is None  # killed, a new one starts on demand
        assert "quoll" in w.extract(small).text


def test_multiprocessing_flavour_of_the_worker(tmp_path: Path) -> None:
    """Frozen apps and Windows start the worker through multiprocessing's spawn."""
    p = tmp_path / "a.md"
    p.write_text("# Kiwi\n\nThe kiwi is a flightless bird.", encoding="utf-8")
    stuck = tmp_path / "stuck.pdf"
    stuck.write_bytes(busy_pdf())
    with ExtractWorker(timeout_s=0.25, use_multiprocessing=True) as w:
        doc = w.extract(p)
        assert doc.title == "Kiwi" and "flightless" in doc.text
        with pytest.raises(ExtractionTimeout):
            w.extract(stuck)
        assert "flightless" in w.extract(p).text
        assert w.kills == 1


def test_files_deleted_and_rewritten_while_indexing(engine: Engine, docs: Path) -> None:
    """A thread deletes, recreates and rewrites files the whole time an index runs; the run
    never fails, and the next one leaves the index exactly matching the disk."""
    n = 24
    # a few distinct texts per file: a rewrite costs a read, rarely an embedding
    for i in range(n):
        (docs / f"n{i}.txt").write_text(f"note about the platypus {i}", encoding="utf-8")
    engine.add_root(docs)
    stop = threading.Event()
    churn = {"ops": 0}

    def mutate() -> None:
        i = 0
        while not stop.is_set():
            p = docs / f"n{i % n}.txt"
            if i % 3 == 0:
                p.unlink(missing_ok=True)
            else:
                p.write_text(f"revision {i % 4} about the echidna", encoding="utf-8")
            churn["ops"] += 1
            i += 7
            time.sleep(0.002)

    t = threading.Thread(target=mutate)
    t.start()
    try:
        for _ in range(2):
            engine.index()
    finally:
        stop.set()
        t.join()
    engine.index()
    assert engine.verify() == []
    on_disk = {str(p) for p in docs.iterdir()}
    rows = {
        r[0]: r for r in engine.catalog.db.execute("SELECT path, state, content_hash FROM files")
    }
    assert set(rows) == on_disk
    from desktop_search.indexer import file_hash

    for path, (_p, state, h) in rows.items():
        assert state == INDEXED, path
        assert h == file_hash(path, 50 << 20), f"{path} indexed with stale content"
    assert churn["ops"] > 20


def test_bad_model_paths_are_one_clear_line_and_the_index_survives(
    tmp_path: Path, model_path: Path
) -> None:
    home = tmp_path / "home"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The cassowary has a casque on its head.", encoding="utf-8")
    cli(home, "add", str(docs))
    cli(home, "index")
    expected = {
        "truncated": "could not load",
        "not-gguf": "not a GGUF",
        "no-pooling": "not an embedding model",
        "reranker": "reranker",
        "missing": "not found",
    }
    for kind, words in expected.items():
        bad = tmp_path / f"{kind}.gguf"
        if kind == "not-gguf":
            bad.write_text("this is a text file\n", encoding="utf-8")
        elif kind == "truncated":
            with open(model_path, "rb") as f:
                bad.write_bytes(f.read(3_000_000))
        elif kind in ("no-pooling", "reranker"):
            from gguf import GGUFReader

            shutil.copyfile(model_path, bad)
            reader = GGUFReader(bad, "r+")
            reader.fields["bert.pooling_type"].parts[-1][0] = 0 if kind == "no-pooling" else 4
            del reader
        if kind == "truncated":  # llama.cpp parses it: in a process of its own, as a user would
            proc = cli(home, "--model", str(bad), "index", check=False)
            assert proc.returncode == 1, kind
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("desktop-search: "), proc.stderr
            assert words in lines[0], (kind, lines[0])
            continue
        eng = Engine(home, model_path=str(bad))
        try:
            with pytest.raises(ModelError) as e:
                eng.index()
            assert words in str(e.value) and "\n" not in str(e.value), (kind, e.value)
            assert eng.verify() == []
        finally:
            eng.close()
    res = json.loads(cli(home, "search", "bird with a helmet", "--json").stdout)
    assert Path(res[0]["path"]).name == "a.txt"


def test_a_long_pdf_that_keeps_making_progress_is_read_whole(tmp_path: Path) -> None:
    """The time budget grows with the pages while they keep coming (a fixed budget cut long
    but sane PDFs short on a busy machine); a page that never ends is still stopped."""
    long = tmp_path / "long.pdf"
    long.write_bytes(long_pdf(2000, 1000))  # a few seconds of steady PDFium work
    with ExtractWorker(timeout_s=0.5) as w:
        doc = w.extract(long)
        assert len(doc.pages) == 2000 and doc.page_at(len(doc.text) - 1) == 2000
        assert not [x for x in doc.warnings if x.startswith(("timeout", "truncated"))]
        assert w.kills == 0
