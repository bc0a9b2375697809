"""Snippets: a window of a passage around its densest run of matched words, with the ranges
to mark. The words are marked by FTS5's highlight() (fts.KeywordStats.highlight) between
HL_START and HL_END; make_snippet turns that into plain text and spans.
"""

from __future__ import annotations

import re

SNIPPET_CHARS = 320
HL_START, HL_END = "\x02", "\x03"

_MARKED = re.compile(f"{HL_START}([^{HL_START}{HL_END}]*){HL_END}")


def _unmark(s: str) -> str:
    return s.replace(HL_START, "").replace(HL_END, "") if HL_START in s or HL_END in s else s


def make_snippet(marked: str, width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]]]:
    """From text with HL_START/HL_END marks: a window of about `width` chars around the
    densest run of marks, cut at word boundaries, and the mark ranges inside it."""
    # regex pieces, not a loop over characters: snippets are made for every result shown
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = last = 0
    for m in _MARKED.finditer(marked):
        before = _unmark(marked[last : m.start()])
        inner = _unmark(m.group(1))
        plain += [before, inner]
        pos += len(before)
        if inner:
            spans.append((pos, pos + len(inner)))
        pos += len(inner)
        last = m.end()
    plain.append(_unmark(marked[last:]))
    text = "".join(plain)
    if len(text) <= width:
        lo, hi = 0, len(text)
    else:
        best_lo, best_n = 0, -1
        for s, _ in spans or [(0, 0)]:
            lo_c = max(0, s - width // 4)
            n = sum(1 for a, b in spans if a >= lo_c and b <= lo_c + width)
            if n > best_n:
                best_lo, best_n = lo_c, n
        lo = best_lo
        while lo > 0 and not text[lo - 1].isspace() and best_lo - lo < 20:
            lo -= 1
        hi = min(len(text), lo + width)
        while hi < len(text) and not text[hi].isspace() and hi - lo < width + 20:
            hi += 1
    snippet = text[lo:hi]
    lead = len(snippet) - len(snippet.lstrip())
    snippet = snippet.strip()
    shift = lo + lead
    out_spans = [
        (a - shift, b - shift) for a, b in spans if a >= shift and b - shift <= len(snippet)
    ]
    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(text) else ""
    if prefix:
        out_spans = [(a + 1, b + 1) for a, b in out_spans]
    return prefix + " ".join(snippet.split("\n")) + suffix, out_spans
