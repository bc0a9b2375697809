"""VectorIndex: the USearch HNSW cache over chunk vectors (cosine, i8), rebuildable from the
catalog's stored vectors at any time.

Tuned on 2 cores with real MiniLM vectors scaled up by perturbation (docs/performance.md):
connectivity 16 with expansion_add 64 builds 2.6x faster than connectivity 32 / expansion_add 128,
and a wide search buys back the recall. Storage is i8: 58 % of f16's size (533 against 917 MB at a
million passages) and faster to search. i8 alone ranks near-equals loosely, so the index only
finds candidates and the searcher rescores the first 50 with the exact vectors the catalog
stores (search.exact_similarities). With expansion_search 2048 that gives recall@10 1.000 of
exact at 100k passages (2.3 ms) and 0.984 at a million (f16 with 1024: 0.976 and 0.982).
A saved index is opened as a memory-mapped view: opening is instant and a search touches only the
pages it visits, so a query process stays small even at a million chunks. The first change
(add, remove, rebuild) loads it into memory. A file of another storage type is rebuilt.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .fsutil import fsync_dir

if TYPE_CHECKING:
    from .store import Catalog

DTYPE = "i8"
CONNECTIVITY = 16
EXPANSION_ADD = 64
EXPANSION_SEARCH = 2048


class VectorIndex:
    """USearch HNSW (cosine, i8) over chunk ids, guarded by a lock so the query lane can search
    while the writer lane adds. Persisted as `<stem>-g<generation>.usearch`: a single atomic
    rename makes the file and the generation it reflects agree by construction."""

    def __init__(self, base: Path, ndim: int) -> None:
        self.base = base
        self.ndim = ndim
        self._lock = threading.RLock()
        self._index = self._new_index()
        self.generation = -1
        self._viewed: Path | None = None  # the file this index is a read-only view of

    def _new_index(self) -> Any:
        from usearch.index import Index

        return Index(
            ndim=self.ndim,
            metric="cos",
            dtype=DTYPE,
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )

    def _mutable(self) -> None:
        """A view cannot change: load the file into memory before the first change."""
        if self._viewed is not None:
            # copied from the mapping, not reread: the file may be gone (a newer generation)
            index = self._index.copy()
            index.expansion_add = EXPANSION_ADD
            index.expansion_search = EXPANSION_SEARCH
            self._index = index
            self._viewed = None

    @property
    def viewed(self) -> bool:
        return self._viewed is not None

    def memory_bytes(self) -> int:
        """What USearch itself holds in memory (a view's mapped file is not counted)."""
        return int(self._index.memory_usage)

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
    def open(
        cls, base: Path, ndim: int, catalog: Catalog, model: str, *, view: bool = True
    ) -> tuple[VectorIndex, str]:
        """Opens the saved index if it reflects the catalog's generation (memory-mapped unless
        view=False), else rebuilds it from the stored vectors. Returns the index and what
        happened ("loaded", "rebuilt", "new")."""
        vi = cls(base, ndim)
        gen = catalog.generation()
        files = vi._files()
        for g, p in reversed(files):
            if g != gen:
                continue
            if not _checksum_ok(p):
                break  # damaged on disk (USearch keeps no checksum of its own): rebuilt
            try:
                if view:
                    vi._index.view(str(p))
                    vi._viewed = p
                else:
                    vi._index.load(str(p))
                vi._index.expansion_search = EXPANSION_SEARCH  # a runtime knob, not saved
                # an older storage type (f16 before i8) is rebuilt, from the stored vectors
                if vi._index.ndim == ndim and _dtype_name(vi._index) == DTYPE:
                    vi.generation = gen
                    return vi, "loaded"
            except Exception:  # a torn or foreign file: fall through to a rebuild
                pass
            vi = cls(base, ndim)
        vi.rebuild(catalog, model)
        return vi, ("rebuilt" if files or gen > 0 else "new")

    def rebuild(self, catalog: Catalog, model: str) -> None:
        with self._lock:
            self._index = self._new_index()
            self._viewed = None
            gen = catalog.generation()
            for keys, vecs in catalog.indexed_vectors(model):
                if len(keys):
                    self._index.add(keys, vecs)
            self.generation = gen

    def save(self, generation: int) -> Path:
        """Atomic (see _write), with USearch's bare RuntimeError turned into an OSError that
        says what happened (a full disk, mostly) and its half-written temp file removed."""
        try:
            return self._write(generation)
        except (RuntimeError, OSError) as e:
            tmp = self.base.parent / f"{self.base.name}-g{generation}.usearch.tmp"
            with contextlib.suppress(OSError):
                tmp.unlink()
            if isinstance(e, OSError):
                raise
            need = len(self) * (self.ndim + 256) + (1 << 20)  # i8 vectors plus graph links
            try:
                full = shutil.disk_usage(self.base.parent).free < need
            except OSError:
                full = False
            if full:
                raise OSError(errno.ENOSPC, "No space left on device", str(tmp)) from e
            raise OSError(errno.EIO, f"cannot save the vector index ({e})", str(tmp)) from e

    def _write(self, generation: int) -> Path:
        """Write a temp file, fsync, rename to the generation's name, drop older ones."""
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
        _write_checksum(tmp, _checksum_path(final))  # before the file: a crash between = rebuild
        os.replace(tmp, final)
        fsync_dir(final.parent)
        for g, p in self._files():
            if g != generation:
                # another process may still have it mapped (Windows refuses): it goes next time
                with contextlib.suppress(OSError):
                    p.unlink(missing_ok=True)
                    _checksum_path(p).unlink(missing_ok=True)
        return final

    def size_on_disk(self) -> int:
        return sum(p.stat().st_size for _, p in self._files())

    # contents ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._index)

    def keys(self) -> set[int]:
        """The chunk ids held (a key held twice counts once: len() tells the difference)."""
        with self._lock:
            return {int(k) for k in np.asarray(self._index.keys).tolist()}

    def add(self, keys: NDArray[np.uint64], vecs: NDArray[np.float32]) -> None:
        if not len(keys):
            return
        with self._lock:
            self._mutable()
            present = keys[np.asarray(self._index.contains(keys), dtype=bool)]
            if len(present):
                self._index.remove(present)
            self._index.add(keys, vecs)

    def remove(self, keys: Iterable[int]) -> None:
        ks = list(keys)
        if not ks:
            return
        with self._lock:
            present = [k for k in ks if self._index.contains(k)]
            if present:
                self._mutable()
                self._index.remove(present)

    def search(self, vec: NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity of the i8 copies) best first: candidates, to be
        rescored with the stored vectors (search.exact_similarities)."""
        with self._lock:
            n = len(self._index)
            if n == 0:
                return []
            m = self._index.search(vec, min(k, n))
        return [(int(key), 1.0 - float(d)) for key, d in zip(m.keys, m.distances, strict=True)]


def _dtype_name(index: Any) -> str:
    return str(index.dtype).rsplit(".", 1)[-1].lower()  # ScalarKind.I8 -> "i8"


# A saved index carries a checksum beside it: a bad sector or a sync tool that changes bytes in
# its middle would otherwise load silently (the file is memory-mapped, USearch checks nothing)
# and change search results. Hashing 53 MB (100k passages) takes about 0.05 s.
def _checksum_path(p: Path) -> Path:
    return p.with_name(p.name + ".b2")


def _digest(p: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(p, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _write_checksum(data: Path, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, _digest(data).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, dest)


def _checksum_ok(p: Path) -> bool:
    """False when the file's bytes differ from those saved; True without a checksum (a file
    saved before checksums were kept: it gets one at its next save)."""
    try:
        want = _checksum_path(p).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return True
    try:
        return _digest(p) == want
    except OSError:
        return False
