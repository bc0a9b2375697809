"""Extraction of every supported format from real files written by the tests themselves."""

from __future__ import annotations

import io
import logging
import os
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pdf_maker import make_pdf
from pypdf import PdfReader, PdfWriter

from desktop_search.errors import (
    CorruptDocument,
    EncryptedDocument,
    ExtractionError,
    FileTooLarge,
    UnsupportedFormat,
)
from desktop_search.extract import (
    SUPPORTED_EXTENSIONS,
    Document,
    extract,
    is_supported,
    kind_for_path,
)

# --- builders of real files -----------------------------------------------------------------


def encrypt_pdf(data: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
CORE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    "<dc:title>{title}</dc:title></cp:coreProperties>"
)


def write_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content.encode() if isinstance(content, str) else content)
    return path


def docx_xml(body: str) -> str:
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    return f"{head}<w:document {W}><w:body>{body}</w:body></w:document>"


def make_docx(path: Path, body: str, title: str = "") -> Path:
    members: dict[str, str | bytes] = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types/>',
        "word/document.xml": docx_xml(body),
    }
    if title:
        members["docProps/core.xml"] = CORE.format(title=title)
    return write_zip(path, members)


def p(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
PML = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'


def slide_xml(*paragraphs: str) -> str:
    paras = "".join(f"<a:p><a:r><a:t>{t}</a:t></a:r></a:p>" for t in paragraphs)
    return (
        f'<?xml version="1.0"?><p:sld {A} {PML}><p:cSld><p:spTree><p:sp><p:txBody>'
        f"{paras}</p:txBody></p:sp></p:spTree></p:cSld></p:sld>"
    )


def make_pptx(path: Path) -> Path:
    # Presentation order is slide2.xml then slide1.xml: the order must come from
    # presentation.xml, not from the file names.
    return write_zip(
        path,
        {
            "[Content_Types].xml": '<?xml version="1.0"?><Types/>',
            "ppt/presentation.xml": (
                f'<?xml version="1.0"?><p:presentation {PML} {R}><p:sldIdLst>'
                '<p:sldId id="256" r:id="rId7"/><p:sldId id="257" r:id="rId3"/>'
                "</p:sldIdLst></p:presentation>"
            ),
            "ppt/_rels/presentation.xml.rels": (
                '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                'package/2006/relationships"><Relationship Id="rId3" Target="slides/slide1.xml"/>'
                '<Relationship Id="rId7" Target="slides/slide2.xml"/></Relationships>'
            ),
            "ppt/slides/slide1.xml": slide_xml("Second slide heading", "Quarterly revenue grew"),
            "ppt/slides/slide2.xml": slide_xml("Opening slide", "Welcome everyone"),
            "docProps/core.xml": CORE.format(title="Deck Title"),
        },
    )


ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"'
)
ODF_META = (
    '<?xml version="1.0"?><office:document-meta '
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><office:meta><dc:title>{title}</dc:title>'
    "</office:meta></office:document-meta>"
)


def make_odf(path: Path, body: str, title: str = "") -> Path:
    members: dict[str, str | bytes] = {
        "mimetype": "application/vnd.oasis.opendocument.text",
        "content.xml": (
            f'<?xml version="1.0"?><office:document-content {ODF_NS}><office:body>'
            f"{body}</office:body></office:document-content>"
        ),
    }
    if title:
        members["meta.xml"] = ODF_META.format(title=title)
    return write_zip(path, members)


def make_epub(path: Path) -> Path:
    chapter = (
        '<?xml version="1.0" encoding="utf-8"?><!DOCTYPE html>'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{t}</title>'
        "<style>p {{ color: red }}</style></head><body><h1>{t}</h1><p>{body}</p></body></html>"
    )
    return write_zip(
        path,
        {
            "mimetype": "application/epub+zip",
            "META-INF/container.xml": (
                '<?xml version="1.0"?><container version="1.0" '
                'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                '<rootfile full-path="OEBPS/content.opf" '
                'media-type="application/oebps-package+xml"/></rootfiles></container>'
            ),
            "OEBPS/content.opf": (
                '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" '
                'version="3.0"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
                "<dc:title>The Lighthouse Keeper</dc:title></metadata><manifest>"
                '<item id="c1" href="Text/chapter%201.xhtml" media-type="application/xhtml+xml"/>'
                '<item id="c2" href="Text/chapter2.xhtml" media-type="application/xhtml+xml"/>'
                '<item id="css" href="style.css" media-type="text/css"/>'
                '</manifest><spine><itemref idref="c2"/><itemref idref="c1"/></spine></package>'
            ),
            "OEBPS/Text/chapter 1.xhtml": chapter.format(
                t="Chapter One", body="The storm broke at midnight &amp; the lamp held."
            ),
            "OEBPS/Text/chapter2.xhtml": chapter.format(
                t="Prologue", body="Before the storm there was calm."
            ),
            "OEBPS/style.css": "p { margin: 0 }",
        },
    )


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# --- plain text, code, encodings -----------------------------------------------------------


def test_plain_text(tmp_path: Path) -> None:
    doc = extract(write(tmp_path / "notes.txt", "Buy milk\r\nCall Anna\rDone\n"))
    assert doc.text == "Buy milk\nCall Anna\nDone\n"
    assert doc.kind == "text"
    assert doc.pages == [] and doc.warnings == []


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-16-le", b""),  # no BOM: recognised by its shape
    ],
)
def test_unicode_encodings(tmp_path: Path, encoding: str, prefix: bytes) -> None:
    text = "Grüße aus Köln – naïve café, 東京, emoji 🎉\nline two\n"
    doc = extract(write(tmp_path / "u.txt", prefix + text.encode(encoding)))
    assert doc.text == text
    assert doc.warnings == []


def test_cp1252_fallback(tmp_path: Path) -> None:
    text = "“Smart quotes” cost 5 € — déjà vu"
    doc = extract(write(tmp_path / "win.txt", text.encode("cp1252")))
    assert doc.text == text
    assert any("cp1252" in w for w in doc.warnings)


def test_latin1_last_resort(tmp_path: Path) -> None:
    # 0x81 and 0x8d are not defined in cp1252: latin-1 decodes anything.
    doc = extract(write(tmp_path / "odd.txt", b"caf\xe9 \x81\x8d end"))
    assert doc.text.startswith("café") and doc.text.endswith("end")
    assert any("latin-1" in w for w in doc.warnings)


def test_mostly_utf8_with_a_bad_byte_stays_utf8(tmp_path: Path) -> None:
    data = ("Zürich München Genève Åre " * 20).encode() + b"\xff tail"
    doc = extract(write(tmp_path / "mixed.txt", data))
    assert doc.text.startswith("Zürich München")
    assert any("UTF-8" in w for w in doc.warnings)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("main.py", "code"),
        ("lib.rs", "code"),
        ("app.ts", "code"),
        ("x.h", "code"),
        ("conf.toml", "code"),
        ("data.json", "code"),
        ("q.sql", "code"),
        ("Makefile", "code"),
        ("README", "text"),
        ("server.log", "text"),
    ],
)
def test_code_and_text_by_name(tmp_path: Path, name: str, kind: str) -> None:
    doc = extract(write(tmp_path / name, "def f():\n    return 42  # answer\n"))
    assert doc.kind == kind
    assert "return 42" in doc.text
    assert kind_for_path(tmp_path / name) == kind
    assert is_supported(tmp_path / name)


def test_sniffing_files_without_known_extension(tmp_path: Path) -> None:
    script = write(tmp_path / "deploy", "#!/bin/sh\necho deploying\n")
    notes = write(tmp_path / "notes.unknownext", "Meeting notes: the budget is approved.\n")
    page = write(tmp_path / "saved_page", "<!DOCTYPE html><html><title>Saved</title><p>Hi</p>")
    pdf = write(tmp_path / "scan0001", make_pdf(["Invoice number 42"]))
    assert all(is_supported(f) for f in (script, notes, page, pdf))
    assert extract(script).kind == "code"
    assert extract(notes).text.startswith("Meeting notes")
    assert extract(page).title == "Saved"
    doc = extract(pdf)
    assert doc.kind == "pdf" and "Invoice number 42" in doc.text


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        b"hello\x00world" * 50,
        b"\x7fELF\x02\x01\x01" + b"\x00" * 100,
        bytes(range(1, 32)) * 20,  # control bytes, no NUL
    ],
)
def test_binary_data_in_text_extension_is_skipped(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path / "looks.txt", data)
    with pytest.raises(UnsupportedFormat) as info:
        extract(path)
    assert info.value.reason == "binary"
    assert "\n" not in str(info.value)
    unknown = write(tmp_path / "blob.unknownext", data)
    assert not is_supported(unknown)
    with pytest.raises(UnsupportedFormat):
        extract(unknown)


def test_known_binary_extension_not_supported(tmp_path: Path) -> None:
    path = write(tmp_path / "photo.jpg", "not really a photo")
    assert not is_supported(path)
    with pytest.raises(UnsupportedFormat) as info:
        extract(path)
    assert info.value.reason == "unsupported"


def test_supported_extensions_cover_the_families() -> None:
    for ext in (".txt", ".md", ".rst", ".py", ".html", ".pdf", ".docx", ".odt", ".pptx", ".epub"):
        assert ext in SUPPORTED_EXTENSIONS
    assert all(e.startswith(".") and e == e.lower() for e in SUPPORTED_EXTENSIONS)


def test_large_text_file_is_read_partially(tmp_path: Path) -> None:
    # A 4 GiB sparse "log": only the first max_bytes are ever read.
    path = tmp_path / "huge.log"
    with open(path, "wb") as f:
        f.write(b"2024-01-01 service started\n" * 10_000)
        f.truncate(4 << 30)
    t0 = time.monotonic()
    doc = extract(path, max_bytes=100_000)
    assert time.monotonic() - t0 < 2
    assert doc.text.startswith("2024-01-01 service started\n")
    assert len(doc.text) <= 100_000
    assert any(w.startswith("truncated") for w in doc.warnings)


def test_truncation_never_splits_a_character(tmp_path: Path) -> None:
    path = write(tmp_path / "accents.txt", "é" * 100_000)
    doc = extract(path, max_bytes=100_001)  # cuts the 50,001st "é" in half
    assert doc.text == "é" * 50_000
    assert not any("encoding" in w for w in doc.warnings)


def test_max_chars_bounds_text(tmp_path: Path) -> None:
    doc = extract(write(tmp_path / "long.txt", "word " * 10_000), max_chars=1000)
    assert len(doc.text) == 1000
    assert any(w.startswith("truncated") for w in doc.warnings)


def test_binary_format_over_max_bytes_is_too_large(tmp_path: Path) -> None:
    pdf = write(tmp_path / "big.pdf", make_pdf(["x" * 2000]))
    with pytest.raises(FileTooLarge):
        extract(pdf, max_bytes=100)
    docx = make_docx(tmp_path / "big.docx", p("y" * 5000))
    with pytest.raises(FileTooLarge):
        extract(docx, max_bytes=100)


# --- Markdown and reStructuredText ----------------------------------------------------------


def test_markdown_title_and_text_kept_as_is(tmp_path: Path) -> None:
    source = (
        "Intro line\n\n```bash\n# not a heading\n```\n\n# Trip to Lisbon\n\n"
        "Some **bold** [link](http://x)\n"
    )
    doc = extract(write(tmp_path / "trip.md", source))
    assert doc.kind == "markdown"
    assert doc.title == "Trip to Lisbon"
    assert doc.text == source  # offsets point into what a person reads


@pytest.mark.parametrize(
    ("source", "title"),
    [
        ("---\ntitle: 'Front Matter Title'\ndate: 2024\n---\n# Other\n", "Front Matter Title"),
        ("Setext Title\n============\n\nbody\n", "Setext Title"),
        ("## Only a second level\n\ntext\n", ""),
        ("# Closed ATX #\n", "Closed ATX"),
    ],
)
def test_markdown_titles(tmp_path: Path, source: str, title: str) -> None:
    assert extract(write(tmp_path / "t.markdown", source)).title == title


@pytest.mark.parametrize(
    ("source", "title"),
    [
        ("=============\n Release Notes\n=============\n\nBody text.\n", "Release Notes"),
        (".. comment\n\nInstallation Guide\n==================\n\nSteps.\n", "Installation Guide"),
        ("Plain paragraph without any heading.\n", ""),
    ],
)
def test_rst_titles(tmp_path: Path, source: str, title: str) -> None:
    doc = extract(write(tmp_path / "doc.rst", source))
    assert doc.kind == "rst"
    assert doc.title == title
    assert doc.text == source


# --- HTML -----------------------------------------------------------------------------------


def test_html_visible_text_only(tmp_path: Path) -> None:
    html = """<!DOCTYPE html><html><head><title>Garden &amp; Home</title>
    <meta charset="utf-8"><style>body { color: red }</style>
    <script>var secret = "do not index";</script></head>
    <body><h1>Tomatoes</h1><p>Water them   daily&nbsp;&mdash; not
    weekly.</p><ul><li>Sun</li><li>Soil</li></ul><noscript>Enable JS</noscript>
    <table><tr><td>pH</td><td>6.5</td></tr></table>
    <pre>  keep   spacing</pre><template><p>hidden template</p></template>
    <script type="module">import x from "y"</script></body></html>"""
    doc = extract(write(tmp_path / "page.html", html))
    assert doc.kind == "html"
    assert doc.title == "Garden & Home"
    assert "secret" not in doc.text and "color" not in doc.text
    assert "hidden template" not in doc.text and "Enable JS" not in doc.text
    assert "Garden" not in doc.text  # the title is not body text
    lines = doc.text.split("\n")
    assert "Tomatoes" in lines
    assert "Water them daily\u00a0— not weekly." in lines
    assert "Sun" in lines and "Soil" in lines
    assert "pH\t6.5" in lines
    assert "  keep   spacing" in lines


def test_html_declared_charset(tmp_path: Path) -> None:
    html = '<html><head><meta charset="windows-1252"></head><body>café €</body></html>'
    doc = extract(write(tmp_path / "old.htm", html.encode("cp1252")))
    assert doc.text == "café €"


def test_deeply_nested_html(tmp_path: Path) -> None:
    depth = 100_000
    html = "<div>" * depth + "<b>deep text</b>" + "</div>" * depth
    html += "<span>" * depth + "unclosed"  # broken: never closed
    t0 = time.monotonic()
    doc = extract(write(tmp_path / "nested.html", html))
    assert time.monotonic() - t0 < 5
    assert doc.text.split() == ["deep", "text", "unclosed"]


@pytest.mark.parametrize(
    "html",
    [
        "<p>unterminated <!-- comment",
        "<scr<script>ipt>alert(1)</script>text",
        "<a href='x>broken attr <b>bold",
        "</p></p></div>stray ends",
        "<![CDATA[ cdata ]]> <?php echo 1 ?> after",
        "<style>unterminated style",
    ],
)
def test_broken_html_does_not_fail(tmp_path: Path, html: str) -> None:
    doc = extract(write(tmp_path / "broken.html", html))
    assert isinstance(doc, Document)


@pytest.mark.parametrize(
    "html",
    [
        "<!--" * 200_000,  # unterminated comments: quadratic in html.parser without defusing
        "<!--x>" * 100_000,
        "<a " * 200_000,
        "<![CDATA[>" * 100_000,
        "<!x>" * 200_000,
        "<" * 500_000,
    ],
    ids=["comments", "comments-gt", "open-tags", "cdata", "decls", "lt"],
)
def test_hostile_html_is_linear(tmp_path: Path, html: str) -> None:
    t0 = time.monotonic()
    extract(write(tmp_path / "hostile.html", html))
    assert time.monotonic() - t0 < 5


def test_xhtml_xml_declaration_encoding(tmp_path: Path) -> None:
    xhtml = '<?xml version="1.0" encoding="iso-8859-15"?><html><body><p>Prix: 5 €</p></body></html>'
    doc = extract(write(tmp_path / "page.xhtml", xhtml.encode("iso-8859-15")))
    assert doc.text == "Prix: 5 €"


# --- PDF ------------------------------------------------------------------------------------


def test_pdf_pages_and_title(tmp_path: Path) -> None:
    data = make_pdf(
        ["Chapter one is about apples.\nApples are red.", "Chapter two is about pears."],
        title="Fruit Report",
    )
    doc = extract(write(tmp_path / "fruit.pdf", data))
    assert doc.kind == "pdf"
    assert doc.title == "Fruit Report"
    assert [pg.number for pg in doc.pages] == [1, 2]
    assert "apples" in doc.text and "pears" in doc.text
    first = doc.text.index("apples")
    second = doc.text.index("pears")
    assert doc.page_at(first) == 1
    assert doc.page_at(second) == 2
    assert doc.text[doc.pages[1].start :].startswith("Chapter two")
    assert doc.text[doc.pages[0].start : doc.pages[0].end].rstrip().endswith("Apples are red.")
    # pages cover the text without gaps
    assert doc.pages[0].start == 0 and doc.pages[-1].end == len(doc.text)
    assert doc.pages[0].end == doc.pages[1].start
    assert doc.warnings == []


def test_pdf_empty_password_is_opened(tmp_path: Path) -> None:
    data = encrypt_pdf(make_pdf(["Open secret text"]), user_password="")
    doc = extract(write(tmp_path / "open.pdf", data))
    assert "Open secret text" in doc.text


def test_pdf_with_password_is_encrypted(tmp_path: Path) -> None:
    data = encrypt_pdf(make_pdf(["Hidden text"]), user_password="hunter2")
    with pytest.raises(EncryptedDocument) as info:
        extract(write(tmp_path / "locked.pdf", data))
    assert info.value.reason == "encrypted"


@pytest.mark.parametrize(
    "data",
    [
        b"This is a text file that pretends to be a PDF.\n" * 10,
        b"\x89PNG\r\n\x1a\n" + bytes(200),
        b"",
        b"%PDF-1.4\n",  # header and nothing else
    ],
)
def test_non_pdf_bytes_in_pdf(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(CorruptDocument) as info:
        extract(write(tmp_path / "fake.pdf", data))
    assert info.value.reason == "corrupt"
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("keep", [0.6, 0.9, 0.98])
def test_truncated_pdf_gives_partial_text(tmp_path: Path, keep: float) -> None:
    data = make_pdf(["First page survives.", "Second page text.", "Third page text."])
    doc = extract(write(tmp_path / "cut.pdf", data[: int(len(data) * keep)]))
    assert doc.kind == "pdf"
    assert doc.warnings[0].startswith("truncated")
    assert doc.page_at(doc.text.index("First page survives.")) == 1
    assert doc.page_at(doc.text.index("Second page text.")) == 2


@pytest.mark.parametrize("keep", [0.05, 0.2])
def test_truncated_pdf_without_text_is_corrupt(tmp_path: Path, keep: float) -> None:
    data = make_pdf(["First page survives.", "Second page text.", "Third page text."])
    with pytest.raises(CorruptDocument):
        extract(write(tmp_path / "cut.pdf", data[: int(len(data) * keep)]))


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.names: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.names.append(record.name)


def test_pdf_parser_messages_are_recorded_not_logged(tmp_path: Path) -> None:
    data = make_pdf(["Text survives a bad xref."])
    xref = data.rindex(b"startxref\n") + len(b"startxref\n")
    broken = data[:xref] + b"99" + data[xref:]  # startxref now points nowhere
    root = logging.getLogger()
    recorder = _Recorder()
    root.addHandler(recorder)
    try:
        doc = extract(write(tmp_path / "badxref.pdf", broken))
    finally:
        root.removeHandler(recorder)
    assert "Text survives a bad xref." in doc.text  # PDFium rebuilds the table silently
    # pypdf, the fallback reader, talks about it: recorded with the document, never logged
    from desktop_search.extract._common import Limits
    from desktop_search.extract.pdf import _pypdf_document

    root.addHandler(recorder)
    try:
        fallback = _pypdf_document(broken, "badxref.pdf", Limits())
    finally:
        root.removeHandler(recorder)
    assert "Text survives a bad xref." in fallback.text
    assert any(w.startswith("pdf: ") for w in fallback.warnings)
    assert not [n for n in recorder.names if n.startswith("pypdf")]  # the app's log stays clean


def test_pdf_with_more_than_100000_array_elements_is_read(tmp_path: Path) -> None:
    """Real 10-Q filings hold arrays past pypdf's default limit of 100,000 elements; both our
    readers open them (pypdf with its limits raised), where pypdf's defaults refused them."""
    from pypdf.errors import LimitReachedError

    from desktop_search.extract._common import Limits
    from desktop_search.extract.pdf import _pypdf_document

    data = make_pdf(
        ["Net revenue rose in the third quarter."], catalog_extra=" /Big [" + "0 " * 150_000 + "]"
    )
    doc = extract(write(tmp_path / "10-Q.pdf", data))
    assert "Net revenue rose" in doc.text and doc.page_at(0) == 1
    assert "Net revenue rose" in _pypdf_document(data, "10-Q.pdf", Limits()).text
    with pytest.raises(LimitReachedError):
        PdfReader(io.BytesIO(data)).trailer["/Root"].get_object()


SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "pdf-samples"


@pytest.mark.skipif(
    not (SAMPLES / "files.json").exists(), reason="../shared/pdf-samples is not beside the checkout"
)
def test_every_real_world_sample_pdf_is_read_or_refused_with_its_true_reason() -> None:
    """31 PDFs of many producers: each is read with its pages, or refused as encrypted (what
    files.json says of it) or as damaged, never as a bare "corrupt"."""
    import json

    read = refused = 0
    for entry in json.loads((SAMPLES / "files.json").read_text(encoding="utf-8"))["data"]:
        path = SAMPLES / entry["path"]
        if not path.exists():
            continue
        if entry["encrypted"]:
            with pytest.raises(EncryptedDocument):
                extract(path)
            refused += 1
            continue
        try:
            doc = extract(path)
        except CorruptDocument as e:
            assert "damaged PDF" in str(e), str(e)
            refused += 1
            continue
        assert len(doc.pages) == entry["pages"], entry["path"]
        read += 1
    assert read >= 28 and refused <= 2


def test_pdf_max_chars(tmp_path: Path) -> None:
    data = make_pdf([f"Page {i} " + "lorem ipsum " * 20 for i in range(1, 11)])
    doc = extract(write(tmp_path / "many.pdf", data), max_chars=500)
    assert len(doc.text) <= 500
    assert len(doc.pages) < 10
    assert any(w.startswith("truncated") for w in doc.warnings)


# --- DOCX, PPTX, ODF, EPUB ------------------------------------------------------------------


def test_docx(tmp_path: Path) -> None:
    body = (
        p("Annual Report")
        + '<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>'
        '<w:r><w:t>Profit</w:t></w:r><w:r><w:tab/><w:t xml:space="preserve">rose </w:t></w:r>'
        "<w:r><w:t>sharply</w:t><w:br/><w:t>next line</w:t></w:r>"
        "<w:r><w:delText>deleted words</w:delText></w:r></w:p>"
        "<w:tbl><w:tr><w:tc>" + p("Q1") + "</w:tc><w:tc>" + p("100") + "</w:tc></w:tr>"
        "<w:tr><w:tc>"
        + p("Q2")
        + "</w:tc><w:tc>"
        + p("140")
        + "</w:tc></w:tr></w:tbl>"
        + p("Done &amp; dusted")
    )
    doc = extract(make_docx(tmp_path / "report.docx", body, title="Report 2024"))
    assert doc.kind == "docx"
    assert doc.title == "Report 2024"
    lines = doc.text.split("\n")
    assert lines[0] == "Annual Report"
    assert "Profit\trose sharply" in lines
    assert "next line" in lines
    assert "deleted words" not in doc.text
    assert any(line.split() == ["Q1", "100"] for line in lines)
    assert any(line.split() == ["Q2", "140"] for line in lines)
    assert lines[-1] == "Done & dusted"


def test_docx_text_box_fallback_not_doubled(tmp_path: Path) -> None:
    mc = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    box = "<w:txbxContent>" + p("Boxed words") + "</w:txbxContent>"
    body = (
        f"<w:p><w:r><mc:AlternateContent {mc}><mc:Choice>{box}</mc:Choice>"
        f"<mc:Fallback><w:pict>{box}</w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>"
    )
    doc = extract(make_docx(tmp_path / "box.docx", body))
    assert doc.text.count("Boxed words") == 1


def test_pptx_slides_are_pages_in_presentation_order(tmp_path: Path) -> None:
    doc = extract(make_pptx(tmp_path / "deck.pptx"))
    assert doc.kind == "pptx"
    assert doc.title == "Deck Title"
    assert doc.text.index("Opening slide") < doc.text.index("Second slide heading")
    assert doc.page_at(doc.text.index("Welcome")) == 1
    assert doc.page_at(doc.text.index("Quarterly revenue")) == 2
    assert [pg.number for pg in doc.pages] == [1, 2]
    assert "Opening slide\nWelcome everyone" in doc.text


def test_pptx_line_break(tmp_path: Path) -> None:
    slide = slide_xml("x").replace(
        "<a:r><a:t>x</a:t></a:r>", "<a:r><a:t>upper</a:t></a:r><a:br/><a:r><a:t>lower</a:t></a:r>"
    )
    path = write_zip(tmp_path / "br.pptx", {"ppt/slides/slide1.xml": slide})
    doc = extract(path)
    assert doc.text == "upper\nlower"
    assert doc.page_at(0) == 1


def test_odt(tmp_path: Path) -> None:
    body = (
        "<office:text><text:tracked-changes><text:changed-region><text:deletion>"
        "<text:p>removed text</text:p></text:deletion></text:changed-region>"
        "</text:tracked-changes>"
        '<text:h text:outline-level="1">Minutes</text:h>'
        '<text:p>Present:<text:s text:c="3"/><text:span>Ana</text:span>, Bo'
        "<text:tab/>and Cy<text:line-break/>second line</text:p>"
        "<text:list><text:list-item><text:p>Item one</text:p></text:list-item></text:list>"
        "<text:p>Footnote here<text:note><text:note-body><text:p>the note</text:p>"
        "</text:note-body></text:note> after note</text:p></office:text>"
    )
    doc = extract(make_odf(tmp_path / "minutes.odt", body, title="Team Minutes"))
    assert doc.kind == "odt"
    assert doc.title == "Team Minutes"
    lines = doc.text.split("\n")
    assert lines[0] == "Minutes"
    assert "Present:   Ana, Bo\tand Cy" in lines
    assert "second line" in lines
    assert "Item one" in lines
    assert "removed text" not in doc.text
    assert "the note" in doc.text and "after note" in doc.text


def test_ods_and_odp(tmp_path: Path) -> None:
    sheet = (
        "<office:spreadsheet><table:table><table:table-row>"
        "<table:table-cell><text:p>Name</text:p></table:table-cell>"
        "<table:table-cell><text:p>Score</text:p></table:table-cell></table:table-row>"
        "<table:table-row><table:table-cell><text:p>Ana</text:p></table:table-cell>"
        "<table:table-cell><text:p>97</text:p></table:table-cell></table:table-row>"
        "</table:table></office:spreadsheet>"
    )
    doc = extract(make_odf(tmp_path / "scores.ods", sheet))
    assert doc.kind == "ods"
    assert [line.split() for line in doc.text.split("\n")] == [["Name", "Score"], ["Ana", "97"]]
    slides = (
        "<office:presentation><draw:page><draw:frame><draw:text-box><text:p>Hello slide"
        "</text:p></draw:text-box></draw:frame></draw:page><draw:page><draw:frame>"
        "<draw:text-box><text:p>Goodbye slide</text:p></draw:text-box></draw:frame>"
        "</draw:page></office:presentation>"
    )
    doc = extract(make_odf(tmp_path / "talk.odp", slides))
    assert doc.kind == "odp"
    assert doc.page_at(doc.text.index("Goodbye")) == 2
    assert doc.page_at(doc.text.index("Hello")) == 1


def test_epub_in_spine_order(tmp_path: Path) -> None:
    doc = extract(make_epub(tmp_path / "book.epub"))
    assert doc.kind == "epub"
    assert doc.title == "The Lighthouse Keeper"
    assert doc.text.index("Before the storm") < doc.text.index("The storm broke at midnight & ")
    assert "color" not in doc.text and "margin" not in doc.text


def test_zip_bomb_docx_by_ratio(tmp_path: Path) -> None:
    xml = docx_xml("<w:p><w:r><w:t>" + "a" * (40 << 20) + "</w:t></w:r></w:p>")
    path = make_docx(tmp_path / "bomb.docx", "")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", xml)
    assert path.stat().st_size < 200_000
    with pytest.raises(CorruptDocument) as info:
        extract(path)
    assert info.value.reason == "zip-bomb"


def test_zip_member_over_the_byte_cap(tmp_path: Path) -> None:
    words = " ".join(f"w{i}" for i in range(200_000))  # compresses only a few times
    path = make_docx(tmp_path / "big.docx", p(words))
    assert path.stat().st_size < 1_000_000
    with pytest.raises(CorruptDocument) as info:
        extract(path, max_bytes=1_000_000)
    assert info.value.reason == "zip-bomb"


def test_zip_member_lying_about_its_size(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "liar.docx", p("x" * 50_000))
    data = bytearray(path.read_bytes())
    # Shrink the declared uncompressed size of word/document.xml in the central directory.
    name = b"word/document.xml"
    cd = data.rfind(b"PK\x01\x02", 0, data.rfind(name))
    data[cd + 24 : cd + 28] = (100).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptDocument):
        extract(path)


def test_xml_entity_expansion_refused(tmp_path: Path) -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;">]>'
        f"<w:document {W}><w:body><w:p><w:r><w:t>&b;</w:t></w:r></w:p></w:body></w:document>"
    )
    path = write_zip(tmp_path / "laughs.docx", {"word/document.xml": laughs})
    with pytest.raises(CorruptDocument) as info:
        extract(path)
    assert info.value.reason == "xml-entities"


@pytest.mark.parametrize("suffix", [".docx", ".pptx", ".odt", ".epub"])
def test_not_a_zip_or_wrong_zip(tmp_path: Path, suffix: str) -> None:
    with pytest.raises(CorruptDocument):
        extract(write(tmp_path / f"plain{suffix}", b"just some text, not a zip"))
    with pytest.raises(CorruptDocument):
        extract(write_zip(tmp_path / f"other{suffix}", {"hello.txt": "hi"}))


def test_docx_malformed_xml(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "bad.docx", {"word/document.xml": "<w:document><w:body><w:p>"})
    with pytest.raises(CorruptDocument):
        extract(path)


# --- the file system ------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError) as info:
        extract(tmp_path / "gone.txt")
    assert info.value.reason == "missing"


def test_directory_and_fifo_are_unsupported(tmp_path: Path) -> None:
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(UnsupportedFormat):
        extract(tmp_path / "folder.txt")
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.txt"
        os.mkfifo(fifo)
        with pytest.raises(UnsupportedFormat):  # and it must not block opening the pipe
            extract(fifo)
        assert not is_supported(tmp_path / "pipe")


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root reads unreadable files"
)
def test_permission_denied(tmp_path: Path) -> None:
    path = write(tmp_path / "private.txt", "secret")
    path.chmod(0)
    try:
        with pytest.raises(ExtractionError) as info:
            extract(path)
        assert info.value.reason == "permission"
    finally:
        path.chmod(0o600)


def test_odd_file_names(tmp_path: Path) -> None:
    name = "résumé 東京 " + "x" * 150 + " 🎉.md"
    doc = extract(write(tmp_path / name, "# Über\n"))
    assert doc.title == "Über"


# --- fuzzing: any bytes under any name give a Document or an ExtractionError ----------------

FUZZ_EXTENSIONS = [".txt", ".md", ".rst", ".py", ".html", ".pdf", ".docx", ".pptx", ".odt",
                   ".ods", ".odp", ".epub", ""]  # fmt: skip


def _check(path: Path) -> None:
    try:
        doc = extract(path, max_chars=20_000, time_budget=5)
    except ExtractionError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert isinstance(doc, Document)
    assert len(doc.text) <= 20_000
    for pg in doc.pages:
        assert 0 <= pg.start <= pg.end <= len(doc.text)


FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(data=st.binary(max_size=4096), ext=st.sampled_from(FUZZ_EXTENSIONS))
def test_fuzz_random_bytes(tmp_path: Path, data: bytes, ext: str) -> None:
    _check(write(tmp_path / f"fuzz{ext}", data))


def _seeds(tmp_path: Path) -> dict[str, bytes]:
    made: dict[str, Callable[[Path], Path]] = {
        ".docx": lambda d: make_docx(d / "s.docx", p("Hello") + p("World"), title="T"),
        ".pptx": lambda d: make_pptx(d / "s.pptx"),
        ".odt": lambda d: make_odf(d / "s.odt", "<office:text><text:p>Hi</text:p></office:text>"),
        ".epub": lambda d: make_epub(d / "s.epub"),
        ".html": lambda d: write(d / "s.html", "<html><title>T</title><p>Body &amp; more</p>"),
    }
    seeds = {ext: build(tmp_path).read_bytes() for ext, build in made.items()}
    seeds[".pdf"] = make_pdf(["Page one text", "Page two text"], title="T")
    return seeds


_SEED_CACHE: dict[str, bytes] = {}


@FUZZ
@given(
    ext=st.sampled_from([".pdf", ".docx", ".pptx", ".odt", ".epub", ".html"]),
    cut=st.floats(min_value=0.0, max_value=1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
)
def test_fuzz_mutated_documents(
    tmp_path: Path, ext: str, cut: float, flips: list[tuple[float, int]]
) -> None:
    if not _SEED_CACHE:
        seed_dir = tmp_path / "seeds"
        seed_dir.mkdir(exist_ok=True)
        _SEED_CACHE.update(_seeds(seed_dir))
    data = bytearray(_SEED_CACHE[ext])
    for where, value in flips:
        data[min(int(where * len(data)), len(data) - 1)] = value
    data = data[: max(1, int(len(data) * cut))] if cut < 0.999 else data
    _check(write(tmp_path / f"mutant{ext}", bytes(data)))


def test_the_worker_tells_how_far_into_a_long_pdf_it_is(tmp_path: Path) -> None:
    """What the window shows as "page 12 of 600" while a long PDF is read."""
    from desktop_search.extract.worker import ExtractWorker

    path = tmp_path / "long.pdf"
    path.write_bytes(
        make_pdf([f"Chapter {p}\nThe pump is primed on page {p}." for p in range(1, 601)])
    )
    seen: list[tuple[int, int]] = []
    with ExtractWorker() as worker:
        doc = worker.extract(path, on_progress=lambda done, pages: seen.append((done, pages)))
    assert "primed on page 600" in doc.text
    assert seen and all(pages == 600 and 1 <= done <= 600 for done, pages in seen)
