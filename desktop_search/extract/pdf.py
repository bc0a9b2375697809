"""PDF with pypdf, page by page, keeping which char range of the text came from which page.

Pages are joined with a blank line ("\\n\\n"); `Document.pages` holds one Page per PDF page, the
ranges contiguous (the separator after a page belongs to it), so every offset maps to a page.
pypdf's log messages and Python warnings never leak: they are recorded in Document.warnings.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import threading
import warnings as pywarnings
from collections.abc import Iterator
from pathlib import Path

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError

from desktop_search.errors import (
    CorruptDocument,
    EncryptedDocument,
    ExtractionError,
    ExtractionTimeout,
)
from desktop_search.extract._common import Limits, normalise, one_line, read_whole
from desktop_search.extract.base import Document, Page

PDF_EXTENSIONS = frozenset({".pdf"})

PAGE_SEPARATOR = "\n\n"
_MAX_NOTES = 20

_local = threading.local()


class _Collector(logging.Handler):
    """Sends pypdf's log records to the extraction running on this thread (or drops them)."""

    def emit(self, record: logging.LogRecord) -> None:
        notes: list[str] | None = getattr(_local, "notes", None)
        if notes is None:
            return
        try:
            notes.append(one_line(record.getMessage()))
        except Exception:  # a record whose arguments do not format
            notes.append(one_line(record.msg))


def _install_log_collector() -> None:
    logger = logging.getLogger("pypdf")
    if not any(isinstance(h, _Collector) for h in logger.handlers):
        logger.addHandler(_Collector(level=logging.DEBUG))
    # pypdf talks a lot about the odd files a desktop is full of; it is recorded per document.
    logger.propagate = False


_install_log_collector()


@contextlib.contextmanager
def _capture(notes: list[str]) -> Iterator[None]:
    """Collect pypdf's log records and Python warnings raised inside the block into `notes`."""
    previous = getattr(_local, "notes", None)
    _local.notes = notes
    try:
        with pywarnings.catch_warnings(record=True) as caught:
            pywarnings.simplefilter("always")
            try:
                yield
            finally:
                notes.extend(one_line(f"{w.category.__name__}: {w.message}") for w in caught)
    finally:
        _local.notes = previous


_OBJECT_ID = re.compile(r"IndirectObject\((\d+), (\d+), \d+\)")


def _summarise(notes: list[str]) -> list[str]:
    unique = list(dict.fromkeys(_OBJECT_ID.sub(r"\1 \2 R", n) for n in notes))
    out = [f"pdf: {n}" for n in unique[:_MAX_NOTES]]
    if len(unique) > _MAX_NOTES:
        out.append(f"pdf: {len(unique) - _MAX_NOTES} more parser messages")
    return out


def extract_pdf(path: Path, limits: Limits) -> Document:
    data = read_whole(path, limits)
    if b"%PDF-" not in data[:1024]:
        raise CorruptDocument(f"{path.name}: not a PDF (no %PDF- header)")
    notes: list[str] = []
    with _capture(notes):
        try:
            doc = _extract_guarded(data, path.name, limits)
        except CorruptDocument as first:
            # A file cut short (an interrupted download or copy) has lost its cross-reference
            # table and trailer: rebuild them from the objects that are there.
            repaired = _repair_truncated(data)
            if repaired is None:
                raise
            notes.clear()  # what pypdf said about the cut file, and next about our stand-in trailer
            try:
                doc = _extract_guarded(repaired, path.name, limits)
            except ExtractionError:
                raise first from None
            finally:
                notes.clear()
            if not doc.text.strip():
                raise first from None
            doc.warnings.insert(
                0, "truncated: the PDF ends early; text recovered from what is there"
            )
    doc.warnings.extend(_summarise(notes))
    return doc


_OBJ_NUMBER = re.compile(rb"(\d{1,10})\s+\d{1,5}\s+obj\b")


def _repair_truncated(data: bytes) -> bytes | None:
    """The PDF cut back to its last whole object plus a stand-in trailer, if it looks truncated."""
    if b"%%EOF" in data[-2048:]:
        return None
    end = data.rfind(b"endobj")
    if end < 0:
        return None
    body = data[: end + len(b"endobj")]
    numbers = [int(m) for m in _OBJ_NUMBER.findall(body)]
    size = max(numbers, default=0) + 1
    return body + b"\ntrailer\n<< /Size %d >>\nstartxref\n0\n%%%%EOF\n" % size


def _extract_guarded(data: bytes, name: str, limits: Limits) -> Document:
    try:
        return _extract(data, name, limits)
    except ExtractionError:
        raise
    except RecursionError:
        raise CorruptDocument(f"{name}: PDF structure nested too deeply") from None
    except MemoryError:
        raise CorruptDocument(f"{name}: PDF needs too much memory to read") from None
    except Exception as e:
        raise CorruptDocument(
            one_line(f"{name}: unreadable PDF ({type(e).__name__}: {e})")
        ) from None


def _open(data: bytes, name: str) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except Exception as e:
        raise CorruptDocument(
            one_line(f"{name}: unreadable PDF ({type(e).__name__}: {e})")
        ) from None
    if reader.is_encrypted:
        try:
            result = reader.decrypt("")
        except DependencyError:
            raise EncryptedDocument(
                f"{name}: encrypted PDF (AES), the 'cryptography' package is needed to open it"
            ) from None
        except (FileNotDecryptedError, NotImplementedError) as e:
            raise EncryptedDocument(one_line(f"{name}: encrypted PDF ({e})")) from None
        if result == PasswordType.NOT_DECRYPTED:
            raise EncryptedDocument(f"{name}: the PDF is protected by a password")
    return reader


def _title(reader: PdfReader) -> str:
    try:
        meta = reader.metadata
        title = meta.title if meta is not None else None
    except Exception:
        return ""
    if not title:
        return ""
    return " ".join(normalise(str(title)).split())[:500]


def _extract(data: bytes, name: str, limits: Limits) -> Document:
    reader = _open(data, name)
    warnings: list[str] = []
    try:
        count = len(reader.pages)
    except DependencyError:
        raise EncryptedDocument(
            f"{name}: encrypted PDF, the 'cryptography' package is needed to open it"
        ) from None
    texts: list[str] = []
    total = 0
    for index in range(count):
        if limits.out_of_time():
            if not any(texts):
                raise ExtractionTimeout(f"{name}: ran out of time before any page's text")
            warnings.append(f"timeout: stopped after page {index} of {count}")
            break
        try:
            page_text = reader.pages[index].extract_text()
        except DependencyError:
            raise EncryptedDocument(
                f"{name}: encrypted PDF, the 'cryptography' package is needed to open it"
            ) from None
        except Exception as e:  # one bad page does not lose the others
            warnings.append(one_line(f"page {index + 1}: no text ({type(e).__name__}: {e})"))
            page_text = ""
        page_text = normalise(page_text or "").strip()
        room = limits.max_chars - total - (len(PAGE_SEPARATOR) if texts else 0)
        if len(page_text) > room:
            texts.append(page_text[: max(room, 0)])
            warnings.append(
                f"truncated: kept the first {limits.max_chars} characters"
                f" (stopped at page {index + 1} of {count})"
            )
            break
        texts.append(page_text)
        total += len(page_text) + (len(PAGE_SEPARATOR) if len(texts) > 1 else 0)
    pages: list[Page] = []
    pos = 0
    for number, page_text in enumerate(texts, start=1):
        start = pos
        pos += len(page_text)
        if number < len(texts):
            pos += len(PAGE_SEPARATOR)
        pages.append(Page(number=number, start=start, end=pos))
    text = PAGE_SEPARATOR.join(texts)
    if count and not text.strip():
        warnings.append("no text: the PDF holds no extractable text (scanned images?)")
    return Document(text=text, title=_title(reader), kind="pdf", pages=pages, warnings=warnings)
