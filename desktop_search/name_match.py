"""Files found by their names, as Everything and Spotlight find them: every word typed is a
substring of the file's name. This reaches the files the passage ranking cannot — a scanned
PDF with no text, one that failed or was skipped, a photo or an archive — and a file whose name
is typed whole (`NCT06155240_Prot_SAP_000.pdf`) comes first even when it has text.

Placement, so a name never pushes a good passage out of sight: a file whose whole name (or
name without its extension) was typed comes first; other name matches come after the results
that clear the relevance bar and before the weak ones, within the k files asked for.
"""

from __future__ import annotations

import os
from pathlib import Path

from .query import ParsedQuery, file_passes, wanted_folders
from .scan import display_path
from .store import OTHER, Catalog, NamedFile

MIN_WORD = 2  # single letters would match nearly every name
# names the index hands over per query, before the filters and the check here: enough for the
# k files asked for after filters, few enough that a word in every name costs nothing
FETCH = 200
LOOKUP_WORDS = 2  # the longest words typed, asked of the index; all are checked after


def name_words(pq: ParsedQuery) -> list[str]:
    """The words to find in names: what was typed, filters and exclusions left out."""
    return [w for w in dict.fromkeys(pq.text.casefold().split()) if len(w) >= MIN_WORD]


def whole_name(pq: ParsedQuery, path: str) -> bool:
    """The query is the file's name, with or without its extension."""
    typed = pq.text.strip().casefold()
    name = os.path.basename(display_path(path)).casefold()
    return bool(typed) and typed in (name, os.path.splitext(name)[0])


def name_only_reason(f: NamedFile) -> str | None:
    """Why only the name of this file can be searched (None: its text is in the index)."""
    if f.has_text:
        return None
    if f.state == OTHER:
        ext = Path(f.path).suffix.lower()
        return f"no text to read in {ext} files" if ext else "a type with no text to read"
    return f.error or "no text was found in it"


def find_by_name(cat: Catalog, pq: ParsedQuery, limit: int) -> list[NamedFile]:
    """Files whose name holds every word typed, within the query's filters; a file whose whole
    name was typed first, then the newest. The index is asked for the longest words only (the
    rarest, and a long sentence costs no more than a short one); every word is checked here."""
    words = name_words(pq)
    if not words:
        return []
    longest = sorted(words, key=len, reverse=True)[:LOOKUP_WORDS]
    folders = wanted_folders(pq)
    hits = []
    for f in cat.files_named(longest, max(FETCH, 4 * limit)):
        name = os.path.basename(display_path(f.path)).casefold()
        if all(w in name for w in words) and _passes_filters(pq, folders, f, name):
            hits.append(f)
    hits.sort(key=lambda f: (not whole_name(pq, f.path), -f.mtime_ns))
    return hits[:limit]


def _passes_filters(pq: ParsedQuery, folders: list[str], f: NamedFile, name: str) -> bool:
    """The query's filters on a file found by its (casefolded) name; -word leaves it out."""
    return file_passes(pq, folders, f.path, f.kind, f.mtime_ns) and not any(
        x.casefold() in name for x in pq.excluded
    )
