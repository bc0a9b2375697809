"""The CLI contract, run as a user runs it: a real subprocess per command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DESKTOP_SEARCH_HOME"}
    proc = subprocess.run(
        [sys.executable, "-m", "desktop_search.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


@pytest.fixture
def cli_index(tmp_path: Path) -> tuple[Path, Path]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "whales.txt").write_text(
        "Humpback whales migrate thousands of kilometres from polar feeding grounds to warm "
        "breeding waters, singing long complex songs.",
        encoding="utf-8",
    )
    (docs / "espresso.md").write_text(
        "# Pulling a shot\n\nGrind the coffee fine, tamp evenly and extract for about 25 "
        "seconds; a good shot has a thick crema.",
        encoding="utf-8",
    )
    (docs / "bad.pdf").write_bytes(b"%PDF-1.4 truncated garbage")
    home = tmp_path / "home"
    run(home, "add", str(docs))
    return home, docs


def test_add_roots_index_search_status(cli_index: tuple[Path, Path]) -> None:
    home, docs = cli_index
    roots = run(home, "roots").stdout
    assert str(docs.resolve()) in roots
    idx = run(home, "index")
    assert "bad.pdf" in idx.stdout + idx.stderr  # unreadable files are listed, exit is 0
    out = run(home, "search", "marine mammals that sing", "--json", "--k", "2").stdout
    results = json.loads(out)
    assert isinstance(results, list) and results
    first = results[0]
    assert Path(first["path"]).name == "whales.txt"
    for key in ("path", "score", "snippet", "page", "chunk_start", "chunk_end"):
        assert key in first
    assert first["page"] is None
    assert isinstance(first["chunk_start"], int) and first["chunk_end"] > first["chunk_start"]
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)

    for mode in ("dense", "keyword", "hybrid"):
        res = json.loads(run(home, "search", "crema espresso", "--mode", mode, "--json").stdout)
        assert Path(res[0]["path"]).name == "espresso.md", mode

    st = json.loads(run(home, "status", "--json").stdout)
    assert st["files"]["indexed"] == 2 and st["files"]["failed"] == 1
    assert st["chunks"] >= 2 and st["index_bytes"] > 0
    assert st["model"]["dims"] == 384
    assert [Path(p["path"]).name for p in st["problems"]] == ["bad.pdf"]
    assert st["problems"][0]["reason"]
    human = run(home, "status").stdout
    assert "bad.pdf" in human and "indexed" in human


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for args in (
        ("add", str(tmp_path / "nope")),
        ("index",),  # no folders yet
        ("remove", str(tmp_path)),
        ("--model", str(tmp_path / "missing.gguf"), "index"),
    ):
        proc = run(home, *args, check=False)
        assert proc.returncode == 1, args
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert proc.stderr.startswith("desktop-search: ")
    bad = tmp_path / "notamodel.gguf"
    bad.write_bytes(b"hello world, not a model")
    docs = tmp_path / "d"
    docs.mkdir()
    (docs / "a.txt").write_text("some text", encoding="utf-8")
    run(home, "add", str(docs))
    proc = run(home, "--model", str(bad), "index", check=False)
    assert proc.returncode == 1 and "not a GGUF" in proc.stderr
    usage = run(home, "search", check=False)
    assert usage.returncode == 2


def test_remove_drops_the_text(cli_index: tuple[Path, Path]) -> None:
    home, docs = cli_index
    run(home, "index")
    run(home, "remove", str(docs))
    assert json.loads(run(home, "search", "whales", "--json").stdout) == []
    st = json.loads(run(home, "status", "--json").stdout)
    assert st["chunks"] == 0 and st["roots"] == []


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_watch_stops_cleanly_on_ctrl_c_or_term(cli_index: tuple[Path, Path], sig: str) -> None:
    """Ctrl+C (or a TERM at logout) ends `watch` between updates: exit 0, the index saved,
    and a file written just before is findable afterwards."""
    import signal
    import time

    home, docs = cli_index
    env = {k: v for k, v in os.environ.items() if k != "DESKTOP_SEARCH_HOME"}
    watch = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "desktop_search.cli",
            "--home",
            str(home),
            "watch",
            "--debounce",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    seen = ""

    def read_until(text: str) -> None:
        nonlocal seen
        assert watch.stderr is not None
        while text not in seen:
            line = watch.stderr.readline()
            assert line, f"watch ended early: {seen}"
            seen += line

    try:
        read_until("Ctrl+C to stop")  # the catch-up index is done, events are watched
        (docs / "tides.txt").write_text(
            "Spring tides follow the full and the new moon.", encoding="utf-8"
        )
        read_until("updated:")
        time.sleep(0.3)
    finally:
        watch.send_signal(getattr(signal, sig))
        _out, err = watch.communicate(timeout=60)
    assert watch.returncode == 0, seen + err
    assert "stopped watching" in err
    res = run(home, "search", "spring tides", "--mode", "keyword", "--json")
    assert any(r["path"].endswith("tides.txt") for r in json.loads(res.stdout))
