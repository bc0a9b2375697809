"""The query pipeline, as the design draws it: retrieve -> filter -> fuse -> rerank -> group ->
snippets. Retrieve embeds the query and takes the dense top-k (USearch) on a second thread while
the keyword top-k (FTS5 BM25, common words only adding to scores) and the file names are read;
filter drops what the query's filters exclude; fuse (fusion.py) makes one ranking, by file;
rerank (optional) asks the cross-encoder; group picks each file's best passages; snippets mark
the matched words. Each step is one method of Searcher. The defaults of Tuning are the best
measured on SciFact (docs/quality.md); the latency figures are in docs/performance.md.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .chunking import embed_input
from .config import Settings
from .embed import Embedder
from .errors import DesktopSearchError, ModelError, QueryError
from .fts import KeywordStats
from .fusion import DEFAULT_TUNING, FUSIONS, LEVELS, Ranking, Tuning, exact_first, fuse, sigmoid
from .name_match import find_by_name, name_only_reason, whole_name
from .paths import AppPaths
from .query import ParsedQuery, file_passes, parse_query, wanted_folders
from .relevance import CALIBRATED_MODELS, judge
from .scan import display_path
from .snippets import HL_END, HL_START, make_snippet
from .store import CHUNKED, INDEXED, Catalog, ChunkRow, ChunkText, NamedFile, page_at
from .vector_index import VectorIndex

if TYPE_CHECKING:
    from .rerank import Reranker

__all__ = [
    "DEFAULT_TUNING",
    "FUSIONS",
    "LEVELS",
    "MODES",
    "SearchOptions",
    "SearchResult",
    "Searcher",
    "Tuning",
]

MODES = ("hybrid", "dense", "keyword", "rerank")  # rerank = hybrid, then the cross-encoder
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


def exact_similarities(
    cat: Catalog,
    model: str,
    qv: NDArray[np.float32],
    hits: list[tuple[int, float]],
    top: int = EXACT_TOP,
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


@dataclass(frozen=True)
class _Plan:
    """What one query asks of the pipeline."""

    mode: str  # hybrid, dense or keyword (rerank is hybrid with rerank set)
    rerank: bool
    depth: int  # candidates per ranking
    tuning: Tuning

    @property
    def names_searched(self) -> bool:
        """File names rank only where files are fused by score (hybrid)."""
        t = self.tuning
        return self.mode == "hybrid" and t.level == "file" and t.fusion == "score"


@dataclass
class _Candidates:
    """What retrieval found, by chunk id, as the steps narrow it down."""

    info: dict[int, ChunkRow] = field(default_factory=dict)
    dense: list[int] = field(default_factory=list)
    dense_sim: dict[int, float] = field(default_factory=dict)
    keyword: list[int] = field(default_factory=list)
    kw_score: dict[int, float] = field(default_factory=dict)
    exact: set[int] = field(default_factory=set)  # the rare-term rule's passages
    names: dict[int, float] = field(default_factory=dict)  # names' BM25, by file id
    name_rare: set[int] = field(default_factory=set)  # files whose name holds an identifier
    live_names: dict[int, float] | None = None  # names of files that passed the filters

    def file_of(self, cid: int) -> int:
        return self.info[cid].file_id

    def add_word_matches(self, chunk_ids: Iterable[int]) -> None:
        """Passages found by words past the BM25 candidates: a words match, at the bottom."""
        low = min(self.kw_score.values(), default=0.0)
        for c in chunk_ids:
            if c not in self.kw_score:
                self.keyword.append(c)
                self.kw_score[c] = low


class Searcher:
    """The query lane: its own read-only SQLite connections and its own model context, then
    the pipeline (search). Loading (catalog, embedder, vector_index, reranker) comes first."""

    def __init__(
        self,
        paths: AppPaths,
        settings: Settings,
        shared_index: Callable[[], VectorIndex | None] | None = None,
    ) -> None:
        self.paths = paths
        self.settings = settings
        self._shared_index = shared_index
        self._catalog: Catalog | None = None
        self._vector_catalog: Catalog | None = None  # the dense retrieval's own connection
        self._embedder: Embedder | None = None
        self._own_index: VectorIndex | None = None
        self._reranker: Reranker | None = None
        self._stats: KeywordStats | None = None
        self._last_qv: tuple[str, NDArray[np.float32]] | None = None
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

    def counts(self) -> tuple[dict[str, int], int]:
        """(files by state, passages), on this lane's read connection."""
        cat = self.catalog()
        return dict(cat.counts_by_state()), cat.chunk_count()

    def keyword_stats(self) -> KeywordStats:
        if self._stats is None:
            self._stats = KeywordStats(self.catalog().db)
        return self._stats

    # the model searches use is the one the complete index was built with
    def _active_model(self) -> tuple[str, Path, int] | None:
        cat = self.catalog()
        key, path, dims = (
            cat.get_meta("model_key"),
            cat.get_meta("model_path"),
            cat.get_meta("model_dims"),
        )
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
            self._embedder = Embedder(
                path, n_threads=1, n_gpu_layers=self.settings.n_gpu_layers, max_tokens=128
            )
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
        if (
            self._own_index is None
            or self._own_index.base.name != f"vectors-{key}"
            or self._own_index.generation != cat.generation()
        ):
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
            self._reranker = Reranker(
                path,
                n_threads=self.settings.n_threads or 0,
                n_gpu_layers=self.settings.n_gpu_layers,
            )
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
        plan = self._plan(pq, opts)
        self.last_timings = {}
        self._last_qv = None
        found = self._retrieve(pq, plan)
        self.last_timings["retrieval"] = time.perf_counter() - t0
        self._retrieve_names(pq, plan, found)
        self._filter(pq, found)
        ranked = self._fuse(plan, found)
        if plan.rerank and ranked.order:
            t_r = time.perf_counter()
            ranked = self._rerank(pq, ranked, found.info)
            self.last_timings["rerank"] = time.perf_counter() - t_r
        results = self._group(pq, ranked, opts, found.info)
        self._label(
            results,
            plan.mode,
            {found.file_of(c) for c in found.keyword},
            {found.file_of(c) for c in found.exact},
        )
        self.last_timings["total"] = time.perf_counter() - t0
        return results

    def _plan(self, pq: ParsedQuery, opts: SearchOptions) -> _Plan:
        rerank = opts.rerank or opts.mode == "rerank"
        depth = opts.tuning.depth or max(CANDIDATES, 4 * opts.k)
        if pq.kinds or pq.folders or pq.after or pq.before or pq.excluded or pq.phrases:
            depth *= 4  # filters drop candidates after retrieval: fetch more
        if rerank:
            depth = max(depth, self.settings.rerank_top_n)
        mode = "hybrid" if opts.mode == "rerank" else opts.mode
        return _Plan(mode=mode, rerank=rerank, depth=depth, tuning=opts.tuning)

    # retrieve ------------------------------------------------------------------------------
    def _retrieve(self, pq: ParsedQuery, plan: _Plan) -> _Candidates:
        """Meaning and words at once: llama.cpp and SQLite both let go of the GIL, so embedding
        the query (the largest part of a query) runs beside the keyword search."""
        found = _Candidates()
        dense_job: Future[tuple[list[int], dict[int, float]]] | None = None
        if plan.mode in ("hybrid", "dense") and pq.text.strip():
            emb, vi = self.embedder(), self.vector_index()  # on this thread: they read the catalog
            if emb is not None and vi is not None:
                dense_job = self._pool().submit(self._dense, emb, vi, pq.text, plan.depth)
        try:
            if plan.mode in ("hybrid", "keyword"):
                self._retrieve_words(pq, plan, found)
            found.info = self.catalog().chunk_rows(found.keyword)  # while the query embeds
            if dense_job is not None:
                found.dense, found.dense_sim = dense_job.result()
        finally:
            if dense_job is not None:
                wait([dense_job])  # never leave the model busy behind a failed query
        return found

    def _retrieve_words(self, pq: ParsedQuery, plan: _Plan, found: _Candidates) -> None:
        """BM25 candidates, and the rare-term rule's exact matches (hybrid)."""
        t1 = time.perf_counter()
        cat, tuning = self.catalog(), plan.tuning
        found.keyword, found.kw_score = self._keyword(cat, pq, tuning, plan.depth)
        if plan.mode == "hybrid" and tuning.rare_max:
            found.exact = self._rare_hits(cat, pq, tuning.rare_max)
            found.add_word_matches(found.exact)  # past the candidate depth: still words
        self.last_timings["keyword"] = time.perf_counter() - t1

    def _retrieve_names(self, pq: ParsedQuery, plan: _Plan, found: _Candidates) -> None:
        """The dense candidates' rows, then files found by their names (hybrid, by file): each
        is shown from its first passage, which joins the words ranking at the bottom."""
        cat, tuning = self.catalog(), plan.tuning
        found.info.update(cat.chunk_rows([c for c in found.dense if c not in found.info]))
        if plan.names_searched:
            if tuning.name_weight:
                found.names = self._names(cat, pq, plan.depth)
            if tuning.rare_max:
                found.name_rare = self._rare_names(cat, pq, tuning.rare_max)
        if found.names or found.name_rare:
            shown = {r.file_id for r in found.info.values()}
            first = cat.first_chunks(
                [f for f in {*found.names, *found.name_rare} if f not in shown]
            )
            found.info.update(cat.chunk_rows(list(first.values())))
            found.add_word_matches(first.values())

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="query-embed")
        return self._executor

    def _dense(
        self, emb: Embedder, vi: VectorIndex, text: str, depth: int
    ) -> tuple[list[int], dict[int, float]]:
        t = time.perf_counter()
        qv = emb.embed_query(text)
        self._last_qv = (emb.info.key, qv)
        t_e = time.perf_counter()
        # Its own connection: one connection runs one statement at a time, and the keyword
        # search is using the other meanwhile. Opened on the embedding thread, used only there.
        if self._vector_catalog is None:
            self._vector_catalog = Catalog(self.paths.catalog, readonly=True)
        hits = exact_similarities(self._vector_catalog, emb.info.key, qv, vi.search(qv, depth))
        self.last_timings["embed"] = t_e - t
        self.last_timings["dense"] = time.perf_counter() - t_e
        return [c for c, _ in hits], dict(hits)

    def _keyword(
        self, cat: Catalog, pq: ParsedQuery, tuning: Tuning, depth: int
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
                    if rare and (
                        df[t] > tuning.common_share * rows
                        or (tuning.keyword_budget and total + df[t] > tuning.keyword_budget)
                    ):
                        break
                    rare.append(t)  # the rarest always finds, even when all are common
                    total += df[t]
                terms = [t for t in terms if t in rare]
                common = [t for t in pq.terms if t not in terms]
        scores = self._bm25(cat, pq.fts_expression(terms), tuning.title_weight, depth)
        if common:
            scores.update(
                self._bm25(cat, pq.fts_expression(terms, also=common), tuning.title_weight, depth)
            )  # full scores are higher
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
            if (
                stats.total_rows() >= COMMON_MIN_ROWS
                and min(stats.doc_freq(pq.terms).values()) > RARE_WORD_SCAN
            ):
                every = None  # only common words: intersecting their postings costs, finds many
        for expr in dict.fromkeys(e for e in [every, *pq.identifier_expressions()] if e):
            for w in pq.excluded:
                expr += f" NOT {_fts_quote(w)}"
            try:
                rows = cat.matching_chunks(expr, RARE_PASSAGES + 1)
            except sqlite3.OperationalError:
                continue  # an expression FTS5 cannot read finds nothing exactly
            if len(rows) <= RARE_PASSAGES and len({f for _, f in rows}) <= rare_max:
                out.update(c for c, _ in rows)
        return out

    @staticmethod
    def _bm25(cat: Catalog, expr: str | None, title_weight: float, depth: int) -> dict[int, float]:
        if not expr:
            return {}
        try:
            return cat.bm25(expr, title_weight, depth)
        except sqlite3.OperationalError as e:
            raise QueryError(f"cannot search for that: {e}") from e

    @staticmethod
    def _names(cat: Catalog, pq: ParsedQuery, depth: int) -> dict[int, float]:
        """BM25 of file and folder names (names_fts), by file id."""
        expr = pq.fts_expression()
        if not cat.has_names() or not expr:
            return {}
        return cat.names_bm25(expr, depth)

    @staticmethod
    def _rare_names(cat: Catalog, pq: ParsedQuery, rare_max: int) -> set[int]:
        """Files whose name holds one of the query's identifiers, when at most rare_max
        files do. (Every word of the query in a name, as for passages, cost SciFact 0.008
        nDCG@10: its titles are its file names, and most claims' words fit several.)"""
        out: set[int] = set()
        if not cat.has_names():
            return out
        for expr in pq.identifier_expressions():
            files = cat.file_ids_named(expr, rare_max + 1)
            if len(files) <= rare_max:
                out.update(files)
        return out

    # filter --------------------------------------------------------------------------------
    def _filter(self, pq: ParsedQuery, found: _Candidates) -> None:
        """Candidates that pass every filter, before fusion, so ranks count only real hits.
        Noise passages embed near every query: they stay out of the meaning ranking."""
        ok = self._eligible(pq, found.info, set(found.keyword))
        found.dense = [c for c in found.dense if c in ok and not found.info[c].noise]
        found.keyword = [c for c in found.keyword if c in ok]
        found.dense_sim = {c: found.dense_sim[c] for c in found.dense}
        found.kw_score = {c: found.kw_score[c] for c in found.keyword}
        if found.names:
            live = {found.file_of(c) for c in ok}
            found.live_names = {f: v for f, v in found.names.items() if f in live}

    def _eligible(self, pq: ParsedQuery, info: dict[int, ChunkRow], kw_set: set[int]) -> set[int]:
        folders = wanted_folders(pq)
        ok = {cid for cid, row in info.items() if _passes(pq, folders, cid, row, kw_set)}
        cat = self.catalog()
        if ok and pq.phrases:
            ok &= cat.chunks_matching(pq.phrase_expression() or "", ok)
        if ok and pq.excluded:
            # an excluded word anywhere in a file excludes the file
            files = {info[c].file_id for c in ok}
            banned = cat.files_matching(pq.excluded_expression() or "", files)
            ok = {c for c in ok if info[c].file_id not in banned}
        return ok

    # fuse ----------------------------------------------------------------------------------
    @staticmethod
    def _fuse(plan: _Plan, found: _Candidates) -> Ranking:
        """One ranking (fusion.fuse), then the exact rare matches first: in fusion, for a
        cross-encoder asked for has the last word."""
        ranked = fuse(
            plan.mode,
            plan.tuning,
            found.dense,
            found.dense_sim,
            found.keyword,
            found.kw_score,
            found.live_names,
            found.file_of,
        )
        if found.name_rare:
            found.exact |= {c for c in ranked.order if found.file_of(c) in found.name_rare}
        found.exact &= set(ranked.order)
        if found.exact:
            ranked = Ranking(
                *exact_first(
                    ranked.order, ranked.scores, ranked.file_scores, found.exact, found.file_of
                )
            )
        return ranked

    # rerank --------------------------------------------------------------------------------
    def _rerank(self, pq: ParsedQuery, ranked: Ranking, info: dict[int, ChunkRow]) -> Ranking:
        """The first rerank_top_n chunks of the fused order, by the cross-encoder's probability;
        the rest keep their order, scaled below the last reranked one."""
        order, scores, file_scores = ranked.order, ranked.scores, ranked.file_scores
        top, rest = order[: self.settings.rerank_top_n], order[self.settings.rerank_top_n :]
        texts = self.catalog().chunk_texts(top)
        top = [c for c in top if c in texts]  # a passage deleted since it was found
        passages = [(texts[c].embed_hash, embed_input(texts[c].title, texts[c].text)) for c in top]
        query = pq.text.strip() or " ".join(pq.phrases)
        logits = self.reranker().scores(query, passages)
        new: dict[int, float] = {c: sigmoid(v) for c, v in zip(top, logits, strict=True)}
        base = {c: (file_scores[info[c].file_id] if file_scores else scores[c]) for c in rest}
        if base:
            floor = min(new.values())
            high = max(base.values())
            scale = floor / (2 * high) if high > 0 else 0.0
            new.update({c: v * scale for c, v in base.items()})
        return Ranking(sorted(top, key=lambda c: -new[c]) + rest, new)

    # group and snippets --------------------------------------------------------------------
    def _group(
        self, pq: ParsedQuery, ranked: Ranking, opts: SearchOptions, info: dict[int, ChunkRow]
    ) -> list[SearchResult]:
        """The first k files of the ranking, each with its best passages, snippets marked."""
        by_file = _best_passages(ranked.order, info, opts.k, opts.passages_per_file)
        rows = self.catalog().chunk_texts([c for cids in by_file.values() for c in cids])
        marked = self._highlight(pq, {c: t.text for c, t in rows.items()})
        results: list[SearchResult] = []
        for fid, cids in by_file.items():
            passages = [
                _passage(c, ranked.scores.get(c, 0.0), info[c], rows.get(c), marked.get(c))
                for c in cids
            ]
            best, r = passages[0], info[cids[0]]
            results.append(
                SearchResult(
                    path=r.path,
                    title=r.title or "",
                    kind=r.kind or "",
                    score=ranked.file_scores[fid] if ranked.file_scores else best.score,
                    snippet=best.snippet,
                    highlights=best.highlights,
                    page=best.page,
                    chunk_start=best.chunk_start,
                    chunk_end=best.chunk_end,
                    mtime=r.mtime_ns / 1e9,
                    size=r.size,
                    passages=passages,
                )
            )
        return results

    def _highlight(self, pq: ParsedQuery, texts: dict[int, str]) -> dict[int, str]:
        """FTS5's own highlight(): the same tokenizer and stemmer that matched the words."""
        expr = pq.highlight_expression()
        if not expr or not texts:
            return {}
        return self.keyword_stats().highlight(texts, expr, HL_START, HL_END)

    def _label(
        self, results: list[SearchResult], mode: str, word_files: set[int], exact_files: set[int]
    ) -> None:
        """Similarity, match tag, calibrated relevance and good_match of each result shown."""
        if not results:
            return
        cat = self.catalog()
        firsts = [r.passages[0].chunk_id for r in results]
        sims: dict[int, float] = {}
        if self._last_qv is not None:
            model, qv = self._last_qv
            keys, mat = cat.vectors_for_chunks(model, firsts)
            if len(keys):
                sims = {int(k): float(v) for k, v in zip(keys, mat @ qv, strict=True)}
        fids = cat.file_ids_of(firsts)
        calibrated = (
            self._last_qv is not None
            and self._last_qv[0] in CALIBRATED_MODELS
            and mode != "keyword"
        )
        for r in results:
            cid = r.passages[0].chunk_id
            fid = fids.get(cid)
            r.similarity = sims.get(cid)
            r.exact = fid in exact_files
            words = fid in word_files or any(p.highlights for p in r.passages)
            r.match, r.relevance, r.good_match = judge(
                r.similarity, words, r.exact, calibrated=calibrated
            )


def _passes(pq: ParsedQuery, folders: list[str], cid: int, row: ChunkRow, kw_set: set[int]) -> bool:
    """The query's filters on one candidate's row: its state, then the file's."""
    # dense hits must come from fully indexed files, keyword hits from chunked ones too;
    # anything else is a stale id from a change the cache has not caught up with
    if row.state not in (CHUNKED, INDEXED):
        return False
    if row.state != INDEXED and cid not in kw_set:
        return False
    return file_passes(pq, folders, row.path, row.kind, row.mtime_ns)


def _best_passages(
    order: list[int], info: dict[int, ChunkRow], k: int, per_file: int
) -> dict[int, list[int]]:
    """The first k files in order of their best passage, each with its first per_file."""
    by_file: dict[int, list[int]] = {}
    for cid in order:
        fid = info[cid].file_id
        if fid not in by_file:
            if len(by_file) >= k:
                continue
            by_file[fid] = []
        if len(by_file[fid]) < per_file:
            by_file[fid].append(cid)
    return by_file


def _passage(
    cid: int, score: float, r: ChunkRow, text: ChunkText | None, marked: str | None
) -> Passage:
    """A passage shown: its snippet around the matched words, on the page of the first."""
    snip, spans = make_snippet(
        marked if marked is not None else (text.text if text is not None else "")
    )
    # the page of the first matched word (no marks before it to discount)
    hit = marked.find(HL_START) if marked is not None else -1
    page = r.page if hit < 0 or text is None else page_at(r.page, text.page_starts, hit)
    return Passage(cid, score, snip, spans, page, r.char_start, r.char_end)


def _fts_quote(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def named_result(pq: ParsedQuery, f: NamedFile) -> SearchResult:
    """A file found by its name, with no passage to show."""
    stem = Path(display_path(f.path)).stem
    return SearchResult(
        path=f.path,
        title=f.title or stem,
        kind=f.kind or "",
        score=0.0,
        snippet="",
        highlights=[],
        page=None,
        chunk_start=0,
        chunk_end=0,
        mtime=f.mtime_ns / 1e9,
        size=f.size,
        passages=[],
        match="name",
        relevance=None,
        good_match=True,
        exact=whole_name(pq, f.path),
        name_only=name_only_reason(f),
    )


def place_named(
    results: Sequence[SearchResult], named: Sequence[NamedFile], pq: ParsedQuery, k: int
) -> list[SearchResult]:
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
