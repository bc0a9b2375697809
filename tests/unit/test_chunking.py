from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_search.chunking import chunk_text


def words(s: str) -> int:
    return len(s.split())


def test_chunks_respect_budget_and_cover_text() -> None:
    para = " ".join(f"Sentence number {i} says something." for i in range(40))
    text = "\n\n".join([para] * 5)
    chunks = chunk_text(text, words, max_tokens=50, overlap=8)
    assert all(c.tokens <= 50 for c in chunks)
    assert all(words(text[c.start : c.end]) <= 50 for c in chunks)
    # every word of the text lies in some chunk
    covered = [False] * len(text)
    for c in chunks:
        for i in range(c.start, c.end):
            covered[i] = True
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())


def test_chunks_overlap_and_prefer_sentence_boundaries() -> None:
    text = " ".join(f"Fact {i} is true." for i in range(100))
    chunks = chunk_text(text, words, max_tokens=40, overlap=8)
    assert len(chunks) > 2
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end, "consecutive chunks share their boundary sentences"
        assert text[a.end - 1] == ".", "a chunk ends at a sentence end"


def test_paragraph_start_is_a_preferred_cut() -> None:
    p1 = " ".join(["alpha."] * 40)
    p2 = " ".join(["beta."] * 30)
    text = p1 + "\n\n" + p2
    chunks = chunk_text(text, words, max_tokens=50, overlap=0)
    assert text[chunks[0].start : chunks[0].end] == p1


def test_one_enormous_word_is_cut_by_characters() -> None:
    text = "x" * 10_000
    chunks = chunk_text(text, lambda s: len(s) // 3 + 1, max_tokens=100, overlap=10)
    assert all(c.tokens <= 100 for c in chunks)
    assert chunks[0].start == 0 and chunks[-1].end == len(text)


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=0, max_size=3000))
def test_any_text_gives_valid_chunks(text: str) -> None:
    chunks = chunk_text(text, lambda s: len(s.split()) + len(s) // 20, max_tokens=64, overlap=8)
    for c in chunks:
        assert 0 <= c.start < c.end <= len(text)
        assert text[c.start : c.end].strip()
        assert c.tokens <= 64


def test_base64_blobs_are_not_indexed_but_prose_and_cjk_are(embedder) -> None:  # type: ignore[no-untyped-def]
    import base64
    import os as _os

    blob = base64.encodebytes(_os.urandom(30_000)).decode()  # 76-char lines, ~40 KB
    prose = "The committee approved the budget for the new library after a long debate."
    cjk = "東京は日本の首都であり、世界で最も人口の多い都市圏の一つです。"
    text = f"{prose}\n\n{blob}\n\n{cjk}"
    chunks = chunk_text(text, embedder.count_tokens, max_tokens=200, overlap=20)
    kept = " ".join(text[c.start : c.end] for c in chunks)
    assert prose in kept and cjk in kept
    assert len(kept) < len(prose) + len(cjk) + 100  # at most the blob's short last line
