"""Zipped XML documents: DOCX, PPTX, ODT/ODS/ODP and EPUB, with zipfile and xml.etree only.

Guards, since these files come from anywhere:
- zip bombs: the central directory, each member's declared size and compression ratio are checked
  before reading, and members are read with a byte cap (per member and in total);
- XML entity expansion: a document declaring entities (<!ENTITY) is refused;
- memory: XML is parsed as a stream and elements are dropped as soon as their text is taken, so
  memory stays bounded whatever the size of the document; output stops at max_chars.
"""

from __future__ import annotations

import posixpath
import re
import struct
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree as ET

from desktop_search.errors import (
    CorruptDocument,
    EncryptedDocument,
    ExtractionError,
    FileTooLarge,
)
from desktop_search.extract._common import (
    Limits,
    file_size,
    normalise,
    one_line,
    squeeze_blank_lines,
)
from desktop_search.extract.base import Document, Page
from desktop_search.extract.html import decode_html, html_to_text

OFFICE_EXTENSIONS = frozenset({".docx", ".docm", ".dotx", ".pptx", ".pptm", ".odt", ".ott",
                               ".ods", ".odp", ".epub"})  # fmt: skip

MAX_RATIO = 200  # declared uncompressed / compressed size beyond which a big member is a bomb
RATIO_MIN_SIZE = 1 << 20  # members smaller than this are never called bombs
MAX_MEMBERS = 50_000
MAX_CENTRAL_DIRECTORY = 16 << 20
_READ = 1 << 16
_ENTITY = b"<!ENTITY"


# --- the guarded zip ------------------------------------------------------------------------


class SafeZip:
    """A zip archive whose members are read with declared-size, ratio and byte-count guards."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.name = path.name
        self.limits = limits
        size = file_size(path)
        if size > limits.max_bytes:
            raise FileTooLarge(
                f"{path.name}: {size} bytes is over the limit of {limits.max_bytes} bytes"
            )
        _check_central_directory(path)
        try:
            self.zip = zipfile.ZipFile(path)
        except zipfile.BadZipFile as e:
            raise CorruptDocument(one_line(f"{path.name}: not a valid zip archive ({e})")) from None
        infos = self.zip.infolist()
        if len(infos) > MAX_MEMBERS:
            self.zip.close()
            raise CorruptDocument(f"{path.name}: {len(infos)} zip members, too many to be real")
        self.infos = {i.filename: i for i in infos}
        self.member_cap = limits.max_bytes
        self.budget = 4 * limits.max_bytes  # bytes left to decompress, all members together

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, member: str) -> bool:
        return member in self.infos

    def names(self) -> list[str]:
        return list(self.infos)

    def chunks(self, member: str) -> Iterator[bytes]:
        """The member's bytes, in pieces, refusing bombs before and while decompressing."""
        info = self.infos.get(member)
        if info is None:
            raise CorruptDocument(f"{self.name}: {member} is missing from the archive")
        if info.flag_bits & 0x1:
            raise EncryptedDocument(f"{self.name}: the archive is encrypted")
        declared = info.file_size
        if declared > self.member_cap or declared > self.budget:
            raise CorruptDocument(
                f"{self.name}: {member} unpacks to {declared} bytes, over the limit (zip bomb?)",
                reason="zip-bomb",
            )
        if declared > RATIO_MIN_SIZE and declared > MAX_RATIO * max(info.compress_size, 1):
            raise CorruptDocument(
                f"{self.name}: {member} is compressed {declared // max(info.compress_size, 1)}:1"
                " (zip bomb?)",
                reason="zip-bomb",
            )
        read = 0
        try:
            with self.zip.open(info) as f:
                while True:
                    chunk = f.read(_READ)
                    if not chunk:
                        break
                    read += len(chunk)
                    if read > self.member_cap or read > self.budget:
                        raise CorruptDocument(
                            f"{self.name}: {member} unpacks to more than declared (zip bomb?)",
                            reason="zip-bomb",
                        )
                    yield chunk
        except ExtractionError:
            raise
        except RuntimeError as e:  # zipfile's "File is encrypted, password required"
            if "encrypted" in str(e):
                raise EncryptedDocument(f"{self.name}: the archive is encrypted") from None
            raise CorruptDocument(one_line(f"{self.name}: {member}: {e}")) from None
        except NotImplementedError as e:
            raise CorruptDocument(one_line(f"{self.name}: {member}: {e}")) from None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise CorruptDocument(one_line(f"{self.name}: {member} is damaged ({e})")) from None
        finally:
            self.budget -= read

    def read(self, member: str) -> bytes:
        return b"".join(self.chunks(member))


def _check_central_directory(path: Path) -> None:
    """Refuse an archive whose central directory (read whole by zipfile) is absurdly large."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        tail_len = min(size, 22 + 65535)
        f.seek(size - tail_len)
        tail = f.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return  # zipfile will say what is wrong
    entries, cd_size = struct.unpack("<HI", tail[at + 10 : at + 16])
    if entries != 0xFFFF and cd_size != 0xFFFFFFFF and cd_size > MAX_CENTRAL_DIRECTORY:
        raise CorruptDocument(f"{path.name}: zip directory of {cd_size} bytes, refused")


# --- streaming XML --------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _Sink:
    """Collects output text, stopping at max_chars."""

    def __init__(self, limits: Limits) -> None:
        self.parts: list[str] = []
        self.chars = 0
        self.limits = limits
        self.full = False

    def add(self, text: str) -> None:
        if self.full or not text:
            return
        self.parts.append(text)
        self.chars += len(text)
        if self.chars > self.limits.max_chars:
            self.full = True

    def is_full(self) -> bool:
        return self.full

    def text(self) -> str:
        return "".join(self.parts)


def _xml_events(
    archive: SafeZip, member: str, on_start: Callable[[ET.Element, list[ET.Element]], None],
    on_end: Callable[[ET.Element, list[ET.Element]], bool], stop: Callable[[], bool],
) -> None:  # fmt: skip
    """Stream-parse one XML member. `on_end(elem, open_ancestors)` returns True when the element
    may be dropped (its text taken). `stop()` ends the parse early."""
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    stack: list[ET.Element] = []
    previous_tail = b""
    try:
        for chunk in archive.chunks(member):
            if _ENTITY in previous_tail + chunk:
                raise CorruptDocument(
                    f"{archive.name}: {member} declares XML entities, refused",
                    reason="xml-entities",
                )
            previous_tail = chunk[-len(_ENTITY) :]
            parser.feed(chunk)
            for item in parser.read_events():
                event, elem = item[0], item[-1]
                if not isinstance(elem, ET.Element):
                    continue
                if event == "start":
                    on_start(elem, stack)
                    stack.append(elem)
                else:
                    stack.pop()
                    if on_end(elem, stack) and stack and len(stack[-1]) and stack[-1][-1] is elem:
                        del stack[-1][-1]
            if stop():
                return
            archive.limits.check_time(archive.name)
        parser.close()
    except ET.ParseError as e:
        raise CorruptDocument(
            one_line(f"{archive.name}: {member} is not valid XML ({e})")
        ) from None


def _small_xml(archive: SafeZip, member: str) -> ET.Element | None:
    """Parse a small metadata member whole (None when absent or unreadable)."""
    if not archive.has(member) or archive.infos[member].file_size > 4 << 20:
        return None
    data = archive.read(member)
    if _ENTITY in data:
        raise CorruptDocument(
            f"{archive.name}: {member} declares XML entities, refused", reason="xml-entities"
        )
    try:
        return ET.fromstring(data)
    except ET.ParseError:
        return None


def _first_text(root: ET.Element | None, local_name: str) -> str:
    if root is None:
        return ""
    for elem in root.iter():
        if isinstance(elem.tag, str) and _local(elem.tag) == local_name and elem.text:
            return " ".join(normalise(elem.text).split())[:500]
    return ""


def _finish(sink: _Sink, limits: Limits, warnings: list[str]) -> str:
    text = squeeze_blank_lines(normalise(sink.text()))
    if sink.full or len(text) > limits.max_chars:
        warnings.append(f"truncated: kept the first {limits.max_chars} characters")
        text = text[: limits.max_chars]
    return text


def _guarded(name: str, what: str, work: Callable[[], Document]) -> Document:
    try:
        return work()
    except ExtractionError:
        raise
    except MemoryError:
        raise FileTooLarge(
            f"{name}: too large to read safely (it needs more memory than one file may use)"
        ) from None
    except RecursionError as e:
        raise CorruptDocument(f"{name}: {what} too complex to read ({type(e).__name__})") from None
    except Exception as e:
        raise CorruptDocument(
            one_line(f"{name}: unreadable {what} ({type(e).__name__}: {e})")
        ) from None


# --- OOXML: DOCX and PPTX -------------------------------------------------------------------


class _OoxmlText:
    """Text of WordprocessingML / DrawingML: runs, tabs, breaks, paragraphs, table cells.

    Markup-compatibility fallbacks (mc:Fallback, e.g. the VML copy of a text box) are skipped:
    their text repeats the mc:Choice that precedes them.
    """

    TEXT = frozenset({"t"})  # w:t, a:t, m:t; not w:delText / w:instrText
    BREAK = frozenset({"br", "cr"})

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self.cells = 0
        self.fallback = 0

    def start(self, elem: ET.Element, stack: list[ET.Element]) -> None:
        name = _local(elem.tag)
        if name == "tc":
            self.cells += 1
        elif name == "Fallback":
            self.fallback += 1

    def end(self, elem: ET.Element, stack: list[ET.Element]) -> bool:
        name = _local(elem.tag)
        if name == "Fallback":
            self.fallback -= 1
            return True
        if name == "tc":
            self.cells -= 1
        if self.fallback:
            return True
        parent = _local(stack[-1].tag) if stack else ""
        if name in self.TEXT:
            if elem.text:
                self.sink.add(elem.text)
        elif name == "tab" and parent == "r":
            self.sink.add("\t")
        elif name in self.BREAK and parent in ("r", "p"):  # w:br sits in a run, a:br in a:p
            self.sink.add("\n")
        elif name == "noBreakHyphen":
            self.sink.add("-")
        elif name == "p":
            self.sink.add(" " if self.cells else "\n")
        elif name == "tc":
            self.sink.add("\t")
        elif name == "tr":
            self.sink.add("\n")
        return True


def extract_docx(path: Path, limits: Limits) -> Document:
    def work() -> Document:
        with SafeZip(path, limits) as archive:
            if not archive.has("word/document.xml"):
                raise CorruptDocument(f"{path.name}: not a Word document (no word/document.xml)")
            sink = _Sink(limits)
            text_of = _OoxmlText(sink)
            _xml_events(archive, "word/document.xml", text_of.start, text_of.end,
                        sink.is_full)  # fmt: skip
            warnings: list[str] = []
            text = _finish(sink, limits, warnings)
            title = _first_text(_small_xml(archive, "docProps/core.xml"), "title")
            return Document(text=text, title=title, kind="docx", warnings=warnings)

    return _guarded(path.name, "Word document", work)


_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_SLIDE_NAME = re.compile(r"^ppt/slides/slide(\d+)\.xml$")


def _slide_order(archive: SafeZip) -> list[str]:
    """Slide members in presentation order (presentation.xml), else by their number."""
    numbered = sorted(
        (int(m.group(1)), name) for name in archive.names() if (m := _SLIDE_NAME.match(name))
    )
    fallback = [name for _, name in numbered]
    pres = _small_xml(archive, "ppt/presentation.xml")
    rels = _small_xml(archive, "ppt/_rels/presentation.xml.rels")
    if pres is None or rels is None:
        return fallback
    targets = {
        r.get("Id"): r.get("Target", "")
        for r in rels.iter()
        if isinstance(r.tag, str) and _local(r.tag) == "Relationship"
    }
    order: list[str] = []
    for sld in pres.iter():
        if isinstance(sld.tag, str) and _local(sld.tag) == "sldId":
            target = targets.get(sld.get(_REL_ID))
            if not target:
                continue
            member = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join("ppt", target))
            )
            if archive.has(member) and member not in order:
                order.append(member)
    return order or fallback


def extract_pptx(path: Path, limits: Limits) -> Document:
    def work() -> Document:
        with SafeZip(path, limits) as archive:
            slides = _slide_order(archive)
            if not slides and not archive.has("ppt/presentation.xml"):
                raise CorruptDocument(f"{path.name}: not a PowerPoint file (no ppt/ slides)")
            warnings: list[str] = []
            texts: list[str] = []
            total = 0
            for member in slides:
                sink = _Sink(Limits(limits.max_bytes, limits.max_chars - total, limits.deadline))
                text_of = _OoxmlText(sink)
                _xml_events(archive, member, text_of.start, text_of.end, sink.is_full)
                slide_text = squeeze_blank_lines(normalise(sink.text()))
                texts.append(slide_text)
                total += len(slide_text) + 2
                if total >= limits.max_chars:
                    warnings.append(
                        f"truncated: kept the first {limits.max_chars} characters"
                        f" (stopped at slide {len(texts)} of {len(slides)})"
                    )
                    break
            text, pages = _join_pages(texts)
            if len(text) > limits.max_chars:
                text = text[: limits.max_chars]
            title = _first_text(_small_xml(archive, "docProps/core.xml"), "title")
            return Document(text=text, title=title, kind="pptx", pages=pages, warnings=warnings)

    return _guarded(path.name, "PowerPoint file", work)


def _join_pages(texts: list[str]) -> tuple[str, list[Page]]:
    """Texts joined by blank lines, with contiguous page ranges numbered from 1."""
    pages: list[Page] = []
    pos = 0
    for number, part in enumerate(texts, start=1):
        start = pos
        pos += len(part) + (2 if number < len(texts) else 0)
        pages.append(Page(number=number, start=start, end=pos))
    return "\n\n".join(texts), pages


# --- OpenDocument: ODT, ODS, ODP ------------------------------------------------------------

_TEXT_NS = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE_NS = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_DRAW_NS = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
_OFFICE_NS = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_P, _H = _TEXT_NS + "p", _TEXT_NS + "h"
_S, _TAB, _LINE_BREAK = _TEXT_NS + "s", _TEXT_NS + "tab", _TEXT_NS + "line-break"
_CELL, _ROW = _TABLE_NS + "table-cell", _TABLE_NS + "table-row"
_COVERED_CELL = _TABLE_NS + "covered-table-cell"
_DRAW_PAGE = _DRAW_NS + "page"
_ANNOTATION = _OFFICE_NS + "annotation"
_TRACKED = _TEXT_NS + "tracked-changes"


def _odf_paragraph(root: ET.Element) -> str:
    """The text of one text:p / text:h, spans, spaces, tabs and breaks included (no recursion)."""
    out: list[str] = []
    todo: list[ET.Element | str] = [root]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        if item is not root and item.tail:
            todo.append(item.tail)
        tag = item.tag
        if tag == _S:
            try:
                count = int(item.get(_TEXT_NS + "c", "1"))
            except ValueError:
                count = 1
            out.append(" " * min(max(count, 1), 100))
            continue
        if tag == _TAB:
            out.append("\t")
            continue
        if tag == _LINE_BREAK:
            out.append("\n")
            continue
        if tag == _ANNOTATION:
            continue
        if item is not root and tag in (_P, _H):
            out.append(" ")
        if item.text:
            out.append(item.text)
        todo.extend(reversed(list(item)))
    return "".join(out)


class _OdfText:
    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self.paragraphs = 0  # open text:p / text:h
        self.cells = 0
        self.tracked = 0
        self.page_ends: list[int] = []  # sink length at the end of each draw:page

    def start(self, elem: ET.Element, stack: list[ET.Element]) -> None:
        tag = elem.tag
        if tag in (_P, _H):
            self.paragraphs += 1
        elif tag in (_CELL, _COVERED_CELL):
            self.cells += 1
        elif tag == _TRACKED:
            self.tracked += 1

    def end(self, elem: ET.Element, stack: list[ET.Element]) -> bool:
        tag = elem.tag
        if tag in (_P, _H):
            self.paragraphs -= 1
            if self.paragraphs == 0:
                if not self.tracked:
                    self.sink.add(_odf_paragraph(elem))
                    self.sink.add(" " if self.cells else "\n")
                return True
            return False  # an inner paragraph (a note): its outer one takes its text
        if self.paragraphs:
            return False  # inside a paragraph: kept until the paragraph ends
        if tag in (_CELL, _COVERED_CELL):
            self.cells -= 1
            self.sink.add("\t")
        elif tag == _ROW:
            self.sink.add("\n")
        elif tag == _TRACKED:
            self.tracked -= 1
        elif tag == _DRAW_PAGE:
            self.sink.add("\n\n")
            self.page_ends.append(self.sink.chars)
        return True


def extract_odf(path: Path, limits: Limits) -> Document:
    suffix = path.suffix.lower()
    kind = {".ods": "ods", ".odp": "odp"}.get(suffix, "odt")

    def work() -> Document:
        with SafeZip(path, limits) as archive:
            if not archive.has("content.xml"):
                raise CorruptDocument(f"{path.name}: not an OpenDocument file (no content.xml)")
            sink = _Sink(limits)
            text_of = _OdfText(sink)
            _xml_events(archive, "content.xml", text_of.start, text_of.end, sink.is_full)
            warnings: list[str] = []
            pages: list[Page] = []
            if kind == "odp" and text_of.page_ends:
                raw = sink.text()
                slides, start = [], 0
                for end in text_of.page_ends:
                    slides.append(squeeze_blank_lines(normalise(raw[start:end])))
                    start = end
                text, pages = _join_pages(slides)
                if len(text) > limits.max_chars:
                    warnings.append(f"truncated: kept the first {limits.max_chars} characters")
                    text = text[: limits.max_chars]
            else:
                text = _finish(sink, limits, warnings)
            title = _first_text(_small_xml(archive, "meta.xml"), "title")
            return Document(text=text, title=title, kind=kind, pages=pages, warnings=warnings)

    return _guarded(path.name, "OpenDocument file", work)


# --- EPUB -----------------------------------------------------------------------------------

_XHTML_TYPES = frozenset({"application/xhtml+xml", "text/html", "application/xml"})


def extract_epub(path: Path, limits: Limits) -> Document:
    def work() -> Document:
        with SafeZip(path, limits) as archive:
            container = _small_xml(archive, "META-INF/container.xml")
            opf_path = ""
            if container is not None:
                for elem in container.iter():
                    if isinstance(elem.tag, str) and _local(elem.tag) == "rootfile":
                        opf_path = elem.get("full-path", "")
                        break
            if not opf_path:
                opf_path = next((n for n in archive.names() if n.endswith(".opf")), "")
            opf = _small_xml(archive, opf_path) if opf_path else None
            if opf is None:
                raise CorruptDocument(f"{path.name}: not an EPUB (no readable package file)")
            base = posixpath.dirname(opf_path)
            manifest: dict[str, tuple[str, str]] = {}
            spine: list[str] = []
            for elem in opf.iter():
                if not isinstance(elem.tag, str):
                    continue
                name = _local(elem.tag)
                if name == "item" and elem.get("id") and elem.get("href"):
                    href = posixpath.normpath(posixpath.join(base, unquote(elem.get("href", ""))))
                    manifest[elem.get("id", "")] = (href, elem.get("media-type", ""))
                elif name == "itemref" and elem.get("idref"):
                    spine.append(elem.get("idref", ""))
            warnings: list[str] = []
            texts: list[str] = []
            total = 0
            for idref in spine:
                href, media_type = manifest.get(idref, ("", ""))
                if not href or media_type not in _XHTML_TYPES or not archive.has(href):
                    continue
                limits.check_time(path.name)
                room = Limits(limits.max_bytes, max(limits.max_chars - total, 0), limits.deadline)
                chapter, _, cut = html_to_text(decode_html(archive.read(href), []), room)
                if chapter:
                    texts.append(chapter)
                    total += len(chapter) + 2
                if cut or total >= limits.max_chars:
                    warnings.append(f"truncated: kept the first {limits.max_chars} characters")
                    break
            text = "\n\n".join(texts)[: limits.max_chars]
            title = _first_text(opf, "title")
            return Document(text=text, title=title, kind="epub", warnings=warnings)

    return _guarded(path.name, "EPUB", work)
