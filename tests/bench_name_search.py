"""How long finding files by a part of their name takes in a large home, with the trigram index
of names against the scan of every path it replaced, side by side in one run.

    python tests/bench_name_search.py [FILES]   (default 100,000 files + 30,000 photos)

Prints milliseconds per lookup for a rare code, a common word, two words, a sentence and a
word in no name; a synthetic home in a temporary folder, nothing else is touched.
"""

from __future__ import annotations

import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from desktop_search.store import Catalog

WORDS = [
    "report",
    "invoice",
    "letter",
    "notes",
    "draft",
    "final",
    "scan",
    "photo",
    "budget",
    "minutes",
    "plan",
    "tax",
    "receipt",
]
QUERIES = (
    ["invoice-2291"],
    ["invoice"],
    ["tax", "receipt"],
    ["what", "did", "the", "landlord"],
    ["zzq"],
)


def build(cat: Catalog, files: int) -> None:
    rng = random.Random(1)
    with cat.transaction():
        cat.db.execute("INSERT INTO roots(id, path, added_at) VALUES (1, '/home/u/Documents', 0)")
        rows = []
        for i in range(files):
            folder = "/".join(
                f"{rng.choice(WORDS)}{rng.randint(0, 50)}" for _ in range(rng.randint(1, 3))
            )
            name = f"{rng.choice(WORDS)}-{i}-{rng.choice(WORDS)}.txt"
            rows.append((1, f"/home/u/Documents/{folder}/{name}", 100, i, "indexed", 0.0))
        cat.db.executemany(
            "INSERT INTO files(root_id, path, size, mtime_ns, state, updated_at)"
            " VALUES (?,?,?,?,?,?)",
            rows,
        )
        cat.db.executemany(
            "INSERT INTO other_files(root_id, path, size, mtime_ns) VALUES (?,?,?,?)",
            [
                (1, r[1].replace("/Documents/", "/Documents/Pictures/")[:-4] + ".jpg", 1, 1)
                for r in rows[: files * 3 // 10]
            ],
        )


def per_lookup_ms(cat: Catalog, words: list[str], rounds: int = 5) -> float:
    t = time.perf_counter()
    for _ in range(rounds):
        cat.files_named(words, 200)
    return (time.perf_counter() - t) / rounds * 1000


def main() -> None:
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as d:
        cat = Catalog(Path(d) / "catalog.sqlite3")
        build(cat, files)
        with_index = {" ".join(q): per_lookup_ms(cat, q) for q in QUERIES}
        cat.db.execute("DROP TABLE name_grams")  # as a home opened before the index: path scan
        try:
            scan = {" ".join(q): per_lookup_ms(cat, q) for q in QUERIES}
        finally:
            cat.close()
    print(f"{files:,} files + {files * 3 // 10:,} photos, sqlite {sqlite3.sqlite_version}")
    print(f"{'query':28} {'trigram ms':>11} {'path scan ms':>13} {'ratio':>7}")
    for q, ms in with_index.items():
        print(f"{q:28} {ms:11.1f} {scan[q]:13.1f} {scan[q] / max(ms, 1e-3):7.0f}x")


if __name__ == "__main__":
    main()
