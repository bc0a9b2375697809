"""A new passage size re-cuts every file, and search keeps working meanwhile: a file keeps its
old passages, words and meaning, until its new ones have vectors (real model, SQLite, USearch)."""

from __future__ import annotations

from pathlib import Path

from desktop_search.engine import Engine
from desktop_search.search import SearchOptions

LETTER = (
    "Dear Mr. Vandermeulen,\n\nWe dispute invoice 2291 for the roof repair at Harbour Lane. "
    "The work was billed twice and the gutter was never replaced. We ask for a corrected "
    "invoice within fourteen days; until then the payment stays on hold.\n\n"
    + "The ladder marks on the wall and the broken tiles were photographed on arrival. "
    * 6
)
FILLER = {
    f"contents-{i}.txt": "Table of contents\n\n"
    + "\n".join(f"{n}. Chapter {n} .......... {n * 7}" for n in range(1, 30))
    for i in range(3)
}
NOTES = {
    f"note-{i}.txt": f"Garden note {i}: " + "Water the tomatoes and prune the roses. " * 30
    for i in range(4)
}


def first(eng: Engine, query: str, mode: str) -> str:
    return Path(eng.search(query, SearchOptions(k=5, mode=mode))[0].path).name


def test_search_keeps_old_passages_until_the_new_ones_are_in(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "letter-roof.txt").write_text(LETTER, encoding="utf-8")
    for name, text in {**FILLER, **NOTES}.items():
        (docs / name).write_text(text, encoding="utf-8")
    eng = Engine(tmp_path / "home")
    try:
        eng.add_root(docs)
        eng.index()
        n_files = len(list(docs.iterdir()))
        before = eng.catalog.chunk_count()
        query = "Vandermeulen invoice dispute"
        assert first(eng, query, "hybrid") == "letter-roof.txt"

        eng.settings.chunk_tokens = 48
        eng.settings.chunk_overlap = 8
        cut: list[int] = []

        def stop_midway(_done: int, _total: int) -> bool:
            left = eng.catalog.rechunk_left()
            cut.append(left)
            return left > n_files // 2  # pause with about half the files cut anew

        rep = eng.index(stop_midway)
        assert rep.cancelled
        left = eng.catalog.rechunk_left()
        assert 0 < left < n_files
        # meanwhile: every file still counts as searchable, by words and by meaning
        assert eng.status().files.get("indexed") == n_files
        for mode in ("hybrid", "dense", "keyword"):
            assert first(eng, query, mode) == "letter-roof.txt", mode
        assert first(eng, "watering tomatoes and pruning roses", "dense").startswith("note-")

        rep = eng.index()  # resumes: the rest is cut anew
        assert not rep.cancelled and eng.catalog.rechunk_left() == 0
        after = eng.catalog.chunk_count()
        assert after > before  # smaller passages: more of them
        longest = max(n for (n,) in eng.catalog.db.execute("SELECT n_tokens FROM chunks"))
        assert longest <= 48
        assert len(eng.vector_index()) == eng.catalog.chunk_count() - sum(
            1 for _ in eng.catalog.db.execute("SELECT 1 FROM chunks WHERE noise=1")
        )
        for mode in ("hybrid", "dense", "keyword"):
            assert first(eng, query, mode) == "letter-roof.txt", mode
        assert eng.status().files.get("indexed") == n_files
    finally:
        eng.close()
