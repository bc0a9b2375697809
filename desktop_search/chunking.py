"""Token-aware chunks with overlap that prefer paragraph and sentence boundaries.

Each chunk is a char range [start, end) of the extracted text, so a snippet or a preview can point
at exactly the passage that matched. Sizes are counted with the embedding model's own tokenizer.
The embedder truncates anything that still comes out too long, so no input can reach llama.cpp's
n_ubatch assert; the chunker only has to make that rare.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

TokenCounter = Callable[[str], int]

_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n\s*")
# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) and whitespace, or at
# a single newline (lists, code, headings).
_SENTENCE = re.compile(r"(?<=[.!?…。！？])[\"')\]]*\s+|\n+")
_WORD = re.compile(r"\S+\s*")


def embed_input(title: str, text: str) -> str:
    """What the model sees for a chunk: the document title gives the passage its context."""
    return f"{title}\n{text}" if title else text


def embed_hash(s: str) -> str:
    """The key a chunk's vector is stored under: the same input never embeds twice."""
    return hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    tokens: int
    para_start: bool  # first unit of a paragraph: a preferred place to cut
    after_gap: bool = False  # junk was skipped just before: a chunk must not span it


@dataclass(frozen=True)
class Chunk:
    start: int
    end: int
    tokens: int


def _units(text: str) -> Iterator[tuple[int, int, bool]]:
    """Sentence-like units (start, end, starts_paragraph), whitespace excluded."""
    pos = 0
    for para in [*_PARAGRAPH.finditer(text), None]:
        p_end = para.start() if para else len(text)
        first = True
        s_pos = pos
        for m in [*_SENTENCE.finditer(text, pos, p_end), None]:
            s_end = m.start() if m else p_end
            # strip leading whitespace of the unit
            while s_pos < s_end and text[s_pos].isspace():
                s_pos += 1
            if s_end > s_pos:
                yield s_pos, s_end, first
                first = False
            if m:
                s_pos = m.end()
        if para:
            pos = para.end()


def _split_long(
    text: str, start: int, end: int, max_tokens: int, count: TokenCounter
) -> list[Span]:
    """Cuts a unit longer than max_tokens at word boundaries (or hard, for one huge 'word')."""
    out: list[Span] = []
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    i = 0
    while i < len(words):
        # grow a piece by halving steps: try many words, back off until it fits
        lo, hi = i + 1, len(words)
        best = i + 1
        while lo <= hi:
            mid = (lo + hi) // 2
            if count(text[words[i][0] : words[mid - 1][1]]) <= max_tokens:
                best, lo = mid, mid + 1
            else:
                hi = mid - 1
        s, e = words[i][0], words[best - 1][1]
        n = count(text[s:e])
        if n > max_tokens:  # a single enormous token run (base64, a URL): cut by characters
            step = max(16, (e - s) * max_tokens // max(n, 1))
            for cs in range(s, e, step):
                ce = min(e, cs + step)
                out.append(Span(cs, ce, count(text[cs:ce]), False))
        else:
            out.append(Span(s, _rstrip(text, s, e), n, False))
        i = best
    return out


def _rstrip(text: str, s: int, e: int) -> int:
    while e > s and text[e - 1].isspace():
        e -= 1
    return e


def is_junk(text: str, tokens: int) -> bool:
    """Base64, hex dumps, minified blobs: long ASCII runs without a space that cost a token per
    one or two characters. Embedding them costs minutes and finds nothing. (CJK text also has no
    spaces and many tokens per character, but is not ASCII.)"""
    return (
        len(text) >= 40
        and tokens > 0
        and len(text) / tokens < 2.5
        and text.isascii()
        and not any(c.isspace() for c in text)
    )


def chunk_text(
    text: str, count: TokenCounter, max_tokens: int = 256, overlap: int = 32
) -> list[Chunk]:
    """Greedy packing of sentence units into chunks of at most max_tokens, cutting at a paragraph
    start when the chunk is already three quarters full, and repeating up to `overlap` tokens of
    trailing units at the start of the next chunk so a passage split in two is still found."""
    spans: list[Span] = []
    gap = False
    for s, e, para in _units(text):
        n = count(text[s:e])
        if n <= max_tokens:
            parts = [Span(s, e, n, para)]
        else:
            parts = _split_long(text, s, e, max_tokens, count)
            if parts:
                parts[0] = Span(parts[0].start, parts[0].end, parts[0].tokens, para)
        for p in parts:
            if is_junk(text[p.start : p.end], p.tokens):
                gap = True
                continue
            spans.append(Span(p.start, p.end, p.tokens, p.para_start, gap) if gap else p)
            gap = False

    chunks: list[Chunk] = []
    i = 0
    while i < len(spans):
        j = i
        total = 0
        while j < len(spans):
            sp = spans[j]
            if total and (total + sp.tokens > max_tokens or sp.after_gap):
                break
            if total >= max_tokens * 3 // 4 and sp.para_start:
                break
            total += sp.tokens
            j += 1
        chunks.append(Chunk(spans[i].start, spans[j - 1].end, total))
        if j >= len(spans):
            break
        # step back over trailing units that fit in the overlap budget, but always advance
        k, back = j, 0
        while k - 1 > i and back + spans[k - 1].tokens <= overlap and not spans[k].after_gap:
            k -= 1
            back += spans[k].tokens
        i = k
    return chunks


_LEADERS = re.compile(r"([^\w\s])(?:\s?\1){3,}")
_ENCODED = re.compile(r"[A-Za-z0-9+/]+={0,2}|[0-9A-Fa-f:]+")  # base64 or hex, no dots
_ODD_CATEGORIES = frozenset(("Mn", "Me", "Cf", "Co", "Cn", "Cs", "So", "Sk"))


def noise_reason(text: str, n_tokens: int) -> str | None:
    """Why a passage is noise rather than prose, or None. Noise (random Unicode, base64-like
    runs, number tables, one thing repeated) embeds near the middle of the vector space, so
    it comes close to every query by meaning ("hub" vectors) and crowds out real hits; its
    words can still be found by keyword. Each rule was checked to flag none of the SciFact
    abstracts and only tables and scanning debris in the long PDFs (docs/quality.md)."""
    compact = _LEADERS.sub(r"\1", text)  # dot leaders of a contents page are layout, not noise
    chars = [c for c in compact if not c.isspace()]
    n = len(chars)
    if n < 40:
        return None
    # tokens of the compacted text, roughly: each punctuation mark removed was a token
    n_tokens = max(1, n_tokens - (sum(1 for c in text if not c.isspace()) - n))
    letters = sum(1 for c in chars if c.isalpha())
    digits = sum(1 for c in chars if c.isdigit())
    odd = sum(1 for c in chars if unicodedata.category(c) in _ODD_CATEGORIES)
    if odd / n > 0.15:
        return "symbols"  # zero-width and direction marks, combining accents, emoji
    if letters / n < 0.25:
        return "numbers" if digits / n > 0.4 else "symbols"
    if n_tokens / n > 0.8 and letters / n < 0.6:
        return "tokens"  # a token per one or two characters, and not one script's letters
    words = compact.split()
    if len(words) >= 30 and len({w.lower() for w in words}) / len(words) < 0.15:
        return "repeated"
    long_mixed = sum(
        len(w)
        for w in words
        if len(w) >= 24 and _ENCODED.fullmatch(w) and any(c.isdigit() for c in w)
    )
    if long_mixed / n > 0.5:
        return "encoded"  # base64, hashes, hex dumps with line breaks
    return None


def is_noise(text: str, n_tokens: int) -> bool:
    """Whether a passage should stay out of the meaning ranking (see noise_reason)."""
    return noise_reason(text, n_tokens) is not None
