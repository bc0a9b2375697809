"""What people type, understood: words, "quoted phrases", -excluded words and filters
(type:pdf, in:FOLDER, after:DATE, before:DATE)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .errors import QueryError

# Words that carry no meaning for keyword ranking; BM25 over OR-ed terms drowns in them.
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves s t
    """.split()  # noqa: SIM905 (a word list reads better as text)
)

_TOKEN = re.compile(r"\w+", re.UNICODE)
_FILTER = re.compile(r"^(type|in|after|before|ext):(.+)$", re.IGNORECASE)

# type: aliases people use, mapped to extracted kinds or extensions
TYPE_ALIASES: dict[str, tuple[str, ...]] = {
    "pdf": ("pdf",),
    "doc": ("docx", "odt"),
    "word": ("docx",),
    "docx": ("docx",),
    "odt": ("odt",),
    "slides": ("pptx",),
    "pptx": ("pptx",),
    "epub": ("epub",),
    "html": ("html",),
    "md": ("markdown",),
    "markdown": ("markdown",),
    "code": ("code",),
    "text": ("text",),
    "txt": ("text",),
    "rst": ("rst",),
}


@dataclass
class ParsedQuery:
    text: str  # free text for the embedder (filters and operators removed)
    terms: list[str] = field(default_factory=list)  # keyword terms, stop words removed
    phrases: list[str] = field(default_factory=list)  # must appear as such (in the passage)
    excluded: list[str] = field(default_factory=list)  # words or phrases the file must not have
    kinds: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    after: float | None = None  # epoch seconds
    before: float | None = None
    # codes people type exactly: part numbers, ticket ids, accession numbers (see identifiers())
    identifiers: list[str] = field(default_factory=list)

    def has_content(self) -> bool:
        return bool(self.text.strip() or self.phrases)

    def fts_expression(
        self, terms: list[str] | None = None, also: list[str] | None = None
    ) -> str | None:
        """An FTS5 MATCH expression: any term (ranked by BM25), every phrase, no excluded word.
        `terms` replaces the query's terms; with `also`, a passage must have one of those
        too. Every token is quoted so user input can never be read as FTS5 syntax."""
        parts: list[str] = []
        for group in (self.terms if terms is None else terms, also or []):
            if group:
                parts.append("(" + " OR ".join(_quote(t) for t in group) + ")")
        parts += [_quote(p) for p in self.phrases]
        if not parts:
            return None
        expr = " AND ".join(parts)
        for w in self.excluded:
            expr += f" NOT {_quote(w)}"
        return expr

    def all_words_expression(self) -> str | None:
        """Every term and phrase of the query in one passage (the rare-term rule's test)."""
        parts = [_quote(t) for t in self.terms] + [_quote(p) for p in self.phrases]
        return " AND ".join(parts) if parts else None

    def identifier_expressions(self) -> list[str]:
        """Each identifier as a phrase: the tokenizer splits "0001045810-23-000175" in three,
        and the phrase keeps them in order."""
        return [_quote(" ".join(_TOKEN.findall(i))) for i in self.identifiers]

    def phrase_expression(self) -> str | None:
        """Every phrase, as FTS5 reads them (same tokenizer and stemmer as the index)."""
        return " AND ".join(_quote(p) for p in self.phrases) if self.phrases else None

    def excluded_expression(self) -> str | None:
        return " OR ".join(_quote(w) for w in self.excluded) if self.excluded else None

    def highlight_expression(self) -> str | None:
        words = [*self.terms, *self.phrases]
        if not words:
            return None
        return " OR ".join(_quote(w) for w in words)


def _quote(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def parse_date(s: str) -> float:
    s = s.strip().lower()
    now = datetime.now()
    rel = re.fullmatch(r"(\d+)([dwmy])", s)
    if rel:
        n, unit = int(rel.group(1)), rel.group(2)
        days = {"d": 1, "w": 7, "m": 30, "y": 365}[unit] * n
        return (now - timedelta(days=days)).timestamp()
    if s in ("today",):
        return now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    if s in ("yesterday",):
        d = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        return d.timestamp()
    for fmt in ("%Y-%m-%d", "%Y-%m", "%Y"):
        try:
            return datetime.strptime(s, fmt).timestamp()
        except ValueError:
            continue
    raise QueryError(f"cannot read the date {s!r}: use YYYY-MM-DD, YYYY-MM, YYYY, or 7d/2w/3m/1y")


def keyword_terms(text: str, stop_words: bool = True) -> list[str]:
    out: list[str] = []
    for t in _TOKEN.findall(text.lower()):
        if (stop_words and t in STOP_WORDS) or t in out:
            continue
        out.append(t)
    return out


# One token of a query: a filter (its value may be quoted), an exclusion (-word, -"a phrase";
# not "-5", a negative number), a "quoted phrase", a word, or a stray quote.
_SCAN = re.compile(
    r'(?<!\S)(?P<key>type|in|after|before|ext):(?:"(?P<qval>[^"]*)"|(?P<val>[^\s"]+))'
    r'|(?<!\S)-(?:"(?P<neg_phrase>[^"]*)"|(?P<neg>[^\W\d][^\s"]*))'
    r'|"(?P<phrase>[^"]*)"'
    r'|(?P<word>[^\s"]+)'
    r'|(?P<quote>")',
    re.IGNORECASE,
)


# An identifier: letters and digits mixed ("token216q", "IL-6", "A320neo", "10-Q"), or digits
# joined by dots or dashes ("0001045810-23-000175", "4.2.1"); trailing punctuation is not part.
_IDENT = re.compile(
    r"(?=[\w.\-/]*\d)(?=[\w.\-/]*[^\W\d_])\w[\w.\-/]*\w"
    r"|\d+(?:-\d+)+|\d+(?:\.\d+){2,}"
)


def identifiers(text: str) -> list[str]:
    """Identifier-like words of a query, in order, each once."""
    out: list[str] = []
    for word in text.split():
        m = _IDENT.fullmatch(word.strip(".,;:!?()[]{}'\""))
        if m and m.group(0) not in out and len(_TOKEN.findall(m.group(0))) <= 8:
            out.append(m.group(0))
    return out


def parse_query(q: str, *, stop_words: bool = True) -> ParsedQuery:
    """Words, "phrases" (a quote left open is read as plain words, apostrophes are letters),
    -exclusions and filters. Phrase words are searched as the phrase, not again as terms."""
    pq = ParsedQuery(text="")
    free: list[str] = []
    for m in _SCAN.finditer(q):
        if m.group("key"):
            key, val = m.group("key").lower(), m.group("qval") or m.group("val") or ""
            if not val.strip():
                continue
            if key in ("type", "ext"):
                name = val.lower().lstrip(".")
                pq.kinds += [k for k in TYPE_ALIASES.get(name, (name,)) if k not in pq.kinds]
            elif key == "in":
                pq.folders.append(val)
            elif key == "after":
                pq.after = parse_date(val)
            elif key == "before":
                pq.before = parse_date(val)
        elif m.group("neg_phrase") is not None or m.group("neg"):
            words = _TOKEN.findall((m.group("neg_phrase") or m.group("neg")).lower())
            if words:
                pq.excluded.append(" ".join(words))
        elif m.group("phrase") is not None:
            words = _TOKEN.findall(m.group("phrase"))
            if words:
                pq.phrases.append(" ".join(words))
                free.append(m.group("phrase").strip())
        elif m.group("word"):
            free.append(m.group("word"))
    pq.text = " ".join(free)
    pq.identifiers = identifiers(pq.text)
    phrase_words = {w.lower() for p in pq.phrases for w in _TOKEN.findall(p)}
    pq.terms = [t for t in keyword_terms(pq.text, stop_words) if t not in phrase_words]
    if not pq.terms and not pq.phrases:
        # a query of stop words only ("the who"): search them rather than nothing
        pq.terms = list(dict.fromkeys(_TOKEN.findall(pq.text.lower())))
    return pq


def under_folder(path: str, folder: str) -> bool:
    """in:FOLDER: under that folder, or under any folder of that name (in:Documents)."""
    return (
        path == folder
        or path.startswith(folder.rstrip(os.sep) + os.sep)
        or f"{os.sep}{os.path.basename(folder)}{os.sep}" in path
    )


def wanted_folders(pq: ParsedQuery) -> list[str]:
    """The query's in: folders as paths (~ and relative ones made absolute)."""
    return [os.path.abspath(os.path.expanduser(f)) for f in pq.folders]


def file_passes(
    pq: ParsedQuery, folders: list[str], path: str, kind: str | None, mtime_ns: int
) -> bool:
    """type:, in: (`folders` from wanted_folders) and the dates, on one file."""
    if (
        pq.kinds
        and (kind or "") not in pq.kinds
        and os.path.splitext(path)[1].lower().lstrip(".") not in pq.kinds
    ):
        return False
    if folders and not any(under_folder(path, f) for f in folders):
        return False
    mtime = mtime_ns / 1e9
    if pq.after is not None and mtime < pq.after:
        return False
    return not (pq.before is not None and mtime >= pq.before)
