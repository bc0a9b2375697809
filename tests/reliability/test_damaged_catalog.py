"""A catalog damaged the way a disk damages it (a page overwritten, the file cut short, the
header zeroed): status, search and index each say so in one line (exit 1, no traceback), and
`desktop-search repair` brings the home back, keeping every vector it can read."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import cli

from desktop_search.engine import Engine
from desktop_search.errors import CatalogDamaged
from desktop_search.repair import repair

ANIMALS = [
    "aardvark",
    "axolotl",
    "bittern",
    "capybara",
    "dugong",
    "echidna",
    "fossa",
    "gharial",
    "hoatzin",
    "ibex",
    "jerboa",
    "kakapo",
    "lemur",
    "margay",
    "narwhal",
    "okapi",
    "pangolin",
    "quokka",
    "serval",
    "tapir",
    "uakari",
    "vicuna",
    "wombat",
    "xerus",
    "yapok",
    "zorilla",
]


def write_notes(folder: Path) -> None:
    """One note per animal, several passages each: a catalog of a few dozen pages."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(ANIMALS):
        paras = [
            f"Field note {i} on the {name}. "
            + " ".join(
                f"The {name} was seen near marker {i * 50 + j} eating leaves at dusk, "
                f"and observer {j} wrote down its path across the clearing."
                for j in range(12)
            )
            for _ in range(3)
        ]
        (folder / f"{name}.txt").write_text("\n\n".join(paras), encoding="utf-8")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An indexed home, closed cleanly; each test damages a copy of it."""
    base = tmp_path_factory.mktemp("pristine")
    write_notes(base / "notes")
    eng = Engine(base / "home")
    try:
        eng.add_root(base / "notes")
        rep = eng.index()
        assert rep.indexed == len(ANIMALS)
    finally:
        eng.close()
    return base


@pytest.fixture
def home(pristine: Path, tmp_path: Path) -> Path:
    shutil.copytree(pristine, tmp_path / "copy", symlinks=True)
    # the root path is stored absolute: give the copy the same folder it indexed
    return tmp_path / "copy" / "home"


def pages_of(catalog: Path, table: str) -> list[int]:
    db = sqlite3.connect(catalog)
    try:
        return [
            r[0]
            for r in db.execute(
                "SELECT pageno FROM dbstat WHERE name=? AND pagetype='leaf' ORDER BY pageno",
                (table,),
            )
        ]
    finally:
        db.close()


def page_size(catalog: Path) -> int:
    return int.from_bytes(catalog.read_bytes()[16:18], "big")


def overwrite_page(catalog: Path, page: int, fill: bytes | None = None) -> None:
    """What a bad sector or a sync tool does: one page's bytes replaced, the rest intact."""
    ps = page_size(catalog)
    with open(catalog, "r+b") as f:
        f.seek((page - 1) * ps)
        f.write(fill if fill is not None else os.urandom(ps))


def damage_middle_of_files(catalog: Path) -> None:
    pages = pages_of(catalog, "files")
    overwrite_page(catalog, pages[len(pages) // 2])


def damage_middle_of_chunks(catalog: Path) -> None:
    pages = pages_of(catalog, "chunks")
    overwrite_page(catalog, pages[len(pages) // 2])


def truncate(catalog: Path) -> None:
    size = catalog.stat().st_size
    ps = page_size(catalog)
    with open(catalog, "r+b") as f:
        f.truncate((size // ps) * 2 // 3 * ps)


def zero_header(catalog: Path) -> None:
    with open(catalog, "r+b") as f:
        f.write(bytes(100))


DAMAGES: dict[str, Callable[[Path], None]] = {
    "a page of the files table overwritten": damage_middle_of_files,
    "a page of the chunks table overwritten": damage_middle_of_chunks,
    "cut to two thirds": truncate,
    "header zeroed": zero_header,
}

# A page of chunks is read only by the commands that need its rows (status counts chunks from
# an index): the others may still work, but never with a traceback.
READ_AROUND = {"a page of the chunks table overwritten"}


def assert_one_line(proc: subprocess.CompletedProcess[str], home: Path) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert str(home) in line and "damaged" in line, line
    assert "your own files are untouched" in line and "desktop-search repair" in line, line


@pytest.mark.parametrize("damage", list(DAMAGES), ids=lambda d: d.replace(" ", "-"))
def test_damaged_catalog_gives_one_line_and_repair_brings_it_back(home: Path, damage: str) -> None:
    catalog = home / "catalog.sqlite3"
    DAMAGES[damage](catalog)
    damaged_bytes = catalog.read_bytes()
    reported = 0
    for args in (
        ["status"],
        ["search", "aardvark"],
        ["search", "the", "--mode", "keyword"],
        ["index"],
    ):
        proc = cli(home, *args, check=False)
        if proc.returncode == 0 and damage in READ_AROUND:
            assert "Traceback" not in proc.stderr  # a command that never read the bad page
            continue
        assert_one_line(proc, home)
        reported += 1
    assert reported, "the damage is met by at least one command"

    out = cli(home, "repair").stdout
    print(f"\n[{damage}]\n{out}")
    aside = [
        p for p in home.glob("catalog.sqlite3.damaged-*") if not p.name.endswith(("-wal", "-shm"))
    ]
    assert len(aside) == 1 and aside[0].read_bytes() == damaged_bytes, "kept, unchanged"
    assert "salvaged" in out and "re-indexed" in out and "repaired in" in out

    status = json.loads(cli(home, "status", "--json").stdout)
    assert status["files"]["indexed"] == len(ANIMALS), status["files"]
    for animal in ("aardvark", "margay", "zorilla"):
        hits = cli(home, "search", animal, "--mode", "keyword", "--json").stdout
        assert f"{animal}.txt" in hits, (animal, hits)
    eng = Engine(home)
    try:
        assert eng.verify() == []
        dense = eng.search("an animal with a long snout that eats ants")
        assert dense, "search by meaning works after the repair"
    finally:
        eng.close()


def test_repair_keeps_the_vectors_it_can_read(home: Path) -> None:
    """A page of chunks lost: only the files on it are redone, and their passages are not
    embedded again (their vectors, keyed by content, survived in another table)."""
    damage_middle_of_chunks(home / "catalog.sqlite3")
    rep = repair(home, use_recover=False)
    assert rep.method == "rows"
    assert rep.reindex is not None
    assert rep.salvaged["vectors"] > 0
    assert rep.reindex.changed + rep.reindex.new >= 1, "the files of the lost page are redone"
    assert rep.reindex.chunks_embedded == 0, "every vector was read back: nothing re-embedded"
    print(
        f"\nrow copy: salvaged {rep.salvaged}, {rep.unreadable_rows} unreadable rows, "
        f"{rep.reindex.changed + rep.reindex.new} files redone, "
        f"{rep.reindex.chunks_embedded} passages re-embedded, {rep.seconds:.1f} s"
    )


def test_a_page_of_vectors_lost_is_re_embedded(home: Path) -> None:
    catalog = home / "catalog.sqlite3"
    pages = pages_of(catalog, "sqlite_autoindex_vectors_1") or pages_of(catalog, "vectors")
    overwrite_page(catalog, pages[len(pages) // 2])
    rep = repair(home, use_recover=False)
    assert rep.reindex is not None
    assert 0 < rep.reindex.chunks_embedded < rep.salvaged["chunks"], rep
    eng = Engine(home)
    try:
        assert eng.verify() == []
    finally:
        eng.close()
    print(
        f"\nvectors page lost: {rep.reindex.chunks_embedded} passages re-embedded of "
        f"{rep.salvaged['chunks']}, {rep.seconds:.1f} s"
    )


def test_a_healthy_catalog_is_left_alone(home: Path) -> None:
    before = (home / "catalog.sqlite3").read_bytes()
    out = cli(home, "repair").stdout
    assert "nothing to repair" in out
    assert (home / "catalog.sqlite3").read_bytes() == before
    assert not list(home.glob("catalog.sqlite3.damaged-*"))


def test_an_unclean_close_makes_the_next_open_check_the_file(home: Path) -> None:
    """Damage where status never reads (a keyword-index page) is found by the quick check
    that runs when the previous writer did not close (its open marker is left behind)."""
    catalog = home / "catalog.sqlite3"
    # a writer killed while it held the catalog: its marker stays
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (home / f".catalog.sqlite3.open-{proc.stdout.strip()}").touch()
    pages = pages_of(catalog, "chunks_fts_data")
    overwrite_page(catalog, pages[len(pages) // 2])
    with pytest.raises(CatalogDamaged):
        Engine(home)
    assert_one_line(cli(home, "status", check=False), home)


def test_a_clean_close_leaves_no_marker(home: Path) -> None:
    eng = Engine(home)
    assert list(home.glob(".catalog.sqlite3.open-*"))
    eng.close()
    assert not list(home.glob(".catalog.sqlite3.open-*"))
