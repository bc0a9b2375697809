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
from .errors import CatalogDamaged, DesktopSearchError, IndexError_
from .extract.worker import DEFAULT_TIMEOUT_S, ExtractWorker
from .index_progress import IndexProgress
from .indexer import Indexer, IndexReport, Progress, save_vector_index
from .models import bundled_model_path, check_gguf, model_fingerprint
from .paths import AppPaths, resolve_home
from .scan import storable_path
from .search import Searcher, SearchOptions, SearchResult
from .store import CHUNKED, INDEXED, Catalog, Root, VectorIndex, consistency_problems, is_damage

_DISK_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}
_LOW_SPACE_BYTES = 4 << 20


def writer_failure(e: BaseException, home: Path) -> IndexError_:
    """One clear line for a failure to write the index (disk full, read-only, I/O)."""
    msg = str(e)
    code = getattr(e, "errno", None)
    # SQLite reports a WAL index it cannot grow as a plain I/O error: look at the disk.
    io_error = "disk I/O error" in msg or code == errno.EIO
    if (code in _DISK_FULL or "disk is full" in msg or "No space left" in msg
            or (io_error and _low_space(home))):
        return IndexError_(
            f"the disk is full: the index in {home} could not be updated (what was already "
            "indexed is intact); free some space and run `desktop-search index` again"
        )
    if code in _READ_ONLY or "readonly database" in msg or "read-only" in msg:
        return IndexError_(
            f"the index in {home} is read-only ({e.strerror if isinstance(e, OSError) else msg})"
            ": searching works, indexing needs write access"
        )
    return IndexError_(f"the index in {home} could not be updated: {msg}")


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


class Engine:
    """Thread use: the writer methods (add_root, remove_root, index, save_settings, close) are
    serialised by a lock and, across processes, by a lock file in the home, so a CLI `index`
    and a window on the same home never write at once. search() and searcher() are the query
    lane and may run on another thread at the same time."""

    def __init__(self, home: str | os.PathLike[str] | None = None,
                 settings: Settings | None = None, model_path: str | None = None) -> None:
        self.paths: AppPaths = resolve_home(home).ensure()
        self.settings = settings or load_settings(self.paths.config)
        if model_path:
            self.settings.model_path = str(Path(model_path).expanduser().resolve())
        # A home the user cannot write (a read-only mount, a locked-down copy) still answers
        # searches; every writer method then says plainly why it cannot run.
        self.readonly = not _writable(self.paths)
        self._cannot_write: IndexError_ | None = None
        try:
            self.catalog = Catalog(self.paths.catalog, readonly=self.readonly)
        except CatalogDamaged:
            raise  # not a write problem: a read-only fallback would fail on the same pages
        except IndexError_ as e:
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
            if self.readonly else ""
        )
        self._closed = False

    # the writer lane -----------------------------------------------------------------------
    @contextlib.contextmanager
    def _writer(self, what: str) -> Iterator[None]:
        """Exclusive write access to the home, with failures turned into one clear line."""
        if self.readonly:
            if self._cannot_write is not None:
                raise IndexError_(f"cannot {what}: {self._cannot_write}")
            raise IndexError_(
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
            raise IndexError_(
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
        for pattern, folder in (("*.usearch.tmp", self.paths.index_dir),
                                (".*.tmp", self.paths.home)):
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

    def embedder(self) -> Embedder:
        """The indexing lane's model, loaded on first use."""
        if self._embedder is None:
            # On the CPU, one single-threaded context per thread embeds passages side by side:
            # no barrier between threads after every operation. 17 % more passages/s than one
            # context on two threads here, 31 % end to end with the passages of several files
            # per call (indexer.EMBED_FILES), on an idle machine; on a GPU it stays one context.
            # An F16 model runs from its F32 working copy (embed.f32_copy).
            self._embedder = Embedder(
                self.model_path(),
                n_threads=self.settings.n_threads,
                n_gpu_layers=self.settings.n_gpu_layers,
                lanes=0,
                f32_folder=self.paths.weights_dir,
            )
        return self._embedder

    def vector_index(self) -> VectorIndex:
        if self._vindex is None:
            self._vindex = self._open_vector_index()
        return self._vindex

    def _open_vector_index(self) -> VectorIndex:
        emb = self.embedder()
        vi, how = VectorIndex.open(
            self.paths.index_dir / f"vectors-{emb.info.key}", emb.info.dims,
            self.catalog, emb.info.key,
        )
        if how == "rebuilt":
            self.open_notice = "vector index rebuilt from stored vectors"
            if not self.readonly:
                # Saving now also deletes the stale file: after a power cut the catalog can
                # fall back to an older generation and later reach the stale file's number
                # again with other contents; it must be gone by then.
                with contextlib.suppress(OSError, RuntimeError):
                    save_vector_index(vi, self.catalog.generation())
        return vi

    def extract_worker(self) -> ExtractWorker:
        """The killable extraction process, started on first use and kept between runs."""
        if self._worker is None:
            self._worker = ExtractWorker(timeout_s=self.extract_timeout_s)
        self._worker.timeout_s = self.extract_timeout_s
        return self._worker

    # roots -------------------------------------------------------------------------------
    def roots(self) -> list[Root]:
        return self.catalog.roots()

    def add_root(self, path: str | os.PathLike[str], includes: list[str] | None = None,
                 excludes: list[str] | None = None) -> Root:
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
                self.catalog.db.execute("DELETE FROM roots WHERE id=?", (root.id,))
                self.catalog.gc_vectors()
                self.catalog.bump_generation()
            if vi is not None:
                vi.remove(chunk_ids)
                save_vector_index(vi, self.catalog.generation())
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
        """Brings the index up to date (all roots, or just `paths`). Raises IndexError_ only
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
            # New chunk sizes: every file must be re-chunked; mark them so the diff redoes
            # them (their vectors are reused wherever a chunk's text did not change).
            with self.catalog.transaction():
                self.catalog.db.execute("UPDATE files SET state='pending' WHERE state IN "
                                        "('chunked','indexed')")
        active = self.catalog.get_meta("model_key")
        switching = active is not None and active != emb.info.key
        with self.catalog.transaction():
            self.catalog.set_meta("chunking", sig)
            if active is None:
                self._set_active_model(emb)
        indexer = Indexer(
            self.catalog, vi, emb, emb.info.key,
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
        if switching and not report.cancelled and not self.catalog.files_in_state("chunked"):
            # The new model's index is complete: switch searches over, then drop the old.
            with self.catalog.transaction():
                self._set_active_model(emb)
                self.catalog.drop_model_vectors(emb.info.key)
            for p in self.paths.index_dir.glob("vectors-*.usearch"):
                if not p.name.startswith(f"vectors-{emb.info.key}-"):
                    p.unlink(missing_ok=True)
            if self._searcher is not None:
                self._searcher.reset_model()
        return report

    def index_progress(self) -> IndexProgress | None:
        """A copy of how far the running (or last) indexing run of this engine got: files
        findable by words, passages with meaning, speed and ETA. Any thread may call it."""
        p = self._progress
        return None if p is None else dataclasses.replace(p)

    def _set_active_model(self, emb: Embedder) -> None:
        """The model searches use. Only changes once an index for it is complete."""
        self.catalog.set_meta("model_key", emb.info.key)
        self.catalog.set_meta("model_path", str(emb.info.path))
        self.catalog.set_meta("model_name", emb.info.name)
        self.catalog.set_meta("model_dims", str(emb.info.dims))

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
                vi, _how = VectorIndex.open(self.paths.index_dir / f"vectors-{key}", int(dims),
                                            self.catalog, key)
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

    # status ------------------------------------------------------------------------------
    def status(self) -> Status:
        cat = self.catalog
        index_bytes = 0
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(self.paths.catalog) + suffix)
            if p.exists():
                index_bytes += p.stat().st_size
        for p in self.paths.index_dir.glob("*.usearch"):
            index_bytes += p.stat().st_size
        model: dict[str, Any] = {
            "name": cat.get_meta("model_name"),
            "path": cat.get_meta("model_path"),
            "key": cat.get_meta("model_key"),
            "dims": int(cat.get_meta("model_dims") or 0) or None,
        }
        notices: list[str] = []
        try:
            current = self.model_path()
            model.setdefault("configured", str(current))
            model["configured"] = str(current)
            if model["key"] and model_fingerprint(current) != model["key"]:
                notices.append(
                    f"the configured model {current.name} differs from the one the index was "
                    "built with; run `desktop-search index` to re-embed (the old index keeps "
                    "answering until then)"
                )
        except DesktopSearchError as e:
            notices.append(str(e))
        vectors = int(cat.db.execute(
            "SELECT count(*) FROM vectors WHERE model=?", (model["key"] or "",)
        ).fetchone()[0])
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
                    save_vector_index(vi, self.catalog.generation())
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
