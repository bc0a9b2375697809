"""Pure text helpers for the window: snippet HTML with the matched words marked, and the hits to
show in the preview. No Qt here, so the preview's work runs on a worker thread."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..search import SearchResult

MARK_STYLE = "background-color:#ffe27a; color:#1a1a1a; font-weight:600;"
PREVIEW_MAX_CHARS = 400_000  # more than this is shown as a window around the best passage
MAX_HITS = 5000


def snippet_html(snippet: str, spans: list[tuple[int, int]]) -> str:
    """The snippet as HTML, each [start, end) span marked; everything else escaped."""
    out: list[str] = []
    pos = 0
    for a, b in sorted(spans):
        a, b = max(a, pos), min(b, len(snippet))
        if a >= b:
            continue
        out.append(html.escape(snippet[pos:a]))
        out.append(f'<span style="{MARK_STYLE}">{html.escape(snippet[a:b])}</span>')
        pos = b
    out.append(html.escape(snippet[pos:]))
    return "".join(out)


def matched_words(result: SearchResult) -> list[str]:
    """The words the keyword side matched, as they appear in the snippets (lower case)."""
    words: set[str] = set()
    for p in result.passages:
        for a, b in p.highlights:
            w = p.snippet[a:b].strip().lower()
            if w:
                words.add(w)
    return sorted(words, key=lambda w: (-len(w), w))


def find_hits(text: str, words: list[str], limit: int = MAX_HITS) -> list[tuple[int, int]]:
    """Whole-word, case-insensitive occurrences of any of `words` in text, in order."""
    if not words:
        return []
    pattern = re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE
    )
    hits: list[tuple[int, int]] = []
    for m in pattern.finditer(text):
        hits.append((m.start(), m.end()))
        if len(hits) >= limit:
            break
    return hits


@dataclass
class PreviewData:
    path: str
    text: str
    offset: int  # where `text` starts in the extracted document (non-zero when cut)
    total_chars: int
    hits: list[tuple[int, int]]  # matched words, in `text` coordinates
    passages: list[tuple[int, int]]  # the result's passages, in `text` coordinates
    first: int  # index into hits (or passages when there are no word hits) to show first
    pages: list[tuple[int, int, int]] = field(default_factory=list)  # (number, start, end)
    warnings: list[str] = field(default_factory=list)

    def page_at(self, pos: int) -> int | None:
        for number, start, end in self.pages:
            if start <= pos < end:
                return number
        return None

    def targets(self) -> list[tuple[int, int]]:
        """What next/previous steps through: word hits, else the passages (meaning-only)."""
        return self.hits or self.passages


def build_preview(path: str, result: SearchResult | None) -> PreviewData:
    """Extracts the file (slow: call off the GUI thread) and locates the hits around it."""
    from ..extract import extract

    doc = extract(Path(path))
    # PDF text often separates words with tabs; one space each keeps every offset valid
    text = doc.text.replace("\t", " ")
    passages = [(p.chunk_start, p.chunk_end) for p in result.passages] if result else []
    offset = 0
    if len(text) > PREVIEW_MAX_CHARS:
        centre = passages[0][0] if passages else 0
        offset = max(0, min(len(text) - PREVIEW_MAX_CHARS, centre - PREVIEW_MAX_CHARS // 2))
        text = text[offset : offset + PREVIEW_MAX_CHARS]
    passages = [
        (a - offset, b - offset) for a, b in passages if a - offset >= 0 and b - offset <= len(text)
    ]
    words = matched_words(result) if result else []
    hits = find_hits(text, words)
    first = 0
    if hits and passages:
        # start at the first hit inside the best passage: that is what the result showed
        a0, b0 = passages[0]
        first = next(
            (i for i, (a, _b) in enumerate(hits) if a0 <= a < b0),
            next((i for i, (a, _b) in enumerate(hits) if a >= a0), 0),
        )
    pages = [(p.number, p.start - offset, p.end - offset) for p in doc.pages]
    return PreviewData(
        path=path,
        text=text,
        offset=offset,
        total_chars=len(doc.text),
        hits=hits,
        passages=passages,
        first=first,
        pages=pages,
        warnings=list(doc.warnings),
    )
