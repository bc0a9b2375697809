"""The first hour with a real folder: every file findable by its words before meaning takes the
CPU, meaning in a useful order, progress in passages, and a hit's page where its words are."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pdf_maker import make_pdf

from desktop_search.engine import Engine
from desktop_search.index_progress import EMBEDDING
from desktop_search.indexer import FIRST_TASTE, HUGE_PASSAGES, SHORT_PASSAGES, embedding_order
from desktop_search.search import SearchOptions
from desktop_search.store import EmbedPlan

WORDS = ("river", "copper", "lantern", "meadow", "harbour", "falcon", "violin", "orchard")


def note(i: int) -> str:
    return (
        f"Note {i}. The {WORDS[i % 8]} item number {i} is described here with the code "
        f"zq{i:03d}x, so that a search for its words finds this note and no other one."
    )


def long_text(tag: str, paragraphs: int) -> str:
    return "\n\n".join(
        f"Section {j} of the {tag} manual. "
        + " ".join(
            f"The {WORDS[(j + k) % 8]} setting {j}.{k} controls how the {tag} engine behaves "
            "when the load is high and the queue is long."
            for k in range(12)
        )
        for j in range(paragraphs)
    )


def keyword_names(eng: Engine, query: str) -> list[str]:
    return [Path(r.path).name for r in eng.search(query, SearchOptions(mode="keyword", k=50))]


def test_every_file_is_findable_by_words_before_the_long_ones_get_meaning(
    engine: Engine, docs: Path
) -> None:
    for i in range(24):
        (docs / f"note{i:02d}.txt").write_text(note(i), encoding="utf-8")
    for tag in ("zebrafish", "quokka"):
        (docs / f"{tag}.md").write_text(long_text(tag, 60), encoding="utf-8")
    # the long files are the newest: size, not only age, decides who waits
    now = time.time()
    for tag in ("zebrafish", "quokka"):
        os.utime(docs / f"{tag}.md", (now, now))
    engine.add_root(docs)
    seen: dict[str, object] = {}

    def progress(done: int, total: int) -> bool:
        p = engine.index_progress()
        assert p is not None
        if p.phase == EMBEDDING and "first" not in seen:
            # the first moment meaning is computed: every file is already findable by words
            seen["first"] = (
                keyword_names(engine, "zq007x"),
                keyword_names(engine, "quokka"),
                engine.status().files,
                p.files_read,
                p.files_total,
            )
        return True

    rep = engine.index(progress)
    assert rep.indexed == 26
    found_note, found_long, files, read, total = seen["first"]  # type: ignore[misc]
    assert found_note == ["note07.txt"] and found_long == ["quokka.md"]
    # (a first taste of meaning may have gone to a few notes if reading took over 4 s)
    assert files["chunked"] + files["indexed"] == 26 and files["indexed"] <= FIRST_TASTE
    assert read == total == 26
    # meaning came to every short note before either long file
    done_at = dict(engine.catalog.db.execute("SELECT path, updated_at FROM files"))
    longs = [t for p, t in done_at.items() if p.endswith(".md")]
    notes = [t for p, t in done_at.items() if p.endswith(".txt")]
    assert max(notes) <= min(longs)
    passages = dict(
        engine.catalog.db.execute(
            "SELECT f.path, count(*) FROM chunks c JOIN files f ON f.id=c.file_id GROUP BY f.id"
        )
    )
    assert min(n for p, n in passages.items() if p.endswith(".md")) > SHORT_PASSAGES
    assert engine.status().meaning["passages_with_meaning"] == engine.status().chunks
    res = engine.search(
        "how the quokka engine behaves under a long queue", SearchOptions(mode="dense", k=3)
    )
    assert Path(res[0].path).name == "quokka.md"


def test_the_embedding_order_rule() -> None:
    day = 86_400 * 10**9

    def plan(name: str, passages: int, age_days: int) -> EmbedPlan:
        return EmbedPlan(0, name, 10**18 - age_days * day, passages, passages, passages * 150)

    files = [
        plan("old-note", 2, 400),
        plan("new-note", 3, 1),
        plan("new-report", 200, 0),
        plan("old-report", SHORT_PASSAGES + 1, 300),
        plan("api-manual", 5400, 0),
        plan("long-log", HUGE_PASSAGES + 1, 900),
        plan("mid-note", SHORT_PASSAGES, 30),
    ]
    assert [p.path for p in embedding_order(files)] == [
        "new-note",
        "mid-note",
        "old-note",  # short files, newest first
        "new-report",
        "old-report",  # then long ones, newest first
        "long-log",
        "api-manual",  # the huge ones last, the largest at the very end
    ]


def test_a_hit_shows_the_page_its_words_are_on(engine: Engine, docs: Path) -> None:
    """Short pages share a passage; the page shown is where the matched words are, not the
    page the passage starts on."""
    pages = [f"Page {n}. The committee met and reviewed routine matters." for n in range(1, 41)]
    pages[16] = "Page 17. The okapi hides in the Ituri rainforest, the committee heard."
    (docs / "minutes.pdf").write_bytes(make_pdf(pages))
    engine.add_root(docs)
    engine.index()
    hit = engine.search("okapi Ituri", SearchOptions(mode="keyword"))[0]
    assert hit.page == 17 and hit.passages[0].page == 17
    row = engine.catalog.db.execute(
        "SELECT page FROM chunks WHERE id=?", (hit.passages[0].chunk_id,)
    ).fetchone()
    assert row[0] < 17  # the passage itself starts on an earlier page


def test_the_fast_token_count_is_the_tokenizers_count(embedder: Any) -> None:
    """The chunker's count (llama_tokenize asked with no buffer) must be the real count: a
    chunk's boundaries, and so every stored vector's key, depend on it."""
    texts = [
        "",
        "word",
        "The okapi hides in the Ituri rainforest.",
        "naïve café – 東京 🎉",
        "x" * 5000,
        "a.b.c 0001045810-23-000175 IL-6 token216q",
        long_text("t", 3),
    ]
    for t in texts:
        assert embedder.count_tokens(t) == len(embedder.tokenize(t, special=False)), t[:40]
