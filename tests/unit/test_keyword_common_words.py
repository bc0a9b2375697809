"""Keyword search over common words: words in many passages only add to the scores of the
passages rarer words find (fast at a million passages), and the result is the same ranking as
scoring every word, for every passage a rarer word finds. Real engine, real FTS5 index."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from desktop_search import search as search_mod
from desktop_search.search import DEFAULT_TUNING, SearchOptions

RARE = {2: "mitochondria", 5: "mitochondria ribosome", 9: "ribosome", 14: "mitochondria"}


@pytest.fixture
def cells(engine: Any, docs: Path) -> Any:
    """100 notes that all mention cells, a few of them (3 %) also a rarer word."""
    for i in range(100):
        words = ["cells"] * (1 + i % 4) + ["grow", "in", "the", "lab", f"note{i}"]
        if i in RARE:
            words.append(RARE[i])
        if i == 20:
            words.append("increases")
        (docs / f"n{i:02d}.txt").write_text(" ".join(words) + ".\n", encoding="utf-8")
    engine.add_root(docs)
    engine.index()
    return engine


def keyword(eng: Any, q: str) -> list[tuple[str, float]]:
    opts = SearchOptions(k=50, mode="keyword")
    return [(Path(r.path).name, r.score) for r in eng.searcher().search(q, opts)]


def test_word_statistics_come_from_the_index(cells: Any) -> None:
    stats = cells.searcher().keyword_stats()
    assert stats.total_rows() == 100
    # the index's own stemmer: "increases" is stored as "increas"
    assert stats.stems(["increases", "cells"]) == {"increases": ("increas",), "cells": ("cell",)}
    assert stats.doc_freq(["cells", "mitochondria", "ribosome", "absent"]) == {
        "cells": 100,
        "mitochondria": 3,
        "ribosome": 2,
        "absent": 0,
    }


def test_common_words_rank_exactly_as_when_every_word_is_scored(
    cells: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    q = "mitochondria ribosome cells"
    exact = keyword_raw(cells, q, share=1)
    assert len(exact) == 100  # "cells" alone finds every note
    monkeypatch.setattr(search_mod, "COMMON_MIN_ROWS", 0)
    fast = keyword_raw(cells, q, share=DEFAULT_TUNING.common_share)
    # only the notes with a rarer word are found, in the same order and with the same BM25
    # the exact ranking gives them (their scores include what "cells" adds)
    assert {n for n, _ in fast} == {f"n{i:02d}.txt" for i in RARE}
    assert fast == [(n, pytest.approx(s)) for n, s in exact if n in dict(fast)]
    assert fast[0][0] == "n05.txt"  # both rare words


def keyword_raw(eng: Any, q: str, share: float) -> list[tuple[str, float]]:
    """The BM25 candidates before fusion, scores not normalised."""
    s = eng.searcher()
    pq = search_mod.parse_query(q)
    order, scores = s._keyword(s.catalog(), pq, replace(DEFAULT_TUNING, common_share=share), 400)
    path = {
        int(r[0]): Path(r[1]).name
        for r in s.catalog().db.execute(
            "SELECT c.id, f.path FROM chunks c JOIN files f ON f.id = c.file_id"
        )
    }
    return [(path[c], scores[c]) for c in order]


def test_a_query_of_common_words_only_still_finds(
    cells: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_mod, "COMMON_MIN_ROWS", 0)
    found = keyword_raw(cells, "cells grow lab", DEFAULT_TUNING.common_share)
    assert len(found) == 100  # the rarest of the three picks the candidates: every note


def test_matched_words_are_marked_with_the_index_stemmer(cells: Any) -> None:
    r = cells.searcher().search("increase", SearchOptions(k=5, mode="keyword"))
    assert Path(r[0].path).name == "n20.txt"
    a, b = r[0].highlights[0]
    assert r[0].snippet[a:b] == "increases"


def test_a_searcher_sees_what_is_indexed_after_its_last_query(cells: Any, docs: Path) -> None:
    """The scratch tables of the query lane must not hold an old snapshot of the catalog."""
    s = cells.searcher()
    assert keyword(cells, "zeppelin") == []
    (docs / "new.txt").write_text("A zeppelin over the lab.\n", encoding="utf-8")
    cells.index()
    assert [n for n, _ in keyword(cells, "zeppelin")] == ["new.txt"]
    assert s is cells.searcher()


def test_the_keyword_budget_lets_the_rarest_words_find(
    cells: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the budget of passages to score, the next rarest word only adds to scores."""
    monkeypatch.setattr(search_mod, "COMMON_MIN_ROWS", 0)
    q = "mitochondria ribosome"  # in 3 and 2 notes
    exact = dict(keyword_raw(cells, q, share=1))
    s = cells.searcher()
    tight = replace(DEFAULT_TUNING, keyword_budget=2)
    order, scores = s._keyword(s.catalog(), search_mod.parse_query(q), tight, 400)
    names = {
        int(r[0]): Path(r[1]).name
        for r in s.catalog().db.execute(
            "SELECT c.id, f.path FROM chunks c JOIN files f ON f.id = c.file_id"
        )
    }
    found = [(names[c], scores[c]) for c in order]
    assert [n for n, _ in found] == ["n05.txt", "n09.txt"]  # the notes with "ribosome"
    assert dict(found) == pytest.approx({n: exact[n] for n, _ in found})
