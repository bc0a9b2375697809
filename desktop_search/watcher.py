"""watchdog observer -> debounced, coalesced change set -> the indexer's update_paths.

A burst of events (a git checkout, an unzip) collapses into one set of paths: each path is
re-checked once when the folder has been quiet for `debounce_s` (or at most every `max_wait_s`
under a never-ending stream), so the index ends right however many events arrive. If the kernel's
event queue overflows (inotify drops events past its limit), the watched roots are re-checked
whole: nothing that changed meanwhile is missed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer


class ChangeQueue(FileSystemEventHandler):
    """Coalesces event paths; thread-safe (watchdog calls from its own thread)."""

    def __init__(self) -> None:
        self._paths: set[str] = set()
        self._lock = threading.Lock()
        self._last_event = 0.0
        self._first_event = 0.0
        self.events_seen = 0
        self.wake = threading.Event()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads change nothing
        now = time.monotonic()
        with self._lock:
            for p in (event.src_path, getattr(event, "dest_path", "")):
                if p:
                    self._paths.add(os.fsdecode(p))
            if not self._first_event:
                self._first_event = now
            self._last_event = now
            self.events_seen += 1
        self.wake.set()

    def take_if_quiet(self, debounce_s: float, max_wait_s: float) -> set[str] | None:
        now = time.monotonic()
        with self._lock:
            if not self._paths:
                return None
            if now - self._last_event < debounce_s and now - self._first_event < max_wait_s:
                return None
            paths, self._paths = self._paths, set()
            self._first_event = 0.0
            return paths

    def quiet(self, debounce_s: float, max_wait_s: float) -> bool:
        """Whether take_if_quiet would hand over changes now (without taking them)."""
        now = time.monotonic()
        with self._lock:
            return bool(self._paths) and (
                now - self._last_event >= debounce_s or now - self._first_event >= max_wait_s
            )

    def pending(self) -> int:
        with self._lock:
            return len(self._paths)

    def add_paths(self, paths: set[str]) -> None:
        """Queues paths to re-check as if events had come for them."""
        now = time.monotonic()
        with self._lock:
            self._paths |= paths
            if not self._first_event:
                self._first_event = now
            self._last_event = now
        self.wake.set()


class _OverflowSpotter(logging.Handler):
    """watchdog reports a kernel queue overflow only in its log: turn that into a rescan."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__(level=logging.WARNING)
        self.on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if "overflow" in record.getMessage().lower():
                self.on_overflow()
        except Exception:  # a log handler must never raise into watchdog's thread
            pass


def collapse(paths: set[str]) -> list[str]:
    """Drops paths inside another path of the set: a folder re-check covers its files."""
    out: list[str] = []
    for p in sorted(paths):
        if out and p.startswith(out[-1].rstrip(os.sep) + os.sep) and os.path.isdir(out[-1]):
            continue
        out.append(p)
    return out


class Watcher:
    """Keeps an Engine's index current. run_forever() blocks; stop() from any thread."""

    def __init__(
        self,
        engine: Any,
        debounce_s: float = 1.0,
        max_wait_s: float = 10.0,
        on_update: Callable[[Any], None] | None = None,
    ) -> None:
        self.engine = engine
        self.debounce_s = debounce_s
        self.max_wait_s = max_wait_s
        self.on_update = on_update
        self.queue = ChangeQueue()
        self._observer: Any = None
        self._stop = threading.Event()
        self._stop_requested = False  # set from a signal handler: a plain flag, no lock
        self._watched: set[str] = set()
        self.overflows = 0
        self._spotter = _OverflowSpotter(self._rescan_all)

    def _rescan_all(self) -> None:
        self.overflows += 1
        self.queue.add_paths(set(self._watched))

    def start(self) -> None:
        self._observer = Observer()
        logging.getLogger("watchdog.observers").addHandler(self._spotter)
        self.sync_roots()
        self._observer.start()

    def sync_roots(self) -> None:
        """Schedules newly added roots (and forgets removed ones)."""
        if self._observer is None:
            return
        roots = {r.path for r in self.engine.roots()}
        for path in roots - self._watched:
            if os.path.isdir(path):
                self._observer.schedule(self.queue, path, recursive=True)
                self._watched.add(path)
        if self._watched - roots:
            self._observer.unschedule_all()
            self._watched = set()
            for path in roots:
                if os.path.isdir(path):
                    self._observer.schedule(self.queue, path, recursive=True)
                    self._watched.add(path)

    def process_pending(self, force: bool = False) -> Any:
        paths = self.queue.take_if_quiet(
            0.0 if force else self.debounce_s, 0.0 if force else self.max_wait_s
        )
        if not paths:
            return None
        # a stop asked for meanwhile cancels the run (the index stays consistent; the rest
        # is picked up by the next start's catch-up scan)
        report = self.engine.index(
            paths=collapse(paths), progress=lambda _d, _t: not self._stop_requested
        )
        if self.on_update is not None:
            self.on_update(report)
        return report

    def run_forever(self) -> None:
        if self._observer is None:
            self.start()
        while not self._stop.is_set() and not self._stop_requested:
            self.queue.wake.wait(timeout=self.debounce_s / 2 or 0.1)
            self.queue.wake.clear()
            if not self._stop_requested:
                self.process_pending()

    def request_stop(self) -> None:
        """Safe in a signal handler: only sets a flag. The handler runs on the main thread
        between any two bytecodes, possibly while it holds a lock that stop() would take;
        run_forever notices within half a debounce and returns, then call stop()."""
        self._stop_requested = True

    def stop(self) -> None:
        self._stop.set()
        self.queue.wake.set()
        logging.getLogger("watchdog.observers").removeHandler(self._spotter)
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
