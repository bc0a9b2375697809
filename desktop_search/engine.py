"""The one API both edges (CLI and GUI) use: roots, indexing, search, status.

An Engine owns the writer lane: the writer catalog connection, the vector index and the indexing
embedder, all used from one thread at a time. Searches go through a Searcher with its own read
connection and its own small model context, so a query never waits behind indexing.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Settings, load_settings, save_settings
from .embed import Embedder
from .errors import DesktopSearchError, IndexError_
from .indexer import Indexer, IndexReport, Progress
from .models import bundled_model_path, check_gguf, model_fingerprint
from .paths import AppPaths, resolve_home
from .search import Searcher, SearchOptions, SearchResult
from .store import Catalog, Root, VectorIndex


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


class Engine:
    def __init__(self, home: str | os.PathLike[str] | None = None,
                 settings: Settings | None = None, model_path: str | None = None) -> None:
        self.paths: AppPaths = resolve_home(home).ensure()
        self.settings = settings or load_settings(self.paths.config)
        if model_path:
            self.settings.model_path = str(Path(model_path).expanduser().resolve())
        self.catalog = Catalog(self.paths.catalog)
        self._embedder: Embedder | None = None
        self._vindex: VectorIndex | None = None
        self._searcher: Searcher | None = None
        self._lock = threading.RLock()  # the writer lane
        self.open_notice = ""
        self._closed = False

    # settings and model ------------------------------------------------------------------
    def model_path(self) -> Path:
        if self.settings.model_path:
            p = Path(self.settings.model_path).expanduser()
            check_gguf(p)
            return p
        return bundled_model_path()

    def save_settings(self) -> None:
        save_settings(self.settings, self.paths.config)

    def embedder(self) -> Embedder:
        """The indexing lane's model, loaded on first use."""
        if self._embedder is None:
            self._embedder = Embedder(
                self.model_path(),
                n_threads=self.settings.n_threads,
                n_gpu_layers=self.settings.n_gpu_layers,
            )
        return self._embedder

    def vector_index(self) -> VectorIndex:
        if self._vindex is None:
            emb = self.embedder()
            vi, how = VectorIndex.open(
                self.paths.index_dir / f"vectors-{emb.info.key}", emb.info.dims,
                self.catalog, emb.info.key,
            )
            if how == "rebuilt":
                self.open_notice = "vector index rebuilt from stored vectors"
            self._vindex = vi
        return self._vindex

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
        return self.catalog.add_root(str(p.resolve()), includes or [], excludes or [])

    def remove_root(self, path: str | os.PathLike[str]) -> int:
        """Removes a root and all its text from the index for real. Returns files removed."""
        target = str(Path(path).expanduser().resolve())
        roots = {r.path: r for r in self.catalog.roots()}
        root = roots.get(target) or roots.get(str(path))
        if root is None:
            raise DesktopSearchError(f"not an indexed folder: {path} (see `desktop-search roots`)")
        with self._lock:
            ids = list(r.id for r in self.catalog.files_under(root.id).values())
            chunk_ids = self.catalog.chunk_ids_of(ids)
            with self.catalog.transaction():
                self.catalog.delete_files(ids)
                self.catalog.db.execute("DELETE FROM roots WHERE id=?", (root.id,))
                self.catalog.gc_vectors()
                self.catalog.bump_generation()
            # Merge FTS5 segments so deleted terms are gone from the b-tree, not just marked;
            # secure_delete then zeroes the freed pages.
            self.catalog.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
            self.catalog.db.commit()
            if self._vindex is not None or self._model_ready():
                vi = self.vector_index()
                vi.remove(chunk_ids)
                vi.save(self.catalog.generation())
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
        when the index itself cannot be updated; per-file problems are in the report."""
        with self._lock:
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
            )
            try:
                if paths is not None:
                    return indexer.update_paths(paths, progress)
                report = indexer.run(progress, reembed=switching)
            except OSError as e:
                raise IndexError_(f"the index could not be updated: {e}") from e
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

    def _set_active_model(self, emb: Embedder) -> None:
        """The model searches use. Only changes once an index for it is complete."""
        self.catalog.set_meta("model_key", emb.info.key)
        self.catalog.set_meta("model_path", str(emb.info.path))
        self.catalog.set_meta("model_name", emb.info.name)
        self.catalog.set_meta("model_dims", str(emb.info.dims))

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
        return Status(
            home=str(self.paths.home),
            roots=[r.path for r in cat.roots()],
            files=cat.counts_by_state(),
            chunks=cat.chunk_count(),
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
            if self._vindex is not None and self._vindex.generation != self.catalog.generation():
                self._vindex.save(self.catalog.generation())
            if self._searcher is not None:
                self._searcher.close()
            self.catalog.close()
