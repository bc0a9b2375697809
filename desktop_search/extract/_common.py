"""Helpers shared by the extractors: limits, bounded reads, newline and length normalisation."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from desktop_search.errors import ExtractionTimeout, FileTooLarge

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_CHARS = 5_000_000

_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x85\x0b\x0c]")
# C0/C1 control characters other than tab and newline: never useful in indexed text.
# Runs, not single characters: re.sub keeps a list entry per match, and 20 MB of NULs (a
# sparse log) as 20 million matches peaked at 248 MB.
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]+")
_NORMALISE_SLICE = 1 << 20  # chars per pass: bounds the substitutions' work lists


# A long document gets time in proportion to its pages: pypdf, the slowest reader we use, was
# seen at 0.08 s a page on a busy two-core machine (PDFium: 0.005 s). A fixed budget cut long
# but sane PDFs short whenever the machine was busy.
SECONDS_PER_PAGE = 0.25
MAX_BUDGET_S = 900.0
# Extractors are asked to stop cooperatively (between pages) a little before the worker's hard
# kill, so a document that is merely slow is indexed in part instead of failing outright.
COOPERATIVE_SHARE = 0.75


def page_budget(pages: int) -> float:
    """Seconds a document of this many pages may take, before the floor of the base budget."""
    return min(pages * SECONDS_PER_PAGE, MAX_BUDGET_S)


@dataclass
class Limits:
    """How much one extraction may read and produce, and for how long (cooperatively)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_chars: int = DEFAULT_MAX_CHARS
    deadline: float | None = None  # a time.monotonic() value, or None for no time budget
    # Told (pages done, pages in all) as an extractor goes: the extraction worker relays it to
    # its parent, which then knows the file is making progress and how long it may take.
    on_progress: Callable[[int, int], None] | None = None
    started: float = field(default_factory=time.monotonic)

    def expect_pages(self, pages: int) -> None:
        """A document of `pages` pages gets time in proportion to them."""
        if self.deadline is not None:
            longer = self.started + COOPERATIVE_SHARE * page_budget(pages)
            self.deadline = max(self.deadline, longer)

    def progress(self, done: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total)

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def check_time(self, what: str) -> None:
        if self.out_of_time():
            raise ExtractionTimeout(f"{what}: extraction ran out of time")


def one_line(message: object) -> str:
    """A message squeezed onto one readable line (no newlines, bounded length)."""
    text = " ".join(str(message).split())
    return text if len(text) <= 300 else text[:297] + "..."


def file_size(path: Path) -> int:
    return os.stat(path).st_size


def read_whole(path: Path, limits: Limits) -> bytes:
    """Read a file for a format that must be parsed whole; FileTooLarge beyond max_bytes."""
    size = file_size(path)
    if size > limits.max_bytes:
        raise FileTooLarge(
            f"{path.name}: {size} bytes is over the limit of {limits.max_bytes} bytes"
        )
    with open(path, "rb") as f:
        data = f.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:  # the file grew while we looked at it
        raise FileTooLarge(f"{path.name}: over the limit of {limits.max_bytes} bytes")
    return data


def read_head(path: Path, limit: int) -> tuple[bytes, bool]:
    """The first `limit` bytes of a file and whether there was more."""
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        return data[:limit], True
    return data, False


def normalise(text: str) -> str:
    """Newlines to \\n, control characters dropped; everything else kept as is. Done a slice
    at a time (never splitting a \\r\\n), so the extra memory is a slice, not the text."""
    if len(text) <= _NORMALISE_SLICE:
        return _CONTROLS.sub("", _NEWLINES.sub("\n", text))
    parts: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + _NORMALISE_SLICE, len(text))
        if text[end - 1] == "\r":
            end += 1
        parts.append(_CONTROLS.sub("", _NEWLINES.sub("\n", text[start:end])))
        start = end
    return "".join(parts)


def clip(text: str, limits: Limits, warnings: list[str]) -> str:
    if len(text) > limits.max_chars:
        warnings.append(f"truncated: kept the first {limits.max_chars} characters")
        return text[: limits.max_chars]
    return text


def squeeze_blank_lines(text: str) -> str:
    """Trailing spaces removed and runs of blank lines reduced to one blank line."""
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n ")
