"""Cheap content sniffing: is this text, a known binary format, or something we can read?"""

from __future__ import annotations

SNIFF_BYTES = 8192

BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)

# Magic numbers of common binary formats (checked at offset 0). Only signatures that text never
# starts with; weaker ones (MZ, BM, RIFF, ...) are left to the NUL / control byte test.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x7fELF", "elf"),
    (b"\xca\xfe\xba\xbe", "mach-o"),
    (b"\xcf\xfa\xed\xfe", "mach-o"),
    (b"\xce\xfa\xed\xfe", "mach-o"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"SQLite format 3\x00", "sqlite"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"\x00asm", "wasm"),
    (b"\x93NUMPY", "npy"),
)


def bom_encoding(head: bytes) -> str | None:
    for bom, name in BOMS:
        if head.startswith(bom):
            return name
    return None


def magic(head: bytes) -> str | None:
    """The name of the binary format `head` starts with, if it is a known one."""
    for sig, name in _MAGIC:
        if head.startswith(sig):
            return name
    if head[4:8] == b"ftyp":  # MP4 / MOV / HEIC
        return "iso-media"
    return None


def utf16_without_bom(head: bytes) -> str | None:
    """The UTF-16 byte order of BOM-less UTF-16 text (mostly Latin script), else None."""
    sample = head[: SNIFF_BYTES - SNIFF_BYTES % 2]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_nul, odd_nul = even.count(0), odd.count(0)
    if odd_nul >= 0.9 * len(odd) and even_nul == 0:
        return "utf-16-le"
    if even_nul >= 0.9 * len(even) and odd_nul == 0:
        return "utf-16-be"
    return None


def text_encoding_hint(head: bytes) -> str | None:
    """The encoding a BOM (or the shape of BOM-less UTF-16) tells, if any."""
    return bom_encoding(head) or utf16_without_bom(head)


def is_binary(head: bytes) -> bool:
    """True when the bytes do not look like text in any encoding we decode.

    Text with a UTF-16/32 byte order mark (or plainly shaped as UTF-16) is text. Otherwise a NUL
    byte, a known magic number or a high share of control bytes means binary.
    """
    if not head:
        return False
    if text_encoding_hint(head) is not None:
        return False
    if magic(head) is not None:
        return True
    sample = head[:SNIFF_BYTES]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls * 10 > len(sample)  # more than 10 % control bytes


def looks_like_html(head: bytes) -> bool:
    start = head[:1024].lstrip().lower()
    if start.startswith(b"\xef\xbb\xbf"):
        start = start[3:].lstrip()
    return start.startswith((b"<!doctype html", b"<html"))
