"""Crash safety: `desktop-search index` killed with SIGKILL at random moments (and, now and
then, a power cut: the WAL's unsynced tail lost), files changing between runs. After every kill
the home must be consistent (or repaired from stored vectors on open), and in the end every
file is indexed exactly once, with its current content."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, cli, home_problems

from desktop_search.indexer import file_hash
from desktop_search.store import FAILED, INDEXED, SKIPPED

KILLS = int(os.environ.get("RELIABILITY_KILLS", "20"))
BUDGET_S = float(os.environ.get("RELIABILITY_BUDGET_S", "60"))
SEED = int(os.environ.get("RELIABILITY_SEED", "6"))
N_FILES = 80
PROBE_FILES = 10

VOCAB = [
    "river",
    "mountain",
    "engine",
    "garden",
    "bridge",
    "lantern",
    "copper",
    "violin",
    "harbor",
    "meadow",
    "glacier",
    "orchard",
    "canyon",
    "falcon",
    "ember",
    "willow",
    "granite",
    "compass",
    "velvet",
    "thunder",
    "saddle",
    "prism",
    "cobalt",
    "marble",
    "tundra",
    "beacon",
    "quartz",
    "juniper",
    "walnut",
    "harvest",
    "ferry",
    "cactus",
    "spruce",
    "pebble",
    "summit",
    "coral",
]


def token(i: int, rev: int = 0) -> str:
    return f"uniq{i:04d}r{rev:02d}x"  # one FTS5 token, unique to a file and revision


def text_for(rng: random.Random, tok: str) -> str:
    paras = []
    for _ in range(rng.randint(1, 3)):
        words = rng.choices(VOCAB, k=rng.randint(60, 140))
        words.insert(rng.randrange(len(words)), tok)
        paras.append(" ".join(words) + ".")
    return "\n\n".join(paras)


class Corpus:
    """The folder and what it should index to: relative path -> its unique token."""

    def __init__(self, root: Path, rng: random.Random) -> None:
        self.root, self.rng = root, rng
        self.expected: dict[str, str] = {}
        self.next_id = 0
        root.mkdir()
        for _ in range(N_FILES):
            self.add()
        # files that fail or are skipped must be redone exactly once too
        (root / "binary.txt").write_bytes(bytes(range(256)) * 40)
        (root / "corrupt.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)

    def add(self) -> None:
        i = self.next_id
        self.next_id += 1
        rel = f"{'notes' if i % 2 else 'docs'}/{i:04d}.{'md' if i % 3 == 0 else 'txt'}"
        (self.root / rel).parent.mkdir(exist_ok=True)
        tok = token(i)
        (self.root / rel).write_text(text_for(self.rng, tok), encoding="utf-8")
        self.expected[rel] = tok

    def mutate(self) -> None:
        """Edits, deletions, renames and new files between runs."""
        rng = self.rng
        names = sorted(self.expected)
        for rel in rng.sample(names, 3):  # edit
            i = int(Path(rel).stem)
            rev = int(self.expected[rel][9:11]) + 1
            tok = token(i, rev)
            (self.root / rel).write_text(text_for(rng, tok), encoding="utf-8")
            self.expected[rel] = tok
        names = sorted(self.expected)
        for rel in rng.sample(names, 2):  # delete
            (self.root / rel).unlink()
            del self.expected[rel]
        names = sorted(self.expected)
        for rel in rng.sample(names, 2):  # rename into another folder
            new = f"moved/{Path(rel).name}"
            (self.root / "moved").mkdir(exist_ok=True)
            if (self.root / new).exists():
                continue
            os.replace(self.root / rel, self.root / new)
            self.expected[new] = self.expected.pop(rel)
        for _ in range(3):
            self.add()


def power_cut(home: Path, rng: random.Random) -> bool:
    """What a power cut can leave after synchronous=NORMAL: the WAL cut back to any frame
    after the last checkpoint's backfill (everything before it reached the database file),
    and a wal-index that no longer means anything."""
    wal = home / "catalog.sqlite3-wal"
    shm = home / "catalog.sqlite3-shm"
    if not wal.exists() or not shm.exists():
        return False
    hdr = shm.read_bytes()[:136]
    if len(hdr) < 100 or hdr[:48] != hdr[48:96]:
        return False  # the killed writer was updating the header: leave it to SQLite
    (page,) = struct.unpack_from("=H", hdr, 14)
    page = 65536 if page == 1 else page
    (mx_frame,) = struct.unpack_from("=I", hdr, 16)
    (backfill,) = struct.unpack_from("=I", hdr, 96)
    if not page or mx_frame <= backfill:
        return False
    keep = rng.randint(backfill, mx_frame - 1)
    with open(wal, "r+b") as f:
        f.truncate(32 + keep * (24 + page))
    shm.unlink()
    return True


def orphan_workers(parent_pids: set[int]) -> list[int]:
    """Extraction workers whose indexer was killed, still alive (their argv names the parent)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"desktop_search.extract.worker" in argv and len(argv) > 5:
            try:
                if int(argv[5]) in parent_pids:
                    out.append(int(d.name))
            except ValueError:
                continue
    return out


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="uses /proc and SQLite's Linux shm layout")
def test_kill9_at_random_moments_then_everything_indexed_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    corpus = Corpus(tmp_path / "root", rng)
    home = tmp_path / "home"

    # How long a run takes to start (interpreter, imports, model) on this machine, and what a
    # file costs after that: kills are spread from the start-up into some thirty files' work
    # (a fixed spread let most runs finish once indexing got faster, and few were killed).
    def index_seconds(folder: Path) -> float:
        probe_home = tmp_path / f"probe-{folder.name}"
        cli(probe_home, "add", str(folder))
        t_start = time.monotonic()
        cli(probe_home, "index")
        return time.monotonic() - t_start

    (tmp_path / "empty").mkdir()
    startup_s = index_seconds(tmp_path / "empty")
    probe_rng = random.Random(SEED + 1)
    (tmp_path / "sample").mkdir()
    for i in range(PROBE_FILES):
        (tmp_path / "sample" / f"{i}.txt").write_text(text_for(probe_rng, token(i)), "utf-8")
    per_file_s = max(0.0, index_seconds(tmp_path / "sample") - startup_s) / PROBE_FILES
    cli(home, "add", str(corpus.root))
    figures = {
        "kills": 0,
        "finished": 0,
        "power_cuts": 0,
        "mutations": 0,
        "opened_loaded": 0,
        "opened_rebuilt": 0,
        "opened_new": 0,
        "opened_none": 0,
    }
    killed: set[int] = set()
    t0 = time.monotonic()
    for i in range(KILLS):
        if time.monotonic() - t0 > BUDGET_S:
            break
        if i % 4 == 3:
            corpus.mutate()
            figures["mutations"] += 1
        proc = subprocess.Popen(
            [sys.executable, "-m", "desktop_search.cli", "--home", str(home), "index"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            delay = startup_s * rng.uniform(0.2, 1.5) + rng.uniform(0.0, 30 * per_file_s)
            _out, err = proc.communicate(timeout=delay)
            assert proc.returncode == 0, err.decode()[-2000:]
            figures["finished"] += 1
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()
            killed.add(proc.pid)
            figures["kills"] += 1
        if i % 3 == 2 and power_cut(home, rng):
            figures["power_cuts"] += 1
        t_check = time.monotonic()
        problems, how = home_problems(home)
        figures[f"opened_{how}"] += 1
        assert problems == [], f"after run {i}: {problems}"
        if os.environ.get("RELIABILITY_TRACE"):
            db = sqlite3.connect(f"file:{home / 'catalog.sqlite3'}?mode=ro", uri=True)
            states = dict(db.execute("SELECT state, count(*) FROM files GROUP BY state"))
            db.close()
            print(i, round(time.monotonic() - t_check, 2), how, states)

    final = cli(home, "index", "--json")  # a clean run to the end
    problems, how = home_problems(home)
    assert problems == []
    assert how == "loaded", "after a clean run the saved vector index matches the catalog"
    db = sqlite3.connect(f"file:{home / 'catalog.sqlite3'}?mode=ro", uri=True)
    rows = {p: (s, h) for p, s, h in db.execute("SELECT path, state, content_hash FROM files")}
    want = {str(corpus.root / rel) for rel in corpus.expected}
    odd = {str(corpus.root / "binary.txt"): SKIPPED, str(corpus.root / "corrupt.pdf"): FAILED}
    assert set(rows) == want | set(odd), "every file once, none that is gone"
    for path, (state, h) in rows.items():
        assert state == odd.get(path, INDEXED), path
        if path in want:
            assert h == file_hash(path, 50 << 20), f"{path}: indexed content is stale"
    for rel, tok in corpus.expected.items():
        hits = [
            r[0]
            for r in db.execute(
                "SELECT f.path FROM chunks_fts JOIN chunks c ON c.id=chunks_fts.rowid"
                " JOIN files f ON f.id=c.file_id WHERE chunks_fts MATCH ?",
                (tok,),
            )
        ]
        assert set(hits) == {str(corpus.root / rel)}, (rel, tok, hits)
    n_chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
    db.close()
    time.sleep(1.0)  # a worker notices its parent is gone within 0.5 s
    assert orphan_workers(killed) == []
    figures["seconds"] = round(time.monotonic() - t0)
    figures["startup_s"] = round(startup_s, 1)
    figures["per_file_s"] = round(per_file_s, 3)
    report = json.loads(final.stdout)
    print(
        f"\ncrash test (seed {SEED}): {figures}; {len(want)} files, {n_chunks} chunks; "
        f"the final run indexed {report['indexed']}, {report['unchanged']} were done already"
    )
    assert figures["kills"] >= min(KILLS, 10) // 2, figures
