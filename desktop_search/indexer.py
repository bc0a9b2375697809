"""Scan, diff, extract, chunk, embed, commit.

Runs on the writer lane. Extraction and chunking run in a producer thread, overlapping with
embedding (llama.cpp releases the GIL). Each file is committed in two atomic phases: its chunks
and keyword rows first (findable by words at once), then its vectors (findable by meaning).
Per-file problems become data in the catalog (state + reason), never exceptions.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .chunking import chunk_text, is_noise
from .errors import ExtractionError, UnsupportedFormat
from .extract import Document, extract
from .extract.base import clean_title
from .extract.worker import ExtractWorker, WorkerUnavailable
from .scan import Rules, Seen, seen, storable_path
from .store import CHUNKED, FAILED, INDEXED, PENDING, SKIPPED, Catalog, NewChunk, VectorIndex

Progress = Callable[[int, int], bool]

TITLE_MAX_CHARS = 120
SAVE_EVERY_S = 30.0
# Files whose passages are embedded in one call: the embedder's parallel lanes need several
# passages at once, and a typical file has two or three.
EMBED_FILES = 8


@dataclass
class IndexReport:
    scanned: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    renamed: int = 0
    removed: int = 0
    indexed: int = 0
    chunks_embedded: int = 0
    tokens_embedded: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0
    timings: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("scan", "extract", "chunk", "embed", "store"), 0.0)
    )


@dataclass
class _Prepared:
    seen: Seen
    root_id: int
    content_hash: str | None = None
    chunks: list[NewChunk] = field(default_factory=list)
    kind: str | None = None
    title: str | None = None
    n_chars: int = 0
    state: str = CHUNKED
    error: str | None = None
    unchanged_id: int | None = None  # same bytes as already indexed: only the stat changes
    vanished: bool = False  # deleted before it could be read: drop it from the index


# Extractor warnings that mean some of a file's text is missing from the index; they are kept
# with the file so `status` can say why a search may not find everything in it.
_PARTIAL_PREFIXES = ("truncated", "timeout", "page ", "no text", "encoding: ")
_REASON_MAX_CHARS = 300


def partial_reason(warnings: list[str]) -> str | None:
    """The warnings that say text was lost (truncated, timed out, unreadable pages...)."""
    lost = [w for w in warnings if w.startswith(_PARTIAL_PREFIXES)
            and not w.startswith("encoding: not UTF-8")]
    if not lost:
        return None
    text = "; ".join(lost)
    return text if len(text) <= _REASON_MAX_CHARS else text[: _REASON_MAX_CHARS - 3] + "..."


def file_hash(path: str, limit: int) -> str:
    """blake2b of the first `limit` bytes plus the size: bounded work even for huge files."""
    h = hashlib.blake2b(digest_size=16)
    size = 0
    with open(path, "rb") as f:
        while size < limit:
            block = f.read(min(1 << 20, limit - size))
            if not block:
                break
            h.update(block)
            size += len(block)
        h.update(str(os.fstat(f.fileno()).st_size).encode())
    return h.hexdigest()


def save_vector_index(vi: VectorIndex, generation: int) -> None:
    """VectorIndex.save, with USearch's bare RuntimeError turned into an OSError that says
    what happened (a full disk, mostly) and its half-written temp file removed."""
    try:
        vi.save(generation)
    except (RuntimeError, OSError) as e:
        tmp = vi.base.parent / f"{vi.base.name}-g{generation}.usearch.tmp"
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError):
            raise
        need = len(vi) * (vi.ndim + 256) + (1 << 20)  # i8 vectors plus graph links, roughly
        try:
            full = shutil.disk_usage(vi.base.parent).free < need
        except OSError:
            full = False
        if full:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp)) from e
        raise OSError(errno.EIO, f"cannot save the vector index ({e})", str(tmp)) from e


def embed_input(title: str, text: str) -> str:
    """What the model sees for a chunk: the document title gives the passage its context."""
    return f"{title}\n{text}" if title else text


def embed_hash(s: str) -> str:
    return hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class Indexer:
    def __init__(
        self,
        catalog: Catalog,
        vindex: VectorIndex,
        embedder: object,
        model_key: str,
        *,
        chunk_tokens: int,
        chunk_overlap: int,
        excludes: list[str],
        max_file_bytes: int,
        follow_symlinks: bool = False,
        worker: ExtractWorker | None = None,
        extract_budget_s: float | None = None,
    ) -> None:
        self.catalog = catalog
        self.vindex = vindex
        self.embedder = embedder
        self.model_key = model_key
        self.chunk_tokens = chunk_tokens
        self.chunk_overlap = chunk_overlap
        self.excludes = excludes
        self.max_file_bytes = max_file_bytes
        self.follow_symlinks = follow_symlinks
        # Extraction runs in `worker` (killable, time-bounded) when given; else in this
        # process with only the extractors' cooperative `extract_budget_s`.
        self.worker = worker
        self.extract_budget_s = extract_budget_s
        self._last_save = time.monotonic()
        self._db_lock = threading.Lock()  # the producer thread reads through this connection too
        self._removed_text = False

    # rules -------------------------------------------------------------------------------
    def rules_for(self, root_path: str, root_excludes: list[str], includes: list[str]) -> Rules:
        return Rules(root_path, [*self.excludes, *root_excludes], includes, self.follow_symlinks)

    # entry points ------------------------------------------------------------------------
    def run(self, progress: Progress | None = None, *, reembed: bool = False) -> IndexReport:
        """Brings every root up to date. With reembed, indexed files also get vectors for this
        indexer's model (a model switch) while they stay searchable with the old one."""
        report = IndexReport()
        t0 = time.perf_counter()
        seen: dict[str, tuple[Seen, int]] = {}
        known: dict[str, tuple[int, int, int, str | None, str]] = {}
        for root in self.catalog.roots():
            rules = self.rules_for(root.path, root.excludes, root.includes)
            for s in rules.walk():
                seen[s.path] = (s, root.id)
            for path, row in self.catalog.files_under(root.id).items():
                known[path] = (row.id, row.size, row.mtime_ns, row.content_hash, row.state)
        report.timings["scan"] += time.perf_counter() - t0
        report.scanned = len(seen)
        self._sync(seen, known, report, progress, reembed=reembed)
        report.seconds = time.perf_counter() - t0
        return report

    def update_paths(self, paths: Iterable[str], progress: Progress | None = None) -> IndexReport:
        """Re-checks just these paths (files or folders), as the watcher reports them."""
        report = IndexReport()
        t0 = time.perf_counter()
        roots = self.catalog.roots()
        found: dict[str, tuple[Seen, int]] = {}
        known: dict[str, tuple[int, int, int, str | None, str]] = {}
        for p in {os.path.abspath(p) for p in paths}:
            stored_p = storable_path(p)[0]
            for root in roots:
                rules = self.rules_for(root.path, root.excludes, root.includes)
                if not rules.contains(p):
                    continue
                if os.path.isdir(p) and (self.follow_symlinks or not os.path.islink(p)):
                    for s in rules.walk(p):
                        found[s.path] = (s, root.id)
                elif rules.wanted_file(p):
                    try:
                        st = os.stat(p, follow_symlinks=self.follow_symlinks)
                        one = seen(p, st.st_size, st.st_mtime_ns)
                        found[one.path] = (one, root.id)
                    except OSError:
                        pass
                # what the catalog holds at or under p (a deleted folder removes its files)
                for row in self._known_at(stored_p):
                    known[row[0]] = row[1:]
                break
        report.scanned = len(found)
        self._sync(found, known, report, progress, partial=True)
        report.seconds = time.perf_counter() - t0
        return report

    def _known_at(self, p: str) -> list[tuple[str, int, int, int, str | None, str]]:
        prefix = p.rstrip(os.sep) + os.sep
        rows = self.catalog.db.execute(
            "SELECT path, id, size, mtime_ns, content_hash, state FROM files"
            " WHERE path=? OR substr(path, 1, ?)=?",
            (p, len(prefix), prefix),
        )
        return list(rows)

    # the diff ----------------------------------------------------------------------------
    def _sync(
        self,
        seen: dict[str, tuple[Seen, int]],
        known: dict[str, tuple[int, int, int, str | None, str]],
        report: IndexReport,
        progress: Progress | None,
        partial: bool = False,
        reembed: bool = False,
    ) -> None:
        work: list[tuple[Seen, int, int | None]] = []
        for path, (s, root_id) in seen.items():
            k = known.get(path)
            if k is None:
                report.new += 1
                work.append((s, root_id, None))
            elif k[1] != s.size or k[2] != s.mtime_ns or k[4] in (PENDING,):
                report.changed += 1
                work.append((s, root_id, k[0]))
            elif k[4] == FAILED:
                report.unchanged += 1  # same bytes failed before: don't retry every run
            else:
                report.unchanged += 1
        gone = {p: k for p, k in known.items() if p not in seen}

        # A new path whose bytes equal a vanished indexed file is a rename or move: keep its
        # chunks and vectors, change only the path.
        gone_by_hash = {k[3]: (p, k) for p, k in gone.items() if k[3] and k[4] == INDEXED}
        remaining: list[tuple[Seen, int, int | None]] = []
        hashes: dict[str, str] = {}
        for s, root_id, fid in work:
            if fid is None and gone_by_hash and not s.bad_name:
                try:
                    h = file_hash(s.path, self.max_file_bytes)
                except OSError:
                    h = ""
                hashes[s.path] = h
                match = gone_by_hash.pop(h, None)
                if match is not None:
                    old_path, k = match
                    with self.catalog.transaction():
                        self.catalog.move_file(k[0], root_id, s.path, s.size, s.mtime_ns)
                    gone.pop(old_path)
                    report.renamed += 1
                    report.new -= 1
                    continue
            remaining.append((s, root_id, fid))

        if gone:
            ids = [k[0] for k in gone.values()]
            chunk_ids = self.catalog.chunk_ids_of(ids)
            with self.catalog.transaction():
                self.catalog.delete_files(ids)
                self.catalog.bump_generation()
            self.vindex.remove(chunk_ids)
            report.removed = len(ids)
            self._removed_text = True

        # resume: files a crash or cancel left between phases, plus (on a full run) files
        # that have chunks but no vectors for the current model
        resume = [] if partial else [f.id for f in self.catalog.files_in_state(CHUNKED)]
        if reembed:
            resume += [f.id for f in self.catalog.files_in_state(INDEXED)]
        self._pipeline(remaining, hashes, resume, report, progress)

        with self.catalog.transaction():
            self.catalog.gc_vectors()
        self.save_if_due(force=True)
        if self._removed_text:
            # Removed files' words must not linger in FTS5 segments or in the WAL.
            self.catalog.purge_deleted_text()
            self._removed_text = False

    # the pipeline ------------------------------------------------------------------------
    def _prepare(self, s: Seen, root_id: int, fid: int | None, h: str | None,
                 report: IndexReport) -> _Prepared:
        prep = _Prepared(seen=s, root_id=root_id)
        if s.bad_name:
            prep.state = SKIPPED
            prep.error = "name: the file name is not valid UTF-8; rename the file to index it"
            return prep
        t0 = time.perf_counter()
        try:
            prep.content_hash = h or file_hash(s.path, self.max_file_bytes)
            if fid is not None:
                row = self.catalog_reader_row(fid)
                if row and row[0] == prep.content_hash and row[1] == INDEXED:
                    prep.unchanged_id = fid  # an unchanged re-save: nothing to re-embed
                    return prep
            doc = self._extract_stable(s, prep)
        except UnsupportedFormat as e:
            prep.state, prep.error = SKIPPED, f"{e.reason}: {e}"
            return prep
        except ExtractionError as e:
            if e.reason == "missing":
                prep.vanished = True
                return prep
            state = SKIPPED if e.reason in ("too-large",) else FAILED
            prep.state, prep.error = state, f"{e.reason}: {e}"
            return prep
        except FileNotFoundError:
            prep.vanished = True  # deleted between the scan and the read: not in the index
            return prep
        except PermissionError:
            prep.state, prep.error = FAILED, "permission: permission denied"
            return prep
        except OSError as e:
            prep.state, prep.error = FAILED, f"unreadable: {e.strerror or e}"
            return prep
        finally:
            report.timings["extract"] += time.perf_counter() - t0
        t1 = time.perf_counter()
        title = clean_title(doc.title, Path(s.path).stem, TITLE_MAX_CHARS)
        prep.kind, prep.title, prep.n_chars = doc.kind, title, len(doc.text)
        prep.error = partial_reason(doc.warnings)
        count = self.embedder.count_tokens  # type: ignore[attr-defined]
        budget = self.chunk_tokens
        for i, c in enumerate(chunk_text(doc.text, count, budget, self.chunk_overlap)):
            text = doc.text[c.start : c.end]
            prep.chunks.append(
                NewChunk(
                    ord=i,
                    page=doc.page_at(c.start),
                    char_start=c.start,
                    char_end=c.end,
                    title=title,
                    text=text,
                    embed_hash=embed_hash(embed_input(title, text)),
                    n_tokens=c.tokens,
                    noise=is_noise(text, c.tokens),
                )
            )
        report.timings["chunk"] += time.perf_counter() - t1
        return prep

    def _extract(self, path: str) -> Document:
        if self.worker is not None:
            try:
                return self.worker.extract(path, max_bytes=self.max_file_bytes)
            except WorkerUnavailable:
                # No separate process here (a locked-down sandbox): extract in this one
                # rather than fail every file for a reason that is not theirs.
                self.worker = None
        return extract(Path(path), max_bytes=self.max_file_bytes,
                       time_budget=self.extract_budget_s)

    def _extract_stable(self, s: Seen, prep: _Prepared) -> Document:
        """Extracts, then checks the file did not change while it was read; a file being
        rewritten is read again (twice at most), and is recorded with the stat taken before
        the last read, so a change the read may have missed is redone on the next pass."""
        doc = self._extract(s.path)
        for _ in range(2):
            st = os.stat(s.path, follow_symlinks=self.follow_symlinks)
            if (st.st_size, st.st_mtime_ns) == (s.size, s.mtime_ns):
                break
            s = prep.seen = Seen(s.path, st.st_size, st.st_mtime_ns)
            prep.content_hash = file_hash(s.path, self.max_file_bytes)
            doc = self._extract(s.path)
        return doc

    def catalog_reader_row(self, fid: int) -> tuple[str | None, str] | None:
        # Read through the writer connection from the producer thread: sqlite3 serialises it.
        with self._db_lock:
            r = self.catalog.db.execute(
                "SELECT content_hash, state FROM files WHERE id=?", (fid,)
            ).fetchone()
        return None if r is None else (r[0], r[1])

    def _pipeline(
        self,
        work: list[tuple[Seen, int, int | None]],
        hashes: dict[str, str],
        resume: list[int],
        report: IndexReport,
        progress: Progress | None,
    ) -> None:
        total = len(work) + len(resume)
        done = 0
        q: queue.Queue[_Prepared | None] = queue.Queue(maxsize=64)
        stop = threading.Event()

        def produce() -> None:
            try:
                for s, root_id, fid in work:
                    if stop.is_set():
                        break
                    q.put(self._prepare(s, root_id, fid, hashes.get(s.path), report))
            finally:
                q.put(None)

        producer = threading.Thread(target=produce, name="extract", daemon=True)
        producer.start()
        to_embed: list[int] = list(resume)
        producing = True

        def tick() -> bool:
            nonlocal done
            done += 1
            if progress is not None and not progress(done, total):
                stop.set()
                report.cancelled = True
                return False
            return True

        def still_wanted() -> bool:
            """Asks again while nothing completes (a file being extracted slowly), so a
            cancel is seen at once rather than when that file is done."""
            if progress is not None and not progress(done, total):
                stop.set()
                report.cancelled = True
                return False
            return True

        if progress is not None and not progress(0, total):
            report.cancelled = True
        last_tick = time.monotonic()
        try:
            while producing or to_embed:
                if report.cancelled:
                    break
                if time.monotonic() - last_tick > 0.5:
                    last_tick = time.monotonic()
                    if not still_wanted():
                        break
                batch: list[_Prepared] = []
                try:
                    item = q.get(timeout=0.05) if not to_embed else q.get_nowait()
                    while True:
                        if item is None:
                            producing = False
                            break
                        batch.append(item)
                        if len(batch) >= 32:
                            break
                        item = q.get_nowait()
                except queue.Empty:
                    pass
                if batch:
                    last_tick = time.monotonic()
                    for fid_or_none in self._commit_phase1(batch, report):
                        if fid_or_none is None:
                            if not tick():
                                break
                        else:
                            to_embed.append(fid_or_none)
                if to_embed and not report.cancelled:
                    group, to_embed = to_embed[:EMBED_FILES], to_embed[EMBED_FILES:]
                    report.indexed += self._embed_files(group, report, stop)
                    for _ in group:
                        tick()
                    last_tick = time.monotonic()
                    self.save_if_due()
        finally:
            stop.set()
            # unblock a producer waiting on a full queue, then let it finish its current file;
            # one stuck in a slow file is not waited for: its worker is killed
            deadline = time.monotonic() + 0.5
            while producer.is_alive():
                with contextlib.suppress(queue.Empty):
                    q.get(timeout=0.1)
                if time.monotonic() > deadline and self.worker is not None:
                    self.worker.abort()
                    deadline = float("inf")
            producer.join()

    def _commit_phase1(self, batch: list[_Prepared], report: IndexReport) -> list[int | None]:
        """One transaction for the batch; each file's rows change together. Returns, per file,
        the id to embed next, or None when the file is finished (unchanged, failed, skipped)."""
        t0 = time.perf_counter()
        out: list[int | None] = []
        removed_chunks: list[int] = []
        with self._db_lock, self.catalog.transaction():
            changed_vectors = False
            for p in batch:
                s = p.seen
                if p.unchanged_id is not None:
                    self.catalog.touch_file(p.unchanged_id, s.size, s.mtime_ns)
                    report.unchanged += 1
                    report.changed -= 1
                    out.append(None)
                    continue
                existing = self.catalog.file_by_path(s.path)
                if existing is not None:
                    ids = self.catalog.chunk_ids_of([existing.id])
                    if ids:
                        removed_chunks += ids
                        changed_vectors = True
                if p.vanished:
                    if existing is not None:
                        self.catalog.delete_files([existing.id])
                        report.removed += 1
                        self._removed_text = True
                    out.append(None)
                    continue
                fid = self.catalog.upsert_file(
                    p.root_id, s.path, s.size, s.mtime_ns, p.state,
                    content_hash=p.content_hash, error=p.error, kind=p.kind, title=p.title,
                    n_chars=p.n_chars,
                )
                self.catalog.replace_chunks(fid, p.chunks if p.state == CHUNKED else [])
                if p.state == CHUNKED:
                    out.append(fid)
                else:
                    (report.failed if p.state == FAILED else report.skipped).append(
                        (s.path, p.error or "")
                    )
                    out.append(None)
            if changed_vectors:
                self.catalog.bump_generation()
        self.vindex.remove(removed_chunks)
        report.timings["store"] += time.perf_counter() - t0
        return out

    def _embed_files(self, fids: list[int], report: IndexReport, stop: threading.Event) -> int:
        """Phase 2 for a few files: their missing passages embedded in one call, then each
        file marked indexed in one transaction. Returns how many files became indexed; a
        cancel leaves them all CHUNKED, to resume next run."""
        with self._db_lock:
            per_file = {fid: self.catalog.chunks_of(fid) for fid in fids}
            missing = self.catalog.missing_vectors(
                self.model_key, (c[3] for chunks in per_file.values() for c in chunks))
        todo: dict[str, str] = {}
        for chunks in per_file.values():
            for _cid, title, text, h, _n in chunks:
                if h in missing and h not in todo:
                    todo[h] = embed_input(title, text)
        t0 = time.perf_counter()
        vecs = None
        if todo:
            before = self.embedder.tokens_embedded  # type: ignore[attr-defined]
            vecs = self.embedder.embed_documents(  # type: ignore[attr-defined]
                list(todo.values()), progress=lambda _d, _t: not stop.is_set()
            )
            report.tokens_embedded += self.embedder.tokens_embedded - before  # type: ignore[attr-defined]
            if len(vecs) < len(todo):
                return 0  # cancelled mid-way: the files stay CHUNKED and resume next run
            report.chunks_embedded += len(todo)
        t1 = time.perf_counter()
        report.timings["embed"] += t1 - t0
        with self._db_lock, self.catalog.transaction():
            if vecs is not None:
                self.catalog.put_vectors(self.model_key, zip(todo.keys(), vecs, strict=True))
            done: list[int] = []
            for fid in fids:
                state = self.catalog.db.execute("SELECT state FROM files WHERE id=?",
                                                (fid,)).fetchone()
                if state is not None and state[0] in (CHUNKED, INDEXED):  # else gone meanwhile
                    self.catalog.mark_indexed(fid)
                    done.append(fid)
            self.catalog.bump_generation()
            keys, mat = self.catalog.vectors_for_chunks(
                self.model_key, [c[0] for fid in done for c in per_file[fid]])
        self.vindex.add(keys, mat if len(keys) else np.zeros((0, self.vindex.ndim), np.float32))
        report.timings["store"] += time.perf_counter() - t1
        return len(done)

    def save_if_due(self, force: bool = False) -> None:
        """USearch is a cache: saving it often only shortens the repair after a crash."""
        now = time.monotonic()
        if force or now - self._last_save > SAVE_EVERY_S:
            gen = self.catalog.generation()
            if gen != self.vindex.generation or force:
                save_vector_index(self.vindex, gen)
            self._last_save = now
