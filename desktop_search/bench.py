"""`desktop-search bench`: how fast this machine embeds, indexes, searches and starts, in one run.

Everything runs in a throwaway home. Steps:
1. embedding: the current model and settings over synthetic ~200-token passages;
2. indexing: a folder end to end (default: 1,000 SciFact abstracts as .txt files when the
   evaluation data is present, else generated text), with the time per stage;
3. queries at N chunks: the real chunks and vectors are copied (text as is, vectors with a little
   noise) until the catalog holds N chunks, keyword rows included; latency per mode, recall@10 of
   the vector index against exact search, index size and the resident memory of a fresh search
   process;
4. cold start: the window launched in a fresh process, to usable and to the first result.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DesktopSearchError

SCIFACT = Path(os.environ.get("DESKTOP_SEARCH_SCIFACT", "/work/shared/eval/scifact-train"))
NOISE = 0.03  # per-dimension noise of the synthetic vectors: cosine ~0.85 to their source
FILE_CHUNKS = 8  # synthetic chunks per synthetic file


# corpus --------------------------------------------------------------------------------------
def make_corpus(dest: Path, files: int, say: Callable[[str], None]) -> str:
    """Writes `files` documents into dest and says what they are."""
    dest.mkdir(parents=True, exist_ok=True)
    corpus = SCIFACT / "corpus.jsonl"
    if corpus.exists():
        n = 0
        with corpus.open(encoding="utf-8") as f:
            for line in f:
                if n >= files:
                    break
                d = json.loads(line)
                (dest / f"{d['_id']}.txt").write_text(
                    f"{d['title']}\n\n{d['text']}\n", encoding="utf-8"
                )
                n += 1
        return f"{n} SciFact abstracts ({corpus})"
    from .hardware import passage

    def words(s: str) -> int:
        return len(s.split()) * 4 // 3  # about 4 tokens per 3 English words

    rng = random.Random(7)
    for i in range(files):
        paras = [
            passage(words, rng.randint(60, 220), i * 100 + j) for j in range(rng.randint(1, 5))
        ]
        (dest / f"doc{i:05d}.txt").write_text("\n\n".join(paras) + "\n", encoding="utf-8")
    say("SciFact not found: generated text instead")
    return f"{files} generated text files"


def sample_queries(n: int, texts: list[str], doc_ids: set[str] | None = None) -> list[str]:
    """SciFact claims, those whose relevant abstract is in the corpus first (a search for
    something that is there: recall against exact search means something only then; for a
    query with no relevant passage every similarity is about equal), else words of the corpus."""
    path = SCIFACT / "queries.jsonl"
    out: list[str] = []
    if path.exists():
        relevant: set[str] = set()
        qrels = SCIFACT / "qrels" / "train.tsv"
        if doc_ids and qrels.exists():
            for line in qrels.read_text(encoding="utf-8").splitlines()[1:]:
                parts = line.split("\t")
                if len(parts) >= 2 and parts[1] in doc_ids:
                    relevant.add(parts[0])
        claims = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        claims.sort(key=lambda d: str(d["_id"]) not in relevant)  # stable: relevant first
        out = [d["text"] for d in claims[:n]]
        if len(out) >= n:
            return out
    rng = random.Random(11)
    while len(out) < n and texts:
        words = [w for w in rng.choice(texts).split() if w.isalpha() and len(w) > 3]
        if len(words) >= 3:
            start = rng.randrange(len(words) - 2)
            out.append(" ".join(words[start : start + 3]))
    return out


# scale ---------------------------------------------------------------------------------------
def _synthetic_vectors(base: np.ndarray, start: int, n: int) -> np.ndarray:
    """Deterministic in (start, n): block i is the same whoever asks for it."""
    rng = np.random.default_rng(start + 1)
    src = base[rng.integers(0, len(base), n)]
    v = src + rng.normal(0.0, NOISE, src.shape).astype(np.float32)
    out: np.ndarray = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    return out


def scale_up(engine: Any, target: int, say: Callable[[str], None]) -> dict[str, float]:
    """Adds synthetic files, chunks (real text, so keyword search sees real term statistics)
    and vectors until the catalog holds `target` chunks; rebuilds and saves the vector index."""
    cat = engine.catalog
    key = engine.embedder().info.key
    rows = cat.embedded_chunks(key)
    if not rows:
        raise DesktopSearchError("nothing was indexed, so there is nothing to scale up")
    base = np.stack([np.frombuffer(r[4], dtype=np.float16).astype(np.float32) for r in rows])
    have = cat.chunk_count()
    need = max(0, target - have)
    t0 = time.perf_counter()
    if need:
        # The real vectors get the same noise as their copies: left exact, each would sit at
        # the centre of hundreds of noisy copies, a shape no real corpus has and one HNSW
        # handles badly (recall@10 0.50 instead of 0.98 measured at 60k), which would make
        # the recall figure describe the synthetic data instead of the index.
        noisy = base + np.random.default_rng(0).normal(0.0, NOISE, base.shape).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        with cat.transaction():
            cat.put_vectors(key, zip((r[0] for r in rows), noisy, strict=True))
    root = cat.add_root("/nonexistent-synthetic-bench-root", [], [])
    block = 20_000
    done = 0
    while done < need:
        n = min(block, need - done)
        _add_synthetic(cat, root.id, key, rows, _synthetic_vectors(base, done, n), done)
        done += n
        say(f"  scaled to {have + done:,} chunks")
    t_rows = time.perf_counter() - t0
    t1 = time.perf_counter()
    vi = engine.vector_index()
    vi.rebuild(cat, key)
    vi.save(cat.generation())
    return {
        "rows_s": t_rows,
        "vector_index_build_s": time.perf_counter() - t1,
        "chunks": float(cat.chunk_count()),
    }


def _add_synthetic(
    cat: Any,
    root_id: int,
    key: str,
    rows: list[tuple[str, str, str, int, bytes]],
    vecs: np.ndarray,
    done: int,
) -> None:
    """One block of synthetic files of FILE_CHUNKS chunks each, in one transaction: the
    text of real chunks in turn, a vector near theirs."""
    from .store import NewChunk

    with cat.transaction():
        for f0 in range(0, len(vecs), FILE_CHUNKS):
            fn = done + f0
            fid = cat.upsert_file(
                root_id,
                f"/nonexistent-synthetic-bench-root/s{fn}.txt",
                1000,
                0,
                "indexed",
                content_hash=f"s{fn}",
                kind="text",
                title=f"synthetic {fn}",
                n_chars=1000,
            )
            chunks = []
            for j in range(f0, min(len(vecs), f0 + FILE_CHUNKS)):
                _h, title, text, ntok, _ = rows[(done + j) % len(rows)]
                chunks.append(
                    NewChunk(
                        ord=j - f0,
                        page=None,
                        char_start=0,
                        char_end=len(text),
                        title=title,
                        text=text,
                        embed_hash=f"synthetic-{done + j}",
                        n_tokens=ntok,
                    )
                )
            cat.replace_chunks(fid, chunks)
            cat.put_vectors(key, [(c.embed_hash, vecs[f0 + c.ord]) for c in chunks])
        cat.bump_generation()


# the query process ---------------------------------------------------------------------------
def _status_kb(field: str) -> int:
    """A field of /proc/self/status in bytes (Linux); 0 where /proc is not there."""
    try:
        status = Path("/proc/self/status").read_text(encoding="utf-8")
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _rss_now() -> int:
    return _status_kb("VmRSS")


def _peak_rss() -> int:
    """VmHWM: this process's own peak. ru_maxrss is the fallback only, because after fork+exec
    it still carries the parent's peak (here: the bench process that built the index)."""
    hwm = _status_kb("VmHWM")
    if hwm:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def query_worker(home: str, queries: list[str], modes: list[str], out_path: str) -> None:
    """Runs in a fresh process: what a search process costs at this size."""
    from .engine import Engine

    t0 = time.perf_counter()
    with Engine(home) as eng:
        s = eng.searcher()
        s.warm_up()
        open_s = time.perf_counter() - t0
        rss_open = _rss_now()
        first, lat, parts = _time_queries(s, queries, modes)
        rss, peak = _rss_now(), _peak_rss()
        # resident pages of mapped files (the vector index view, the model) are the page
        # cache's: clean, shared, and the first the kernel drops when memory runs short
        rss_file, rss_anon = _status_kb("RssFile"), _status_kb("RssAnon")
        recall, recall_raw, viewed = _recall(eng, queries)
    result = {
        "open_s": open_s,
        "latency_ms": {m: _pcts(v) for m, v in lat.items()},
        "first_pass_latency_ms": {m: _pcts(v) for m, v in first.items()},
        # medians of the searcher's own stage timings: where a query's time goes
        "stage_p50_ms": {
            m: {k: 1000 * statistics.median(v) for k, v in d.items()} for m, d in parts.items()
        },
        "rss_after_open_bytes": rss_open,
        "recall_at_10": recall,
        "index_only_recall_at_10": recall_raw,
        "rss_bytes": rss,
        "rss_peak_bytes": peak,
        "rss_file_bytes": rss_file,
        "rss_anon_bytes": rss_anon,
        "vector_index_viewed": viewed,
    }
    Path(out_path).write_text(json.dumps(result), encoding="utf-8")


_Times = dict[str, list[float]]


def _time_queries(
    s: Any, queries: list[str], modes: list[str]
) -> tuple[_Times, _Times, dict[str, _Times]]:
    """(first pass, second pass, the searcher's stage timings of the second) per mode.

    The first pass over every query is timed on its own: the cold side (pages read from disk,
    word counts not yet kept), hybrid first so that its figure is truly cold. The figures
    proper come from the second pass, as when typing refines a query: the pages it needs were
    read moments ago. No mode gets another's warm-up, as when each is timed in turn."""
    from .search import SearchOptions

    first: _Times = {}
    for mode in sorted(modes, key=lambda m: m != "hybrid"):
        for q in queries:
            t = time.perf_counter()
            s.search(q, SearchOptions(k=10, mode=mode))
            first.setdefault(mode, []).append(time.perf_counter() - t)
    lat: _Times = {}
    parts: dict[str, _Times] = {}
    for mode in modes:
        times = []
        for q in queries:
            s.last_timings.clear()
            t = time.perf_counter()
            s.search(q, SearchOptions(k=10, mode=mode))
            times.append(time.perf_counter() - t)
            for k, v in s.last_timings.items():
                parts.setdefault(mode, {}).setdefault(k, []).append(v)
        lat[mode] = times
    return first, lat, parts


def _recall(eng: Any, queries: list[str]) -> tuple[float, float, bool]:
    """Recall@10 against exact search of what searches get (the index's candidates rescored
    with the stored vectors) and of the i8 index's own top 10; whether the index is a view."""
    from .search import CANDIDATES, exact_similarities

    s = eng.searcher()
    vi = s.vector_index()
    emb = s.embedder()
    assert vi is not None and emb is not None
    qv = np.stack([emb.embed_query(q) for q in queries])
    found = [vi.search(v, CANDIDATES) for v in qv]
    ann = [
        [c for c, _ in exact_similarities(eng.catalog, emb.info.key, v, hits)[:10]]
        for v, hits in zip(qv, found, strict=True)
    ]
    raw = [[c for c, _ in hits[:10]] for hits in found]
    # exact inner product over every stored vector, block by block
    best_s = np.full((len(qv), 10), -np.inf, dtype=np.float32)
    best_k = np.zeros((len(qv), 10), dtype=np.int64)
    for keys, mat in eng.catalog.indexed_vectors(emb.info.key, batch=100_000):
        if not len(keys):
            continue
        sims = qv @ mat.T
        allk = np.concatenate([best_k, np.broadcast_to(keys.astype(np.int64), sims.shape)], 1)
        alls = np.concatenate([best_s, sims], 1)
        top = np.argpartition(-alls, 10, axis=1)[:, :10]
        best_s = np.take_along_axis(alls, top, 1)
        best_k = np.take_along_axis(allk, top, 1)

    def recall_of(lists: list[list[int]]) -> float:
        hits = sum(len(set(a) & set(e.tolist())) for a, e in zip(lists, best_k, strict=True))
        return hits / (10 * len(qv)) if len(qv) else 0.0

    return recall_of(ann), recall_of(raw), bool(vi.viewed)


def _llama_version() -> str:
    import llama_cpp

    return str(getattr(llama_cpp, "__version__", "?"))


def _pcts(v: list[float]) -> dict[str, float]:
    s = sorted(v)
    return {
        "p50": 1000 * statistics.median(s),
        "p95": 1000 * s[min(len(s) - 1, round(0.95 * (len(s) - 1)))],
    }


WINDOW_MISSING = 3  # the exit code of gui.cold_start_probe when the window is not installed


class _WindowMissing(Exception):
    """The probe found no window to start (its message says why)."""


def _run_worker(module: str, args: list[str], timeout: float) -> None:
    """Runs `python -m module args...` with Qt offscreen; its last lines are the error."""
    r = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    if r.returncode == WINDOW_MISSING:
        raise _WindowMissing(r.stdout.strip())
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        raise DesktopSearchError(f"benchmark worker failed: {' | '.join(tail)}")


def cold_start(home: str, query: str, work: Path) -> dict[str, Any]:
    """The window's start-up, timed by desktop_search.gui.cold_start_probe in a fresh process."""
    out = work / "cold.json"
    launched = time.time()
    try:
        _run_worker(
            "desktop_search.gui.cold_start_probe",
            [home, repr(launched), query, str(out)],
            timeout=120,
        )
        data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    except _WindowMissing as e:
        return {"skipped": str(e)}
    except (DesktopSearchError, subprocess.TimeoutExpired, OSError, ValueError) as e:
        return {"skipped": f"the window could not be timed: {e}"}
    if "first_result_s" not in data:
        data["note"] = "no result list within 60 s"
    return data


# the whole run -------------------------------------------------------------------------------
def run_bench(
    corpus: Path | None,
    scale: int,
    files: int,
    n_queries: int,
    embed_chunks: int,
    with_cold_start: bool,
    say: Callable[[str], None],
    reranker: str | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    """The steps of the module doc, in a throwaway home (kept with `keep`)."""
    from .config import Settings
    from .engine import Engine

    notes: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="desktop-search-bench-"))
    home = work / "home"
    try:
        load0 = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
        settings = Settings()
        if reranker:
            settings.reranker_path = reranker
        with Engine(home, settings=settings) as eng:
            result = _machine_and_embedding(eng, embed_chunks, load0, notes, say)
            say("indexing ...")
            if corpus is None:
                corpus = work / "corpus"
                described = make_corpus(corpus, files, say)
            else:
                described = str(corpus)
            result["indexing"] = _indexing(eng, corpus, described)
            texts = eng.catalog.sample_texts(2000)
            say(f"scaling to {scale:,} chunks ...")
            built = scale_up(eng, scale, say)
        say("queries ...")
        queries = sample_queries(n_queries, texts, {p.stem for p in corpus.glob("*.txt")})
        result["queries"] = _queries(home, work, queries, built, reranker, notes)
        if with_cold_start:
            say("cold start of the window ...")
            result["cold_start"] = cold_start(str(home), queries[0], work)
        else:
            result["cold_start"] = {"skipped": "not asked for (--no-cold-start)"}
        load1 = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
        result["machine"]["load_avg_end"] = round(load1[0], 2)
        result["notes"] = notes
        return result
    finally:
        if keep:
            say(f"kept the benchmark's home and corpus in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _machine_and_embedding(
    eng: Any,
    embed_chunks: int,
    load0: tuple[float, float, float],
    notes: list[str],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Step 1, with what it ran on: the machine, the model and its embedding speed."""
    from . import hardware

    emb = eng.embedder()
    result: dict[str, Any] = {
        "machine": {
            "cpu": hardware.cpu_model(),
            "cores": list(hardware.cores()),
            "threads": emb.n_threads,
            "llama_cpp_python": _llama_version(),
            "model": emb.info.name,
            "model_file": emb.info.path.name,
            "load_avg_start": round(load0[0], 2),
        },
    }
    if emb.gpu_note:
        notes.append(emb.gpu_note)
    say("embedding speed ...")
    sp = hardware.measure_embedding_speed(emb, n_chunks=embed_chunks, tokens_per_chunk=200)
    result["embedding"] = sp.to_json()
    return result


def _indexing(eng: Any, corpus: Path, described: str) -> dict[str, Any]:
    """Step 2: the corpus indexed end to end, with the time per stage."""
    eng.add_root(corpus)
    rep = eng.index()
    wall = rep.seconds or 1e-9
    return {
        "corpus": described,
        "files": rep.indexed,
        "failed": len(rep.failed),
        "chunks": rep.chunks_embedded,
        "tokens": rep.tokens_embedded,
        "seconds": round(rep.seconds, 3),
        "files_per_s": round(rep.indexed / wall, 2),
        "chunks_per_s": round(rep.chunks_embedded / wall, 2),
        "tokens_per_s": round(rep.tokens_embedded / wall, 1),
        "stage_seconds": {k: round(v, 3) for k, v in rep.timings.items()},
        "stage_share": {k: round(v / wall, 4) for k, v in rep.timings.items()},
    }


def _queries(
    home: Path,
    work: Path,
    queries: list[str],
    built: dict[str, float],
    reranker: str | None,
    notes: list[str],
) -> dict[str, Any]:
    """Step 3: the query process's figures at the scaled size (modes are SearchOptions')."""
    sizes = {
        "catalog_bytes": sum(p.stat().st_size for p in home.glob("catalog*")),
        "vector_index_bytes": sum(p.stat().st_size for p in (home / "index").glob("*.usearch")),
    }
    modes = ["dense", "keyword", "hybrid"]
    if reranker:
        modes.append("rerank")
    else:
        notes.append("rerank not timed: no reranker installed (desktop-search models download ...)")
    qout = work / "query.json"
    args = {"home": str(home), "queries": queries, "modes": modes, "out": str(qout)}
    _run_worker("desktop_search.bench", [json.dumps(args)], timeout=3600)
    q = json.loads(qout.read_text(encoding="utf-8"))

    def ms(key: str) -> dict[str, dict[str, float]]:
        return {m: {k: round(v, 2) for k, v in d.items()} for m, d in q[key].items()}

    return {
        "chunks": int(built["chunks"]),
        "queries": len(queries),
        "latency_ms": ms("latency_ms"),
        "first_pass_latency_ms": ms("first_pass_latency_ms"),
        "stage_p50_ms": ms("stage_p50_ms"),
        "recall_at_10": round(q["recall_at_10"], 4),
        "index_only_recall_at_10": round(q["index_only_recall_at_10"], 4),
        "rss_after_open_bytes": q["rss_after_open_bytes"],
        "rss_bytes": q["rss_bytes"],
        "rss_peak_bytes": q["rss_peak_bytes"],
        "rss_file_bytes": q["rss_file_bytes"],
        "rss_anon_bytes": q["rss_anon_bytes"],
        "open_s": round(q["open_s"], 3),
        "vector_index_viewed": q["vector_index_viewed"],
        "scale_rows_s": round(built["rows_s"], 1),
        "vector_index_build_s": round(built["vector_index_build_s"], 1),
        **sizes,
    }


# presentation --------------------------------------------------------------------------------
def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def render(r: dict[str, Any]) -> str:
    m, e, ix, q, c = r["machine"], r["embedding"], r["indexing"], r["queries"], r["cold_start"]
    rows: list[tuple[str, str, str]] = []

    def row(what: str, value: str, why: str) -> None:
        rows.append((what, value, why))

    row(
        "Embedding speed",
        f"{e['chunks_per_s']:.1f} passages/s ({e['tokens_per_s']:.0f} tokens/s)",
        f"{m['model']} on {e['threads']} threads, passages of ~200 tokens",
    )
    row(
        "Indexing speed",
        f"{ix['files_per_s']:.1f} files/s, {ix['chunks_per_s']:.1f} passages/s",
        f"{ix['corpus']}: {ix['files']} files in {ix['seconds']:.1f} s",
    )
    share = ix["stage_share"]
    row(
        "  time in embedding",
        f"{100 * share.get('embed', 0):.0f} %",
        "running the model: almost all of indexing",
    )
    row(
        "  time in extraction",
        f"{100 * share.get('extract', 0):.1f} %",
        "reading text out of files (a separate thread, overlaps embedding)",
    )
    row(
        "  time in chunking",
        f"{100 * share.get('chunk', 0):.1f} %",
        "cutting text into passages (same thread as extraction)",
    )
    row(
        "  time in storage",
        f"{100 * share.get('store', 0):.1f} %",
        "writing passages, keywords and vectors to disk",
    )
    lat = q["latency_ms"]
    for mode, why in (
        ("hybrid", "meaning + words, what search-as-you-type uses"),
        ("dense", "by meaning only (vector index)"),
        ("keyword", "by words only (SQLite FTS5)"),
        ("rerank", "hybrid, then the cross-encoder reorders the top"),
    ):
        if mode in lat:
            row(
                f"Query time, {mode}",
                f"{lat[mode]['p50']:.1f} ms median, {lat[mode]['p95']:.1f} ms p95",
                f"{why}; at {q['chunks']:,} passages",
            )
    st = q.get("stage_p50_ms", {}).get("hybrid", {})
    if st:
        # meaning and words are looked up at the same time: "both" is the wall time of the two
        rest = max(0.0, st.get("total", 0) - st.get("retrieval", 0))
        cold = q.get("first_pass_latency_ms", {}).get("hybrid")
        if cold:
            row(
                "  hybrid, first pass",
                f"{cold['p50']:.1f} ms median, {cold['p95']:.1f} ms p95",
                "each query new: pages still on disk, word counts unknown; hybrid ran first",
            )
        row(
            "  hybrid, where it goes",
            f"embed query {st.get('embed', 0):.1f} ms + vectors "
            f"{st.get('dense', 0):.1f} | beside it words {st.get('keyword', 0):.1f}; both "
            f"{st.get('retrieval', 0):.1f}, rest {rest:.1f}",
            "medians; rest = fusing, filtering, snippets",
        )
    row(
        "Vector recall@10",
        f"{q['recall_at_10']:.3f}",
        "share of the exact 10 nearest passages searches find (1 = all); the compact index "
        f"alone finds {q['index_only_recall_at_10']:.3f}, its candidates are rescored",
    )
    row(
        "Index size on disk",
        f"{_mb(q['catalog_bytes'] + q['vector_index_bytes'])}",
        f"catalog {_mb(q['catalog_bytes'])} + vector index {_mb(q['vector_index_bytes'])}",
    )
    row(
        "Search process memory",
        f"{_mb(q['rss_bytes'])} (peak {_mb(q['rss_peak_bytes'])})",
        "resident memory of a fresh process after these queries",
    )
    if q.get("rss_file_bytes"):
        row(
            "  of which mapped files",
            _mb(q["rss_file_bytes"]),
            "pages of the vector index and model files: page cache, dropped first when "
            "memory runs short",
        )
        row(
            "  of which its own",
            _mb(q["rss_anon_bytes"]),
            "memory only this process holds (Python, SQLite, the model's buffers)",
        )
    if "skipped" in c:
        row("Window cold start", "-", c["skipped"])
    else:
        row(
            "Window cold start",
            f"{c.get('window_s', float('nan')):.2f} s usable, "
            f"{c.get('first_result_s', float('nan')):.2f} s to first result",
            "from launching a new process (model and index load in the background)",
        )
    w1 = max(len(a) for a, _, _ in rows)
    w2 = max(len(b) for _, b, _ in rows)
    lines = [
        f"desktop-search bench: {m['cpu']}, {m['cores'][0]} cores, model {m['model']}",
        f"machine load (1-min average) {m['load_avg_start']} at start, "
        f"{m.get('load_avg_end', '?')} at end: other programs slow every figure",
        "",
    ]
    lines += [f"{a:<{w1}}  {b:<{w2}}  {why}" for a, b, why in rows]
    lines += [f"note: {n}" for n in r.get("notes", [])]
    return "\n".join(lines)


if __name__ == "__main__":  # the query process of run_bench: python -m desktop_search.bench
    _args = json.loads(sys.argv[1])
    query_worker(_args["home"], _args["queries"], _args["modes"], _args["out"])
