"""Extraction in a separate, killable process with a time budget and a memory cap.

A parser stuck inside one call (a PDF that makes pypdf loop, a pathological document) cannot be
interrupted from within Python. So the indexer hands each file to a persistent worker process
and waits at most `timeout_s`; past that the worker is killed (SIGKILL), the file is recorded as
timed out, and a fresh worker starts on the next file. The worker also runs under an address
space cap, so no single file can balloon memory, and it is recycled after many files or when its
resident memory grows (fragmentation), so a months-long run stays small.

The worker is started with the "spawn" context: the indexing process holds llama.cpp and
threads, which must never be forked. Requests and replies travel over one pipe (no sockets).
The per-file overhead is one pickled round trip (see docs/reliability.md for the figure).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from desktop_search import errors
from desktop_search.errors import ExtractionError, ExtractionTimeout
from desktop_search.extract._common import (
    COOPERATIVE_SHARE,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_CHARS,
    page_budget,
)
from desktop_search.extract.base import Document

# A file gets DEFAULT_TIMEOUT_S, or more in proportion to its pages (extract._common's
# page_budget), as long as it keeps making progress: a file that reports no page for
# DEFAULT_TIMEOUT_S is stuck and the worker is killed.
DEFAULT_TIMEOUT_S = 60.0
PROGRESS_EVERY_S = 1.0  # how often the worker tells its parent how far a long file got
# The worker's address space: ~110 MB is the interpreter and the parsers mapped; the rest is
# what one file may use. A file that needs more is "too large to read safely", not a crash.
DEFAULT_MEMORY_MB = 320
# The exit status of a worker that ran out of memory where no reply could be sent any more.
OUT_OF_MEMORY_EXIT = 75
TOO_LARGE = "too large to read safely (it needs more memory than one file may use)"
RECYCLE_AFTER_FILES = 2000
RECYCLE_RSS_MB = 400
_START_TIMEOUT_S = 60.0

_ERROR_TYPES: dict[str, type[ExtractionError]] = {
    cls.__name__: cls
    for cls in (
        errors.ExtractionError,
        errors.UnsupportedFormat,
        errors.FileTooLarge,
        errors.EncryptedDocument,
        errors.CorruptDocument,
        errors.ExtractionTimeout,
    )
}


class WorkerCrashed(ExtractionError):
    """The worker process died on this file (a crash in a parser, or the memory cap)."""

    reason = "crashed"


class WorkerUnavailable(ExtractionError):
    """No worker process can be started here: not the file's fault (callers fall back)."""

    reason = "worker"


def _rebuild_error(name: str, message: str, reason: str) -> ExtractionError:
    cls = _ERROR_TYPES.get(name, ExtractionError)
    return cls(message, reason=reason)


class Channel(Protocol):
    """What both kinds of worker talk over (a multiprocessing Connection or a _PipePair)."""

    def send(self, obj: Any) -> None: ...
    def recv(self) -> Any: ...
    def poll(self, timeout: float | None = ...) -> bool: ...
    def close(self) -> None: ...


# --- the child ------------------------------------------------------------------------------


def _die_with_parent(parent_pid: int) -> None:
    """A killed indexer must not leave a worker spinning on a hostile file: the pipe's EOF ends
    an idle worker, and this thread ends a busy one (pypdf is Python: the thread gets to run)."""

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(0)
            time.sleep(0.5)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _limit_memory(memory_mb: int) -> None:
    if memory_mb <= 0:
        return
    try:
        import resource

        limit = memory_mb * 1024 * 1024
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass  # not enforceable here (Windows, macOS): the time budget still bounds the work


def _progress_sender(conn: Channel, budget: float) -> Callable[[int, int], None]:
    """Tells the parent how many pages of how many are read: at most once a second, and
    often enough that a file making progress is never taken for a stuck one."""
    last = [0.0]
    every = min(PROGRESS_EVERY_S, budget / 4)

    def send(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= every:
            last[0] = now
            conn.send(("progress", done, total))

    return send


def _serve(conn: Channel, parent_pid: int, memory_mb: int) -> None:
    """The worker's loop: (path, max_bytes, max_chars, budget) in, a result tuple out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    _die_with_parent(parent_pid)
    _limit_memory(memory_mb)
    from desktop_search.extract import extract

    conn.send(("ready", os.getpid()))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        path, max_bytes, max_chars, budget = request
        reply: tuple[Any, ...]
        try:
            doc = extract(
                path,
                max_bytes=max_bytes,
                max_chars=max_chars,
                time_budget=budget,
                on_progress=_progress_sender(conn, budget),
            )
            reply = ("ok", doc)
        except ExtractionError as e:
            reply = ("error", type(e).__name__, str(e), e.reason)
        except MemoryError:
            reply = ("error", "FileTooLarge", f"{Path(path).name}: {TOO_LARGE}", "too-large")
        except Exception as e:  # extract() converts parser errors; this is a last resort
            reply = (
                "error",
                "CorruptDocument",
                f"{Path(path).name}: {type(e).__name__}: {e}",
                "corrupt",
            )
        try:
            try:
                conn.send(reply)
            except MemoryError:
                del reply
                conn.send(("error", "FileTooLarge", f"{Path(path).name}: {TOO_LARGE}", "too-large"))
        except MemoryError:
            os._exit(OUT_OF_MEMORY_EXIT)  # the parent maps this to the same reason


# --- the parent -----------------------------------------------------------------------------

_PACKAGE_PARENT = Path(__file__).resolve().parents[2]


class _PipePair:
    """A duplex Connection made of two one-way pipes (what the subprocess worker talks over)."""

    def __init__(self, reader: Connection, writer: Connection) -> None:
        self._r, self._w = reader, writer

    def send(self, obj: object) -> None:
        self._w.send(obj)

    def recv(self) -> Any:
        return self._r.recv()

    def poll(self, timeout: float | None = 0.0) -> bool:
        return self._r.poll(timeout)

    def close(self) -> None:
        self._r.close()
        self._w.close()


class _Proc:
    """subprocess.Popen with the few multiprocessing.Process methods the worker uses."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen
        self.pid = popen.pid

    def kill(self) -> None:
        self.popen.kill()

    def join(self, timeout: float | None = None) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)

    def close(self) -> None:
        pass


class ExtractWorker:
    """A persistent extraction process. Not thread-safe: one caller (the indexer's producer)."""

    def __init__(
        self,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_mb: int = DEFAULT_MEMORY_MB,
        recycle_after: int = RECYCLE_AFTER_FILES,
        recycle_rss_mb: int = RECYCLE_RSS_MB,
        use_multiprocessing: bool | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.recycle_after = recycle_after
        self.recycle_rss_mb = recycle_rss_mb
        # spawn via multiprocessing where `python -m` cannot be run (frozen apps, Windows)
        self.use_multiprocessing = (
            use_multiprocessing
            if use_multiprocessing is not None
            else bool(getattr(sys, "frozen", False)) or os.name != "posix"
        )
        self._proc: Any = None
        self._conn: Channel | None = None
        self._served = 0
        # figures for reports and tests
        self.starts = 0
        self.kills = 0
        self.crashes = 0
        self.files = 0

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else int(self._proc.pid)

    def _start(self) -> Channel:
        if self.use_multiprocessing:
            conn = self._start_multiprocessing()
        else:
            conn = self._start_subprocess()
        self._served = 0
        self.starts += 1
        if not conn.poll(_START_TIMEOUT_S):
            self._kill()
            raise WorkerUnavailable("the extraction worker did not start")
        try:
            conn.recv()
        except (EOFError, OSError):
            self._kill()
            raise WorkerUnavailable("the extraction worker failed to start") from None
        return conn

    def _start_subprocess(self) -> Channel:
        """`python -m desktop_search.extract.worker` over two pipes: nothing of the parent's
        __main__ is re-imported (multiprocessing would), and no socket is opened."""
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p
        )
        try:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "desktop_search.extract.worker",
                    str(to_child_r),
                    str(from_child_w),
                    str(os.getpid()),
                    str(self.memory_mb),
                ],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                env=env,
                close_fds=True,
            )
        except OSError as e:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise WorkerUnavailable(f"the extraction worker cannot start: {e}") from None
        os.close(to_child_r)
        os.close(from_child_w)
        os.set_inheritable(to_child_w, False)
        os.set_inheritable(from_child_r, False)
        conn = _PipePair(
            Connection(from_child_r, writable=False), Connection(to_child_w, readable=False)
        )
        self._proc, self._conn = _Proc(proc), conn
        return conn

    def _start_multiprocessing(self) -> Channel:
        """Windows and frozen apps: multiprocessing's spawn (the app calls freeze_support)."""
        ctx = mp.get_context("spawn")
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        proc = ctx.Process(
            target=_serve,
            args=(child_conn, os.getpid(), self.memory_mb),
            name="desktop-search-extract",
            daemon=True,
        )
        proc.start()
        child_conn.close()
        self._proc, self._conn = proc, parent_conn
        return parent_conn

    def _kill(self) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            conn.close()
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.kill()
            proc.join(timeout=5)
            with contextlib.suppress(Exception):
                proc.close()

    def _rss_mb(self) -> float:
        try:
            with open(f"/proc/{self.pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            return 0.0

    def _maybe_recycle(self) -> None:
        if self._proc is None:
            return
        if self._served >= self.recycle_after or (
            self._served % 50 == 0 and self._rss_mb() > self.recycle_rss_mb
        ):
            self.close()

    def extract(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_chars: int = DEFAULT_MAX_CHARS,
        timeout_s: float | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> Document:
        """Like extract.extract(), bounded in time and memory. Raises ExtractionError
        (ExtractionTimeout when the file took longer than the budget). on_progress(pages
        done, pages) is told what the worker reports of a paged document."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        name = Path(path).name
        request = (os.fspath(path), max_bytes, max_chars, timeout * COOPERATIVE_SHARE)
        self.files += 1
        conn = self._conn if self._conn is not None else self._start()
        try:
            conn.send(request)
        except (OSError, ValueError):  # the worker died between files: not this file's fault
            self.crashes += 1
            self._kill()
            conn = self._start()
            conn.send(request)
        try:
            reply = self._await_reply(conn, timeout, on_progress)
        except (EOFError, OSError, BrokenPipeError):
            self.crashes += 1
            # exit 75: our MemoryError handler; SIGABRT: a C++ parser (PDFium) whose
            # allocation failed under the address-space cap
            out_of_memory = self._exit_status() in (OUT_OF_MEMORY_EXIT, -signal.SIGABRT)
            self._kill()
            if out_of_memory:
                raise errors.FileTooLarge(f"{name}: {TOO_LARGE}") from None
            raise WorkerCrashed(f"{name}: the extractor crashed on this file") from None
        if reply[0] in ("stuck", "late"):
            self.kills += 1
            self._kill()
            if reply[0] == "stuck" and reply[2]:
                raise ExtractionTimeout(
                    f"{name}: no progress for {timeout:g} s after page "
                    f"{reply[1]} of {reply[2]}, stopped"
                )
            raise ExtractionTimeout(f"{name}: extraction took longer than {reply[-1]:g} s, stopped")
        self._served += 1
        self._maybe_recycle()
        if reply[0] == "ok":
            doc: Document = reply[1]
            return doc
        _tag, cls_name, message, reason = reply
        raise _rebuild_error(cls_name, message, reason)

    @staticmethod
    def _await_reply(
        conn: Channel, timeout: float, on_progress: Callable[[int, int], None] | None = None
    ) -> tuple[Any, ...]:
        """The worker's reply; ("stuck", page, pages) when it reported no progress for
        `timeout` s, ("late", s) past the budget its page count earns (page_budget)."""
        start = time.monotonic()
        beat = start
        budget = timeout
        done = total = 0
        while True:
            now = time.monotonic()
            if now >= beat + timeout:
                return ("stuck", done, total, timeout)
            if now >= start + budget:
                return ("late", budget)
            if not conn.poll(min(beat + timeout, start + budget) - now):
                continue
            reply: tuple[Any, ...] = conn.recv()
            if reply[0] != "progress":
                return reply
            _tag, done, total = reply
            if on_progress is not None:
                on_progress(done, total)
            beat = time.monotonic()
            budget = max(timeout, page_budget(total))

    def _exit_status(self) -> int | None:
        """The exit status of a worker that just closed its pipe (it may take a moment)."""
        proc = self._proc
        with contextlib.suppress(Exception):
            if isinstance(proc, _Proc):
                return proc.popen.wait(timeout=2)
            if proc is not None:
                proc.join(timeout=2)
                code = proc.exitcode
                return None if code is None else int(code)
        return None

    def abort(self) -> None:
        """Kills the worker from another thread (a cancelled run must not wait out a stuck
        file); the thread waiting on it gets WorkerCrashed and the next file a fresh worker."""
        proc = self._proc
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.kill()

    def close(self) -> None:
        """Asks the worker to exit, killing it if it does not."""
        conn, proc = self._conn, self._proc
        if conn is None or proc is None:
            return
        with contextlib.suppress(Exception):
            conn.send(None)
        proc.join(timeout=2)
        self._kill()

    def __enter__(self) -> ExtractWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _main(argv: list[str]) -> None:
    """The subprocess worker: `python -m desktop_search.extract.worker R W PID MB`."""
    rfd, wfd, parent_pid, memory_mb = (int(a) for a in argv)
    conn = _PipePair(Connection(rfd, writable=False), Connection(wfd, readable=False))
    _serve(conn, parent_pid, memory_mb)


if __name__ == "__main__":
    _main(sys.argv[1:])
