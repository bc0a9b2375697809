"""Scan, diff, then the two phases: words for every file first, then meaning.

Runs on the writer lane. `scan -> diff -> phase 1 -> phase 2`:

- Phase 1 (words) runs over every new or changed file of the run before any embedding: a
  producer thread extracts (in the killable worker process) and chunks, this thread commits the
  chunks and keyword rows in batches. A file is findable by its words, and listed with its
  state, in about the time a keyword desktop search needs, not after an hour of embedding.
- Phase 2 (meaning) then works from the catalog: every chunked file whose passages lack
  vectors, in the order `embedding_order` gives (recent ordinary files first, huge files
  last). Vectors are stored in slices, so a kill or a quit loses at most one slice; a file
  becomes "indexed" once all its passages have vectors. A crash or a cancel resumes there.

Per-file problems become data in the catalog (state + reason), never exceptions.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import stat as stat_mod
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from .chunking import chunk_text, embed_hash, embed_input, is_noise
from .errors import ExtractionError, UnsupportedFormat
from .extract import Document, extract
from .extract.base import clean_title
from .extract.worker import ExtractWorker, WorkerUnavailable
from .index_progress import DONE, EMBEDDING, READING, IndexProgress
from .scan import Rules, Seen, display_path, seen, storable_path
from .store import (
    CHUNKED,
    FAILED,
    INDEXED,
    PENDING,
    SKIPPED,
    Catalog,
    EmbedPlan,
    FileRow,
    NewChunk,
    RechunkItem,
)
from .vector_index import VectorIndex

# progress(done, total) in passages given meaning by this run; False cancels. It is also
# called while files are read (done 0), so a cancel is seen at once. The full picture (files
# findable by words, speed, ETA) is Indexer.progress, read from inside the callback.
Progress = Callable[[int, int], bool]

TITLE_MAX_CHARS = 120
SAVE_EVERY_S = 30.0
# Passages embedded in one call and stored in one transaction: enough for the embedder's
# parallel contexts, few enough that a kill loses seconds of work and the first vectors come fast.
EMBED_SLICE = 64
# Phase 1 commits this many files at a time (or what half a second brought): one transaction
# per file cost more than the keyword rows themselves.
COMMIT_FILES = 64
COMMIT_EVERY_S = 0.5
# Size tiers for the order of meaning: a short file (a note, a letter, most documents: one
# embedding call) before a long one (a report), a huge one (an API manual, a long log) after
# every other, so it cannot hold the rest of the folder back for an hour.
SHORT_PASSAGES = EMBED_SLICE
HUGE_PASSAGES = 500
# When reading a folder takes longer than this, a first taste of meaning (about FIRST_TASTE
# passages of the newest short files read so far) is added before reading goes on.
FIRST_TASTE_AFTER_S = 4.0
FIRST_TASTE = 16


class DocumentEmbedder(Protocol):
    """What indexing needs of the model (embed.Embedder)."""

    tokens_embedded: int

    def count_tokens(self, text: str) -> int: ...

    def embed_documents(
        self, texts: Sequence[str], progress: Callable[[int, int], bool] | None = None
    ) -> NDArray[np.float32]: ...


def embedding_order(plan: Iterable[EmbedPlan]) -> list[EmbedPlan]:
    """The order files get meaning in, most likely searched first, most files soonest:
    1. short files (up to SHORT_PASSAGES passages), most recently modified first;
    2. long files (up to HUGE_PASSAGES), most recently modified first;
    3. huge files, smallest first, so the largest comes last.
    Files the watcher reports are embedded by their own update, before this backlog resumes."""

    def key(p: EmbedPlan) -> tuple[int, int, int]:
        if p.passages > HUGE_PASSAGES:
            return (2, p.passages, -p.mtime_ns)
        return (int(p.passages > SHORT_PASSAGES), 0, -p.mtime_ns)

    return sorted(plan, key=key)


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
    doc: Document | None = None  # read, waiting to be chunked


# Extractor warnings that mean some of a file's text is missing from the index; they are kept
# with the file so `status` can say why a search may not find everything in it.
_PARTIAL_PREFIXES = ("truncated", "timeout", "page ", "no text", "encoding: ")
_REASON_MAX_CHARS = 300


def partial_reason(warnings: list[str]) -> str | None:
    """The warnings that say text was lost (truncated, timed out, unreadable pages...)."""
    lost = [
        w
        for w in warnings
        if w.startswith(_PARTIAL_PREFIXES) and not w.startswith("encoding: not UTF-8")
    ]
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


def _put(q: queue.Queue[_Prepared | None], item: _Prepared | None, stop: threading.Event) -> None:
    """Queue.put that gives up once the run is stopped (nobody may read the queue any more)."""
    while True:
        try:
            q.put(item, timeout=0.05)
            return
        except queue.Full:
            if stop.is_set():
                return


def _next_batch(q: queue.Queue[_Prepared | None]) -> tuple[list[_Prepared], bool]:
    """Up to COMMIT_FILES read files, or what COMMIT_EVERY_S brought; False once the readers
    said they are done."""
    batch: list[_Prepared] = []
    until = time.monotonic() + COMMIT_EVERY_S
    while len(batch) < COMMIT_FILES:
        try:
            item = q.get(timeout=max(until - time.monotonic(), 0.01))
        except queue.Empty:
            break
        if item is None:
            return batch, False
        batch.append(item)
    return batch, True


class Indexer:
    def __init__(
        self,
        catalog: Catalog,
        vindex: VectorIndex,
        embedder: DocumentEmbedder,
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
        self.progress = IndexProgress()
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
        known: dict[str, FileRow] = {}
        for root in self.catalog.roots():
            rules = self.rules_for(root.path, root.excludes, root.includes)
            others: list[Seen] = []
            for s in rules.walk(others=others):
                seen[s.path] = (s, root.id)
            self.catalog.sync_other_files(root.id, [(o.path, o.size, o.mtime_ns) for o in others])
            known.update(self.catalog.files_under(root.id))
        report.timings["scan"] += time.perf_counter() - t0
        report.scanned = len(seen)
        work = self._diff(seen, known, report)
        states = (CHUNKED, INDEXED) if reembed else (CHUNKED,)
        if self._phase1(work, report, progress) is not None:
            self._phase2(self.catalog.embed_plan(self.model_key, states), report, progress)
            if not report.cancelled:  # a new passage size: old passages serve till then
                self._rechunk_queued(report, progress)
        self._finish(report, t0)
        return report

    def update_paths(self, paths: Iterable[str], progress: Progress | None = None) -> IndexReport:
        """Re-checks just these paths (files or folders), as the watcher reports them; their
        files get meaning before the backlog of a full run."""
        report = IndexReport()
        t0 = time.perf_counter()
        roots = self.catalog.roots()
        found: dict[str, tuple[Seen, int]] = {}
        known: dict[str, FileRow] = {}
        for p in {os.path.abspath(p) for p in paths}:
            stored_p = storable_path(p)[0]
            for root in roots:
                rules = self.rules_for(root.path, root.excludes, root.includes)
                if not rules.contains(p):
                    continue
                others: list[Seen] = []
                if os.path.isdir(p) and (self.follow_symlinks or not os.path.islink(p)):
                    for s in rules.walk(p, others):
                        found[s.path] = (s, root.id)
                elif rules.wanted_name(p):
                    try:
                        st = os.stat(p, follow_symlinks=self.follow_symlinks)
                    except OSError:
                        st = None
                    if st is not None and stat_mod.S_ISREG(st.st_mode):
                        one = seen(p, st.st_size, st.st_mtime_ns)
                        if rules.wanted_file(p):
                            found[one.path] = (one, root.id)
                        else:
                            others.append(one)  # found by its name only
                self.catalog.sync_other_files_at(
                    stored_p, [(root.id, o.path, o.size, o.mtime_ns) for o in others]
                )
                # what the catalog holds at or under p (a deleted folder removes its files)
                known.update((row.path, row) for row in self.catalog.files_at(stored_p))
                break
        report.scanned = len(found)
        work = self._diff(found, known, report)
        read = self._phase1(work, report, progress, backlog=False)
        if read:
            self._phase2(
                self.catalog.embed_plan(self.model_key, (CHUNKED,), read), report, progress
            )
        self._finish(report, t0)
        return report

    def _finish(self, report: IndexReport, t0: float) -> None:
        with self.catalog.transaction():
            self.catalog.gc_vectors()
        self.save_if_due(force=True)
        if self._removed_text:
            # Removed files' words must not linger in FTS5 segments or in the WAL.
            self.catalog.purge_deleted_text()
            self._removed_text = False
        self.progress.phase = DONE
        self.progress.current, self.progress.current_pages = "", (0, 0)
        report.seconds = time.perf_counter() - t0

    # the diff ----------------------------------------------------------------------------
    def _diff(
        self,
        seen: dict[str, tuple[Seen, int]],
        known: dict[str, FileRow],
        report: IndexReport,
    ) -> list[tuple[Seen, int, int | None, str | None]]:
        """What changed on disk: renames and deletions are applied here (cheap, no reading);
        returns the new and changed files to read, most recently modified first."""
        work: list[tuple[Seen, int, int | None]] = []
        for path, (s, root_id) in seen.items():
            k = known.get(path)
            if k is None:
                report.new += 1
                work.append((s, root_id, None))
            elif k.size != s.size or k.mtime_ns != s.mtime_ns or k.state == PENDING:
                report.changed += 1
                work.append((s, root_id, k.id))
            else:
                report.unchanged += 1  # a failed file is not retried while it stays the same
        gone = {p: k for p, k in known.items() if p not in seen}

        # A new path whose bytes equal a vanished indexed file is a rename or move: keep its
        # chunks and vectors, change only the path.
        gone_by_hash = {
            k.content_hash: (p, k) for p, k in gone.items() if k.content_hash and k.state == INDEXED
        }
        remaining: list[tuple[Seen, int, int | None, str | None]] = []
        for s, root_id, fid in work:
            h: str | None = None
            if fid is None and gone_by_hash:
                try:
                    h = file_hash(s.fs_path, self.max_file_bytes)
                except OSError:
                    h = ""
                match = gone_by_hash.pop(h, None)
                if match is not None:
                    old_path, k = match
                    with self.catalog.transaction():
                        self.catalog.move_file(
                            k.id, root_id, s.path, s.size, s.mtime_ns, TITLE_MAX_CHARS
                        )
                    gone.pop(old_path)
                    report.renamed += 1
                    report.new -= 1
                    continue
            remaining.append((s, root_id, fid, h or None))

        if gone:
            ids = [k.id for k in gone.values()]
            chunk_ids = self.catalog.chunk_ids_of(ids)
            with self.catalog.transaction():
                self.catalog.delete_files(ids)
                self.catalog.bump_generation()
            self.vindex.remove(chunk_ids)
            report.removed = len(ids)
            self._removed_text = True
        remaining.sort(key=lambda w: -w[0].mtime_ns)
        return remaining

    # phase 1: words ----------------------------------------------------------------------
    def _read(
        self, s: Seen, root_id: int, fid: int | None, h: str | None, report: IndexReport
    ) -> _Prepared:
        """A file's text (in prep.doc), or why there is none to index."""
        prep = _Prepared(seen=s, root_id=root_id)
        t0 = time.perf_counter()
        try:
            prep.content_hash = h or file_hash(s.fs_path, self.max_file_bytes)
            if fid is not None:
                with self._db_lock:
                    row = self.catalog.file_content(fid)
                if row == (prep.content_hash, INDEXED):
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
        prep.doc = doc
        return prep

    def _chunk(self, prep: _Prepared, report: IndexReport) -> _Prepared:
        """The read text cut into passages, ready for phase 1's commit."""
        doc, prep.doc = prep.doc, None
        if doc is None:
            return prep
        t1 = time.perf_counter()
        title = clean_title(doc.title, Path(display_path(prep.seen.path)).stem, TITLE_MAX_CHARS)
        prep.kind, prep.title, prep.n_chars = doc.kind, title, len(doc.text)
        prep.error = partial_reason(doc.warnings)
        count = self.embedder.count_tokens
        starts = [(p.start, p.number) for p in doc.pages]
        for i, c in enumerate(chunk_text(doc.text, count, self.chunk_tokens, self.chunk_overlap)):
            text = doc.text[c.start : c.end]
            prep.chunks.append(
                NewChunk(
                    ord=i,
                    page=doc.page_at(c.start),
                    page_starts=tuple((a - c.start, n) for a, n in starts if c.start < a < c.end),
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

    def _pages_read(self, done: int, total: int) -> None:
        self.progress.current_pages = (done, total)  # the window says "page 12 of 80"

    def _extract(self, path: str) -> Document:
        if self.worker is not None:
            try:
                return self.worker.extract(
                    path, max_bytes=self.max_file_bytes, on_progress=self._pages_read
                )
            except WorkerUnavailable:
                # No separate process here (a locked-down sandbox): extract in this one
                # rather than fail every file for a reason that is not theirs.
                self.worker = None
        return extract(
            Path(path),
            max_bytes=self.max_file_bytes,
            time_budget=self.extract_budget_s,
            on_progress=self._pages_read,
        )

    def _extract_stable(self, s: Seen, prep: _Prepared) -> Document:
        """Extracts, then checks the file did not change while it was read; a file being
        rewritten is read again (twice at most), and is recorded with the stat taken before
        the last read, so a change the read may have missed is redone on the next pass."""
        doc = self._extract(s.fs_path)
        for _ in range(2):
            st = os.stat(s.fs_path, follow_symlinks=self.follow_symlinks)
            if (st.st_size, st.st_mtime_ns) == (s.size, s.mtime_ns):
                break
            s = prep.seen = Seen(s.path, st.st_size, st.st_mtime_ns, s.bad_name)
            prep.content_hash = file_hash(s.fs_path, self.max_file_bytes)
            doc = self._extract(s.fs_path)
        return doc

    def _phase1(
        self,
        work: list[tuple[Seen, int, int | None, str | None]],
        report: IndexReport,
        progress: Progress | None,
        *,
        backlog: bool = True,
    ) -> list[int] | None:
        """Reads every file of `work` (reader threads extract and chunk, this thread commits
        in batches). Returns the ids of the files now waiting for meaning, or None when
        cancelled. With `backlog`, the passages an earlier run left without meaning are
        counted in the work ahead from the start."""
        state = self.progress
        state.phase, state.files_total, state.files_read = READING, len(work), 0
        if backlog:
            plan = self.catalog.embed_plan(self.model_key, (CHUNKED,))
            state.passages_total = sum(p.missing for p in plan)
            state.tokens_total = sum(p.missing_tokens for p in plan)
        q: queue.Queue[_Prepared | None] = queue.Queue(maxsize=256)
        stop = threading.Event()
        readers = self._start_readers(work, report, q, stop)
        try:
            if not self._still_wanted(progress, report):
                return None
            return self._commit_read(q, report, progress, backlog)
        finally:
            stop.set()
            self._stop_readers(readers)

    def _start_readers(
        self,
        work: list[tuple[Seen, int, int | None, str | None]],
        report: IndexReport,
        q: queue.Queue[_Prepared | None],
        stop: threading.Event,
    ) -> tuple[threading.Thread, threading.Thread]:
        """reader -> chunker -> `q`: the worker process extracts one file while this process
        chunks the one before (two cores busy, not one). None in `q` ends the files."""
        read: queue.Queue[_Prepared | None] = queue.Queue(maxsize=8)

        def produce() -> None:
            try:
                for s, root_id, fid, h in work:
                    if stop.is_set():
                        break
                    self.progress.current, self.progress.current_pages = s.path, (0, 0)
                    _put(read, self._read(s, root_id, fid, h, report), stop)
            finally:
                _put(read, None, stop)

        def chunk() -> None:
            try:
                while (item := read.get()) is not None and not stop.is_set():
                    _put(q, self._chunk(item, report), stop)
            finally:
                _put(q, None, stop)

        producer = threading.Thread(target=produce, name="extract", daemon=True)
        chunker = threading.Thread(target=chunk, name="chunk", daemon=True)
        producer.start()
        chunker.start()
        return producer, chunker

    def _stop_readers(self, readers: tuple[threading.Thread, threading.Thread]) -> None:
        """After stop is set: unblock a producer waiting on a full queue, then let it finish
        its current file; one stuck in a slow file is not waited for: its worker is killed."""
        producer, chunker = readers
        deadline = time.monotonic() + 0.5
        while producer.is_alive():
            time.sleep(0.05)
            if time.monotonic() > deadline and self.worker is not None:
                self.worker.abort()
                deadline = float("inf")
        producer.join()
        chunker.join()

    def _commit_read(
        self,
        q: queue.Queue[_Prepared | None],
        report: IndexReport,
        progress: Progress | None,
        backlog: bool,
    ) -> list[int] | None:
        """Commits what the readers bring, COMMIT_FILES files or COMMIT_EVERY_S at a time,
        with a first taste of meaning once reading runs long. The files to embed, or None
        when cancelled."""
        state = self.progress
        to_embed: list[int] = []
        tasted = False
        producing = True
        while producing:
            batch, producing = _next_batch(q)
            if batch:
                for p, fid in zip(batch, self._commit_phase1(batch, report), strict=True):
                    if fid is not None:
                        to_embed.append(fid)
                        state.passages_total += len(p.chunks)
                        state.tokens_total += sum(c.n_tokens for c in p.chunks)
                state.files_read += len(batch)
            if (
                backlog
                and not tasted
                and to_embed
                and time.monotonic() - state.started >= FIRST_TASTE_AFTER_S
            ):
                tasted = True
                self._first_taste(to_embed, report, progress)
            if not self._still_wanted(progress, report):
                return None
        return to_embed

    def _first_taste(self, read: list[int], report: IndexReport, progress: Progress | None) -> None:
        """While a large folder is still being read, meaning for a few of the newest short
        files read so far (one small slice), so a search by meaning answers within seconds
        of the start instead of after the whole folder is read."""
        plan = embedding_order(self.catalog.embed_plan(self.model_key, (CHUNKED,), read))
        pick: list[EmbedPlan] = []
        for p in plan:
            if p.passages > SHORT_PASSAGES or sum(q.missing for q in pick) >= FIRST_TASTE:
                break
            pick.append(p)
        if pick:
            self._phase2(pick, report, progress, taste=True)

    def _still_wanted(self, progress: Progress | None, report: IndexReport) -> bool:
        s = self.progress
        if progress is not None and not progress(s.passages_done, s.passages_total):
            report.cancelled = True
        return not report.cancelled

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
                    p.root_id,
                    s.path,
                    s.size,
                    s.mtime_ns,
                    p.state,
                    content_hash=p.content_hash,
                    error=p.error,
                    kind=p.kind,
                    title=p.title,
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

    # phase 2: meaning --------------------------------------------------------------------
    def _phase2(
        self,
        plan: list[EmbedPlan],
        report: IndexReport,
        progress: Progress | None,
        *,
        taste: bool = False,
    ) -> None:
        """Vectors for the files of `plan`, in embedding_order, EMBED_SLICE passages a call;
        each slice's vectors are committed, and a file is marked indexed (and added to the
        vector index) once the last of its passages has a vector. A first taste (`taste`)
        runs inside phase 1 and leaves its counts and clock alone."""
        state = self.progress
        ordered = embedding_order(plan)
        if not taste:
            state.passages_total = state.passages_done + sum(p.missing for p in ordered)
            state.tokens_total = state.tokens_done + sum(p.missing_tokens for p in ordered)
            state.start_embedding()
        todo: dict[str, str] = {}  # embed hash -> the text the model sees
        tokens: dict[str, int] = {}
        ready: list[tuple[int, list[int]]] = []  # files whose passages are all in hand
        for p in ordered:
            if not self._still_wanted(progress, report):
                return
            state.current, state.current_pages = p.path, (0, 0)
            chunks = self.catalog.chunks_of(p.file_id)
            missing = self.catalog.missing_vectors(self.model_key, (c[3] for c in chunks))
            for _cid, title, text, h, n in chunks:
                if h in missing and h not in todo:
                    todo[h], tokens[h] = embed_input(title, text), n
                    if len(todo) >= EMBED_SLICE:
                        if not self._embed_slice(todo, tokens, ready, report, progress):
                            return
                        todo, tokens, ready = {}, {}, []
            ready.append((p.file_id, [c[0] for c in chunks]))
            if len(ready) >= EMBED_SLICE:  # files whose vectors were all stored already
                if not self._embed_slice(todo, tokens, ready, report, progress):
                    return
                todo, tokens, ready = {}, {}, []
        if todo or ready:
            self._embed_slice(todo, tokens, ready, report, progress)

    def _embed_slice(
        self,
        todo: dict[str, str],
        tokens: dict[str, int],
        ready: list[tuple[int, list[int]]],
        report: IndexReport,
        progress: Progress | None,
    ) -> bool:
        """Embeds and stores one slice, then completes the files in `ready`. False when
        cancelled (the slice is dropped: its files stay chunked and resume next run)."""
        state = self.progress
        base_done, base_tokens = state.passages_done, state.tokens_done
        texts = list(todo.values())
        if texts:
            got = self._embed_counted(texts, report, progress)
            if got is None:
                return False
            vecs = got
        state.passages_done = base_done + len(texts)
        state.tokens_done = base_tokens + sum(tokens.values())
        t1 = time.perf_counter()
        with self.catalog.transaction():
            if texts:
                self.catalog.put_vectors(self.model_key, zip(todo.keys(), vecs, strict=True))
                if state.tokens_per_s() > 0:  # for `status` in another process: speed, ETA
                    self.catalog.set_meta(
                        "embed_speed",
                        json.dumps(
                            {
                                "passages_per_s": round(state.passages_per_s(), 2),
                                "tokens_per_s": round(state.tokens_per_s(), 1),
                            }
                        ),
                    )
            done = [(fid, cids) for fid, cids in ready if self.catalog.mark_indexed(fid)]
            if done:
                self.catalog.bump_generation()
            keys, mat = self.catalog.vectors_for_chunks(
                self.model_key, [c for _fid, cids in done for c in cids]
            )
        report.indexed += len(done)
        self.vindex.add(keys, mat if len(keys) else np.zeros((0, self.vindex.ndim), np.float32))
        report.timings["store"] += time.perf_counter() - t1
        self.save_if_due()
        return True

    def _embed_counted(
        self, texts: list[str], report: IndexReport, progress: Progress | None
    ) -> NDArray[np.float32] | None:
        """The texts' vectors, the run's progress following them passage by passage; None
        when the run was cancelled meanwhile (its progress back where it was)."""
        state = self.progress
        base_done, base_tokens = state.passages_done, state.tokens_done
        before = self.embedder.tokens_embedded
        t0 = time.perf_counter()

        def inner(done: int, _total: int) -> bool:
            state.passages_done = base_done + done
            state.tokens_done = base_tokens + (self.embedder.tokens_embedded - before)
            return progress is None or progress(state.passages_done, state.passages_total)

        vecs = self.embedder.embed_documents(texts, progress=inner)
        report.tokens_embedded += self.embedder.tokens_embedded - before
        report.timings["embed"] += time.perf_counter() - t0
        if len(vecs) < len(texts):
            state.passages_done, state.tokens_done = base_done, base_tokens
            report.cancelled = True
            return None
        report.chunks_embedded += len(texts)
        return vecs

    def _rechunk_queued(self, report: IndexReport, progress: Progress | None) -> None:
        """A new passage size without losing search meanwhile: an indexed file keeps its old
        passages, words and meaning, until its new passages all have vectors; then one
        transaction swaps them (Catalog.queue_rechunk fills the queue). Files go in
        embedding_order; a kill or a pause loses at most the file being cut, and a file
        changed on disk meanwhile is redone by phase 1, which takes it off the queue."""
        items = {i.file_id: i for i in self.catalog.rechunk_plan()}
        if not items:
            return
        plan = embedding_order(
            EmbedPlan(i.file_id, i.path, i.mtime_ns, i.passages, i.passages, 0)
            for i in items.values()
        )
        state = self.progress
        state.phase = EMBEDDING
        state.passages_total = state.passages_done + sum(p.passages for p in plan)
        state.start_embedding()
        for p in plan:
            if not self._still_wanted(progress, report):
                return
            state.current, state.current_pages = p.path, (0, 0)
            if not self._recut(items[p.file_id], report, progress):
                return

    def _recut(self, item: RechunkItem, report: IndexReport, progress: Progress | None) -> bool:
        """One file: read, cut, embed, swap. False when the run was cancelled meanwhile."""
        s = seen(item.path, item.size, item.mtime_ns)
        prep = self._chunk(self._read(s, item.root_id, None, item.content_hash, report), report)
        if (
            prep.state != CHUNKED
            or prep.vanished
            or not prep.chunks
            or prep.content_hash != item.content_hash
        ):
            # unreadable now, empty, or changed under us: it keeps its passages; a change is
            # the next run's phase 1 to redo
            with self.catalog.transaction():
                self.catalog.drop_rechunk(item.file_id)
            return True
        state = self.progress
        hashes = {c.embed_hash for c in prep.chunks}
        missing = self.catalog.missing_vectors(self.model_key, hashes)
        todo = {
            c.embed_hash: embed_input(c.title, c.text)
            for c in prep.chunks
            if c.embed_hash in missing
        }
        base_done, base_tokens = state.passages_done, state.tokens_done
        vecs = np.zeros((0, self.vindex.ndim), np.float32)
        if todo:
            got = self._embed_counted(list(todo.values()), report, progress)
            if got is None:
                return False
            vecs = got
        state.passages_done = base_done + item.passages
        state.tokens_done = base_tokens + sum(
            c.n_tokens for c in prep.chunks if c.embed_hash in todo
        )
        old_ids = self.catalog.chunk_ids_of([item.file_id])
        with self.catalog.transaction():
            if todo:
                self.catalog.put_vectors(self.model_key, zip(todo.keys(), vecs, strict=True))
            self.catalog.replace_chunks(item.file_id, prep.chunks)
            self.catalog.bump_generation()
            keys, mat = self.catalog.vectors_for_chunks(
                self.model_key, self.catalog.chunk_ids_of([item.file_id])
            )
        self.vindex.remove(old_ids)
        self.vindex.add(keys, mat if len(keys) else np.zeros((0, self.vindex.ndim), np.float32))
        self.save_if_due()
        return True

    def save_if_due(self, force: bool = False) -> None:
        """USearch is a cache: saving it often only shortens the repair after a crash."""
        now = time.monotonic()
        if force or now - self._last_save > SAVE_EVERY_S:
            gen = self.catalog.generation()
            if gen != self.vindex.generation or force:
                self.vindex.save(gen)
            self._last_save = now
