"""The vector index file is a cache: damaged, it is rebuilt from the stored vectors (never by
re-embedding), and searching by meaning gives the same answer as before the damage."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_damaged_catalog import pristine, write_notes  # noqa: F401  (the shared fixture)

from desktop_search.engine import Engine
from desktop_search.search import SearchOptions

QUERY = "a small animal that hops across the sand"


def dense_top(home: Path) -> tuple[list[str], str]:
    eng = Engine(home)
    try:
        eng.vector_index()  # the writer lane's open: rebuilt here when damaged
        hits = [r.path for r in eng.search(QUERY, SearchOptions(mode="dense", k=5))]
        assert eng.verify() == []
        return hits, eng.open_notice
    finally:
        eng.close()


def garble(path: Path, how: str) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as f:
        if how == "truncated":
            f.truncate(size // 2)
        elif how == "header":
            f.write(os.urandom(64))
        else:
            f.seek(size // 2)
            f.write(os.urandom(4096))


@pytest.mark.parametrize("how", ["truncated", "header", "middle"])
def test_a_damaged_vector_index_is_rebuilt_from_the_catalog(
    pristine: Path,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
    how: str,
) -> None:
    shutil.copytree(pristine, tmp_path / "copy", symlinks=True)
    home = tmp_path / "copy" / "home"
    before, _ = dense_top(home)
    (usearch,) = (home / "index").glob("*.usearch")
    garble(usearch, how)
    after, notice = dense_top(home)
    assert after == before
    assert "rebuilt" in notice
