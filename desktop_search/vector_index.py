"""VectorIndex: the USearch HNSW cache over chunk vectors (cosine, f16), rebuildable from the
catalog's stored vectors at any time."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .config import fsync_dir

if TYPE_CHECKING:
    from .store import Catalog


class VectorIndex:
    """USearch HNSW (cosine, f16) over chunk ids, guarded by a lock so the query lane can search
    while the writer lane adds. Persisted as `<stem>-g<generation>.usearch`: a single atomic
    rename makes the file and the generation it reflects agree by construction."""

    def __init__(self, base: Path, ndim: int) -> None:
        from usearch.index import Index

        self.base = base
        self.ndim = ndim
        self._lock = threading.RLock()
        self._index = Index(ndim=ndim, metric="cos", dtype="f16", connectivity=16,
                            expansion_add=128, expansion_search=64)
        self.generation = -1

    # persistence ---------------------------------------------------------------------------
    def _files(self) -> list[tuple[int, Path]]:
        out = []
        for p in self.base.parent.glob(f"{self.base.name}-g*.usearch"):
            try:
                out.append((int(p.name[len(self.base.name) + 2 : -len(".usearch")]), p))
            except ValueError:
                continue
        return sorted(out)

    @classmethod
    def open(cls, base: Path, ndim: int, catalog: Catalog, model: str) -> tuple[VectorIndex, str]:
        """Loads the saved index if it reflects the catalog's generation, else rebuilds it from
        the stored vectors. Returns the index and what happened ("loaded", "rebuilt", "new")."""
        vi = cls(base, ndim)
        gen = catalog.generation()
        files = vi._files()
        for g, p in reversed(files):
            if g != gen:
                continue
            try:
                vi._index.load(str(p))
                if vi._index.ndim == ndim:
                    vi.generation = gen
                    return vi, "loaded"
            except Exception:  # a torn or foreign file: fall through to a rebuild
                pass
            vi = cls(base, ndim)
        vi.rebuild(catalog, model)
        return vi, ("rebuilt" if files or gen > 0 else "new")

    def rebuild(self, catalog: Catalog, model: str) -> None:
        with self._lock:
            self._index.clear()  # type: ignore[no-untyped-call]
            gen = catalog.generation()
            for keys, vecs in catalog.indexed_vectors(model):
                if len(keys):
                    self._index.add(keys, vecs)
            self.generation = gen

    def save(self, generation: int) -> Path:
        """Atomic: write a temp file, fsync, rename to the generation's name, drop older ones."""
        self.base.parent.mkdir(parents=True, exist_ok=True)
        final = self.base.parent / f"{self.base.name}-g{generation}.usearch"
        tmp = final.with_name(final.name + ".tmp")
        with self._lock:
            self._index.save(str(tmp))
            self.generation = generation
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o600)
        os.replace(tmp, final)
        fsync_dir(final.parent)
        for g, p in self._files():
            if g != generation:
                p.unlink(missing_ok=True)
        return final

    def size_on_disk(self) -> int:
        return sum(p.stat().st_size for _, p in self._files())

    # contents ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._index)

    def add(self, keys: NDArray[np.uint64], vecs: NDArray[np.float32]) -> None:
        if not len(keys):
            return
        with self._lock:
            present = [k for k in keys.tolist() if self._index.contains(k)]
            if present:
                self._index.remove(present)
            self._index.add(keys, vecs)

    def remove(self, keys: Iterable[int]) -> None:
        ks = list(keys)
        if not ks:
            return
        with self._lock:
            present = [k for k in ks if self._index.contains(k)]
            if present:
                self._index.remove(present)

    def search(self, vec: NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) best first."""
        with self._lock:
            n = len(self._index)
            if n == 0:
                return []
            m = self._index.search(vec, min(k, n))
        return [(int(key), 1.0 - float(d)) for key, d in zip(m.keys, m.distances, strict=True)]
