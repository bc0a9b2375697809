"""PDF text, page by page, keeping which char range of the text came from which page.

PDFium (pypdfium2) reads first: it is the engine of Chrome's viewer, reads real-world PDFs of every
producer, and is 10-15x faster than pypdf here (1,948 pages of real reports: 2.4 s against 31.9 s).
pypdf reads what PDFium refuses (its safety limits raised, so genuine large PDFs pass) and
recovers files cut short. A file both refuse is recorded as a damaged PDF with both reasons.

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
from collections.abc import Callable, Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pypdf import PasswordType, PdfReader, apply_configuration
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
# pypdf refuses arrays and dictionaries over 100,000 elements by default; real 10-Q filings
# have larger ones. Its other limits (decompressed sizes) still guard against bombs.
_PYPDF_LIMITS: dict[str, object] = {
    "array_maximum_element_count": 10_000_000,
    "dictionary_maximum_element_count": 10_000_000,
}

_local = threading.local()
# PDFium is not thread-safe: one document at a time per process (the preview and, when
# extraction is not isolated, the indexer may both read PDFs).
_PDFIUM_LOCK = threading.Lock()


def extract_pdf(path: Path, limits: Limits) -> Document:
    data = read_whole(path, limits)
    if b"%PDF-" not in data[:1024]:
        raise CorruptDocument(f"{path.name}: damaged PDF: not a PDF (no %PDF- header)")
    try:
        doc = _pdfium_document(data, path.name, limits)
    except _Refused as pdfium_said:
        try:
            return _pypdf_document(data, path.name, limits)
        except CorruptDocument as e:
            raise CorruptDocument(
                one_line(f"{path.name}: damaged PDF: {pdfium_said}; pypdf: {_after_name(e)}")
            ) from None
    if not _ends_whole(data) and doc.text.strip():
        doc.warnings.insert(0, "truncated: the PDF ends early; text recovered from what is there")
    return doc


class _Refused(Exception):
    """PDFium could not open the file (pypdf gets a try)."""


_PDFIUM_ERRORS = {
    pdfium_c.FPDF_ERR_FILE: "the file could not be read",
    pdfium_c.FPDF_ERR_FORMAT: "not a valid PDF structure",
    pdfium_c.FPDF_ERR_PAGE: "the page tree is broken",
    pdfium_c.FPDF_ERR_UNKNOWN: "unknown PDFium error",
}


def _pdfium_document(data: bytes, name: str, limits: Limits) -> Document:
    with _PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as e:
            code = getattr(e, "err_code", None)
            if code == pdfium_c.FPDF_ERR_PASSWORD:
                raise EncryptedDocument(f"{name}: the PDF is protected by a password") from None
            if code == pdfium_c.FPDF_ERR_SECURITY:
                raise EncryptedDocument(
                    f"{name}: encrypted PDF with an unsupported security handler"
                ) from None
            raise _Refused(_PDFIUM_ERRORS.get(code or 0, one_line(e))) from None
        try:
            return _pdfium_pages(pdf, name, limits)
        finally:
            pdf.close()


def _pdfium_pages(pdf: pdfium.PdfDocument, name: str, limits: Limits) -> Document:
    def read(index: int) -> str:
        try:
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                try:
                    return str(textpage.get_text_range())
                finally:
                    textpage.close()
            finally:
                page.close()
        except pdfium.PdfiumError as e:
            raise _NoText(str(e)) from None

    count = len(pdf)
    texts, warnings = _read_pages(count, name, limits, read)
    title = ""
    with contextlib.suppress(pdfium.PdfiumError, KeyError, ValueError):
        title = " ".join(normalise(pdf.get_metadata_value("Title")).split())[:500]
    return _document(texts, title, count, warnings)


class _NoText(Exception):
    """One page whose text cannot be read: noted, and the other pages still read."""


def _read_pages(
    count: int, name: str, limits: Limits, read: Callable[[int], str]
) -> tuple[list[str], list[str]]:
    """Every page's text through `read` (either reader's), within the time budget (which grows
    with the pages) and max_chars, telling limits.progress as it goes. Returns the pages'
    texts and the warnings."""
    limits.expect_pages(count)
    warnings: list[str] = []
    texts: list[str] = []
    total = 0
    for index in range(count):
        if limits.out_of_time():
            if not any(texts):
                raise ExtractionTimeout(f"{name}: ran out of time before any page's text")
            warnings.append(f"timeout: stopped after page {index} of {count}")
            break
        try:
            page_text = read(index)
        except _NoText as e:  # one bad page does not lose the others
            warnings.append(one_line(f"page {index + 1}: no text ({e})"))
            page_text = ""
        page_text = normalise(page_text).strip()
        if not _add_page(texts, page_text, total, limits, warnings, index, count):
            break
        total += len(page_text) + (len(PAGE_SEPARATOR) if len(texts) > 1 else 0)
        limits.progress(index + 1, count)
    return texts, warnings


def _add_page(
    texts: list[str],
    page_text: str,
    total: int,
    limits: Limits,
    warnings: list[str],
    index: int,
    count: int,
) -> bool:
    """Appends a page's text within max_chars; False once the limit cut it short."""
    room = limits.max_chars - total - (len(PAGE_SEPARATOR) if texts else 0)
    if len(page_text) > room:
        texts.append(page_text[: max(room, 0)])
        warnings.append(
            f"truncated: kept the first {limits.max_chars} characters"
            f" (stopped at page {index + 1} of {count})"
        )
        return False
    texts.append(page_text)
    return True


def _document(texts: list[str], title: str, count: int, warnings: list[str]) -> Document:
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
    return Document(text=text, title=title, kind="pdf", pages=pages, warnings=warnings)


def _ends_whole(data: bytes) -> bool:
    return b"%%EOF" in data[-2048:]


def _after_name(e: Exception) -> str:
    """An extractor's message without the "name: " it starts with."""
    text = str(e)
    return text.split(": ", 1)[1] if ": " in text else text


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


def _pypdf_document(data: bytes, name: str, limits: Limits) -> Document:
    """pypdf's reading, for what PDFium refuses; its safety limits raised so that genuine large
    PDFs pass (its default of 100,000 array elements refuses real SEC filings)."""
    notes: list[str] = []
    with _capture(notes), apply_configuration(None, **_PYPDF_LIMITS):
        try:
            doc = _extract_guarded(data, name, limits)
        except CorruptDocument as first:
            # A file cut short (an interrupted download or copy) has lost its cross-reference
            # table and trailer: rebuild them from the objects that are there.
            repaired = _repair_truncated(data)
            if repaired is None:
                raise
            notes.clear()  # what pypdf said about the cut file, and next about our stand-in trailer
            try:
                doc = _extract_guarded(repaired, name, limits)
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
    try:
        count = len(reader.pages)
    except DependencyError:
        raise EncryptedDocument(
            f"{name}: encrypted PDF, the 'cryptography' package is needed to open it"
        ) from None

    def read(index: int) -> str:
        try:
            return reader.pages[index].extract_text() or ""
        except DependencyError:
            raise EncryptedDocument(
                f"{name}: encrypted PDF, the 'cryptography' package is needed to open it"
            ) from None
        except Exception as e:
            raise _NoText(f"{type(e).__name__}: {e}") from None

    texts, warnings = _read_pages(count, name, limits, read)
    return _document(texts, _title(reader), count, warnings)
