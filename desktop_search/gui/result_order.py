"""How the result list can be ordered, and which filters a typed query sets (so the filter
controls can show them). No Qt here: plain functions the search page calls."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import QueryError
from ..query import parse_query
from ..scan import display_path
from ..search import SearchResult

SortKey = Callable[[SearchResult], Any]

# (label, key, reverse); None keeps the ranking
SORTS: list[tuple[str, SortKey | None, bool]] = [
    ("Best match", None, False),
    ("Newest first", lambda r: r.mtime, True),
    ("Oldest first", lambda r: r.mtime, False),
    ("Name A–Z", lambda r: os.path.basename(display_path(r.path)).casefold(), False),
    ("Largest first", lambda r: r.size, True),
]


def ordered(results: Sequence[SearchResult], sort: int) -> list[SearchResult]:
    _label, key, reverse = SORTS[sort if 0 <= sort < len(SORTS) else 0]
    if key is None:
        return list(results)
    return sorted(results, key=key, reverse=reverse)  # stable: ties keep their rank


@dataclass
class TypedFilters:
    """The type:/in:/after:/before: filters in the box, or why they cannot be read yet."""

    kinds: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    after: float | None = None
    before: float | None = None
    error: str = ""

    def any(self) -> bool:
        return bool(self.kinds or self.folders or self.after or self.before)


def typed_filters(text: str) -> TypedFilters:
    try:
        pq = parse_query(text)
    except QueryError as e:
        return TypedFilters(error=str(e))
    return TypedFilters(pq.kinds, pq.folders, pq.after, pq.before)
