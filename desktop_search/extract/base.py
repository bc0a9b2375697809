"""What every extractor returns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Page:
    """A page (1-based number) spanning text[start:end] of the document text."""

    number: int
    start: int
    end: int


@dataclass
class Document:
    """The extracted, plain text of one file.

    `pages` is empty for formats without pages; for PDFs it maps char ranges to page numbers so a
    chunk can say which page it came from. `kind` is a short family name shown to people
    ("text", "markdown", "code", "html", "pdf", "docx", ...).
    """

    text: str
    title: str = ""
    kind: str = "text"
    pages: list[Page] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def page_at(self, offset: int) -> int | None:
        for p in self.pages:
            if p.start <= offset < p.end:
                return p.number
        if self.pages and offset >= self.pages[-1].end:
            return self.pages[-1].number
        return None


# Metadata titles that name no document: what PDF writers and filing systems leave behind.
_NON_TITLES = re.compile(
    r"""^(?:
        untitled(?:\s*(?:document|\d+))? | document\s*\d* | title | no\s+title | none | null
        | \(?anonymous\)? | unknown | slide\s*\d+ | presentation\d* | book\d* | sheet\d*
        | microsoft\s+(?:word|powerpoint|excel)\b.*
        | .*\.(?:docx?|pptx?|xlsx?|pdf|rtf|odt|txt|indd|qxd)
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
_GUID = re.compile(
    r"^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$", re.IGNORECASE
)
_WORD_CHARS = re.compile(r"[^\W\d_]{2,}")


def is_identifier_title(title: str) -> bool:
    """True for a metadata title that is a code, not a name: accession numbers
    ("0001045810-23-000175"), GUIDs, file names ("report_v2.docx", "Microsoft Word - x.doc"),
    "untitled", or anything without a single word of two letters."""
    t = " ".join(title.split())
    if not t:
        return True
    if _NON_TITLES.match(t) or _GUID.match(t):
        return True
    return _WORD_CHARS.search(t) is None


def clean_title(title: str | None, stem: str, max_chars: int = 120) -> str:
    """The title a person should see: the metadata title unless it is an identifier (see
    is_identifier_title), else the file's stem."""
    t = " ".join((title or "").split())
    if not t or is_identifier_title(t):
        t = stem.strip()
    return t[:max_chars]
