"""Query syntax and filters through the real engine: "phrases" must appear (also for hits found
by meaning), -words exclude a file, type:/in:/after:/before: filter, and the same filters given
as SearchOptions (the API and CLI form) do the same."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from desktop_search.errors import QueryError
from desktop_search.search import SearchOptions

OLD = datetime(2020, 3, 1).timestamp()

FILES = {
    "cardio/attack.txt": "A heart attack risk rises in cold winter weather for older adults.",
    "cardio/notes.md": "# Notes\n\nHeart attacks are linked to smoking and high blood pressure.",
    "cardio/scattered.txt": "The heart of the matter: the attack on the castle failed at dawn.",
    "garden/tomatoes.txt": "Water tomato plants deeply twice a week during a hot summer.",
    "code/heart.py": "def heart_rate(beats, seconds):\n    return beats * 60 / seconds\n",
    # two chunks: the word to exclude sits in the second, away from the words searched for
    "cardio/long.txt": (
        "Cardiac arrest and heart attack differ: an attack is a blocked artery, "
        "an arrest is an electrical failure of the heart rhythm. "
        * 2
        + "\n\n"
        + "Unrelated closing paragraph about a tobacco ban and smoking "
        "in public places, which many cities adopted over the last decades. " * 2
    ),
}


@pytest.fixture
def indexed(engine: Any, docs: Path) -> Any:
    for rel, text in FILES.items():
        p = docs / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    os.utime(docs / "garden/tomatoes.txt", (OLD, OLD))
    engine.settings.chunk_tokens = 40
    engine.settings.chunk_overlap = 0
    engine.add_root(docs)
    engine.index()
    return engine


def names(results: list[Any]) -> set[str]:
    return {Path(r.path).name for r in results}


def test_the_long_file_has_two_chunks(indexed: Any) -> None:
    row = indexed.catalog.db.execute(
        "SELECT count(*) FROM chunks c JOIN files f ON f.id=c.file_id WHERE f.path LIKE ?",
        ("%long.txt",),
    ).fetchone()
    assert row[0] >= 2


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_phrase_must_appear_in_every_mode(indexed: Any, mode: str) -> None:
    res = indexed.search('"heart attack"', SearchOptions(mode=mode, k=10))
    # "attacks" matches through the same stemmer as the index; words apart do not
    assert names(res) == {"attack.txt", "notes.md", "long.txt"}
    for r in res:
        assert r.passages and all("heart attack" in p.snippet.lower() for p in r.passages)


def test_dense_hits_without_the_phrase_are_dropped(indexed: Any) -> None:
    loose = indexed.search("heart attack castle", SearchOptions(mode="dense", k=10))
    assert "scattered.txt" in names(loose)
    strict = indexed.search('castle "heart attack"', SearchOptions(mode="dense", k=10))
    assert "scattered.txt" not in names(strict)


def test_excluded_word_drops_the_whole_file(indexed: Any) -> None:
    base = indexed.search("heart attack artery", SearchOptions(k=10))
    assert {"long.txt", "notes.md"} <= names(base)
    res = indexed.search("heart attack artery -smoking", SearchOptions(k=10))
    assert "notes.md" not in names(res)
    assert "long.txt" not in names(res)  # smoking is in its other chunk
    assert "attack.txt" in names(res)
    res = indexed.search('heart -"blood pressure"', SearchOptions(k=10))
    assert "notes.md" not in names(res) and "attack.txt" in names(res)


def test_type_filter_in_query_and_options(indexed: Any) -> None:
    assert names(indexed.search("heart type:md", SearchOptions(k=10))) == {"notes.md"}
    assert names(indexed.search("heart", SearchOptions(k=10, kinds=["markdown"]))) == {"notes.md"}
    assert names(indexed.search("heart rate type:code", SearchOptions(k=10))) == {"heart.py"}
    assert names(indexed.search("heart ext:py", SearchOptions(k=10))) == {"heart.py"}


def test_folder_filter_in_query_and_options(indexed: Any, docs: Path) -> None:
    assert names(indexed.search("water in:garden", SearchOptions(k=10))) == {"tomatoes.txt"}
    res = indexed.search("heart", SearchOptions(k=10, folders=[str(docs / "code")]))
    assert names(res) == {"heart.py"}
    assert not indexed.search("heart in:nowhere", SearchOptions(k=10))


def test_date_filters_in_query_and_options(indexed: Any) -> None:
    assert names(indexed.search("water plants before:2021", SearchOptions(k=10))) == {
        "tomatoes.txt"
    }
    assert "tomatoes.txt" not in names(
        indexed.search("water plants after:2021", SearchOptions(k=10))
    )
    opts = SearchOptions(k=10, after=time.time() - 3600)
    assert "tomatoes.txt" not in names(indexed.search("tomato", opts))
    opts = SearchOptions(k=10, before=datetime(2021, 1, 1).timestamp())
    assert names(indexed.search("tomato water", opts)) == {"tomatoes.txt"}
    with pytest.raises(QueryError, match="cannot read the date"):
        indexed.search("tomato after:someday")


def test_apostrophes_and_syntax_characters_are_safe(indexed: Any) -> None:
    assert indexed.search("heart's attack", SearchOptions(k=3))
    assert (
        indexed.search('NEAR(heart) AND "attack OR', SearchOptions(mode="keyword", k=3)) is not None
    )
    assert indexed.search("-smoking", SearchOptions(k=3)) == []  # nothing to look for


def test_title_weight_changes_keyword_ranking(indexed: Any) -> None:
    from desktop_search.search import Tuning

    # "notes" is only in notes.md's title (its file name) and its heading
    plain = indexed.search("notes", SearchOptions(mode="keyword", k=3))
    assert names(plain) == {"notes.md"}
    heavy = indexed.search(
        "notes", SearchOptions(mode="keyword", k=3, tuning=Tuning(title_weight=5.0))
    )
    assert heavy[0].score > plain[0].score
