"""The query pipeline: embed query -> dense top-k (USearch), on a second thread while the keyword
top-k (FTS5 BM25, common words only adding to scores) is fetched -> filter -> fuse (scores, per
file) -> rerank (optional) -> group by file -> snippets with the matched words marked. The
defaults of Tuning are the best measured on SciFact (docs/quality.md); the latency figures are in
docs/performance.md.
"""

from __future__ import annotations

import base64
import math
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .config import Settings
from .embed import Embedder
from .errors import DesktopSearchError, ModelError, QueryError
from .fts import KeywordStats
from .name_match import find_by_name, name_only_reason, whole_name
from .paths import AppPaths
from .query import ParsedQuery, parse_query, under_folder
from .relevance import CALIBRATED_MODELS, judge
from .scan import display_path
from .store import (
    CHUNKED,
    INDEXED,
    Catalog,
    NamedFile,
    VectorIndex,
    has_names_index,
    has_noise_flags,
    in_batches,
    page_at,
)

if TYPE_CHECKING:
    from .rerank import Reranker

MODES = ("hybrid", "dense", "keyword", "rerank")  # rerank = hybrid, then the cross-encoder
FUSIONS = ("rrf", "score")
LEVELS = ("file", "chunk")
RRF_K = 60
CANDIDATES = 400  # per ranking: fusion gains up to ~1000, latency doubles past ~300
# Dense candidates rescored with their stored vectors: the i8 index's top 50 rescored hold as
# many of the exact top 10 as its top 400 (1.000 at 100k, 0.984 at 1M passages), and each
# costs two catalog lookups (400 took 10 ms at 1M, against 4 ms for the whole f16 search).
EXACT_TOP = 50
# Below this many passages every query word picks keyword candidates: scoring them all is cheap.
COMMON_MIN_ROWS = 2_000
# The rare-term rule looks at most at this many passages: a word in more is not rare.
RARE_PASSAGES = 200
# ...and checks "every word in one passage" only when the rarest word is in at most this many
# (the AND of common words walks long posting lists for nothing).
RARE_WORD_SCAN = 5_000
SNIPPET_CHARS = 320
HL_START, HL_END = "\x02", "\x03"


@dataclass(frozen=True)
class Tuning:
    """How the two rankings are fused. Measured, not guessed: the defaults are the best of the
    table in docs/quality.md (SciFact train, 809 queries)."""

    # "score": weighted sum of scores min-max normalised per ranking (0.735 nDCG@10);
    # "rrf": reciprocal rank fusion (0.724 at its best k)
    fusion: str = "score"
    rrf_k: int = 10  # only for rrf; 10 beat the customary 60 (0.724 vs 0.720)
    dense_weight: float = 1.0  # weight of the meaning ranking
    keyword_weight: float = 1.0  # weight of the BM25 ranking
    level: str = "file"  # fuse file rankings (a file ranks by its best chunk) or chunk rankings
    title_weight: float = 1.0  # BM25 weight of the title column (the text column weighs 1)
    stop_words: bool = True  # drop stop words from the keyword query
    # A query word in more than this share of passages is "common": it adds to the BM25 score
    # of the passages the rarer words find, but finds none itself (1 = every word finds).
    common_share: float = 0.05
    # At most this many passages (their words' counts summed) are scored to find keyword
    # candidates; past it the more common words only add to scores (0 = no limit). SciFact
    # (12,112 passages) loses no nDCG@10 down to a budget of 10 % of the passages, 0.002 at
    # 3 %, 0.018 at 1 %: 10,000 is free up to 100,000 passages, and at a million it holds
    # hybrid queries near 40 ms (20,000: 55 ms) at the price the 1 % row suggests.
    keyword_budget: int = 10_000
    # Candidates per ranking; 0 = max(CANDIDATES, 4 k). Fixed rather than growing with k, so a
    # 10-result query in the window ranks exactly as the 100-result evaluation measured.
    depth: int = 0
    # The rare-term rule: when every word of the query (or a quoted phrase, or an identifier
    # such as "token216q" or "0001045810-23-000175") occurs in at most this many passages, the
    # files holding them rank above every other (0 = off). Tuned in docs/quality.md.
    rare_max: int = 5
    # BM25 weight of file and folder names (a small keyword index of files, names_fts)
    name_weight: float = 0.5
    # A file's score: its best passage's plus this share of its second's, its square of the
    # third's... (0 = the best passage alone)
    doc_damping: float = 0.0

    def validate(self) -> Tuning:
        if self.fusion not in FUSIONS:
            raise QueryError(f"unknown fusion {self.fusion!r}: use one of {', '.join(FUSIONS)}")
        if self.level not in LEVELS:
            raise QueryError(f"unknown fusion level {self.level!r}: use file or chunk")
        if self.rrf_k < 0 or self.dense_weight < 0 or self.keyword_weight < 0 \
                or self.title_weight < 0 or self.depth < 0 or self.keyword_budget < 0 \
                or self.rare_max < 0 or self.name_weight < 0 or self.doc_damping < 0:
            raise QueryError("fusion weights, rrf_k and depth must not be negative")
        if not 0 < self.common_share <= 1:
            raise QueryError("common_share must be above 0 and at most 1")
        return self


DEFAULT_TUNING = Tuning()


@dataclass
class SearchOptions:
    k: int = 10
    mode: str = "hybrid"
    passages_per_file: int = 3
    kinds: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    after: float | None = None
    before: float | None = None
    rerank: bool = False  # rerank the fused list with the cross-encoder (mode "rerank" implies it)
    tuning: Tuning = DEFAULT_TUNING


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
    # For people (relevance.py): cosine of the best passage to the query (None: no vectors),
    # "words+meaning" | "meaning" | "words", a calibrated 0-100 chance of being what was asked
    # for (None: no calibration for this model or mode), and whether it clears the bar.
    similarity: float | None = None
    match: str = ""
    relevance: int | None = None
    good_match: bool = True
    exact: bool = False  # found by the rare-term rule, or its whole name was typed
    # Found by its name alone (match "name"): why its text cannot be searched, e.g. a scanned
    # PDF or a photo; None when it has text (the name matched, the passages did not).
    name_only: str | None = None

    def to_json(self) -> dict[str, object]:
        from .scan import path_bytes

        raw = path_bytes(self.path)
        extra = {} if raw is None else {"path_bytes_b64": base64.b64encode(raw).decode()}
        return {
            **extra,
            "path": display_path(self.path),
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
            "match": self.match,
            "relevance": self.relevance,
            "good_match": self.good_match,
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "exact": self.exact,
            "name_only": self.name_only,
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


def score_fusion(score_maps: list[dict[int, float]], weights: list[float] | None = None
                 ) -> dict[int, float]:
    """Weighted sum of scores min-max normalised per list (absent = 0): keeps how much better
    the first hit is than the tenth, which rank fusion throws away."""
    out: dict[int, float] = {}
    for i, scores in enumerate(score_maps):
        if not scores:
            continue
        w = weights[i] if weights else 1.0
        lo, hi = min(scores.values()), max(scores.values())
        span = hi - lo
        for key, v in scores.items():
            out[key] = out.get(key, 0.0) + w * ((v - lo) / span if span > 0 else 1.0)
    return out


def best_per_group(order: Sequence[int], group: Callable[[int], int]) -> list[int]:
    """Groups in order of their first (best) member: a file ranks by its best chunk."""
    seen: dict[int, None] = {}
    for key in order:
        seen.setdefault(group(key), None)
    return list(seen)


def max_per_group(scores: dict[int, float], group: Callable[[int], int]) -> dict[int, float]:
    out: dict[int, float] = {}
    for key, v in scores.items():
        g = group(key)
        if g not in out or v > out[g]:
            out[g] = v
    return out


def damped_per_group(scores: dict[int, float], group: Callable[[int], int], damping: float
                     ) -> dict[int, float]:
    """A group's best score plus damping times its second, damping squared times its third...
    (0 = the best alone, as max_per_group): a long document whose answer spans several
    passages counts them all, a little."""
    if not damping:
        return max_per_group(scores, group)
    members: dict[int, list[float]] = {}
    for key, v in scores.items():
        members.setdefault(group(key), []).append(v)
    out: dict[int, float] = {}
    for g, vs in members.items():
        vs.sort(reverse=True)
        out[g] = sum(v * damping ** i for i, v in enumerate(vs[:4]))
    return out


def exact_similarities(cat: Catalog, model: str, qv: NDArray[np.float32],
                       hits: list[tuple[int, float]], top: int = EXACT_TOP
                       ) -> list[tuple[int, float]]:
    """The vector index's first `top` candidates rescored with the vectors the catalog stores
    (the index keeps i8 copies, which rank near-equals loosely), best first; the rest follow
    with their i8 similarity (off by about 0.003), which only weighs in fusion. A rescored
    candidate whose chunk is gone since the index was saved drops out."""
    head, tail = hits[:top], hits[top:]
    if not head:
        return []
    keys, mat = cat.vectors_for_chunks(model, [c for c, _ in head])
    sims = mat @ np.asarray(qv, dtype=np.float32) if len(keys) else np.zeros(0, np.float32)
    order = np.argsort(-sims, kind="stable")
    return [(int(keys[i]), float(sims[i])) for i in order] + tail


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


_MARKED = re.compile(f"{HL_START}([^{HL_START}{HL_END}]*){HL_END}")


def _unmark(s: str) -> str:
    return s.replace(HL_START, "").replace(HL_END, "") if HL_START in s or HL_END in s else s


def make_snippet(marked: str, width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]]]:
    """From text with HL_START/HL_END marks: a window of about `width` chars around the
    densest run of marks, cut at word boundaries, and the mark ranges inside it."""
    # regex pieces, not a loop over characters: snippets are made for every result shown
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = last = 0
    for m in _MARKED.finditer(marked):
        before = _unmark(marked[last : m.start()])
        inner = _unmark(m.group(1))
        plain += [before, inner]
        pos += len(before)
        if inner:
            spans.append((pos, pos + len(inner)))
        pos += len(inner)
        last = m.end()
    plain.append(_unmark(marked[last:]))
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


class _ChunkRow(NamedTuple):  # a tuple: hundreds are built per query (5 -> 1 us each)
    file_id: int
    page: int | None
    char_start: int
    char_end: int
    path: str
    title: str | None
    kind: str | None
    mtime_ns: int
    size: int
    state: str
    noise: int  # 1: kept out of the meaning ranking (chunking.is_noise)


@dataclass(frozen=True)
class _ChunkText:
    text: str
    title: str
    embed_hash: str
    page_starts: str | None = None


class Searcher:
    """The query lane: its own read-only SQLite connection and its own model context."""

    def __init__(self, paths: AppPaths, settings: Settings,
                 shared_index: Callable[[], VectorIndex | None] | None = None) -> None:
        self.paths = paths
        self.settings = settings
        self._shared_index = shared_index
        self._catalog: Catalog | None = None
        self._vector_catalog: Catalog | None = None  # the dense lane's own connection
        self._embedder: Embedder | None = None
        self._own_index: VectorIndex | None = None
        self._reranker: Reranker | None = None
        self._stats: KeywordStats | None = None
        self._has_noise: bool | None = None
        self._last_qv: tuple[str, NDArray[np.float32]] | None = None
        self._has_names: bool | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.last_timings: dict[str, float] = {}

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None
            self._stats = None
        if self._vector_catalog is not None:
            self._vector_catalog.close()
            self._vector_catalog = None

    def reset_model(self) -> None:
        with self._lock:
            self._embedder = None
            self._own_index = None

    def catalog(self) -> Catalog:
        if self._catalog is None:
            # no memory map of the catalog: it made hybrid queries slower here (36 vs 30 ms at
            # 100k passages) and counted every page read as resident (430 vs 235 MB)
            self._catalog = Catalog(self.paths.catalog, readonly=True)
        return self._catalog

    def keyword_stats(self) -> KeywordStats:
        if self._stats is None:
            self._stats = KeywordStats(self.catalog().db)
        return self._stats

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
            # A small context and one thread: a query of 25 tokens embeds faster on one thread
            # than on two (18 vs 23 ms here: waking the second costs more than it adds), the
            # keyword search runs beside it, and indexing keeps the other cores.
            self._embedder = Embedder(path, n_threads=1,
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

    # the reranker: loaded on the first reranked query ---------------------------------------
    def reranker_path(self) -> Path:
        from .models import installed_reranker

        if self.settings.reranker_path:
            return Path(self.settings.reranker_path).expanduser()
        found = installed_reranker(self.paths.models_dir)
        if found is None:
            raise ModelError(
                "no reranker model: download one with `desktop-search models download "
                "ms-marco-MiniLM-L-6-v2` or set reranker_path in the settings"
            )
        return found

    def reranker(self) -> Reranker:
        from .rerank import Reranker

        path = self.reranker_path()
        if self._reranker is None or self._reranker.info.path != path:
            self._reranker = Reranker(path, n_threads=self.settings.n_threads or 0,
                                      n_gpu_layers=self.settings.n_gpu_layers)
        return self._reranker

    # the pipeline ------------------------------------------------------------------------
    def search(self, query: str, options: SearchOptions | None = None) -> list[SearchResult]:
        opts = options or SearchOptions()
        if opts.mode not in MODES:
            raise QueryError(f"unknown mode {opts.mode!r}: use one of {', '.join(MODES)}")
        opts.tuning.validate()
        pq = parse_query(query, stop_words=opts.tuning.stop_words)
        pq.kinds += [k for k in opts.kinds if k not in pq.kinds]
        pq.folders += opts.folders
        pq.after = opts.after if opts.after is not None else pq.after
        pq.before = opts.before if opts.before is not None else pq.before
        if not pq.has_content():
            return []
        with self._lock:
            results = self._search(pq, opts)
            named = find_by_name(self.catalog(), pq, opts.k)
        return place_named(results, named, pq, opts.k)

    def _search(self, pq: ParsedQuery, opts: SearchOptions) -> list[SearchResult]:
        t0 = time.perf_counter()
        cat = self.catalog()
        tuning = opts.tuning
        mode = "hybrid" if opts.mode == "rerank" else opts.mode
        rerank = opts.rerank or opts.mode == "rerank"
        depth = tuning.depth or max(CANDIDATES, 4 * opts.k)
        if pq.kinds or pq.folders or pq.after or pq.before or pq.excluded or pq.phrases:
            depth *= 4  # filters drop candidates after retrieval: fetch more
        if rerank:
            depth = max(depth, self.settings.rerank_top_n)
        self.last_timings = {}
        self._last_qv = None
        # Meaning and words at once: llama.cpp and SQLite both let go of the GIL, so embedding
        # the query (the largest part of a query) runs beside the keyword search.
        dense_job: Future[tuple[list[int], dict[int, float]]] | None = None
        if mode in ("hybrid", "dense") and pq.text.strip():
            emb, vi = self.embedder(), self.vector_index()  # on this thread: they read the catalog
            if emb is not None and vi is not None:
                dense_job = self._pool().submit(self._dense, emb, vi, pq.text, depth)
        try:
            keyword: list[int] = []
            kw_score: dict[int, float] = {}
            exact: set[int] = set()
            if mode in ("hybrid", "keyword"):
                t1 = time.perf_counter()
                keyword, kw_score = self._keyword(cat, pq, tuning, depth)
                if mode == "hybrid" and tuning.rare_max:
                    exact = self._rare_hits(cat, pq, tuning.rare_max)
                    low = min(kw_score.values(), default=0.0)
                    for c in exact:
                        if c not in kw_score:  # past the candidate depth: still a word match
                            keyword.append(c)
                            kw_score[c] = low
                self.last_timings["keyword"] = time.perf_counter() - t1
            info = self._chunk_info(cat, keyword)  # while the query is still being embedded
            dense: list[int] = []
            dense_sim: dict[int, float] = {}
            if dense_job is not None:
                dense, dense_sim = dense_job.result()
        finally:
            if dense_job is not None:
                wait([dense_job])  # never leave the model busy behind a failed query
        self.last_timings["retrieval"] = time.perf_counter() - t0
        info.update(self._chunk_info(cat, [c for c in dense if c not in info]))
        names: dict[int, float] = {}
        name_rare: set[int] = set()
        if mode == "hybrid" and tuning.level == "file" and tuning.fusion == "score":
            if tuning.name_weight:
                names = self._names(cat, pq, depth)
            if tuning.rare_max:
                name_rare = self._rare_names(cat, pq, tuning.rare_max)
        if names or name_rare:
            shown = {r.file_id for r in info.values()}
            first = self._first_chunks(cat, [f for f in {*names, *name_rare} if f not in shown])
            info.update(self._chunk_info(cat, list(first.values())))
            for c in first.values():
                if c not in kw_score:  # found by its name: a words match, at the bottom
                    keyword.append(c)
                    kw_score[c] = min(kw_score.values(), default=0.0)
        ok = self._eligible(cat, pq, info, set(keyword))
        # noise passages embed near every query: they stay out of the meaning ranking
        dense = [c for c in dense if c in ok and not info[c].noise]
        keyword = [c for c in keyword if c in ok]
        dense_sim = {c: dense_sim[c] for c in dense}
        kw_score = {c: kw_score[c] for c in keyword}

        def file_of(cid: int) -> int:
            return info[cid].file_id

        file_scores: dict[int, float] | None = None
        if mode == "dense":
            scores, order = dense_sim, dense
        elif mode == "keyword":
            scores, order = kw_score, keyword
        else:
            weights = [tuning.dense_weight, tuning.keyword_weight]
            # weights normalised to sum 1: a score fusion result reads as 0..1 on screen
            total = sum(weights) or 1.0
            weights = [w / total for w in weights]
            if tuning.fusion == "rrf":
                scores = rrf([dense, keyword], tuning.rrf_k, weights)
            else:
                scores = score_fusion([dense_sim, kw_score], weights)
            if tuning.level == "file":
                if tuning.fusion == "rrf":
                    file_scores = rrf([best_per_group(dense, file_of),
                                       best_per_group(keyword, file_of)], tuning.rrf_k, weights)
                else:
                    d = tuning.doc_damping
                    maps = [damped_per_group(dense_sim, file_of, d),
                            damped_per_group(kw_score, file_of, d)]
                    raw = [tuning.dense_weight, tuning.keyword_weight]
                    if names:
                        live = {file_of(c) for c in ok}
                        maps.append({f: v for f, v in names.items() if f in live})
                        raw.append(tuning.name_weight)
                    file_scores = score_fusion(maps, [w / (sum(raw) or 1.0) for w in raw])
                fs = file_scores
                order = sorted(scores, key=lambda c: (-fs[file_of(c)], -scores[c]))
            else:
                order = sorted(scores, key=lambda c: -scores[c])
        if name_rare:
            exact |= {c for c in order if file_of(c) in name_rare}
        exact &= set(order)
        if exact:  # in fusion: a cross-encoder asked for has the last word
            order, scores, file_scores = _exact_first(order, scores, file_scores, exact, file_of)
        if rerank and order:
            t_r = time.perf_counter()
            order, scores = self._rerank(pq, order, scores, file_scores, info)
            file_scores = None
            self.last_timings["rerank"] = time.perf_counter() - t_r
        results = self._group(cat, pq, order, scores, file_scores, opts, info)
        self._label(cat, results, mode, {file_of(c) for c in keyword},
                    {file_of(c) for c in exact})
        self.last_timings["total"] = time.perf_counter() - t0
        return results

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="query-embed")
        return self._executor

    def _dense(self, emb: Embedder, vi: VectorIndex, text: str, depth: int
               ) -> tuple[list[int], dict[int, float]]:
        t = time.perf_counter()
        qv = emb.embed_query(text)
        self._last_qv = (emb.info.key, qv)
        t_e = time.perf_counter()
        # Its own connection: one connection runs one statement at a time, and the keyword
        # search is using the other meanwhile. Opened on this lane's thread, used only there.
        if self._vector_catalog is None:
            self._vector_catalog = Catalog(self.paths.catalog, readonly=True)
        hits = exact_similarities(self._vector_catalog, emb.info.key, qv, vi.search(qv, depth))
        self.last_timings["embed"] = t_e - t
        self.last_timings["dense"] = time.perf_counter() - t_e
        return [c for c, _ in hits], dict(hits)

    def _keyword(self, cat: Catalog, pq: ParsedQuery, tuning: Tuning, depth: int
                 ) -> tuple[list[int], dict[int, float]]:
        """BM25 candidates. Words in more than tuning.common_share of passages pick none
        themselves (scoring every passage they occur in is what makes keyword search slow);
        the rarer words pick them, and a second MATCH that also requires a common word gives
        those passages their full BM25. The two top lists merged are exactly the top of the
        full BM25 among passages with at least one rarer word."""
        terms, common = pq.terms, []
        if tuning.common_share < 1 and len(terms) > 1:
            stats = self.keyword_stats()
            rows = stats.total_rows()
            if rows >= COMMON_MIN_ROWS:
                df = stats.doc_freq(terms)
                rare: list[str] = []
                total = 0
                for t in sorted(terms, key=lambda t: df[t]):
                    if rare and (df[t] > tuning.common_share * rows or (tuning.keyword_budget
                                 and total + df[t] > tuning.keyword_budget)):
                        break
                    rare.append(t)  # the rarest always finds, even when all are common
                    total += df[t]
                terms = [t for t in terms if t in rare]
                common = [t for t in pq.terms if t not in terms]
        scores = self._bm25(cat, pq.fts_expression(terms), tuning.title_weight, depth)
        if common:
            scores.update(self._bm25(cat, pq.fts_expression(terms, also=common),
                                     tuning.title_weight, depth))  # full scores are higher
        order = sorted(scores, key=lambda c: -scores[c])[:depth]
        return order, {c: scores[c] for c in order}

    def _rare_hits(self, cat: Catalog, pq: ParsedQuery, rare_max: int) -> set[int]:
        """Passages holding every word of the query, or one of its identifiers, when they
        lie in at most rare_max files: such exact matches outrank whatever the meaning ranking
        prefers. Files, not passages, are counted: a code in every page header of one report
        is still rare."""
        out: set[int] = set()
        every = pq.all_words_expression()
        if every and pq.terms:
            stats = self.keyword_stats()
            if stats.total_rows() >= COMMON_MIN_ROWS and \
                    min(stats.doc_freq(pq.terms).values()) > RARE_WORD_SCAN:
                every = None  # only common words: intersecting their postings costs, finds many
        for expr in dict.fromkeys(e for e in [every, *pq.identifier_expressions()] if e):
            for w in pq.excluded:
                expr += f" NOT {_fts_quote(w)}"
            try:
                rows = cat.db.execute(
                    "SELECT c.id, c.file_id FROM chunks c WHERE c.id IN (SELECT rowid FROM"
                    " chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)", (expr, RARE_PASSAGES + 1),
                ).fetchall()
            except sqlite3.OperationalError:
                continue  # an expression FTS5 cannot read finds nothing exactly
            if len(rows) <= RARE_PASSAGES and len({f for _, f in rows}) <= rare_max:
                out.update(int(c) for c, _ in rows)
        return out

    @staticmethod
    def _bm25(cat: Catalog, expr: str | None, title_weight: float, depth: int
              ) -> dict[int, float]:
        if not expr:
            return {}
        try:
            rows = cat.db.execute(
                "SELECT rowid, bm25(chunks_fts, ?, 1.0) AS s FROM chunks_fts"
                " WHERE chunks_fts MATCH ? ORDER BY s LIMIT ?", (title_weight, expr, depth),
            ).fetchall()
        except sqlite3.OperationalError as e:
            raise QueryError(f"cannot search for that: {e}") from e
        return {int(cid): -float(sc) for cid, sc in rows}  # FTS5's bm25 is lower = better

    def _label(self, cat: Catalog, results: list[SearchResult], mode: str,
               word_files: set[int], exact_files: set[int]) -> None:
        """Similarity, match tag, calibrated relevance and good_match of each result shown."""
        if not results:
            return
        sims: dict[int, float] = {}
        if self._last_qv is not None:
            model, qv = self._last_qv
            keys, mat = cat.vectors_for_chunks(model, [r.passages[0].chunk_id for r in results])
            if len(keys):
                sims = {int(k): float(v) for k, v in zip(keys, mat @ qv, strict=True)}
        fids = {r.passages[0].chunk_id: f for r, f in zip(
            results, self._file_ids(cat, [r.passages[0].chunk_id for r in results]), strict=True)}
        for r in results:
            cid = r.passages[0].chunk_id
            fid = fids.get(cid)
            r.similarity = sims.get(cid)
            r.exact = fid in exact_files
            words = fid in word_files or any(p.highlights for p in r.passages)
            r.match, r.relevance, r.good_match = judge(
                r.similarity, words, r.exact, calibrated=self._last_qv is not None
                and self._last_qv[0] in CALIBRATED_MODELS and mode != "keyword")

    @staticmethod
    def _file_ids(cat: Catalog, chunk_ids: list[int]) -> list[int | None]:
        found: dict[int, int] = {}
        for part, marks in in_batches(chunk_ids):
            found.update((int(c), int(f)) for c, f in cat.db.execute(
                f"SELECT id, file_id FROM chunks WHERE id IN ({marks})", part))
        return [found.get(c) for c in chunk_ids]

    def _noise_column(self, cat: Catalog) -> str:
        if self._has_noise is None:  # a home not yet opened by a writer since the upgrade
            self._has_noise = has_noise_flags(cat.db)
        return "c.noise" if self._has_noise else "0"

    def _names(self, cat: Catalog, pq: ParsedQuery, depth: int) -> dict[int, float]:
        """BM25 of file and folder names (names_fts), by file id."""
        if self._has_names is None:
            self._has_names = has_names_index(cat.db)
        expr = pq.fts_expression()
        if not self._has_names or not expr:
            return {}
        rows = cat.db.execute("SELECT rowid, bm25(names_fts) AS s FROM names_fts"
                              " WHERE names_fts MATCH ? ORDER BY s LIMIT ?", (expr, depth))
        return {int(f): -float(sc) for f, sc in rows}

    def _rare_names(self, cat: Catalog, pq: ParsedQuery, rare_max: int) -> set[int]:
        """Files whose name holds one of the query's identifiers, when at most rare_max
        files do. (Every word of the query in a name, as for passages, cost SciFact 0.008
        nDCG@10: its titles are its file names, and most claims' words fit several.)"""
        if self._has_names is None:
            self._has_names = has_names_index(cat.db)
        out: set[int] = set()
        if not self._has_names:
            return out
        for expr in pq.identifier_expressions():
            rows = cat.db.execute("SELECT rowid FROM names_fts WHERE names_fts MATCH ? LIMIT ?",
                                  (expr, rare_max + 1)).fetchall()
            if len(rows) <= rare_max:
                out.update(int(r[0]) for r in rows)
        return out

    @staticmethod
    def _first_chunks(cat: Catalog, file_ids: list[int]) -> dict[int, int]:
        """Each file's first passage: where a file found by its name is shown from."""
        out: dict[int, int] = {}
        for part, marks in in_batches(file_ids):
            for fid, cid in cat.db.execute(
                    f"SELECT file_id, min(id) FROM chunks WHERE file_id IN ({marks})"
                    " GROUP BY file_id", part):
                out[int(fid)] = int(cid)
        return out

    def _chunk_info(self, cat: Catalog, ids: list[int]) -> dict[int, _ChunkRow]:
        info: dict[int, _ChunkRow] = {}
        for part, marks in in_batches(ids):
            for row in cat.db.execute(
                "SELECT c.id, c.file_id, c.page, c.char_start, c.char_end, f.path,"
                f" f.title, f.kind, f.mtime_ns, f.size, f.state, {self._noise_column(cat)}"
                f" FROM chunks c JOIN files f ON f.id=c.file_id WHERE c.id IN ({marks})",
                part,
            ):
                info[int(row[0])] = _ChunkRow(*row[1:])
        return info

    @staticmethod
    def _chunk_texts(cat: Catalog, ids: list[int]) -> dict[int, _ChunkText]:
        """Text of the few passages shown or reranked; hundreds of candidates need none."""
        out: dict[int, _ChunkText] = {}
        for part, marks in in_batches(ids):
            for cid, text, title, h, starts in cat.db.execute(
                    "SELECT id, text, title, embed_hash, page_starts FROM chunks"
                    f" WHERE id IN ({marks})", part):
                out[int(cid)] = _ChunkText(text, title, h, starts)
        return out

    def _eligible(self, cat: Catalog, pq: ParsedQuery, info: dict[int, _ChunkRow],
                  kw_set: set[int]) -> set[int]:
        """Candidates that pass every filter, before fusion, so ranks count only real hits."""
        folders = [os.path.abspath(os.path.expanduser(f)) for f in pq.folders]
        ok: set[int] = set()
        for cid, row in info.items():
            # dense hits must come from fully indexed files, keyword hits from chunked ones
            # too; anything else is a stale id from a change the cache has not caught up with
            if row.state not in (CHUNKED, INDEXED):
                continue
            if row.state != INDEXED and cid not in kw_set:
                continue
            if pq.kinds and (row.kind or "") not in pq.kinds and \
                    Path(row.path).suffix.lower().lstrip(".") not in pq.kinds:
                continue
            if folders and not any(under_folder(row.path, f) for f in folders):
                continue
            mtime = row.mtime_ns / 1e9
            if pq.after is not None and mtime < pq.after:
                continue
            if pq.before is not None and mtime >= pq.before:
                continue
            ok.add(cid)
        if ok and pq.phrases:
            ok &= self._fts_rows(cat, pq.phrase_expression() or "", ok)
        if ok and pq.excluded:
            files = {info[c].file_id for c in ok}
            banned = self._files_matching(cat, pq.excluded_expression() or "", files)
            ok = {c for c in ok if info[c].file_id not in banned}
        return ok

    @staticmethod
    def _fts_rows(cat: Catalog, expr: str, ids: set[int]) -> set[int]:
        """Which of these chunks match an FTS5 expression (same tokenizer and stemmer as the
        keyword index, so "heart attacks" finds the phrase "heart attack")."""
        out: set[int] = set()
        ordered = sorted(ids)
        for part, marks in in_batches(ordered):
            out.update(int(r[0]) for r in cat.db.execute(
                f"SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid IN ({marks})",
                (expr, *part)))
        return out

    @staticmethod
    def _files_matching(cat: Catalog, expr: str, file_ids: set[int]) -> set[int]:
        """Files with any chunk matching: an excluded word anywhere in a file excludes it."""
        out: set[int] = set()
        ordered = sorted(file_ids)
        for part, marks in in_batches(ordered):
            out.update(int(r[0]) for r in cat.db.execute(
                f"SELECT DISTINCT c.file_id FROM chunks c WHERE c.file_id IN ({marks}) AND c.id IN"
                " (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?)", (*part, expr)))
        return out

    def _rerank(self, pq: ParsedQuery, order: list[int], scores: dict[int, float],
                file_scores: dict[int, float] | None, info: dict[int, _ChunkRow]
                ) -> tuple[list[int], dict[int, float]]:
        """The first rerank_top_n chunks of the fused order, by the cross-encoder's probability;
        the rest keep their order, scaled below the last reranked one."""
        from .indexer import embed_input

        top, rest = order[: self.settings.rerank_top_n], order[self.settings.rerank_top_n :]
        texts = self._chunk_texts(self.catalog(), top)
        top = [c for c in top if c in texts]  # a passage deleted since it was found
        passages = [(texts[c].embed_hash, embed_input(texts[c].title, texts[c].text))
                    for c in top]
        query = pq.text.strip() or " ".join(pq.phrases)
        logits = self.reranker().scores(query, passages)
        new: dict[int, float] = {c: sigmoid(v) for c, v in zip(top, logits, strict=True)}
        base = {c: (file_scores[info[c].file_id] if file_scores else scores[c]) for c in rest}
        if base:
            floor = min(new.values())
            high = max(base.values())
            scale = floor / (2 * high) if high > 0 else 0.0
            new.update({c: v * scale for c, v in base.items()})
        return sorted(top, key=lambda c: -new[c]) + rest, new

    def _group(self, cat: Catalog, pq: ParsedQuery, order: list[int], scores: dict[int, float],
               file_scores: dict[int, float] | None, opts: SearchOptions,
               info: dict[int, _ChunkRow]) -> list[SearchResult]:
        by_file: dict[int, list[int]] = {}
        file_order: list[int] = []
        for cid in order:
            fid = info[cid].file_id
            if fid not in by_file:
                if len(file_order) >= opts.k:
                    continue
                by_file[fid] = []
                file_order.append(fid)
            if len(by_file[fid]) < opts.passages_per_file:
                by_file[fid].append(cid)
        chosen = [c for f in file_order for c in by_file[f]]
        rows = self._chunk_texts(cat, chosen)
        texts = {c: t.text for c, t in rows.items()}
        marked = self._highlight(pq, texts)
        results: list[SearchResult] = []
        for fid in file_order:
            passages: list[Passage] = []
            for cid in by_file[fid]:
                r = info[cid]
                snip, spans = make_snippet(marked.get(cid, texts.get(cid, "")))
                # the page of the first matched word (no marks before it to discount)
                hit = marked[cid].find(HL_START) if cid in marked else -1
                page = r.page if hit < 0 or cid not in rows else \
                    page_at(r.page, rows[cid].page_starts, hit)
                passages.append(Passage(cid, scores.get(cid, 0.0), snip, spans, page,
                                        r.char_start, r.char_end))
            best = passages[0]
            r = info[by_file[fid][0]]
            results.append(SearchResult(
                path=r.path, title=r.title or "", kind=r.kind or "",
                score=file_scores[fid] if file_scores else best.score,
                snippet=best.snippet, highlights=best.highlights,
                page=best.page, chunk_start=best.chunk_start, chunk_end=best.chunk_end,
                mtime=r.mtime_ns / 1e9, size=r.size, passages=passages,
            ))
        return results

    def _highlight(self, pq: ParsedQuery, texts: dict[int, str]) -> dict[int, str]:
        """FTS5's own highlight(): the same tokenizer and stemmer that matched the words."""
        expr = pq.highlight_expression()
        if not expr or not texts:
            return {}
        return self.keyword_stats().highlight(texts, expr, HL_START, HL_END)


def _fts_quote(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def _exact_first(order: list[int], scores: dict[int, float], file_scores: dict[int, float] | None,
                 exact: set[int], file_of: Callable[[int], int]
                 ) -> tuple[list[int], dict[int, float], dict[int, float] | None]:
    """Files with an exact rare match first (their order among themselves kept), each with
    its exact passages first. Their scores are raised by 1 (fused scores are at most 1), so
    scores still fall down the list."""
    files = {file_of(c) for c in exact}
    scores = {c: v + 1.0 if c in exact else v for c, v in scores.items()}
    if file_scores is not None:
        file_scores = {f: v + 1.0 if f in files else v for f, v in file_scores.items()}
        fs = file_scores
        order = sorted(order, key=lambda c: (-fs[file_of(c)], -scores[c]))
    else:
        top = [c for c in order if file_of(c) in files]
        best: dict[int, float] = {}
        for c in top:
            best[file_of(c)] = max(best.get(file_of(c), 0.0), scores[c])
        top.sort(key=lambda c: (-best[file_of(c)], -scores[c]))
        order = top + [c for c in order if file_of(c) not in files]
    return order, scores, file_scores


def named_result(pq: ParsedQuery, f: NamedFile) -> SearchResult:
    """A file found by its name, with no passage to show."""
    stem = Path(display_path(f.path)).stem
    return SearchResult(
        path=f.path, title=f.title or stem, kind=f.kind or "", score=0.0, snippet="",
        highlights=[], page=None, chunk_start=0, chunk_end=0, mtime=f.mtime_ns / 1e9,
        size=f.size, passages=[], match="name", relevance=None, good_match=True,
        exact=whole_name(pq, f.path), name_only=name_only_reason(f),
    )


def place_named(results: Sequence[SearchResult], named: Sequence[NamedFile], pq: ParsedQuery,
                k: int) -> list[SearchResult]:
    """The ranked results with the files found by name put in (see name_match): a file whose
    whole name was typed first; the others after the good matches, before the weak ones."""
    by_path = {r.path: r for r in results}
    first: list[SearchResult] = []
    middle: list[SearchResult] = []
    for f in named:
        r = by_path.get(f.path)
        if r is None:
            (first if whole_name(pq, f.path) else middle).append(named_result(pq, f))
        elif whole_name(pq, f.path):
            r.exact = True
            first.append(r)  # found by its text too: keeps its passages, moves up
    if not first and not middle:
        return list(results)
    moved = {r.path for r in first}
    rest = [r for r in results if r.path not in moved]
    at = next((i for i, r in enumerate(rest) if not r.good_match), len(rest))
    out = (first + rest[:at] + middle + rest[at:])[:k]
    # a file found by name takes the score of the place it is given, so scores never rise
    # down the list (callers of `search --json` may rely on it)
    top = max((r.score for r in results), default=1.0)
    for i, r in enumerate(out):
        if i < len(first) or (r.match == "name" and not r.passages):
            r.score = out[i - 1].score if i else top
    return out

