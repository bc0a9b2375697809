"""Generators of hostile and odd files: what a desktop indexer meets in folders nobody curated.

Each generator writes one or more files into a folder and returns what the index should make of
them (an Expect per file name). `write_corpus(folder)` writes them all; `python
tests/reliability/nasty_files.py DIR` writes the corpus to DIR (tests/data/nasty keeps the small
ones). Every file is made here, from code: nothing is downloaded.
"""

from __future__ import annotations

import io
import os
import random
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# --- what we expect -----------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """states: the acceptable outcomes ("indexed", "partial", "failed", "skipped", "absent").
    reason: a code the status reason must start with (for failed, skipped, partial).
    word: a word that must be found by a keyword search (for indexed and partial files)."""

    states: tuple[str, ...]
    reason: str = ""
    word: str = ""
    why: str = ""


# --- tiny PDF writer (enough for text pages; no dependency) -------------------------------


def pdf_bytes(pages: list[bytes], *, compress: bool = True, info_title: str = "") -> bytes:
    """A well-formed PDF whose pages run the given content streams (Helvetica as /F1)."""
    objs: list[bytes] = []
    n_pages = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    font_id = 3 + 2 * n_pages
    for i, content in enumerate(pages):
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R"
            f" /Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        data = zlib.compress(content) if compress else content
        filt = b" /Filter /FlateDecode" if compress else b""
        objs.append(b"<< /Length %d%s >>\nstream\n" % (len(data), filt) + data + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    info = ""
    if info_title:
        objs.append(f"<< /Title ({info_title}) >>".encode())
        info = f" /Info {len(objs)} 0 R"
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R{info} >>\n".encode()
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def text_page(text: str) -> bytes:
    lines = [text[i : i + 80] for i in range(0, len(text), 80)] or [""]
    ops = [b"BT /F1 11 Tf 50 750 Td 14 TL"]
    for line in lines:
        safe = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(b"(" + safe.encode("latin-1", "replace") + b") Tj T*")
    ops.append(b"ET")
    return b"\n".join(ops)


def slow_pdf(ops: int) -> bytes:
    """One page whose content stream holds `ops` text operators: a few KB on disk, one call
    that no cooperative check can interrupt (3M: minutes of pypdf work; for PDFium 2-5 s and
    about 0.6 GB a million operators, so it meets the worker's memory cap)."""
    return pdf_bytes([b"BT /F1 12 Tf 10 10 Td " + b"(a) Tj " * ops + b"ET"])


def busy_pdf(ops: int = 6_000_000, pages: int = 1) -> bytes:
    """Pages of `ops` transformation operators each: ~175 KB on disk, ~100 MB to parse, and
    one PDFium call per page (6M: ~1.3 s) that no cooperative check can interrupt. The
    worker's hard stop is the only way out of such a page (text operators would hit the
    memory cap first: PDFium keeps ~0.5 KB per character)."""
    return pdf_bytes([b"1 0 0 1 0 0 cm " * ops] * pages)


def long_pdf(pages: int, ops: int) -> bytes:
    """Many modest pages: seconds of steady work in little memory (a file that is slow but
    keeps making progress, unlike slow_pdf)."""
    return pdf_bytes([b"BT /F1 12 Tf 10 10 Td " + b"(a) Tj " * ops + b"ET"] * pages)


def encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(200, 200)
    w.encrypt(user_password="open sesame", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


# --- zipped documents ---------------------------------------------------------------------

_DOCX_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx_bytes(document_xml: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _DOCX_TYPES)
        z.writestr("word/document.xml", document_xml)
    return buf.getvalue()


def docx_text(text: str) -> bytes:
    return docx_bytes(
        f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{_W}"><w:body><w:p><w:r>'
        f"<w:t>{text}</w:t></w:r></w:p></w:body></w:document>".encode()
    )


def odt_text(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        z.writestr(
            "content.xml",
            '<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office='
            '"urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:'
            f'opendocument:xmlns:text:1.0"><office:body><office:text><text:p>{text}</text:p>'
            "</office:text></office:body></office:document-content>",
        )
    return buf.getvalue()


def _epub(chapter: Callable[[zipfile.ZipFile], None]) -> bytes:
    """A minimal EPUB 3 whose one chapter, c1.xhtml, `chapter` writes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        z.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:'
            'container" version="1.0"><rootfiles><rootfile full-path="content.opf" '
            'media-type="application/oebps-package+xml"/></rootfiles></container>',
        )
        z.writestr(
            "content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Book</dc:title>'
            '</metadata><manifest><item id="c1" href="c1.xhtml" media-type="application/'
            'xhtml+xml"/></manifest><spine><itemref idref="c1"/></spine></package>',
        )
        chapter(z)
    return buf.getvalue()


def epub_text(text: str) -> bytes:
    return _epub(lambda z: z.writestr("c1.xhtml", f"<html><body><p>{text}</p></body></html>"))


def _zeros_member(z: zipfile.ZipFile, name: str, size: int, head: bytes = b"") -> None:
    """A member that inflates to `size` bytes, streamed so making it needs no memory."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with z.open(info, "w", force_zip64=True) as f:
        f.write(head)
        block = b" " * (1 << 20)
        left = size - len(head)
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)


def bomb_docx(size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _DOCX_TYPES)
        _zeros_member(
            z,
            "word/document.xml",
            size,
            f'<?xml version="1.0"?><w:document xmlns:w="{_W}"><w:body>'.encode(),
        )
    return buf.getvalue()


def bomb_odt(size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        _zeros_member(z, "content.xml", size, b'<?xml version="1.0"?><office:document-content>')
    return buf.getvalue()


def bomb_epub(size: int) -> bytes:
    return _epub(lambda z: _zeros_member(z, "c1.xhtml", size, b"<html><body><p>"))


def entity_bomb_docx() -> bytes:
    """'Billion laughs': ten levels of entities, each ten of the one below."""
    lol = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    xml = (
        '<?xml version="1.0"?><!DOCTYPE w:document [' + "".join(lol) + "]>"
        f'<w:document xmlns:w="{_W}"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>'
        "</w:body></w:document>"
    )
    return docx_bytes(xml.encode())


# --- the corpus ---------------------------------------------------------------------------

Gen = Callable[[Path], dict[str, Expect]]
GENERATORS: dict[str, Gen] = {}


def generator(fn: Gen) -> Gen:
    GENERATORS[fn.__name__] = fn
    return fn


def _write(folder: Path, name: str | bytes, data: bytes) -> None:
    path = os.path.join(os.fsencode(folder), name if isinstance(name, bytes) else os.fsencode(name))
    with open(path, "wb") as f:
        f.write(data)


@generator
def pdfs(d: Path) -> dict[str, Expect]:
    good = pdf_bytes(
        [
            text_page("The quokka smiles on Rottnest island. " * 20),
            text_page("Second page about the marsupial quokka. " * 20),
        ]
    )
    _write(d, "truncated.pdf", good[: len(good) * 2 // 3])
    rnd = random.Random(6)
    _write(d, "corrupt.pdf", b"%PDF-1.7\n" + bytes(rnd.randrange(256) for _ in range(4000)))
    _write(d, "encrypted.pdf", encrypted_pdf())
    png = b"\x89PNG\r\n\x1a\n" + bytes(rnd.randrange(256) for _ in range(2000))
    _write(d, "not-really.pdf", png)
    _write(d, "text-as.pdf", b"just some words pretending to be a pdf document\n" * 10)
    _write(d, "no-text.pdf", pdf_bytes([b"0 0 m 100 100 l S"]))
    return {
        "truncated.pdf": Expect(("partial", "failed"), "", why="cut to two thirds"),
        "corrupt.pdf": Expect(("failed",), "corrupt", why="PDF header then random bytes"),
        "encrypted.pdf": Expect(("failed",), "encrypted", why="RC4 with a user password"),
        "not-really.pdf": Expect(("failed",), "corrupt", why="PNG bytes named .pdf"),
        "text-as.pdf": Expect(("failed",), "corrupt", why="plain text named .pdf"),
        "no-text.pdf": Expect(("partial",), "no text", why="a page of vector lines only"),
    }


@generator
def stuck_pdf(d: Path) -> dict[str, Expect]:
    _write(d, "stuck.pdf", slow_pdf(3_000_000))  # ~20 KB
    # PDFium needs ~1.8 GB for that page (past the worker's memory cap), pypdf minutes
    return {"stuck.pdf": Expect(("failed",), "", why="one page of 3M text operators")}


@generator
def zips(d: Path) -> dict[str, Expect]:
    big = 60 << 20  # 60 MB inflated: over the 50 MB per-file limit, at 1000:1
    _write(d, "bomb.docx", bomb_docx(big))
    _write(d, "bomb.odt", bomb_odt(big))
    _write(d, "bomb.epub", bomb_epub(big))
    _write(d, "laughs.docx", entity_bomb_docx())
    _write(d, "broken.docx", docx_text("the wombat digs")[:300])
    _write(d, "fine.docx", docx_text("The wombat digs burrows with strong claws."))
    return {
        "bomb.docx": Expect(("failed",), "zip-bomb", why="60 MB of spaces in 60 KB"),
        "bomb.odt": Expect(("failed",), "zip-bomb", why="60 MB of spaces in 60 KB"),
        "bomb.epub": Expect(("failed",), "zip-bomb", why="60 MB of spaces in 60 KB"),
        "laughs.docx": Expect(("failed",), "xml-entities", why="billion laughs"),
        "broken.docx": Expect(("failed",), "corrupt", why="zip cut at 300 bytes"),
        "fine.docx": Expect(("indexed",), word="wombat"),
    }


@generator
def texts(d: Path) -> dict[str, Expect]:
    rnd = random.Random(7)
    _write(d, "binary.txt", bytes(rnd.randrange(256) for _ in range(20000)))
    _write(d, "cp1252.txt", "Le café crème du garçon était très bon.".encode("cp1252"))
    _write(
        d,
        "bad-utf8.txt",
        "Überall schöne Grüße, naïve façade, jalapeño ".encode() * 20
        + b"\xff\xfe\xc3("
        + " spätzle".encode(),
    )
    _write(d, "utf16.txt", "The narwhal tusk is a tooth.".encode("utf-16"))
    _write(d, "empty.txt", b"")
    _write(d, "control-chars.md", b"# Title\x07\n\x1b[31mred\x1b[0m text about the axolotl\x00")
    _write(d, "one-long-word.txt", b"a" * 200_000)
    _write(
        d,
        "base64ish.txt",
        bytes(rnd.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/") for _ in range(4_000)),
    )
    _write(
        d,
        "deep.html",
        b"<html><body>"
        + b"<div>" * 100_000
        + b"the pangolin curls up"
        + b"</div>" * 100_000
        + b"</body></html>",
    )
    _write(d, "unclosed.html", b"<html><body><p>the okapi <b><i><script>var x='" + b"x" * 100000)
    return {
        "binary.txt": Expect(("skipped",), "binary", why="random bytes named .txt"),
        "cp1252.txt": Expect(("indexed",), word="garçon", why="Windows-1252 text"),
        "bad-utf8.txt": Expect(
            ("partial", "indexed"), word="spätzle", why="UTF-8 with a few invalid bytes"
        ),
        "utf16.txt": Expect(("indexed",), word="narwhal", why="UTF-16 with a BOM"),
        "empty.txt": Expect(("indexed",), why="zero bytes"),
        "control-chars.md": Expect(("indexed", "skipped"), why="terminal escapes and a NUL"),
        "one-long-word.txt": Expect(("indexed",), why="200 KB without a space"),
        "base64ish.txt": Expect(("indexed",), why="4 KB of base64-like characters"),
        "deep.html": Expect(("indexed", "partial"), word="pangolin", why="100,000 nested divs"),
        "unclosed.html": Expect(("indexed", "partial"), word="okapi", why="an unclosed script"),
    }


@generator
def huge_sparse(d: Path) -> dict[str, Expect]:
    """A multi-GB text file that costs no disk: text at the start, a hole after it."""
    path = d / "huge.log"
    with open(path, "wb") as f:
        f.write(b"the capybara is the largest rodent\n" * 2000)
        f.truncate(3 * 1024**3)
    return {
        "huge.log": Expect(("partial",), "truncated", word="capybara", why="3 GB sparse text file")
    }


@generator
def names(d: Path) -> dict[str, Expect]:
    out: dict[str, Expect] = {}
    for name, word in (
        ("résumé 日本語 🎉.txt", "kingfisher"),
        ("-rf --help.txt", "heron"),
        ("new\nline.txt", "egret"),
        ("quote'\"`$(x).txt", "ibis"),
        ("x" * 250 + ".txt", "stork"),
        ("  spaces  .md", "crane"),
    ):
        _write(d, name, f"A note about the {word}.".encode())
        out[name] = Expect(("indexed",), word=word, why="odd file name")
    deep = d / "/".join(["nested"] * 40)
    deep.mkdir(parents=True)
    (deep / "bottom.txt").write_text("The bittern hides in reeds.", encoding="utf-8")
    out[os.path.relpath(deep / "bottom.txt", d)] = Expect(
        ("indexed",), word="bittern", why="40 folders deep"
    )
    if sys.platform != "darwin":  # macOS refuses names that are not UTF-8
        _write(d, b"latin1-\xe9t\xe9.txt", b"The plover runs along the shore.")
        out[os.fsdecode(b"latin1-\xe9t\xe9.txt")] = Expect(
            ("indexed",), word="plover", why="file name not valid UTF-8"
        )
    return out


@generator
def specials(d: Path) -> dict[str, Expect]:
    out: dict[str, Expect] = {}
    (d / "loop").mkdir()
    os.symlink("..", d / "loop" / "up")  # a folder loop
    os.symlink("self.txt", d / "self.txt")  # a link to itself
    os.symlink("/etc/hostname", d / "outside.txt")  # out of the root
    out["self.txt"] = Expect(("absent",), why="symlink to itself")
    out["outside.txt"] = Expect(("absent",), why="symlink out of the root")
    if hasattr(os, "mkfifo"):
        os.mkfifo(d / "pipe.txt")
        out["pipe.txt"] = Expect(("absent",), why="a FIFO: reading would block forever")
    (d / "folder.txt").mkdir()
    out["folder.txt"] = Expect(("absent",), why="a folder named like a file")
    return out


def unreadable(d: Path) -> dict[str, Expect]:
    """Not in GENERATORS: needs a process that file permissions apply to (see conftest)."""
    p = d / "private.txt"
    p.write_text("The secretive tapir.", encoding="utf-8")
    p.chmod(0)
    return {"private.txt": Expect(("failed",), "permission", why="mode 000")}


def write_corpus(folder: Path, only: tuple[str, ...] | None = None) -> dict[str, Expect]:
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, Expect] = {}
    for name, gen in GENERATORS.items():
        if only is None or name in only:
            expected.update(gen(folder))
    return expected


def write_sample(target: Path, limit: int = 128 * 1024) -> None:
    """The small, committed sample (tests/data/nasty): every generated file that a checkout
    can hold, with a README saying what each is and what the index makes of it."""
    expected = write_corpus(target, only=("pdfs", "texts", "zips", "stuck_pdf"))
    rows = []
    for name in sorted(expected):
        p = target / name
        if p.stat().st_size > limit:
            p.unlink()
            continue
        e = expected[name]
        outcome = " or ".join(e.states) + (f" ({e.reason})" if e.reason else "")
        rows.append(f"| `{name}` | {p.stat().st_size:,} | {e.why or '-'} | {outcome} |")
    (target / "README.md").write_text(
        "# Nasty files\n\n"
        "Hostile and odd inputs the reliability tests generate "
        "(`tests/reliability/nasty_files.py`); the small ones are kept here. Regenerate with\n"
        "`python tests/reliability/nasty_files.py tests/data/nasty`. The larger ones (a 3 GB "
        "sparse text file, 100,000 nested HTML tags, odd file names, symlink loops, FIFOs, a "
        "file that cannot be read) are made by the tests in a temporary folder.\n\n"
        "| file | bytes | what it is | what the index records |\n|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    write_sample(Path(sys.argv[1]))
