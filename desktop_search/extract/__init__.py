"""Text extraction: one module per format family, chosen by extension, then by sniffing content.

    extract(path) -> Document        the text (and title, pages) of one file, or ExtractionError
    is_supported(path) -> bool       cheap: is this file worth considering at all?
    SUPPORTED_EXTENSIONS             lower-case extensions with a leading dot

Every failure on bad input is an ExtractionError subclass with a one-line message and a short
`reason` code (UnsupportedFormat for files that are skipped rather than failed: "unsupported",
or "binary" for binary data). Work is bounded: max_bytes read per file, max_chars of text kept,
and an optional cooperative time budget. (A parser stuck inside one call cannot be interrupted
from within; callers that must bound time strictly run extraction in a killable worker process.)
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from desktop_search.errors import (
    CorruptDocument,
    ExtractionError,
    FileTooLarge,
    UnsupportedFormat,
)
from desktop_search.extract._common import DEFAULT_MAX_BYTES, DEFAULT_MAX_CHARS, Limits, one_line
from desktop_search.extract.base import Document, Page
from desktop_search.extract.html import HTML_EXTENSIONS, extract_html
from desktop_search.extract.office import (
    OFFICE_EXTENSIONS,
    extract_docx,
    extract_epub,
    extract_odf,
    extract_pptx,
)
from desktop_search.extract.pdf import PDF_EXTENSIONS, extract_pdf
from desktop_search.extract.sniff import SNIFF_BYTES, is_binary, looks_like_html, magic
from desktop_search.extract.text import (
    CODE_EXTENSIONS,
    MARKDOWN_EXTENSIONS,
    RST_EXTENSIONS,
    TEXT_EXTENSIONS,
    extract_text,
    kind_for_name,
)

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "Document",
    "Page",
    "extract",
    "is_supported",
    "kind_for_path",
]

Extractor = Callable[[Path, Limits], Document]


def _text_kind(kind: str) -> Extractor:
    def run(path: Path, limits: Limits) -> Document:
        return extract_text(path, limits, kind)

    return run


_REGISTRY: dict[str, tuple[str, Extractor]] = {}
for _ext in TEXT_EXTENSIONS:
    _REGISTRY[_ext] = ("text", _text_kind("text"))
for _ext in CODE_EXTENSIONS:
    _REGISTRY[_ext] = ("code", _text_kind("code"))
for _ext in MARKDOWN_EXTENSIONS:
    _REGISTRY[_ext] = ("markdown", _text_kind("markdown"))
for _ext in RST_EXTENSIONS:
    _REGISTRY[_ext] = ("rst", _text_kind("rst"))
for _ext in HTML_EXTENSIONS:
    _REGISTRY[_ext] = ("html", extract_html)
for _ext in PDF_EXTENSIONS:
    _REGISTRY[_ext] = ("pdf", extract_pdf)
for _ext in (".docx", ".docm", ".dotx"):
    _REGISTRY[_ext] = ("docx", extract_docx)
for _ext in (".pptx", ".pptm"):
    _REGISTRY[_ext] = ("pptx", extract_pptx)
for _ext, _kind in ((".odt", "odt"), (".ott", "odt"), (".ods", "ods"), (".odp", "odp")):
    _REGISTRY[_ext] = (_kind, extract_odf)
_REGISTRY[".epub"] = ("epub", extract_epub)
assert _REGISTRY.keys() >= OFFICE_EXTENSIONS

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_REGISTRY)

# Extensions never worth sniffing: known binary formats we do not extract, and key files.
KNOWN_BINARY_EXTENSIONS = frozenset(
    {
        ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".heic", ".heif",
        ".ico", ".icns", ".psd", ".xcf", ".raw", ".cr2", ".nef", ".arw", ".dng", ".avif",
        ".mp3", ".wav", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".aiff",
        ".mp4", ".m4v", ".mkv", ".mov", ".avi", ".wmv", ".webm", ".flv", ".mpg", ".mpeg",
        ".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".tar", ".lz", ".lzma",
        ".cab", ".deb", ".rpm", ".apk", ".ipa", ".dmg", ".iso", ".img", ".msi", ".pkg",
        ".exe", ".dll", ".so", ".dylib", ".o", ".obj", ".a", ".lib", ".bin", ".elf", ".class",
        ".jar", ".war", ".whl", ".egg", ".pyc", ".pyo", ".pyd", ".wasm", ".node",
        ".doc", ".xls", ".ppt", ".xlsx", ".xlsm", ".xlsb", ".odg", ".pages", ".numbers",
        ".key", ".rtf", ".mobi", ".azw", ".azw3", ".djvu", ".xps", ".ps", ".eps",
        ".ttf", ".otf", ".woff", ".woff2", ".eot", ".sqlite", ".sqlite3", ".db", ".mdb",
        ".accdb", ".parquet", ".feather", ".arrow", ".npy", ".npz", ".pkl", ".pickle", ".h5",
        ".hdf5", ".pt", ".pth", ".ckpt", ".onnx", ".safetensors", ".gguf", ".tflite", ".mat",
        ".blend", ".fbx", ".stl", ".glb", ".3ds", ".dwg", ".swf", ".sav", ".lnk",
        ".kdbx", ".gpg", ".pgp", ".p12", ".pfx", ".der", ".keystore", ".jks", ".pem", ".ppk",
    }
)  # fmt: skip


def kind_for_path(path: str | os.PathLike[str]) -> str | None:
    """The document family a file's name says ("pdf", "code", "markdown", ...), or None."""
    p = Path(path)
    entry = _REGISTRY.get(p.suffix.lower())
    if entry is not None:
        return entry[0]
    return kind_for_name(p)


def _head(path: Path) -> bytes:
    """The first bytes of a regular file (never opens a FIFO or device)."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        return b""
    with open(path, "rb") as f:
        return f.read(SNIFF_BYTES)


def is_supported(path: str | os.PathLike[str]) -> bool:
    """Cheap check used by the scanner: by extension, else by sniffing the first bytes."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in SUPPORTED_EXTENSIONS or kind_for_name(p) is not None:
        return True
    if suffix in KNOWN_BINARY_EXTENSIONS:
        return False
    try:
        head = _head(p)
    except OSError:
        return False
    if not head:
        return False
    return head.startswith(b"%PDF-") or not is_binary(head)


def _sniffed(path: Path) -> tuple[str, Extractor]:
    """The extractor for a file whose name does not say what it is."""
    if path.suffix.lower() in KNOWN_BINARY_EXTENSIONS:
        raise UnsupportedFormat(f"{path.name}: {path.suffix} files are not extracted")
    head = _head(path)
    if head.startswith(b"%PDF-"):
        return "pdf", extract_pdf
    if is_binary(head):
        what = magic(head)
        raise UnsupportedFormat(
            f"{path.name}: binary data ({what or 'not text'}), not extracted", reason="binary"
        )
    if looks_like_html(head):
        return "html", extract_html
    kind = kind_for_name(path) or "text"
    return kind, _text_kind(kind)


def extract(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_chars: int = DEFAULT_MAX_CHARS,
    time_budget: float | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Document:
    """The text of one file as a Document; every failure is an ExtractionError subclass.

    Binary formats larger than max_bytes raise FileTooLarge; text formats are read up to
    max_bytes and marked with a "truncated: ..." warning. At most max_chars characters are
    kept. time_budget (seconds) is checked between pages / chunks / members; a paged document
    gets more in proportion to its pages (Limits.expect_pages). on_progress(pages done, pages)
    is told as a paged document is read.
    """
    p = Path(path)
    limits = Limits(
        max_bytes=max_bytes,
        max_chars=max_chars,
        deadline=None if time_budget is None else time.monotonic() + time_budget,
        on_progress=on_progress,
    )
    try:
        st = os.stat(p)
        if not stat.S_ISREG(st.st_mode):
            raise UnsupportedFormat(f"{p.name}: not a regular file")
        entry = _REGISTRY.get(p.suffix.lower())
        _kind, extractor = entry if entry is not None else _sniffed(p)
        doc = extractor(p, limits)
    except ExtractionError as e:
        message = one_line(e)
        if message != str(e):
            e.args = (message,)
        raise
    except FileNotFoundError:
        raise ExtractionError(f"{p.name}: the file is gone", reason="missing") from None
    except PermissionError:
        raise ExtractionError(f"{p.name}: permission denied", reason="permission") from None
    except IsADirectoryError:
        raise UnsupportedFormat(f"{p.name}: is a directory") from None
    except OSError as e:
        raise ExtractionError(
            one_line(f"{p.name}: could not be read ({e.strerror or e})"), reason="unreadable"
        ) from None
    except MemoryError:  # the worker's memory cap: not corrupt, just more than one file may use
        raise FileTooLarge(
            f"{p.name}: too large to read safely (it needs more memory than one file may use)"
        ) from None
    except RecursionError as e:
        raise CorruptDocument(f"{p.name}: too complex to read ({type(e).__name__})") from None
    except Exception as e:
        raise CorruptDocument(one_line(f"{p.name}: {type(e).__name__}: {e}")) from None
    if len(doc.text) > max_chars:
        doc.text = doc.text[:max_chars]
    return doc
