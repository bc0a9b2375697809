"""The one API both edges (CLI and GUI) use: roots, indexing, search, status.

An Engine owns the writer lane: the writer catalog connection, the vector index and the indexing
embedder, all used from one thread at a time. Searches go through a Searcher with its own read
connection and its own small model context, so a query never waits behind indexing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .config import Settings, load_settings, save_settings
from .embed import Embedder
from .errors import CatalogDamaged, DesktopSearchError, IndexFailure, is_damage
from .extract.worker import DEFAULT_TIMEOUT_S, ExtractWorker
from .index_progress import IndexProgress
from .indexer import Indexer, IndexReport, Progress
from .models import (
    bundled_model_path,
    check_gguf,
    installed_models,
    is_bundled,
    model_fingerprint,
)
from .paths import AppPaths, resolve_home
from .scan import storable_path
from .search import Searcher, SearchOptions, SearchResult
from .store import CHUNKED, INDEXED, Catalog, Root, consistency_problems
from .vector_index import VectorIndex

_DISK_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}
_LOW_SPACE_BYTES = 4 << 20


def writer_failure(e: BaseException, home: Path) -> IndexFailure:
    """One clear line for a failure to write the index (disk full, read-only, I/O)."""
    msg = str(e)
    code = getattr(e, "errno", None)
    # SQLite reports a WAL index it cannot grow as a plain I/O error: look at the disk.
    io_error = "disk I/O error" in msg or code == errno.EIO
    if (
        code in _DISK_FULL
        or "disk is full" in msg
        or "No space left" in msg
        or (io_error and _low_space(home))
    ):
        return IndexFailure(
            f"the disk is full: the index in {home} could not be updated (what was already "
            "indexed is intact); free some space and run `desktop-search index` again"
        )
    if code in _READ_ONLY or "readonly database" in msg or "read-only" in msg:
        return IndexFailure(
            f"the index in {home} is read-only ({e.strerror if isinstance(e, OSError) else msg})"
            ": searching works, indexing needs write access"
        )
    return IndexFailure(f"the index in {home} could not be updated: {msg}")


def chunking_signature(s: Settings) -> str:
    return f"v1:{s.chunk_tokens}/{s.chunk_overlap}"


@dataclass
class Status:
    home: str
    roots: list[str]
    files: dict[str, int]
    chunks: int
    model: dict[str, Any]
    index_bytes: int
    vectors: int
    problems: list[dict[str, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    # files findable by words / by meaning, passages with meaning out of all, the last
    # measured embedding speed and the time left at it (None when nothing is left or unknown)
    meaning: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelChange:
    """What switching the index to another embedding model costs, said before it starts."""

    path: str
    key: str
    name: str  # the new model's file name
    active_name: str  # the model searches use until the switch is complete
    passages: int  # passages it still has to embed
    tokens: int
    stored: int  # its vectors already stored (kept from an earlier use of it)
    seconds: float | None  # None: nothing to go by
    basis: str  # "measured while indexing", "timed on sample passages" or "estimate"
    confirmed: bool  # the person already chose it: the next index continues the switch

    def cost(self) -> str:
        """One line: what the switch re-embeds, how long that takes here, what answers meanwhile."""
        if not self.passages:
            return (
                f"switching to {self.name} re-embeds nothing: the vectors of all "
                f"{self.stored:,} passages are stored from an earlier use"
            )
        from .hardware import duration_text

        when = ""
        if self.seconds is not None:
            took = "under a second" if self.seconds < 1 else f"about {duration_text(self.seconds)}"
            when = f", {took} here ({self.basis})"
        return (
            f"switching to {self.name} re-embeds {self.passages:,} passages{when}; "
            f"{self.active_name} keeps answering searches until the new index is complete"
        )


class Engine:
    """Thread use: the writer methods (add_root, remove_root, index, save_settings, close) are
    serialised by a lock and, across processes, by a lock file in the home, so a CLI `index`
    and a window on the same home never write at once. search() and searcher() are the query
    lane and may run on another thread at the same time."""

    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        settings: Settings | None = None,
        model_path: str | None = None,
    ) -> None:
        self.paths: AppPaths = resolve_home(home).ensure()
        self.settings = settings or load_settings(self.paths.config)
        # A model the caller names here is its decision (the CLI asks the person first): index
        # switches to it. One only configured in config.toml switches once confirmed (use_model).
        self._explicit_model = bool(model_path)
        if model_path:
            self.settings.model_path = str(Path(model_path).expanduser().resolve())
        # A home the user cannot write (a read-only mount, a locked-down copy) still answers
        # searches; every writer method then says plainly why it cannot run.
        self.readonly = not _writable(self.paths)
        self._cannot_write: IndexFailure | None = None
        try:
            self.catalog = Catalog(self.paths.catalog, readonly=self.readonly)
        except CatalogDamaged:
            raise  # not a write problem: a read-only fallback would fail on the same pages
        except IndexFailure as e:
            if self.readonly or not self.paths.catalog.exists():
                raise
            # The catalog exists but cannot be opened for writing (a full disk, a read-only
            # file): searches still work; writes say why they cannot.
            self.readonly = True
            self._cannot_write = writer_failure(e.__cause__ or e, self.paths.home)
            self.catalog = Catalog(self.paths.catalog, readonly=True)
        self._embedder: Embedder | None = None
        self._progress: IndexProgress | None = None
        self._vindex: VectorIndex | None = None
        self._searcher: Searcher | None = None
        self._worker: ExtractWorker | None = None
        # Hard limit on one file's extraction (the worker is killed past it). With
        # isolate_extraction off, extraction runs in this process with only the extractors'
        # cooperative time checks (for debugging; a stuck parser then stalls the run).
        self.extract_timeout_s = DEFAULT_TIMEOUT_S
        self.isolate_extraction = True
        self._lock = threading.RLock()  # the writer lane
        self._lock_file: IO[bytes] | None = None
        self._lock_depth = 0
        self.open_notice = (
            f"the index in {self.paths.home} is read-only: searching works, indexing does not"
            if self.readonly
            else ""
        )
        self._closed = False

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # the writer lane -----------------------------------------------------------------------
    @contextlib.contextmanager
    def _writer(self, what: str) -> Iterator[None]:
        """Exclusive write access to the home, with failures turned into one clear line."""
        if self.readonly:
            if self._cannot_write is not None:
                raise IndexFailure(f"cannot {what}: {self._cannot_write}")
            raise IndexFailure(
                f"cannot {what}: the index in {self.paths.home} is read-only "
                "(searching works, changes need write access)"
            )
        with self._lock:
            self._acquire_file_lock(what)
            try:
                if self._lock_depth == 1:
                    self._clean_leftovers()
                    self._resync_vector_index()
                yield
            except DesktopSearchError:
                raise
            except (OSError, sqlite3.Error, RuntimeError) as e:
                if is_damage(e):
                    raise CatalogDamaged(self.paths.home) from e
                raise writer_failure(e, self.paths.home) from e
            finally:
                self._release_file_lock()

    def _acquire_file_lock(self, what: str) -> None:
        self._lock_depth += 1
        if self._lock_depth > 1:
            return
        try:
            import fcntl
        except ImportError:  # Windows: the in-process lock is all there is
            return
        try:
            fd = os.open(self.paths.home / "writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
            f = os.fdopen(fd, "r+b")
        except OSError as e:
            self._lock_depth -= 1
            raise writer_failure(e, self.paths.home) from e
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            self._lock_depth -= 1
            raise IndexFailure(
                f"cannot {what}: another desktop-search process is updating the index in "
                f"{self.paths.home}; try again when it has finished"
            ) from None
        self._lock_file = f

    def _release_file_lock(self) -> None:
        self._lock_depth -= 1
        if self._lock_depth == 0 and self._lock_file is not None:
            self._lock_file.close()  # closing releases the flock
            self._lock_file = None

    def _clean_leftovers(self) -> None:
        """Temp files of a save that a crash or a full disk cut short (only the writer, which
        holds the lock, ever creates them)."""
        for pattern, folder in (
            ("*.usearch.tmp", self.paths.index_dir),
            (".*.tmp", self.paths.home),
        ):
            for p in folder.glob(pattern):
                with contextlib.suppress(OSError):
                    p.unlink()

    def _resync_vector_index(self) -> None:
        """The in-memory index reflects the catalog only while this process alone writes it:
        after another process indexed (or an operation here failed half-way), reopen it."""
        vi = self._vindex
        if vi is not None and vi.generation != self.catalog.generation():
            self._vindex = self._open_vector_index()  # swapped whole: searches never see None

    # settings and model ------------------------------------------------------------------
    def model_path(self) -> Path:
        if self.settings.model_path:
            p = Path(self.settings.model_path).expanduser()
            check_gguf(p)
            return p
        return bundled_model_path()

    def save_settings(self) -> None:
        with self._writer("save the settings"):
            save_settings(self.settings, self.paths.config)

    def update_settings(self, new: Settings) -> Settings:
        """Saves `new` (validated) and makes a copy of it the settings this engine and its
        searcher use from now on; the object the caller holds is never shared. Settings that
        need a fresh engine (the model, chunk sizes) are the caller's to reopen for."""
        new.validate()
        settings = dataclasses.replace(new, excludes=list(new.excludes))
        with self._writer("save the settings"):
            save_settings(settings, self.paths.config)
            self.settings = settings
            if self._searcher is not None:
                self._searcher.settings = settings
        return settings

    def indexing_model_path(self) -> Path:
        """The model indexing embeds with: the configured one, unless it differs from the one
        the index was built with and nobody confirmed the switch (a hand-edited config.toml, a
        window whose watcher runs index on its own): then the active one, so no run ever
        re-embeds everything unasked."""
        wanted = self.model_path()
        active = self.catalog.get_meta("model_key")
        if not active:
            return wanted
        key = model_fingerprint(wanted)
        if key == active or self._explicit_model or self.catalog.get_meta("model_target") == key:
            return wanted
        return self.active_model_file()

    def active_model_file(self) -> Path:
        """The GGUF the index was built with, found by its fingerprint if it moved."""
        key, path = self.catalog.get_meta("model_key"), self.catalog.get_meta("model_path") or ""
        p = Path(path)
        if p.is_file() and model_fingerprint(p) == key:
            return p
        for m in installed_models(self.paths.models_dir):
            if model_fingerprint(m.path) == key:
                return m.path
        raise DesktopSearchError(
            f"the model the index was built with is gone ({path or key}); choose one with "
            "`desktop-search models use NAME` (`models list` shows the installed ones)"
        )

    def embedder(self) -> Embedder:
        """The writer lane's model (see indexing_model_path), loaded on first use."""
        return self._embedder_for(self.indexing_model_path())

    def _embedder_for(self, path: Path) -> Embedder:
        if self._embedder is not None and self._embedder.info.path.resolve() != path.resolve():
            old, vi = self._embedder, self._vindex
            self._embedder = self._vindex = None
            if vi is not None and not self.readonly and vi.generation != self.catalog.generation():
                with contextlib.suppress(OSError, RuntimeError):
                    vi.save(self.catalog.generation())
            old.close()
        if self._embedder is None:
            # On the CPU, one single-threaded context per thread embeds passages side by side:
            # no barrier between threads after every operation. 17 % more passages/s than one
            # context on two threads here, 31 % end to end with the passages of several files
            # per call (indexer.EMBED_FILES), on an idle machine; on a GPU it stays one context.
            # An F16 model runs from its F32 working copy (embed.f32_copy).
            self._embedder = Embedder(
                path,
                n_threads=self.settings.n_threads,
                n_gpu_layers=self.settings.n_gpu_layers,
                lanes=0,
                f32_folder=self.paths.weights_dir,
            )
        return self._embedder

    def vector_index(self) -> VectorIndex:
        if self._vindex is None or not self._vindex.base.name.endswith(self.embedder().info.key):
            self._vindex = self._open_vector_index()
        return self._vindex

    def _open_vector_index(self) -> VectorIndex:
        emb = self.embedder()
        vi, how = VectorIndex.open(
            self.paths.index_dir / f"vectors-{emb.info.key}",
            emb.info.dims,
            self.catalog,
            emb.info.key,
        )
        if how == "rebuilt":
            self.open_notice = "vector index rebuilt from stored vectors"
            if not self.readonly:
                # Saving now also deletes the stale file: after a power cut the catalog can
                # fall back to an older generation and later reach the stale file's number
                # again with other contents; it must be gone by then.
                with contextlib.suppress(OSError, RuntimeError):
                    vi.save(self.catalog.generation())
        return vi

    def extract_worker_pid(self) -> int | None:
        """The extraction process's id while it runs (for memory figures), else None."""
        w = self._worker
        return None if w is None else w.pid

    def extract_worker(self) -> ExtractWorker:
        """The killable extraction process, started on first use and kept between runs."""
        if self._worker is None:
            self._worker = ExtractWorker(timeout_s=self.extract_timeout_s)
        self._worker.timeout_s = self.extract_timeout_s
        return self._worker

    # roots -------------------------------------------------------------------------------
    def roots(self) -> list[Root]:
        return self.catalog.roots()

    def folders(self) -> list[str]:
        """The folders that hold files, for a folder filter: read on the query side's own
        connection, so it never waits behind indexing."""
        return self.searcher().catalog().folders()

    def gpu_offload(self) -> bool:
        """Can this llama.cpp build put the model on a GPU (a CUDA, Metal or Vulkan build)?"""
        from .embed import gpu_offload_supported

        return gpu_offload_supported()

    def root_file_counts(self) -> dict[str, int]:
        """Files the catalog holds under each root, by the root's path."""
        return {r.path: self.catalog.file_count_under(r.id) for r in self.catalog.roots()}

    def add_root(
        self,
        path: str | os.PathLike[str],
        includes: list[str] | None = None,
        excludes: list[str] | None = None,
    ) -> Root:
        p = Path(path).expanduser()
        if not p.exists():
            raise DesktopSearchError(f"no such folder: {p}")
        if not p.is_dir():
            raise DesktopSearchError(f"not a folder: {p} (add the folder that holds it)")
        if not os.access(p, os.R_OK | os.X_OK):
            raise DesktopSearchError(f"cannot read folder: {p} (permission denied)")
        if storable_path(str(p.resolve()))[1]:
            raise DesktopSearchError(f"the folder name is not valid UTF-8: {p} (rename it)")
        with self._writer("add a folder"):
            return self.catalog.add_root(str(p.resolve()), includes or [], excludes or [])

    def remove_root(self, path: str | os.PathLike[str]) -> int:
        """Removes a root and all its text from the index for real. Returns files removed."""
        target = str(Path(path).expanduser().resolve())
        roots = {r.path: r for r in self.catalog.roots()}
        root = roots.get(target) or roots.get(str(path))
        if root is None:
            raise DesktopSearchError(f"not an indexed folder: {path} (see `desktop-search roots`)")
        with self._writer("remove a folder"):
            # Open the vector index before the catalog changes, so a rebuild (and the removal
            # of stale files) sees the state before this operation.
            vi = self.vector_index() if self._vindex is not None or self._model_ready() else None
            ids = list(r.id for r in self.catalog.files_under(root.id).values())
            chunk_ids = self.catalog.chunk_ids_of(ids)
            with self.catalog.transaction():
                self.catalog.delete_files(ids)
                self.catalog.remove_root(root.id)
                self.catalog.gc_vectors()
                self.catalog.bump_generation()
            if vi is not None:
                vi.remove(chunk_ids)
                vi.save(self.catalog.generation())
            self.catalog.purge_deleted_text()
        return len(ids)

    def _model_ready(self) -> bool:
        try:
            self.model_path()
            return True
        except DesktopSearchError:
            return False

    # indexing ----------------------------------------------------------------------------
    def index(
        self, progress: Progress | None = None, paths: list[str] | None = None
    ) -> IndexReport:
        """Brings the index up to date (all roots, or just `paths`). Raises IndexFailure only
        when the index itself cannot be updated (one clear line: disk full, read-only, another
        process indexing); per-file problems are in the report."""
        with self._writer("index"):
            return self._index(progress, paths)

    def _index(self, progress: Progress | None, paths: list[str] | None) -> IndexReport:
        emb = self.embedder()
        vi = self.vector_index()
        sig = chunking_signature(self.settings)
        old_sig = self.catalog.get_meta("chunking")
        if old_sig is not None and old_sig != sig:
            # New chunk sizes: every file is cut again, an indexed one keeping its old
            # passages until its new ones have vectors (Indexer._rechunk_queued; vectors are
            # reused wherever a passage's text did not change).
            with self.catalog.transaction():
                self.catalog.queue_rechunk()
        active = self.catalog.get_meta("model_key")
        switching = active is not None and active != emb.info.key
        with self.catalog.transaction():
            self.catalog.set_meta("chunking", sig)
            if active is None:
                self._set_active_model(emb)
            if not switching and self.catalog.get_meta("model_target"):
                self.catalog.set_meta("model_target", "")  # back on the active model
        indexer = Indexer(
            self.catalog,
            vi,
            emb,
            emb.info.key,
            chunk_tokens=self.settings.chunk_tokens,
            chunk_overlap=self.settings.chunk_overlap,
            excludes=self.settings.excludes,
            max_file_bytes=self.settings.max_file_mb * 1024 * 1024,
            follow_symlinks=self.settings.follow_symlinks,
            worker=self.extract_worker() if self.isolate_extraction else None,
            extract_budget_s=self.extract_timeout_s,
        )
        self._progress = indexer.progress
        if paths is not None:
            return indexer.update_paths(paths, progress)
        report = indexer.run(progress, reembed=switching)
        self._record_speed(emb, report)
        if switching and not report.cancelled and not self.catalog.files_in_state("chunked"):
            # The new model's index is complete: searches switch over. The old model's vectors
            # stay (switching back costs nothing) until `models prune` removes them.
            self._switch_to(emb)
        return report

    def index_progress(self) -> IndexProgress | None:
        """A copy of how far the running (or last) indexing run of this engine got: files
        findable by words, passages with meaning, speed and ETA. Any thread may call it."""
        p = self._progress
        return None if p is None else dataclasses.replace(p)

    def _switch_to(self, emb: Embedder) -> None:
        with self.catalog.transaction():
            self._set_active_model(emb)
            self.catalog.set_meta("model_target", "")
        if self._searcher is not None:
            self._searcher.reset_model()

    def _record_speed(self, emb: Embedder, report: IndexReport) -> None:
        """Tokens/s this model embedded at here: what the next switch's cost is told from."""
        secs = report.timings.get("embed", 0.0)
        if report.tokens_embedded >= 2000 and secs > 0.5:
            with self.catalog.transaction():
                self.catalog.set_meta(
                    f"speed:{emb.info.key}", f"{report.tokens_embedded / secs:.1f}"
                )

    # choosing the model ----------------------------------------------------------------------
    def model_change(
        self, path: str | os.PathLike[str] | None = None, *, measure: bool = True
    ) -> ModelChange | None:
        """What indexing with `path` (default: the configured model) would cost, or None when
        it is the model the index was built with (or nothing is indexed yet). Reads only, on
        its own connection: the window asks it while the writer lane indexes. With measure,
        a model never seen indexing here is loaded and timed on sample passages."""
        p = Path(path).expanduser().resolve() if path else self.model_path()
        check_gguf(p)
        key = model_fingerprint(p)
        if not self.paths.catalog.exists():
            return None
        cat = Catalog(self.paths.catalog, readonly=True)
        try:
            active = cat.get_meta("model_key")
            if not active or active == key:
                return None
            passages, tokens = cat.missing_for_model(key)
            stored = cat.vector_counts().get(key, 0)
            confirmed = cat.get_meta("model_target") == key
            speed = float(cat.get_meta(f"speed:{key}") or 0)
            active_speed = float(cat.get_meta(f"speed:{active}") or 0)
            active_path = Path(cat.get_meta("model_path") or "")
            active_name = active_path.name or cat.get_meta("model_name") or active
        finally:
            cat.close()
        seconds: float | None = None
        basis = ""
        if passages and speed:
            seconds, basis = tokens / speed, "measured while indexing"
        elif passages and measure:
            from .hardware import measure_embedding_speed

            emb = Embedder(
                p,
                n_threads=self.settings.n_threads,
                n_gpu_layers=self.settings.n_gpu_layers,
                lanes=0,
                f32_folder=self.paths.weights_dir,
            )
            try:
                sample = measure_embedding_speed(emb, n_chunks=max(4, emb.lanes * 2))
            finally:
                emb.close()
            if sample.tokens_per_s > 0:
                seconds, basis = tokens / sample.tokens_per_s, "timed on sample passages"
        elif passages and active_speed and active_path.is_file():
            # a bigger file computes more per token, roughly in proportion
            ratio = p.stat().st_size / max(active_path.stat().st_size, 1)
            seconds, basis = tokens / active_speed * max(ratio, 0.5), "estimate"
        return ModelChange(
            path=str(p),
            key=key,
            name=p.name,
            active_name=active_name,
            passages=passages,
            tokens=tokens,
            stored=stored,
            seconds=seconds,
            basis=basis,
            confirmed=confirmed,
        )

    def use_model(self, path: str | os.PathLike[str] | None) -> ModelChange | None:
        """The person's decision to index with `path` (None: the bundled model): loaded (a file
        llama.cpp cannot embed with is refused here, nothing saved), saved in config.toml (a
        plain `index` later keeps it) and recorded as confirmed, so the next index re-embeds
        with it while the old index answers. Instant when its vectors are all stored.
        Returns the change (None: it is already the model the index uses)."""
        p = Path(path).expanduser().resolve() if path else bundled_model_path()
        check_gguf(p)
        with self._writer("switch the model"):
            emb = self._embedder_for(p)  # loads and checks it: an LLM or a reranker fails here
            change = self.model_change(p, measure=False)
            self.settings.model_path = "" if is_bundled(p) else str(p)
            self._explicit_model = False
            save_settings(self.settings, self.paths.config)
            with self.catalog.transaction():
                self.catalog.set_meta("model_target", change.key if change else "")
                self.catalog.set_meta(f"path:{emb.info.key}", str(p))  # for `models list`
            if (
                change is not None
                and not change.passages
                and not self.catalog.files_in_state("chunked")
            ):
                self.vector_index()  # rebuilt from the stored vectors, never re-embedded
                self._switch_to(emb)
            return change

    def prune_models(self) -> tuple[dict[str, int], int]:
        """Removes the vectors of every model that is neither the active one, nor the
        configured one, nor a confirmed switch's target, with their vector index files, and
        gives the space back (VACUUM). Returns ({model key: vectors removed}, bytes freed)."""
        with self._writer("prune model vectors"):
            keep = {
                k
                for k in (self.catalog.get_meta("model_key"), self.catalog.get_meta("model_target"))
                if k
            }
            with contextlib.suppress(DesktopSearchError, OSError):
                keep.add(model_fingerprint(self.model_path()))
            before = self._disk_bytes()
            counts = {k: n for k, n in self.catalog.vector_counts().items() if k not in keep}
            if counts:
                with self.catalog.transaction():
                    self.catalog.drop_vectors_except(keep)
            for p in self.paths.index_dir.glob("vectors-*.usearch"):
                if not any(p.name.startswith(f"vectors-{k}-") for k in keep):
                    p.unlink(missing_ok=True)
            self.catalog.vacuum()
            return counts, max(0, before - self._disk_bytes())

    def _disk_bytes(self) -> int:
        n = 0
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(self.paths.catalog) + suffix)
            if p.exists():
                n += p.stat().st_size
        for p in self.paths.index_dir.glob("*.usearch"):
            n += p.stat().st_size
        return n

    def _set_active_model(self, emb: Embedder) -> None:
        """The model searches use. Only changes once an index for it is complete."""
        self.catalog.set_meta("model_key", emb.info.key)
        self.catalog.set_meta("model_path", str(emb.info.path))
        self.catalog.set_meta("model_name", emb.info.name)
        self.catalog.set_meta("model_dims", str(emb.info.dims))
        self.catalog.set_meta(f"path:{emb.info.key}", str(emb.info.path))

    def verify(self) -> list[str]:
        """Checks that the catalog, its keyword index and the vector index agree (see
        store.consistency_problems); [] when they do. Reads only."""
        with self._lock:
            key, dims = self.catalog.get_meta("model_key"), self.catalog.get_meta("model_dims")
            vi = self._vindex
            if vi is not None and key and not vi.base.name.endswith(key):
                vi = None  # mid model switch: check the index searches use
            if vi is None and key and dims:
                # in memory only, without loading a model: verify never changes the home
                vi, _how = VectorIndex.open(
                    self.paths.index_dir / f"vectors-{key}", int(dims), self.catalog, key
                )
            return consistency_problems(self.catalog, vi)

    # searching ---------------------------------------------------------------------------
    def searcher(self) -> Searcher:
        if self._searcher is None:
            self._searcher = Searcher(self.paths, self.settings, shared_index=self._shared_index)
        return self._searcher

    def _shared_index(self) -> VectorIndex | None:
        """In one process the query lane searches the writer's live index (locked inside)."""
        return self._vindex

    def search(self, query: str, options: SearchOptions | None = None) -> list[SearchResult]:
        return self.searcher().search(query, options or SearchOptions())

    def counts(self) -> tuple[dict[str, int], int]:
        """(files by state, passages), read on the query lane's connection: it never waits
        behind an index run on the writer lane (WAL), so a window can ask while indexing."""
        return self.searcher().counts()

    # status ------------------------------------------------------------------------------
    def first_indexed(self) -> tuple[str, float] | None:
        """(path, when) of the file that got its meaning first."""
        return self.catalog.first_indexed()

    def status(self) -> Status:
        cat = self.catalog
        index_bytes = self._disk_bytes()
        model: dict[str, Any] = {
            "name": cat.get_meta("model_name"),
            "path": cat.get_meta("model_path"),
            "key": cat.get_meta("model_key"),
            "dims": int(cat.get_meta("model_dims") or 0) or None,
        }
        notices: list[str] = []
        model["stored"] = cat.vector_counts()  # vectors per model key, kept until a prune
        try:
            current = self.model_path()
            model["configured"] = str(current)
            model["configured_key"] = model_fingerprint(current)
            change = self.model_change(current, measure=False)
            model["switching"] = bool(change and change.confirmed)
            if change is not None and change.confirmed:
                notices.append(
                    f"switching to {current.name}: {change.passages:,} passages left to embed; "
                    f"searches use {change.active_name} until the new index is complete "
                    "(`desktop-search index` continues)"
                )
            elif change is not None:
                notices.append(
                    f"the configured model {current.name} differs from the one the index was "
                    f"built with ({change.active_name}), which indexing keeps using: "
                    f"`desktop-search models use {current.name}` switches ({change.cost()})"
                )
        except DesktopSearchError as e:
            notices.append(str(e))
        vectors = cat.vector_count(model["key"] or "")
        with_meaning, passages, tokens_left = cat.meaning_counts(model["key"] or "")
        files = cat.counts_by_state()
        speed = json.loads(cat.get_meta("embed_speed") or "{}")
        tps = float(speed.get("tokens_per_s") or 0)
        meaning = {
            "files_findable_by_words": files[CHUNKED] + files[INDEXED],
            "files_with_meaning": files[INDEXED],
            "passages": passages,
            "passages_with_meaning": with_meaning,
            "passages_per_s": speed.get("passages_per_s"),
            "eta_s": round(tokens_left / tps) if tps > 0 and tokens_left else None,
            # what a re-index would cost at the measured speed (the Settings page says it)
            "tokens": cat.token_count(),
            "tokens_per_s": tps or None,
        }
        return Status(
            meaning=meaning,
            home=str(self.paths.home),
            roots=[r.path for r in cat.roots()],
            files=files,
            chunks=passages,
            model=model,
            index_bytes=index_bytes,
            vectors=vectors,
            problems=[{"path": p, "state": s, "reason": r} for p, s, r in cat.problems()],
            notices=notices,
        )

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._worker is not None:
                self._worker.close()
            vi = self._vindex
            if vi is not None and not self.readonly and vi.generation != self.catalog.generation():
                # Only a cache: if it cannot be saved (disk full), the next start rebuilds it.
                with contextlib.suppress(OSError, RuntimeError, DesktopSearchError):
                    vi.save(self.catalog.generation())
            if self._searcher is not None:
                self._searcher.close()
            self.catalog.close()


def _low_space(path: Path) -> bool:
    try:
        return shutil.disk_usage(path).free < _LOW_SPACE_BYTES
    except OSError:
        return False


def _writable(paths: AppPaths) -> bool:
    """Can this process write the home (and its catalog, when there is one)?"""
    if not os.access(paths.home, os.W_OK | os.X_OK):
        return False
    return not paths.catalog.exists() or os.access(paths.catalog, os.W_OK)
