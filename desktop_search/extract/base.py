"""What every extractor returns."""

from __future__ import annotations

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
