"""Why a file is not (wholly) in the index, in plain words. The catalog keeps the raw reason
("corrupt: a.pdf: damaged PDF: Data format error; pypdf: ...") for `status --json` and for a
"details" toggle; people first read the short form ("damaged PDF: Data format error")."""

from __future__ import annotations

import re

# what a reason code means when the message after it does not say it
LABELS = {
    "corrupt": "damaged file",
    "encrypted": "protected by a password",
    "too-large": "too large to read",
    "binary": "binary data, not text",
    "unsupported": "a type that is not read",
    "permission": "no permission to read it",
    "unreadable": "could not be read from the disk",
    "timeout": "took too long to read",
    "crashed": "the reader stopped on it",
    "worker": "the reader could not start",
    "zip-bomb": "an archive that unpacks to far too much",
    "xml-entities": "XML that expands without end",
}
_CODE = re.compile(r"^([a-z][a-z-]*): ")
# "(BadZipFile: File is not a zip file)", "(KeyError)": a class name is for developers
_EXCEPTION = re.compile(r"\s*\((?:[A-Z][a-z]+[A-Z]\w*|\w*Error)(?::[^)]*)?\)")
MAX_CHARS = 90


def plain_reason(raw: str | None) -> str:
    """The reason in a few words: its code's meaning or the message's first clause, without
    the file name, exception class names or the second reader's view."""
    if not raw:
        return ""
    text = raw.strip()
    m = _CODE.match(text)
    code = m.group(1) if m else ""
    if m and code in LABELS:
        text = text[m.end() :]
    # "name.pdf: damaged PDF: ..." -> "damaged PDF: ..." (a name has a dot; a phrase a space)
    head, sep, rest = text.partition(": ")
    if sep and "." in head and " " not in head:
        text = rest
    text = _EXCEPTION.sub("", text.split("; ")[0]).strip()
    label = LABELS.get(code, "")
    if label and not text:
        text = label
    elif label and code in ("corrupt", "too-large", "timeout", "crashed", "permission"):
        words = set(text.lower().split())
        if not words & {"damaged", "large", "long", "permission", "crashed", "stopped", "big"}:
            text = f"{label}: {text}"
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS - 1].rstrip() + "…"
    return text
