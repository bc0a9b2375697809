"""How far an indexing run is, in the units a person cares about, and how long it will take.

A run has two phases. Reading (phase 1) makes every file findable by its words; it is counted
in files. Meaning (phase 2) embeds passages; it is counted in passages, and its ETA comes from
the tokens still to embed at the speed measured so far in this run, because a passage's cost is
its tokens (a 5,000-passage manual is 5,000 units of work, a note one). Counting files made the
ETA swing by a factor of three on a real folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

SCANNING, READING, EMBEDDING, DONE = "scanning", "reading", "embedding", "done"
# The ETA waits for this much measured embedding, so it is not a guess from one passage.
_ETA_AFTER_S = 3.0
_ETA_AFTER_TOKENS = 2_000


@dataclass
class IndexProgress:
    phase: str = SCANNING
    files_total: int = 0  # files this run reads (new or changed)
    files_read: int = 0  # of those, findable by words now (or recorded with their reason)
    passages_total: int = 0  # passages this run gives meaning to (grows while files are read)
    passages_done: int = 0
    tokens_total: int = 0
    tokens_done: int = 0
    current: str = ""  # the file being read or embedded
    # (pages read, pages) of `current` while a paged document (a PDF) is read; (0, 0) else
    current_pages: tuple[int, int] = (0, 0)
    started: float = field(default_factory=time.monotonic)
    embed_started: float | None = None
    _tokens_at_start: int = 0

    def start_embedding(self) -> None:
        self.phase = EMBEDDING
        self.embed_started = time.monotonic()
        self._tokens_at_start = self.tokens_done

    def _embed_seconds(self) -> float:
        return 0.0 if self.embed_started is None else time.monotonic() - self.embed_started

    def passages_per_s(self) -> float:
        s = self._embed_seconds()
        return self.passages_done / s if s > 0.5 and self.passages_done else 0.0

    def tokens_per_s(self) -> float:
        s = self._embed_seconds()
        n = self.tokens_done - self._tokens_at_start
        return n / s if s > 0.5 and n > 0 else 0.0

    def eta_s(self) -> float | None:
        """Seconds until every passage has meaning; None until enough has been measured."""
        if self.phase != EMBEDDING:
            return None
        rate = self.tokens_per_s()
        measured = self.tokens_done - self._tokens_at_start
        if rate <= 0 or self._embed_seconds() < _ETA_AFTER_S or measured < _ETA_AFTER_TOKENS:
            return None
        return max(self.tokens_total - self.tokens_done, 0) / rate

    def words_line(self) -> str:
        return f"{self.files_read:,} of {self.files_total:,} files findable by words"

    def meaning_line(self) -> str:
        return f"{self.passages_done:,} of {self.passages_total:,} passages with meaning"


def duration(seconds: float) -> str:
    """A duration as a person reads it: "45 s", "3 min 05 s", "1 h 20 min"."""
    s = round(seconds)
    if s < 60:
        return f"{max(s, 1)} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
