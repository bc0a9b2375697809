"""The window's link to the engine: two lanes, live indexing, and signals the widgets follow.

Writer lane (one thread): opens the Engine and owns its writer side — index runs, roots, settings,
the watcher's updates. Query lane (one thread): the Engine's Searcher, its own read connection
and model, so a keystroke never waits behind indexing. A third small lane extracts previews and
reads the hardware. Everything here that touches the engine runs on those lanes; the methods
called from widgets only queue work and return at once.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from ..config import Settings
from ..errors import DesktopSearchError
from ..index_progress import EMBEDDING, IndexProgress
from ..search import SearchOptions, SearchResult
from .tasks import Lane, on_gui_thread

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger(__name__)

# llama-cpp-python silences a model load by pointing the process's stdout/stderr at /dev/null and
# back (suppress_stdout_stderr); two loads at once on two lanes can leave them pointing at
# /dev/null for good. So every model load this window starts goes through this lock.
MODEL_LOAD_LOCK = threading.Lock()


def load_writer_model(engine: Engine) -> None:
    """Loads the indexing model under the lock (no-op once loaded); errors surface later, from
    the call that needs the model, with the engine's own message."""
    with MODEL_LOAD_LOCK, contextlib.suppress(DesktopSearchError):
        engine.embedder()


PROGRESS_EVERY_S = 0.1  # at most ten progress repaints a second
WATCH_POLL_MS = 250
COUNTS_EVERY_S = 1.0


INDEXING_NICENESS = 10


def lower_thread_priority() -> None:
    """Runs on the writer lane's thread: indexing yields the CPU to the window and to queries,
    as desktop indexers do. On Linux niceness is per thread and inherited by the threads and
    processes this one starts (llama.cpp's workers, the extraction process)."""
    if not hasattr(os, "setpriority"):
        return
    with contextlib.suppress(OSError):
        tid = threading.get_native_id()
        os.setpriority(
            os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), INDEXING_NICENESS)
        )


def describe(e: BaseException) -> str:
    """One line for people: our own errors say it already; anything else gets its type."""
    if isinstance(e, DesktopSearchError):
        return str(e)
    from ..errors import is_damage

    if is_damage(e):  # a page read anywhere: the same line as the CLI's
        from ..errors import CatalogDamaged

        return str(CatalogDamaged("this home"))
    log.error("unexpected error:\n%s", "".join(traceback.format_exception(e)))
    return f"{type(e).__name__}: {e}"


@dataclass
class IndexState:
    running: bool = False
    scanning: bool = False  # walking the folders, before the first count
    done: int = 0
    total: int = 0
    started: float = 0.0  # monotonic, when counting began
    done_at_start: int = 0
    paused: bool = False  # with running: Pause was clicked, the run stops after this file
    live: bool = False  # a watcher update rather than a full run
    # the run's own picture: files findable by words, passages with meaning, speed, ETA
    progress: IndexProgress | None = None

    @property
    def pausing(self) -> bool:
        """Pause was clicked and the run finishes its current file before it stops."""
        return self.running and self.paused


@dataclass
class Snapshot:
    """What the window shows about the index; read on the writer lane."""

    roots: list[Any]
    status: Any
    settings: Settings
    files: int = 0
    root_files: dict[str, int] = field(default_factory=dict)  # files known under each root
    documents_dir: str | None = None  # ~/Documents, when it exists (the first-run offer)
    gpu_offload: bool = False
    reranker: str | None = None  # the reranker GGUF a reranked query would use, if any
    notice: str = ""  # e.g. the home is read-only: searching works, indexing does not

    @property
    def indexed(self) -> int:
        return int(self.status.files.get("indexed", 0))

    @property
    def words_only(self) -> int:
        """Files findable by their words whose meaning is still being added."""
        return int(self.status.files.get("chunked", 0))


@dataclass
class QueryOutcome:
    seq: int
    text: str
    options: SearchOptions
    results: list[SearchResult]
    seconds: float
    reranked: bool = False


@dataclass
class SettingsChange:
    settings: Settings
    reopen: bool  # the model, threads or GPU layers changed: the engine loads them anew
    reindex: bool  # the model or chunking changed: every file is redone
    reasons: list[str] = field(default_factory=list)
    model: bool = False  # the embedding model changed: a switch the person confirmed


def diff_settings(old: Settings, new: Settings) -> SettingsChange:
    reasons: list[str] = []
    model = (old.model_path or "") != (new.model_path or "")
    chunking = (old.chunk_tokens, old.chunk_overlap) != (new.chunk_tokens, new.chunk_overlap)
    if model:
        reasons.append("the embedding model changed: every file is embedded again")
    if chunking:
        reasons.append(
            "the passage size changed: every file is split and embedded again; "
            "each keeps its old passages, searchable by words and meaning, until "
            "its new ones are in"
        )
    reopen = model or (old.n_threads, old.n_gpu_layers) != (new.n_threads, new.n_gpu_layers)
    return SettingsChange(
        new, reopen=reopen, reindex=model or chunking, reasons=reasons, model=model
    )


def _find_reranker(eng: Engine) -> str | None:
    """Settings.reranker_path when set, else one installed in the home's models folder."""
    if eng.settings.reranker_path:
        p = Path(eng.settings.reranker_path).expanduser()
        return str(p) if p.is_file() else None
    from ..models import installed_reranker

    try:
        found = installed_reranker(eng.paths.models_dir)
    except OSError:  # an unreadable models folder: no reranker to offer
        return None
    return str(found) if found else None


def rerank_support(snap: Snapshot | None) -> tuple[bool, str]:
    """Whether Ctrl+Enter can ask for a reranked list, and if not, why (for the tooltip)."""
    if snap is None:
        return False, "Opening the index…"
    if snap.reranker is None:
        if snap.settings.reranker_path:
            return False, f"The reranker model is missing: {snap.settings.reranker_path}"
        return False, (
            "No reranker model: choose one in Settings (a GGUF cross-encoder such "
            "as ms-marco-MiniLM-L-6-v2) to enable the reranked list."
        )
    return True, f"Re-order the results with {Path(snap.reranker).name} (Ctrl+Enter)"


def with_rerank(options: SearchOptions) -> SearchOptions:
    return dataclasses.replace(options, rerank=True)  # keeps the chosen ranking mode


class Backend(QObject):
    opened = Signal(object)  # Snapshot
    open_failed = Signal(str)
    error = Signal(str)  # something people must see
    damaged = Signal(str)  # the catalog file is damaged: one line that says how to repair it
    snapshot_changed = Signal(object)  # Snapshot
    searcher_ready = Signal()
    results_ready = Signal(object)  # QueryOutcome (only the newest query's)
    query_failed = Signal(int, str)
    index_state = Signal(object)  # IndexState
    index_finished = Signal(object)  # IndexReport
    content_changed = Signal()  # the index changed (a run, a watcher update, a removed folder)
    counts_changed = Signal(object)  # {state: files}, read on the query lane during a run
    folders_ready = Signal(object)  # list[str]: the folders that hold files

    def __init__(
        self,
        home: str | None = None,
        *,
        watch: bool = True,
        index_on_start: bool = True,
        watch_debounce_s: float = 0.5,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.home = home
        self.watch = watch
        self.index_on_start = index_on_start
        self.watch_debounce_s = watch_debounce_s
        self.writer = Lane("writer")
        self.query = Lane("query")
        self.reader = Lane("reader")
        self.engine: Engine | None = None
        self.watcher: Any = None
        self.snapshot: Snapshot | None = None
        self.state = IndexState()
        self._seq = 0
        self._pending_query: tuple[str, SearchOptions, bool] | None = None
        self._index_busy = False
        self._index_again = False
        self._paused = False
        self._interrupt = False  # stop the running index so a queued change goes first
        self._closed = False
        self._counts_at = 0.0
        self._watch_timer = QTimer(self)
        self._watch_timer.setInterval(WATCH_POLL_MS)
        self._watch_timer.timeout.connect(self._poll_watcher)

    @property
    def eng(self) -> Engine:
        """The open engine: work on the lanes runs only once it is (see start)."""
        if self.engine is None:
            raise DesktopSearchError("the index is not open yet")
        return self.engine

    # opening ---------------------------------------------------------------------------
    def start(self) -> None:
        self.writer.submit(lower_thread_priority)
        self.writer.submit(self._open, self._on_opened, self._on_open_failed)

    def _open(self) -> Snapshot:
        from ..engine import Engine

        self.engine = Engine(self.home)
        return self._read_snapshot()

    def _read_snapshot(self) -> Snapshot:
        eng = self.eng
        st = eng.status()
        roots = eng.roots()
        docs = Path.home() / "Documents"
        return Snapshot(
            roots=roots,
            status=st,
            settings=copy.deepcopy(eng.settings),
            files=sum(st.files.values()),
            root_files=eng.root_file_counts(),
            documents_dir=str(docs) if docs.is_dir() else None,
            gpu_offload=eng.gpu_offload(),
            reranker=_find_reranker(eng),
            notice=eng.open_notice or "",
        )

    def _on_opened(self, snap: Snapshot) -> None:
        self.snapshot = snap
        self.opened.emit(snap)
        self.warm_up()
        if self.watch:
            self.writer.submit(self._start_watcher, None, self._report)
            self._watch_timer.start()
        if self.index_on_start and snap.roots:
            self.index_all()
        if self._pending_query is not None:
            text, opts, rerank = self._pending_query
            self._pending_query = None
            self.search(text, opts, rerank=rerank)

    def _on_open_failed(self, e: BaseException) -> None:
        self._if_damaged(e)
        self.open_failed.emit(describe(e))

    def _if_damaged(self, e: BaseException) -> None:
        from ..errors import CatalogDamaged, is_damage
        from ..paths import resolve_home

        if isinstance(e, CatalogDamaged):
            self.damaged.emit(str(e))
        elif is_damage(e):
            self.damaged.emit(str(CatalogDamaged(resolve_home(self.home).home)))

    def warm_up(self) -> None:
        """Loads the query model ahead of the first keystroke (no-op once loaded)."""

        def work() -> None:
            searcher = self.eng.searcher()
            with MODEL_LOAD_LOCK:
                searcher.warm_up()
                emb = searcher.embedder()
            if emb is not None:
                emb.embed_query("warm up")  # the first decode allocates llama.cpp's buffers

        self.query.submit(work, lambda _r: self.searcher_ready.emit(), self._report)

    def _report(self, e: BaseException) -> None:
        if not self._closed:
            self._if_damaged(e)
            self.error.emit(describe(e))

    def refresh(self) -> None:
        if self.engine is None:
            return
        self.writer.submit(self._read_snapshot, self._set_snapshot, self._report)

    def _set_snapshot(self, snap: Snapshot) -> None:
        self.snapshot = snap
        self.snapshot_changed.emit(snap)

    def list_folders(self) -> None:
        """The folders that hold files, read on the query lane (for the folder filter)."""
        if self.engine is None or self._closed:
            return
        self.query.submit(self.eng.folders, self.folders_ready.emit, lambda _e: None)

    # searching -------------------------------------------------------------------------
    def cancel_queries(self) -> None:
        """Whatever is queued or running is dropped when it finishes (the box was cleared)."""
        self._seq += 1
        self._pending_query = None

    def search(self, text: str, options: SearchOptions, *, rerank: bool = False) -> int:
        """Queues a query; only the newest one's results are delivered. Returns its number."""
        self._seq += 1
        seq = self._seq
        if self.engine is None:
            self._pending_query = (text, options, rerank)
            return seq
        opts = with_rerank(options) if rerank else options

        def work() -> QueryOutcome | None:
            if seq != self._seq:
                return None  # a newer keystroke already superseded it
            t0 = time.perf_counter()
            if rerank:  # the first reranked query loads the cross-encoder
                with MODEL_LOAD_LOCK:
                    results = self.eng.searcher().search(text, opts)
            else:
                results = self.eng.searcher().search(text, opts)
            return QueryOutcome(seq, text, opts, results, time.perf_counter() - t0, rerank)

        def done(out: QueryOutcome | None) -> None:
            if out is not None and out.seq == self._seq:
                self.results_ready.emit(out)

        def failed(e: BaseException) -> None:
            if seq == self._seq:
                self.query_failed.emit(seq, describe(e))

        self.query.submit(work, done, failed)
        return seq

    # indexing --------------------------------------------------------------------------
    def index_all(self) -> None:
        """Brings every folder up to date; resumes where a paused or cancelled run stopped."""
        if self.engine is None or self._closed:
            return
        if self._index_busy:
            self._index_again = True
            return
        self._paused = False
        self._index_busy = True
        self.state = IndexState(running=True, scanning=True, started=time.monotonic())
        self.index_state.emit(self.state)

        def work() -> Any:
            self._interrupt = False
            return self._run_index(None)

        self.writer.submit(work, self._on_index_done, self._on_index_failed)

    def _run_index(self, paths: list[str] | None) -> Any:
        last = [0.0]

        def progress(done: int, total: int) -> bool:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S or done == total:
                last[0] = now
                state = self.eng.index_progress()
                on_gui_thread(lambda: self._on_progress(done, total, state))
            return not (self._paused or self._interrupt or self._closed)

        load_writer_model(self.eng)
        return self.eng.index(progress, paths=paths)

    def _on_progress(self, done: int, total: int, progress: IndexProgress | None) -> None:
        s = self.state
        if not s.running:
            return  # delivered after the run ended
        if s.scanning:
            s.scanning, s.started, s.done_at_start = False, time.monotonic(), done
        s.done, s.total, s.progress = done, total, progress
        self.index_state.emit(s)
        now = time.monotonic()
        if now - self._counts_at >= COUNTS_EVERY_S and not self.query.busy():
            self._counts_at = now
            self._read_counts()

    def _read_counts(self) -> None:
        """File counts by state through the query lane's read connection: the writer lane is
        busy indexing, and a reader never waits for it (WAL)."""

        def work() -> tuple[dict[str, int], int]:
            counts: tuple[dict[str, int], int] = self.eng.counts()
            return counts

        def done(got: tuple[dict[str, int], int]) -> None:
            counts, chunks = got
            if self.snapshot is not None:
                self.snapshot.status.files = counts
                self.snapshot.status.chunks = chunks
            self.counts_changed.emit(counts)

        self.query.submit(work, done, lambda _e: None)  # counts are a nicety, never an error

    def _on_index_done(self, report: Any) -> None:
        self._index_busy = False
        prev = self.state
        live = prev.live
        # paused also when the run ended on its own after Pause: the watcher waits too
        paused = self._paused and not self._closed
        # a paused run keeps its counts, so the page can say how far it got
        self.state = (
            IndexState(paused=True, done=prev.done, total=prev.total, progress=prev.progress)
            if paused
            else IndexState()
        )
        self.index_state.emit(self.state)
        if report is not None:
            self.index_finished.emit(report)
            if not live or _changed(report):
                self.content_changed.emit()
                self.refresh()
                self.warm_up()
        if self._index_again and not self._paused:
            w = self.watcher
            if not live and w is not None and w.queue.pending():
                # the changes that stopped the run go first (the lane runs them next);
                # _index_again stays set: the full run resumes after them
                self._submit_changes(w)
                return
            self._index_again = False
            self.index_all()

    def _on_index_failed(self, e: BaseException) -> None:
        self._index_busy = False
        self.state = IndexState()
        self.index_state.emit(self.state)
        self._report(e)
        self.refresh()

    def pause(self) -> None:
        """Stops indexing cleanly after the current file; resume() continues from there."""
        self._paused = True
        self._index_again = False
        if not self._index_busy:
            self.state = IndexState(paused=True)
        else:  # said at once: the run only stops once its current file is done
            self.state.paused = True
        self.index_state.emit(self.state)

    def resume(self) -> None:
        self._paused = False
        if self._index_busy and self.state.pausing:
            self.state.paused = False  # the run goes on (or starts again once it stopped)
            self.index_state.emit(self.state)
        self.index_all()

    @property
    def paused(self) -> bool:
        return self._paused

    # live updates ----------------------------------------------------------------------
    def _start_watcher(self) -> None:
        from ..watcher import Watcher

        if self.watcher is not None:
            self.watcher.stop()
        w = Watcher(self.eng, debounce_s=self.watch_debounce_s)
        w.start()
        self.watcher = w

    def _poll_watcher(self) -> None:
        """GUI-thread timer: hands quiet changes to the writer lane when it is free."""
        w = self.watcher
        if w is None or self._paused:
            return
        if self._index_busy:
            p = self.state.progress
            if (
                not self.state.live
                and p is not None
                and p.phase == EMBEDDING
                and w.queue.quiet(w.debounce_s, w.max_wait_s)
            ):
                # a file saved now gets its words and meaning before the backlog: the full
                # run stops after its slice, the change goes in, then the run resumes
                self._interrupt = True
                self._index_again = True
            return
        if self.writer.busy() or w.queue.pending() == 0:
            return
        self._submit_changes(w)

    def _submit_changes(self, w: Any) -> None:
        self._index_busy = True
        self.state = IndexState(running=True, scanning=True, started=time.monotonic(), live=True)
        self.writer.submit(
            lambda: self._process_changes(w), self._on_index_done, self._on_index_failed
        )

    def _process_changes(self, w: Any) -> Any:
        from ..watcher import collapse

        self._interrupt = False
        paths = w.queue.take_if_quiet(w.debounce_s, w.max_wait_s)
        if not paths:
            return None  # still busy on disk: wait for the burst to end
        return self._run_index(collapse(paths))

    # folders ---------------------------------------------------------------------------
    def add_root(
        self,
        path: str,
        includes: list[str] | None = None,
        excludes: list[str] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._interrupt = self._index_busy

        def work() -> Snapshot:
            self._interrupt = False
            self.eng.add_root(path, includes or [], excludes or [])
            if self.watcher is not None:
                self.watcher.sync_roots()
            return self._read_snapshot()

        self.writer.submit(work, self._after_roots_change, self._error_to(on_error))

    def remove_root(self, path: str, on_error: Callable[[str], None] | None = None) -> None:
        self._interrupt = self._index_busy

        def work() -> Snapshot:
            self._interrupt = False
            load_writer_model(self.eng)  # removal updates the vector index
            self.eng.remove_root(path)
            if self.watcher is not None:
                self.watcher.sync_roots()
            return self._read_snapshot()

        self.writer.submit(work, self._after_roots_change, self._error_to(on_error))

    def _after_roots_change(self, snap: Snapshot) -> None:
        self._set_snapshot(snap)
        self.content_changed.emit()
        self.index_all()

    def _error_to(self, on_error: Callable[[str], None] | None) -> Callable[[BaseException], None]:
        def fail(e: BaseException) -> None:
            self._interrupt = False
            if on_error is not None:
                on_error(describe(e))
            else:
                self._report(e)
            if self._index_again or (self.snapshot and self.snapshot.roots):
                self.index_all()  # the interrupted run continues

        return fail

    # settings --------------------------------------------------------------------------
    def apply_settings(
        self,
        change: SettingsChange,
        on_done: Callable[[Snapshot], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._interrupt = self._index_busy
        new = change.settings

        def work() -> Snapshot:
            from ..config import save_settings
            from ..engine import Engine
            from ..models import check_gguf

            self._interrupt = False
            new.validate()
            if new.model_path:
                check_gguf(Path(new.model_path).expanduser())
            if new.reranker_path:
                check_gguf(Path(new.reranker_path).expanduser())
            old = self.eng
            if not change.reopen:
                old.update_settings(new)  # the engine and its searcher take a copy
                return self._read_snapshot()
            save_settings(new, old.paths.config)
            if self.watcher is not None:
                self.watcher.stop()
                self.watcher = None
            self.engine = Engine(self.home)
            if change.model:
                # the person confirmed the switch (with its cost) on the Settings page: only
                # now may indexing, the watcher's included, re-embed with the new model
                with MODEL_LOAD_LOCK:
                    self.eng.use_model(new.model_path or None)
            if self.watch:
                self._start_watcher()
            # the query lane may still be inside the old engine's Searcher: close it there
            self.query.submit(old.close, None, self._report)
            return self._read_snapshot()

        def done(snap: Snapshot) -> None:
            self._set_snapshot(snap)
            if on_done is not None:
                on_done(snap)
            self.warm_up()
            if change.reindex or self._index_again:
                self._index_again = False
                self.index_all()
            self.content_changed.emit()

        self.writer.submit(work, done, self._error_to(on_error))

    def model_change(
        self, path: str, on_done: Callable[[Any], None], on_error: Callable[[str], None]
    ) -> None:
        """What switching to `path` ("" = the bundled model) costs (engine.ModelChange, or
        None when the index already uses it), worked out on the reader lane: the model is
        loaded and timed there while indexing goes on."""

        def work() -> Any:
            from ..models import bundled_model_path

            with MODEL_LOAD_LOCK:
                return self.eng.model_change(path or bundled_model_path())

        self.reader.submit(work, on_done, lambda e: on_error(describe(e)))

    # other work ------------------------------------------------------------------------
    def run_reader(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Read-only work (previews, hardware facts) on its own lane."""
        self.reader.submit(fn, on_done, on_error or self._report)

    def run_writer(
        self,
        fn: Callable[[Any], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Work that needs the engine's writer side (e.g. the indexing model): fn(engine)."""

        def work() -> Any:
            load_writer_model(self.eng)
            return fn(self.eng)

        self.writer.submit(work, on_done, on_error or self._report)

    # closing ---------------------------------------------------------------------------
    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._paused = True  # a running index stops after its current file
        self._watch_timer.stop()
        self.reader.shutdown()
        self.query.shutdown()

        def final() -> None:
            if self.watcher is not None:
                self.watcher.stop()
            if self.engine is not None:
                self.eng.close()

        self.writer.shutdown(final, timeout_ms=60000)


def _changed(report: Any) -> bool:
    return bool(
        report.indexed
        or report.removed
        or report.renamed
        or report.failed
        or report.skipped
        or report.new
        or report.changed
    )
