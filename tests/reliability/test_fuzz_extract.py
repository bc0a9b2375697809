"""Fuzzing (hypothesis, bounded): mutated documents of every family through the real extraction
worker, and arbitrary text through the real chunker with the model's own tokenizer. Nothing may
crash, hang or break the Document and Chunk invariants the indexer relies on."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nasty_files import docx_text, epub_text, odt_text, pdf_bytes, text_page

from desktop_search.chunking import chunk_text
from desktop_search.errors import ExtractionError, ExtractionTimeout
from desktop_search.extract import Document
from desktop_search.extract.worker import ExtractWorker, WorkerCrashed

EXAMPLES = int(os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
MAX_CHARS = 50_000
REASONS = {
    "unsupported",
    "binary",
    "too-large",
    "encrypted",
    "corrupt",
    "timeout",
    "missing",
    "permission",
    "unreadable",
    "zip-bomb",
    "xml-entities",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

SEEDS: dict[str, bytes] = {
    ".pdf": pdf_bytes(
        [
            text_page("The stoat changes its coat in winter. " * 5),
            text_page("Second page about the ermine."),
        ],
        info_title="Stoats",
    ),
    ".docx": docx_text("The stoat changes its coat in winter."),
    ".odt": odt_text("The stoat changes its coat in winter."),
    ".epub": epub_text("The stoat changes its coat in winter."),
    ".html": b"<!doctype html><html><head><title>Stoat</title><meta charset='utf-8'></head>"
    b"<body><h1>Stoat</h1><p>The stoat &amp; the <b>ermine</b>.</p><script>x()"
    b"</script><pre>  keep  </pre></body></html>",
    ".md": b"---\ntitle: Stoat\n---\n# Stoat\n\n```\ncode\n```\nThe stoat: ermine.\n",
    ".txt": "Plain text about the stoat, with ünïcödé and CJK 白鼬.\n".encode(),
    "": b"#!/bin/sh\necho stoat\n",
}


@pytest.fixture(scope="module")
def worker() -> Iterator[ExtractWorker]:
    with ExtractWorker(timeout_s=20) as w:
        yield w


def mutate(data: bytes, ops: list[tuple[int, int, bytes]]) -> bytes:
    """Byte flips, cuts, insertions and repeats: what damaged downloads and bad tools make."""
    b = bytearray(data)
    for op, pos, blob in ops:
        if not b:
            b = bytearray(blob)
            continue
        i = pos % len(b)
        if op == 0:
            b[i] ^= (blob[0] if blob else 0xFF) or 1
        elif op == 1:
            del b[i:]
        elif op == 2:
            b[i:i] = blob
        else:
            b[i:i] = b[i : i + 64] * 3
    return bytes(b)


def check_document(doc: Document) -> None:
    assert isinstance(doc.text, str) and isinstance(doc.title, str)
    assert len(doc.text) <= MAX_CHARS
    assert not _CONTROL.search(doc.text), "control characters reach the index"
    assert all(isinstance(w, str) for w in doc.warnings)
    end = 0
    for page in doc.pages:
        assert page.start == end and page.start <= page.end <= len(doc.text), doc.pages
        end = page.end
    if doc.pages:
        assert end == len(doc.text)
    for offset in (0, len(doc.text) // 2, max(0, len(doc.text) - 1)):
        doc.page_at(offset)


ops_strategy = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=24)),
    min_size=1,
    max_size=6,
)


@pytest.mark.parametrize("ext", list(SEEDS), ids=lambda e: e or "no-extension")
def test_mutated_documents_never_crash_or_hang_the_extractors(
    ext: str, worker: ExtractWorker
) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"fuzzed{ext}"

        @FUZZ
        @given(ops=ops_strategy)
        def run(ops: list[tuple[int, int, bytes]]) -> None:
            path.write_bytes(mutate(SEEDS[ext], ops))
            try:
                doc = worker.extract(path, max_bytes=1 << 20, max_chars=MAX_CHARS)
            except (ExtractionTimeout, WorkerCrashed) as e:
                pytest.fail(f"{path.name}: {e} (a {path.stat().st_size}-byte input)")
            except ExtractionError as e:
                assert e.reason in REASONS, e.reason
                assert "\n" not in str(e) and len(str(e)) <= 300
                return
            check_document(doc)

        run()
        # the unmutated seed is read in full
        path.write_bytes(SEEDS[ext])
        assert "stoat" in worker.extract(path).text.lower()


@FUZZ
@given(data=st.binary(max_size=4096), ext=st.sampled_from(sorted(SEEDS)))
def test_random_bytes_under_any_name(data: bytes, ext: str) -> None:
    """In process (no worker): the extractors' own guards, not the process boundary."""
    from desktop_search.extract import extract

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"random{ext}"
        path.write_bytes(data)
        try:
            doc = extract(path, max_bytes=1 << 20, max_chars=MAX_CHARS, time_budget=10)
        except ExtractionError as e:
            assert e.reason in REASONS, e.reason
            return
        check_document(doc)


text_strategy = st.lists(
    st.one_of(
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
        st.sampled_from(
            [
                " ",
                "\n",
                "\n\n",
                "\t",
                ". ",
                "! ",
                "。",
                "word ",
                "Sentence. ",
                "ünïcödé ",
                "白鼬",
                "🦡",
                "x" * 40,
                "https://example.org/a/b?c=d ",
            ]
        ),
    ),
    max_size=300,
).map("".join)


def _in_blob(text: str, i: int) -> bool:
    """Inside a long ASCII run without whitespace: what the chunker may skip as base64/hex."""
    a = i
    while a > 0 and not text[a - 1].isspace():
        a -= 1
    b = i
    while b < len(text) and not text[b].isspace():
        b += 1
    return b - a >= 40 and text[a:b].isascii()


@FUZZ
@given(text=text_strategy, max_tokens=st.integers(32, 200), overlap=st.integers(0, 15))
def test_chunker_covers_text_in_order_within_bounds(
    text: str, max_tokens: int, overlap: int, embedder: object
) -> None:
    count = embedder.count_tokens  # type: ignore[attr-defined]
    chunks = chunk_text(text, count, max_tokens, overlap)
    covered = bytearray(len(text))
    last_start = -1
    for c in chunks:
        assert 0 <= c.start < c.end <= len(text)
        assert c.start > last_start, "chunks advance"
        last_start = c.start
        covered[c.start : c.end] = b"\1" * (c.end - c.start)
        # the embedder truncates anything longer; the chunker keeps that rare
        assert count(text[c.start : c.end]) <= 2 * max_tokens + 16, (c, max_tokens)
    missed = [
        i
        for i, ch in enumerate(text)
        if not covered[i] and not ch.isspace() and not _in_blob(text, i)
    ]
    assert missed == [], f"text outside every chunk at {missed[:5]}"
