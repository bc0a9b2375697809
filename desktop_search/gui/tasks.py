"""Running work off the GUI thread and delivering its outcome back onto it.

`Lane.submit(fn, on_done, on_error)` runs `fn()` on the lane's worker thread(s); `on_done(result)`
or `on_error(exception)` then run on the GUI thread, in the order the work finished. A Lane with
one thread is a serial executor: the writer lane and the query lane are each one of those.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


class _Dispatcher(QObject):
    """Lives on the GUI thread; a signal emitted from a worker is queued to it."""

    call = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.call.connect(self._run)

    @Slot(object)
    def _run(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # a failing callback must not take the event loop down
            log.error("callback failed:\n%s", traceback.format_exc())


_dispatcher: _Dispatcher | None = None


def dispatcher() -> _Dispatcher:
    """Created on first use, which must be on the GUI thread."""
    global _dispatcher
    if _dispatcher is None:
        _dispatcher = _Dispatcher()
    return _dispatcher


def on_gui_thread(fn: Callable[[], None]) -> None:
    """Runs fn on the GUI thread soon (safe to call from any thread)."""
    dispatcher().call.emit(fn)


def _log_failure(e: BaseException) -> None:
    log.error("background task failed: %s", "".join(traceback.format_exception(e)))


class _Job(QRunnable):
    def __init__(
        self, lane: Lane, fn: Callable[[], Any], on_done: Done | None, on_error: Failed | None
    ) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self.lane, self.fn, self.on_done, self.on_error = lane, fn, on_done, on_error

    def run(self) -> None:
        lane = self.lane
        lane._started()
        try:
            result = self.fn()
        except BaseException as e:  # delivered, never lost in a worker thread
            err, exc = self.on_error or _log_failure, e  # `e` is unbound after the block
            on_gui_thread(lambda: lane._deliver(err, exc))
        else:
            done = self.on_done
            if done is not None:
                on_gui_thread(lambda: lane._deliver(done, result))
        finally:
            lane._finished()


class Lane:
    """A named executor of `threads` worker threads that never expire."""

    def __init__(self, name: str, threads: int = 1) -> None:
        self.name = name
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(threads)
        self.pool.setExpiryTimeout(-1)  # keep the thread: one thread owns the lane's objects
        self._lock = threading.Lock()
        self._queued = 0
        self._running = 0
        self.closed = False
        dispatcher()

    def submit(
        self, fn: Callable[[], Any], on_done: Done | None = None, on_error: Failed | None = None
    ) -> None:
        if self.closed:
            return
        with self._lock:
            self._queued += 1
        self.pool.start(_Job(self, fn, on_done, on_error))

    def busy(self) -> bool:
        with self._lock:
            return self._queued + self._running > 0

    def _started(self) -> None:
        with self._lock:
            self._queued -= 1
            self._running += 1

    def _finished(self) -> None:
        with self._lock:
            self._running -= 1

    def _deliver(self, callback: Callable[[Any], None], value: Any) -> None:
        if not self.closed:
            callback(value)

    def shutdown(self, final: Callable[[], Any] | None = None, timeout_ms: int = 15000) -> bool:
        """Drops queued work, runs `final` after the running job, waits for both. Callbacks
        are no longer delivered."""
        self.pool.clear()
        with self._lock:
            self._queued = 0
        if final is not None and not self.closed:
            with self._lock:
                self._queued += 1
            self.pool.start(_Job(self, final, None, None))
        self.closed = True
        return bool(self.pool.waitForDone(timeout_ms))
