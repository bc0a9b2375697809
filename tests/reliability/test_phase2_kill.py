"""kill -9 while meaning is being added: no keyword row is lost, and the next run embeds only
what had no vector yet (each slice's vectors were committed)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, cli, home_problems


def test_kill_during_phase_two_keeps_every_word_and_resumes_the_vectors(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(40):
        (docs / f"note{i:02d}.txt").write_text(
            f"Note {i}: the shipment zk{i:03d}w left the depot on a rainy morning and the "
            "driver wrote down every stop in the little notebook.",
            encoding="utf-8",
        )
    (docs / "manual.md").write_text(
        "\n\n".join(
            f"Chapter {j}. "
            + " ".join(
                f"Rule {j}.{k}: the pump must be primed before the valve "
                "is opened, and the gauge read twice."
                for k in range(10)
            )
            for j in range(60)
        ),
        encoding="utf-8",
    )
    home = tmp_path / "home"
    cli(home, "add", str(docs))
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop_search.cli", "--home", str(home), "index"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    catalog = home / "catalog.sqlite3"
    deadline = time.monotonic() + 240
    vectors = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            try:
                db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=1)
                vectors = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
                db.close()
            except sqlite3.Error:
                continue
            if vectors >= 64:  # a slice is committed, the long manual is still waiting
                break
        assert proc.poll() is None, "indexing finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)

    status = json.loads(cli(home, "status", "--json").stdout)
    meaning = status["meaning"]
    assert meaning["files_findable_by_words"] == 41  # phase 1 had committed every file
    assert 64 <= meaning["passages_with_meaning"] < meaning["passages"]
    for word in ("zk000w", "zk039w", "primed"):
        hits = json.loads(cli(home, "search", word, "--mode", "keyword", "--json").stdout)
        assert hits, word
    left = meaning["passages"] - meaning["passages_with_meaning"]
    report = json.loads(cli(home, "index", "--json").stdout)
    assert report["chunks_embedded"] <= left  # the committed slices are not embedded again
    assert report["new"] == report["changed"] == 0
    after = json.loads(cli(home, "status", "--json").stdout)
    assert after["files"]["indexed"] == 41
    assert after["meaning"]["passages_with_meaning"] == after["meaning"]["passages"]
    problems, _how = home_problems(home)
    assert problems == []
