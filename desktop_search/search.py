"""The query pipeline: embed query -> dense top-k (USearch) and keyword top-k (FTS5 BM25) ->
fuse (reciprocal rank) -> filter -> group by file -> snippets with the matched words marked."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .embed import Embedder
from .errors import DesktopSearchError, QueryError
from .paths import AppPaths
from .query import ParsedQuery, parse_query
from .store import CHUNKED, INDEXED, Catalog, VectorIndex

MODES = ("hybrid", "dense", "keyword")
RRF_K = 60
SNIPPET_CHARS = 320
HL_START, HL_END = "\x02", "\x03"


@dataclass
class SearchOptions:
    k: int = 10
    mode: str = "hybrid"
    passages_per_file: int = 3
    kinds: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    after: float | None = None
    before: float | None = None


@dataclass
class Passage:
    chunk_id: int
    score: float
    snippet: str
    highlights: list[tuple[int, int]]  # [start, end) in snippet
    page: int | None
    chunk_start: int
    chunk_end: int


@dataclass
class SearchResult:
    path: str
    title: str
    kind: str
    score: float
    snippet: str
    highlights: list[tuple[int, int]]
    page: int | None
    chunk_start: int
    chunk_end: int
    mtime: float
    size: int
    passages: list[Passage]

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "score": round(self.score, 6),
            "snippet": self.snippet,
            "page": self.page,
            "chunk_start": self.chunk_start,
            "chunk_end": self.chunk_end,
            "title": self.title,
            "kind": self.kind,
            "highlights": [list(h) for h in self.highlights],
            "mtime": self.mtime,
            "size": self.size,
            "passages": [
                {
                    "snippet": p.snippet,
                    "score": round(p.score, 6),
                    "page": p.page,
                    "chunk_start": p.chunk_start,
                    "chunk_end": p.chunk_end,
                    "highlights": [list(h) for h in p.highlights],
                }
                for p in self.passages
            ],
        }


def rrf(rankings: list[list[int]], k: int = RRF_K, weights: list[float] | None = None
        ) -> dict[int, float]:
    """Reciprocal rank fusion: sum over lists of w / (k + rank), rank from 1."""
    scores: dict[int, float] = {}
    for i, ranking in enumerate(rankings):
        w = weights[i] if weights else 1.0
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + w / (k + rank)
    return scores


def make_snippet(marked: str, width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]]]:
    """From text with HL_START/HL_END marks: a window of about `width` chars around the
    densest run of marks, cut at word boundaries, and the mark ranges inside it."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    start = -1
    for ch in marked:
        if ch == HL_START:
            start = pos
        elif ch == HL_END:
            if start >= 0:
                spans.append((start, pos))
            start = -1
        else:
            plain.append(ch)
            pos += 1
    text = "".join(plain)
    if len(text) <= width:
        lo, hi = 0, len(text)
    else:
        best_lo, best_n = 0, -1
        for s, _ in spans or [(0, 0)]:
            lo_c = max(0, s - width // 4)
            n = sum(1 for a, b in spans if a >= lo_c and b <= lo_c + width)
            if n > best_n:
                best_lo, best_n = lo_c, n
        lo = best_lo
        while lo > 0 and not text[lo - 1].isspace() and best_lo - lo < 20:
            lo -= 1
        hi = min(len(text), lo + width)
        while hi < len(text) and not text[hi].isspace() and hi - lo < width + 20:
            hi += 1
    snippet = text[lo:hi]
    lead = len(snippet) - len(snippet.lstrip())
    snippet = snippet.strip()
    shift = lo + lead
    out_spans = [
        (a - shift, b - shift) for a, b in spans if a >= shift and b - shift <= len(snippet)
    ]
    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(text) else ""
    if prefix:
        out_spans = [(a + 1, b + 1) for a, b in out_spans]
    return prefix + " ".join(snippet.split("\n")) + suffix, out_spans


class Searcher:
    """The query lane: its own read-only SQLite connection and its own model context."""

    def __init__(self, paths: AppPaths, settings: Settings,
                 shared_index: Callable[[], VectorIndex | None] | None = None) -> None:
        self.paths = paths
        self.settings = settings
        self._shared_index = shared_index
        self._catalog: Catalog | None = None
        self._embedder: Embedder | None = None
        self._own_index: VectorIndex | None = None
        self._lock = threading.Lock()
        self.last_timings: dict[str, float] = {}

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    def reset_model(self) -> None:
        with self._lock:
            self._embedder = None
            self._own_index = None

    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog(self.paths.catalog, readonly=True)
        return self._catalog

    # the model searches use is the one the complete index was built with
    def _active_model(self) -> tuple[str, Path, int] | None:
        cat = self.catalog()
        key, path, dims = (cat.get_meta("model_key"), cat.get_meta("model_path"),
                           cat.get_meta("model_dims"))
        if not key or not path or not dims:
            return None
        return key, Path(path), int(dims)

    def embedder(self) -> Embedder | None:
        active = self._active_model()
        if active is None:
            return None
        key, path, _dims = active
        if self._embedder is None or self._embedder.info.key != key:
            if not path.exists():
                raise DesktopSearchError(
                    f"the model the index was built with is gone: {path}; "
                    "run `desktop-search index` to rebuild with the configured model"
                )
            # A small context and few threads: queries are short, and indexing keeps the rest.
            self._embedder = Embedder(path, n_threads=self.settings.n_threads or 0,
                                      n_gpu_layers=self.settings.n_gpu_layers, max_tokens=128)
        return self._embedder

    def vector_index(self) -> VectorIndex | None:
        active = self._active_model()
        if active is None:
            return None
        key, _path, dims = active
        shared = self._shared_index() if self._shared_index else None
        if shared is not None and shared.base.name == f"vectors-{key}":
            return shared
        cat = self.catalog()
        if (self._own_index is None or self._own_index.base.name != f"vectors-{key}"
                or self._own_index.generation != cat.generation()):
            self._own_index, _ = VectorIndex.open(
                self.paths.index_dir / f"vectors-{key}", dims, cat, key
            )
        return self._own_index

    def warm_up(self) -> None:
        """Loads the model and index ahead of the first query (off the GUI thread)."""
        with self._lock:
            self.embedder()
            self.vector_index()

    # the pipeline ------------------------------------------------------------------------
    def search(self, query: str, options: SearchOptions | None = None) -> list[SearchResult]:
        opts = options or SearchOptions()
        if opts.mode not in MODES:
            raise QueryError(f"unknown mode {opts.mode!r}: use one of {', '.join(MODES)}")
        pq = parse_query(query)
        pq.kinds += opts.kinds
        pq.folders += opts.folders
        pq.after = opts.after if opts.after is not None else pq.after
        pq.before = opts.before if opts.before is not None else pq.before
        if not pq.has_content():
            return []
        with self._lock:
            return self._search(pq, opts)

    def _search(self, pq: ParsedQuery, opts: SearchOptions) -> list[SearchResult]:
        t0 = time.perf_counter()
        cat = self.catalog()
        depth = max(50, opts.k * 10)
        filtered = bool(pq.kinds or pq.folders or pq.after or pq.before or pq.excluded
                        or pq.phrases)
        if filtered:
            depth *= 4  # filters drop candidates after retrieval: fetch more
        dense: list[int] = []
        dense_sim: dict[int, float] = {}
        if opts.mode in ("hybrid", "dense"):
            emb = self.embedder()
            vi = self.vector_index()
            if emb is not None and vi is not None and pq.text.strip():
                qv = emb.embed_query(pq.text)
                t_e = time.perf_counter()
                self.last_timings["embed"] = t_e - t0
                for cid, sim in vi.search(qv, depth):
                    dense.append(cid)
                    dense_sim[cid] = sim
                self.last_timings["dense"] = time.perf_counter() - t_e
        t1 = time.perf_counter()
        keyword: list[int] = []
        kw_score: dict[int, float] = {}
        if opts.mode in ("hybrid", "keyword"):
            expr = pq.fts_expression()
            if expr:
                try:
                    rows = cat.db.execute(
                        "SELECT rowid, bm25(chunks_fts, 1.0, 1.0) AS s FROM chunks_fts"
                        " WHERE chunks_fts MATCH ? ORDER BY s LIMIT ?",
                        (expr, depth),
                    ).fetchall()
                except sqlite3.OperationalError as e:
                    raise QueryError(f"cannot search for that: {e}") from e
                for cid, s in rows:
                    keyword.append(cid)
                    kw_score[cid] = -float(s)
        self.last_timings["keyword"] = time.perf_counter() - t1

        if opts.mode == "dense":
            scores = dense_sim
            order = dense
        elif opts.mode == "keyword":
            scores = kw_score
            order = keyword
        else:
            scores = rrf([dense, keyword])
            order = sorted(scores, key=lambda c: -scores[c])
        results = self._group(cat, pq, order, scores, opts, set(keyword))
        self.last_timings["total"] = time.perf_counter() - t0
        return results

    def _group(self, cat: Catalog, pq: ParsedQuery, order: list[int], scores: dict[int, float],
               opts: SearchOptions, kw_set: set[int]) -> list[SearchResult]:
        if not order:
            return []
        info: dict[int, tuple[object, ...]] = {}
        for i in range(0, len(order), 500):
            part = order[i : i + 500]
            marks = ",".join("?" * len(part))
            for row in cat.db.execute(
                "SELECT c.id, c.file_id, c.page, c.char_start, c.char_end, c.text, f.path,"
                f" f.title, f.kind, f.mtime_ns, f.size, f.state FROM chunks c JOIN files f"
                f" ON f.id=c.file_id WHERE c.id IN ({marks})",
                part,
            ):
                info[row[0]] = row[1:]
        # dense hits must come from fully indexed files, keyword hits from chunked ones too;
        # anything else is a stale id from a change the cache has not caught up with
        allowed = (CHUNKED, INDEXED)
        folders = [os.path.abspath(os.path.expanduser(f)) for f in pq.folders]
        must_words = [p.lower() for p in pq.phrases]
        by_file: dict[int, list[int]] = {}
        file_order: list[int] = []
        for cid in order:
            row = info.get(cid)
            if row is None or row[10] not in allowed:
                continue
            if row[10] != INDEXED and cid not in kw_set:
                continue  # only a dense hit, in a file whose vectors are not committed yet
            fid = int(row[0])  # type: ignore[call-overload]
            path, kind = str(row[5]), str(row[7] or "")
            if pq.kinds and kind not in pq.kinds and Path(path).suffix.lower().lstrip(".") \
                    not in pq.kinds:
                continue
            if folders and not any(path == f or path.startswith(f.rstrip(os.sep) + os.sep)
                                   or f"{os.sep}{os.path.basename(f)}{os.sep}" in path
                                   for f in folders):
                continue
            mtime = int(row[8]) / 1e9  # type: ignore[call-overload]
            if pq.after is not None and mtime < pq.after:
                continue
            if pq.before is not None and mtime >= pq.before:
                continue
            text_l = str(row[4]).lower()
            if must_words and not all(w in text_l for w in must_words):
                continue
            if pq.excluded and any(_has_word(text_l, w) for w in pq.excluded):
                continue
            if fid not in by_file:
                if len(file_order) >= opts.k:
                    continue
                by_file[fid] = []
                file_order.append(fid)
            if len(by_file[fid]) < opts.passages_per_file:
                by_file[fid].append(cid)
        chosen = [c for f in file_order for c in by_file[f]]
        marked = self._highlight(cat, pq, chosen)
        results: list[SearchResult] = []
        for fid in file_order:
            passages: list[Passage] = []
            for cid in by_file[fid]:
                row = info[cid]
                snip, spans = make_snippet(marked.get(cid, str(row[4])))
                passages.append(Passage(cid, scores.get(cid, 0.0), snip, spans,
                                        row[1], int(row[2]), int(row[3])))  # type: ignore
            best = passages[0]
            row = info[by_file[fid][0]]
            results.append(SearchResult(
                path=str(row[5]), title=str(row[6] or ""), kind=str(row[7] or ""),
                score=best.score, snippet=best.snippet, highlights=best.highlights,
                page=best.page, chunk_start=best.chunk_start, chunk_end=best.chunk_end,
                mtime=int(row[8]) / 1e9, size=int(row[9]),  # type: ignore[call-overload]
                passages=passages,
            ))
        return results

    def _highlight(self, cat: Catalog, pq: ParsedQuery, chunk_ids: list[int]) -> dict[int, str]:
        """FTS5's own highlight(): the same tokenizer and stemmer that matched the words."""
        expr = pq.highlight_expression()
        if not expr or not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        try:
            rows = cat.db.execute(
                f"SELECT rowid, highlight(chunks_fts, 1, ?, ?) FROM chunks_fts"
                f" WHERE chunks_fts MATCH ? AND rowid IN ({marks})",
                (HL_START, HL_END, expr, *chunk_ids),
            )
            return {int(r[0]): str(r[1]) for r in rows}
        except sqlite3.OperationalError:
            return {}


def _has_word(text: str, word: str) -> bool:
    import re

    return re.search(rf"\b{re.escape(word)}\b", text) is not None
