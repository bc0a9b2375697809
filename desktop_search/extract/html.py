"""HTML: the visible text and the <title>, with the stdlib's html.parser (no recursion).

Script, style, template and noscript contents and everything in <head> except the title are
dropped; block elements become line breaks; entities are decoded; whitespace is collapsed as a
browser would, except inside <pre> and <textarea>.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from desktop_search.errors import UnsupportedFormat
from desktop_search.extract._common import (
    Limits,
    clip,
    normalise,
    read_head,
    squeeze_blank_lines,
)
from desktop_search.extract.base import Document
from desktop_search.extract.sniff import SNIFF_BYTES, is_binary, magic
from desktop_search.extract.text import decode

HTML_EXTENSIONS = frozenset({".html", ".htm", ".xhtml", ".xht", ".shtml"})

_SKIP = frozenset({"script", "style", "template", "noscript"})
_HEAD_ONLY = frozenset({"title", "meta", "link", "base", "style", "script", "noscript"})
_PRE = frozenset({"pre", "textarea", "listing", "plaintext", "xmp"})
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd",
        "details", "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure",
        "footer", "form", "frameset", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup",
        "hr", "html", "legend", "li", "listing", "main", "menu", "nav", "ol", "option", "p",
        "plaintext", "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "tr",
        "ul", "xmp", "textarea", "select", "iframe", "video", "audio", "canvas", "map",
        "object", "br",
    }
)  # fmt: skip
_CELL = frozenset({"td", "th"})
_WS = re.compile(r"[ \t\n\r\f\v]+")
_META_CHARSET = re.compile(
    rb"<meta[^>]{0,300}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]{1,40})", re.IGNORECASE
)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9_.:-]{1,40})")
_CHUNK = 4 << 20  # few feeds: each one rescans an unfinished construct


class _VisibleText(HTMLParser):
    def __init__(self, max_chars: int) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self.chars = 0
        self.max_chars = max_chars
        self.full = False
        self._skip = 0
        self._pre = 0
        self._svg = 0
        self._in_head = False
        self._in_title = False
        self._title_done = False
        self._at_space = True  # the text so far ends with white space (or is empty)

    # -- tags --
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self._in_head = True
            return
        if self._in_head and tag not in _HEAD_ONLY:
            self._in_head = False
        if tag in _SKIP:
            self._skip += 1
        elif tag == "title" and not self._title_done and self._svg == 0:
            self._in_title = True
        elif tag == "svg":
            self._svg += 1
        if tag in _PRE:
            self._pre += 1
        if tag in _BLOCK:
            self._newline()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._in_head and tag not in _HEAD_ONLY:
            self._in_head = False
        if tag in _BLOCK:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._in_head = False
        elif tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "title" and self._in_title:
            self._in_title = False
            self._title_done = True
        elif tag == "svg":
            self._svg = max(0, self._svg - 1)
        if tag in _PRE:
            self._pre = max(0, self._pre - 1)
        if tag in _BLOCK:
            self._newline()
        elif tag in _CELL:
            self._emit("\t")
            self._at_space = True

    # -- text --
    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
            return
        if self._skip or self._in_head or self.full:
            return
        if self._pre:
            self._emit(data)
            self._at_space = data[-1:].isspace()
            return
        text = _WS.sub(" ", data)
        if self._at_space:
            text = text.lstrip(" ")
        if text:
            self._emit(text)
            self._at_space = text.endswith(" ")

    def _newline(self) -> None:
        if self.parts and self.parts[-1] != "\n":
            self._emit("\n")
        self._at_space = True

    def _emit(self, text: str) -> None:
        if self.full:
            return
        self.parts.append(text)
        self.chars += len(text)
        if self.chars > self.max_chars:
            self.full = True

    @property
    def title(self) -> str:
        return " ".join("".join(self.title_parts).split())


class _NextFinder:
    """Positions of the next occurrence of a needle at or after i, for i that only grows:
    each call reuses the last answer while it is still ahead, so a whole scan stays linear."""

    def __init__(self, text: str, needle: str) -> None:
        self.text = text
        self.needle = needle
        self.at = -2  # -2: not searched yet; -1: no more occurrences

    def find(self, i: int) -> int:
        if self.at == -1 or (self.at >= i):
            return self.at
        self.at = self.text.find(self.needle, i)
        return self.at


def defuse(markup: str) -> str:
    """Escape every "<" that starts a construct html.parser could never finish.

    html.parser (before CPython 3.13.4 / 3.12.11) rescans the rest of the document for the end
    of each unterminated comment, tag or marked section, which is quadratic on hostile input
    such as "<!--" repeated a million times. Such a "<" is text anyway, so it becomes "&lt;".
    One pass, linear time.
    """
    ends = {
        "<!--": _NextFinder(markup, "-->"),
        "<![": _NextFinder(markup, "]]>"),
        "<": _NextFinder(markup, ">"),
    }
    out: list[str] = []
    copied = 0
    i = markup.find("<")
    while i >= 0:
        if markup.startswith("<!--", i):
            end, skip = ends["<!--"].find(i + 4), 3
        elif markup.startswith("<![", i):
            end, skip = ends["<!["].find(i + 3), 3
        else:
            end, skip = ends["<"].find(i + 1), 1
        if end < 0:
            out.append(markup[copied:i])
            out.append("&lt;")
            copied = i + 1
            i = markup.find("<", i + 1)
        elif skip == 3:  # a whole comment or marked section: nothing inside it matters
            i = markup.find("<", end + skip)
        else:
            i = markup.find("<", i + 1)
    if not out:
        return markup
    out.append(markup[copied:])
    return "".join(out)


def html_to_text(markup: str, limits: Limits | None = None) -> tuple[str, str, bool]:
    """(visible text, title, whether the text was cut at max_chars) of an HTML document."""
    limits = limits or Limits()
    markup = defuse(markup)
    parser = _VisibleText(limits.max_chars)
    for i in range(0, len(markup), _CHUNK):
        parser.feed(markup[i : i + _CHUNK])
        if parser.full:
            break
        limits.check_time("HTML")
    parser.close()
    text = squeeze_blank_lines(normalise("".join(parser.parts)))
    return text, parser.title, parser.full


def declared_charset(head: bytes) -> str | None:
    """The charset an XML declaration or a <meta> tag declares, mapped as browsers map it."""
    m = _XML_ENCODING.search(head[:1024]) or _META_CHARSET.search(head[:4096])
    if not m:
        return None
    name = m.group(1).decode("ascii").lower()
    if name.startswith(("utf-16", "utf-32", "ucs")):
        return None  # an ASCII-compatible file that claims UTF-16 is lying
    if name in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii", "iso8859-1"):
        return "cp1252"
    return name


def decode_html(data: bytes, warnings: list[str], *, more_follows: bool = False) -> str:
    return decode(data, warnings, more_follows=more_follows, declared=declared_charset(data[:4096]))


def extract_html(path: Path, limits: Limits) -> Document:
    warnings: list[str] = []
    cap = min(limits.max_bytes, 8 * limits.max_chars + 4096)
    data, more = read_head(path, cap)
    if is_binary(data[:SNIFF_BYTES]):
        raise UnsupportedFormat(
            f"{path.name}: binary data ({magic(data) or 'not text'}), not HTML", reason="binary"
        )
    if more:
        warnings.append(f"truncated: read only the first {cap} bytes")
    text, title, cut = html_to_text(decode_html(data, warnings, more_follows=more), limits)
    if cut:
        warnings.append(f"truncated: kept the first {limits.max_chars} characters")
    text = clip(text, limits, [])
    return Document(text=text, title=title, kind="html", warnings=warnings)
