"""What a long command shows while it runs: counts, rate and ETA on one line, redrawn on a
terminal (ProgressBar for files, passages or queries; ByteProgress for downloads)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from ..index_progress import EMBEDDING, IndexProgress


class ProgressBar:
    """Counts, rate and ETA on one line, redrawn on a terminal; quiet lines otherwise."""

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        unit: str = "files",
        state: Callable[[], IndexProgress | None] | None = None,
    ):
        self.label = label
        self.unit = unit
        # an indexing run's own picture (words, then meaning, ETA by tokens) when given
        self.state = state
        # looked up now, not at import: sys.stderr may have been replaced since (tests, GUI)
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if enabled is None else enabled
        self.t0 = time.monotonic()
        self.last = 0.0
        self.done = 0
        self.total = 0

    def __call__(self, done: int, total: int) -> bool:
        self.done, self.total = done, total
        now = time.monotonic()
        if self.tty and (now - self.last > 0.1 or done == total):
            self.last = now
            self.stream.write("\r" + self.line(now) + "\x1b[K")
            self.stream.flush()
        return True

    def line(self, now: float | None = None) -> str:
        now = now or time.monotonic()
        st = self.state() if self.state is not None else None
        if st is not None:
            return _index_line(self.label, st, now - self.t0)
        el = now - self.t0
        frac = self.done / self.total if self.total else 1.0
        width = 24
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        rate = self.done / el if el > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        return (
            f"{self.label} [{bar}] {self.done}/{self.total} {self.unit}  {rate:.1f}/s  "
            f"elapsed {_dur(el)}  ETA {_dur(eta) if self.done else '?'}"
        )

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\r" + self.line() + "\x1b[K\n")
            self.stream.flush()


def _index_line(label: str, st: IndexProgress, elapsed: float) -> str:
    """While reading: files findable by words so far. Then: passages with meaning, the speed
    and the time left (by tokens, so a huge file counts for what it costs)."""
    words = f"words {st.files_read:,}/{st.files_total:,} files"
    if st.phase != EMBEDDING:
        return f"{label} {words}  elapsed {_dur(elapsed)}"
    frac = st.passages_done / st.passages_total if st.passages_total else 1.0
    width = 20
    bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
    eta = st.eta_s()
    return (
        f"{label} {words} · meaning [{bar}] {st.passages_done:,}/{st.passages_total:,} "
        f"passages  {st.passages_per_s():.1f}/s  elapsed {_dur(elapsed)}  "
        f"ETA {_dur(eta) if eta is not None else '?'}"
    )


def _dur(s: float) -> str:
    s = int(s)
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def size_text(n: float) -> str:
    """Bytes as kB, MB or GB."""
    if n < 1e6:
        return f"{n / 1e3:.0f} kB"
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


class ByteProgress:
    """Bytes, rate and ETA on one redrawn line on a terminal; nothing otherwise."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr  # looked up now: tests and GUIs swap sys.stderr
        self.label, self.tty = label, self.stream.isatty()
        self.t0 = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> bool:
        now = time.monotonic()
        if self.tty and (now - self.last > 0.2 or done == total):
            self.last = now
            rate = done / max(now - self.t0, 1e-9)
            part = f"{size_text(done)} of {size_text(total)}" if total else size_text(done)
            eta = f"  ETA {int((total - done) / rate)}s" if total and rate > 0 else ""
            self.stream.write(f"\r{self.label} {part}  {rate / 1e6:.1f} MB/s{eta}\x1b[K")
            self.stream.flush()
        return True

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
