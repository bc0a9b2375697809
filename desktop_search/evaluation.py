"""`desktop-search eval BEIR_DIR`: retrieval quality measured through the product's own paths.

The corpus is written out as real .txt files (title line, blank line, text), added as a root and
indexed by Engine.index (extract -> chunk -> embed -> store); every query of the split goes through
Engine.search. A document is scored by its best chunk (the file's score in the results).

Metrics follow BEIR / trec_eval definitions (pure functions below, tested by hand):
- nDCG@k: gain = the judged grade (linear, as trec_eval), discount log2(rank + 1); the ideal
  ranking is built from every judged-relevant document of the query.
- Recall@k: relevant documents in the top k / all relevant documents (grade > 0).
- MRR@k: 1 / rank of the first relevant document in the top k, else 0.
A query with judgements but no results scores 0 on everything (it is not skipped).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from .errors import DesktopSearchError

Qrels = Mapping[str, Mapping[str, int]]  # qid -> docid -> grade
Run = Mapping[str, Sequence[tuple[str, float]]]  # qid -> [(docid, score)] best first

METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
RUN_DEPTH = 100  # documents per query in the run file, as BEIR
CORPUS_DIR = "beir-corpus"
MANIFEST = "manifest.json"


# --- metrics ---------------------------------------------------------------------------------

def ndcg_at_k(ranked: Sequence[str], grades: Mapping[str, int], k: int) -> float:
    dcg = sum(grades.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k])
              if grades.get(d, 0) > 0)
    ideal = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], grades: Mapping[str, int], k: int) -> float:
    relevant = {d for d, g in grades.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], grades: Mapping[str, int], k: int) -> float:
    for i, d in enumerate(ranked[:k]):
        if grades.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def per_query(ranked: Sequence[str], grades: Mapping[str, int]) -> dict[str, float]:
    return {
        "ndcg@10": ndcg_at_k(ranked, grades, 10),
        "recall@10": recall_at_k(ranked, grades, 10),
        "recall@100": recall_at_k(ranked, grades, 100),
        "mrr@10": mrr_at_k(ranked, grades, 10),
    }


def evaluate(run: Run, qrels: Qrels) -> dict[str, float]:
    """Mean of each metric over the queries that have at least one relevant document."""
    qids = [q for q, g in qrels.items() if any(v > 0 for v in g.values())]
    totals = dict.fromkeys(METRICS, 0.0)
    for q in qids:
        ranked = [d for d, _ in run.get(q, ())]
        for name, value in per_query(ranked, qrels[q]).items():
            totals[name] += value
    n = len(qids)
    return {name: (v / n if n else 0.0) for name, v in totals.items()}


def paired_difference(run: Run, baseline: Run, qrels: Qrels, metric: str = "ndcg@10"
                      ) -> tuple[float, float]:
    """Mean per-query difference of a metric (run minus baseline) and its standard error
    (standard deviation of the differences / sqrt(n)): the same queries on both sides, so
    the spread between queries cancels and small real changes show."""
    qids = [q for q, g in qrels.items() if any(v > 0 for v in g.values())]
    diffs = [per_query([d for d, _ in run.get(q, ())], qrels[q])[metric]
             - per_query([d for d, _ in baseline.get(q, ())], qrels[q])[metric] for q in qids]
    n = len(diffs)
    if n < 2:
        return (diffs[0] if diffs else 0.0), 0.0
    mean = sum(diffs) / n
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1)
    return mean, math.sqrt(var / n)


def write_trec_run(run: Run, out: TextIO, tag: str) -> None:
    """`qid Q0 docid rank score tag`, rank from 1, best first, one line per document."""
    for qid, docs in run.items():
        for rank, (docid, score) in enumerate(docs, start=1):
            out.write(f"{qid} Q0 {docid} {rank} {score:.6f} {tag}\n")


def read_trec_run(lines: Iterable[str]) -> dict[str, list[tuple[str, float]]]:
    """A run file back as {qid: [(docid, score)]}, in rank order."""
    rows: dict[str, list[tuple[int, str, float]]] = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 6:
            continue
        qid, _q0, docid, rank, score, _tag = parts
        rows.setdefault(qid, []).append((int(rank), docid, float(score)))
    return {q: [(d, s) for _, d, s in sorted(r)] for q, r in rows.items()}


# --- BEIR data -------------------------------------------------------------------------------

@dataclass
class BeirData:
    corpus: dict[str, tuple[str, str]]  # docid -> (title, text), in file order
    queries: dict[str, str]  # qid -> text, only those judged in the split
    qrels: dict[str, dict[str, int]]


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as e:
                        raise DesktopSearchError(f"{path}:{n}: not JSON ({e.msg})") from e
    except FileNotFoundError as e:
        raise DesktopSearchError(f"not a BEIR folder: {path.name} is missing in {path.parent}") \
            from e


def load_beir(folder: Path, split: str) -> BeirData:
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.exists():
        have = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise DesktopSearchError(
            f"no qrels/{split}.tsv in {folder}" + (f" (it has: {', '.join(have)})" if have else "")
        )
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or (n == 1 and not parts[2].lstrip("-").isdigit()):
                continue  # the header, or a blank line
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    queries = {str(q["_id"]): str(q["text"]) for q in _jsonl(folder / "queries.jsonl")
               if str(q["_id"]) in qrels}
    corpus = {str(d["_id"]): (str(d.get("title") or ""), str(d.get("text") or ""))
              for d in _jsonl(folder / "corpus.jsonl")}
    qrels = {q: g for q, g in qrels.items() if q in queries}
    return BeirData(corpus, queries, qrels)


def limit(data: BeirData, max_docs: int | None, max_queries: int | None) -> BeirData:
    """A smaller, still meaningful collection: the first max_queries queries, every document
    judged for them, then the corpus in file order up to max_docs documents in all."""
    queries = dict(list(data.queries.items())[:max_queries]) if max_queries else data.queries
    qrels = {q: data.qrels[q] for q in queries}
    if not max_docs:
        return BeirData(data.corpus, queries, qrels)
    keep = {d for g in qrels.values() for d in g if d in data.corpus}
    for d in data.corpus:
        if len(keep) >= max_docs:
            break
        keep.add(d)
    corpus = {d: v for d, v in data.corpus.items() if d in keep}
    return BeirData(corpus, queries, qrels)


# --- the corpus as files ---------------------------------------------------------------------

_UNSAFE = re.compile(r"[\x00-\x1f/\\:*?\"<>|]+")


def file_name(docid: str, title: str, names: str) -> str:
    """What a person would call the file: its title (or the document id when asked, or when it
    has none). Leading dots and spaces go (hidden files are not indexed)."""
    base = title if names == "title" and title.strip() else docid
    base = " ".join(_UNSAFE.sub(" ", base).split()).lstrip(".- ")
    return (base[:100].rstrip() or "doc") + ".txt"


def materialise(data: BeirData, folder: Path, names: str = "title") -> dict[str, str]:
    """Writes each document as folder/<n>/<name>.txt (a folder per document keeps equal titles
    apart) and returns {absolute path: docid}. Files already holding the same bytes are left
    alone, so a kept home re-indexes nothing; files of documents no longer wanted go."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted: dict[Path, bytes] = {}
    mapping: dict[str, str] = {}
    for n, (docid, (title, text)) in enumerate(data.corpus.items()):
        path = folder / f"{n:06d}" / file_name(docid, title, names)
        wanted[path] = (f"{title}\n\n{text}\n" if title else f"{text}\n").encode("utf-8")
        mapping[str(path.resolve())] = docid
    for p in sorted(folder.glob("*/*.txt")):
        if p not in wanted:
            p.unlink()
    for p, body in wanted.items():
        with contextlib.suppress(OSError):
            if p.read_bytes() == body:
                continue
        p.parent.mkdir(exist_ok=True)
        for old in p.parent.glob("*.txt"):
            old.unlink()
        p.write_bytes(body)
    for d in folder.iterdir():
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    return mapping


# --- indexing and querying through the engine ------------------------------------------------

Progress = Callable[[int, int], bool]


def open_engine(home: Path, chunk_tokens: int | None = None, chunk_overlap: int | None = None,
                model_path: str | None = None) -> Any:
    """An Engine on the evaluation home; chunk settings given here are saved with it, so a kept
    home re-chunks (and re-embeds only changed chunks) when they change."""
    from .config import load_settings
    from .engine import Engine
    from .paths import AppPaths

    settings = load_settings(AppPaths(home).config)
    if chunk_tokens is not None:
        settings.chunk_tokens = chunk_tokens
    if chunk_overlap is not None:
        settings.chunk_overlap = chunk_overlap
    settings.validate()
    eng = Engine(home, settings=settings, model_path=model_path)
    eng.save_settings()
    return eng


def index_corpus(eng: Any, data: BeirData, names: str, progress: Progress | None) -> dict[str, str]:
    """Files written, root added, Engine.index run. Returns {path: docid}."""
    folder = eng.paths.home / CORPUS_DIR
    mapping = materialise(data, folder, names)
    for root in eng.roots():  # an evaluation home indexes its corpus and nothing else
        if Path(root.path) != folder.resolve():
            eng.remove_root(root.path)
    eng.add_root(folder)
    report = eng.index(progress)
    if report.cancelled:
        raise DesktopSearchError("indexing was cancelled")
    if report.failed:
        path, reason = report.failed[0]
        raise DesktopSearchError(f"{len(report.failed)} documents failed to index, e.g. "
                                 f"{path}: {reason}")
    return mapping


def run_queries(eng: Any, data: BeirData, mapping: Mapping[str, str], options: Any,
                progress: Progress | None = None) -> dict[str, list[tuple[str, float]]]:
    """Every query through Engine.search; a document's score is its best chunk's."""
    run: dict[str, list[tuple[str, float]]] = {}
    total = len(data.queries)
    for i, (qid, text) in enumerate(data.queries.items(), 1):
        docs: list[tuple[str, float]] = []
        for r in eng.search(_literal(text), options):
            docid = mapping.get(r.path)
            if docid is not None:
                docs.append((docid, float(r.score)))
        run[qid] = docs[:RUN_DEPTH]
        if progress is not None and not progress(i, total):
            raise KeyboardInterrupt
    return run


def _literal(text: str) -> str:
    """Benchmark queries are prose: a leading '-' or a 'word:' must not read as an operator,
    and a stray quote must not make a phrase. Same words, no syntax."""
    words = [w.lstrip("-") for w in text.replace('"', " ").split()]
    return " ".join(w.replace(":", " ") if ":" in w else w for w in words if w)


# --- the command -----------------------------------------------------------------------------

def _tuning_from(args: argparse.Namespace) -> Any:
    from .search import DEFAULT_TUNING

    changes = {name: getattr(args, name) for name in (
        "fusion", "rrf_k", "dense_weight", "keyword_weight", "level", "title_weight", "depth",
        "common_share", "keyword_budget", "rare_max", "name_weight", "doc_damping")
        if getattr(args, name) is not None}
    if args.no_stop_words:
        changes["stop_words"] = False
    return replace(DEFAULT_TUNING, **changes).validate()


class _QueryBar:
    """cli.ProgressBar, counting queries instead of files."""

    def __init__(self, stream: TextIO) -> None:
        from .cli import ProgressBar

        class Bar(ProgressBar):
            def line(self, now: float | None = None) -> str:
                return super().line(now).replace(" files ", " queries ", 1)

        self.bar = Bar("queries ", stream)

    def __call__(self, done: int, total: int) -> bool:
        return self.bar(done, total)

    def finish(self) -> None:
        self.bar.finish()


def cmd_eval(args: argparse.Namespace) -> int:
    from .cli import ProgressBar
    from .search import SearchOptions

    folder = Path(args.beir_dir).expanduser()
    if not folder.is_dir():
        raise DesktopSearchError(f"no such folder: {folder}")
    tuning = _tuning_from(args)
    data = limit(load_beir(folder, args.split), args.limit_docs, args.limit_queries)
    if not data.queries:
        raise DesktopSearchError(f"no judged queries in the {args.split} split of {folder}")
    with contextlib.ExitStack() as stack:
        if args.eval_home:
            home = Path(args.eval_home).expanduser()
        else:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ds-eval-")))
        eng = open_engine(home, args.chunk_tokens, args.chunk_overlap, args.model)
        stack.callback(eng.close)
        if args.mode == "rerank" or args.reranker:
            if args.reranker:
                eng.settings.reranker_path = str(Path(args.reranker).expanduser().resolve())
            if args.rerank_top_n:
                eng.settings.rerank_top_n = args.rerank_top_n
        t0 = time.perf_counter()
        bar = ProgressBar("indexing", sys.stderr)
        mapping = index_corpus(eng, data, args.file_names, bar)
        bar.finish()
        t_index = time.perf_counter() - t0
        opts = SearchOptions(k=RUN_DEPTH, mode=args.mode, passages_per_file=1, tuning=tuning)
        qbar = _QueryBar(sys.stderr)
        t1 = time.perf_counter()
        run = run_queries(eng, data, mapping, opts, qbar)
        qbar.finish()
        t_query = time.perf_counter() - t1
        metrics = evaluate(run, data.qrels)
        if args.run_out:
            with open(args.run_out, "w", encoding="utf-8") as f:
                write_trec_run(run, f, f"desktop-search-{args.mode}")
        st = eng.status()
        report: dict[str, Any] = {
            "dataset": folder.name, "split": args.split, "mode": args.mode,
            "queries": len(data.queries), "documents": len(data.corpus), "chunks": st.chunks,
            "metrics": {k: round(v, 4) for k, v in metrics.items()},
            "model": st.model.get("name"),
            "chunking": {"tokens": eng.settings.chunk_tokens,
                         "overlap": eng.settings.chunk_overlap, "file_names": args.file_names},
            "tuning": {k: getattr(tuning, k) for k in tuning.__dataclass_fields__},
            "reranker": eng.settings.reranker_path if args.mode == "rerank" else None,
            "seconds": {"index": round(t_index, 1), "queries": round(t_query, 1),
                        "per_query_ms": round(1000 * t_query / len(data.queries), 1)},
            "run_file": args.run_out,
        }
        if args.baseline:
            with open(Path(args.baseline).expanduser(), encoding="utf-8") as f:
                base = read_trec_run(f)
            report["against_baseline"] = {
                m: dict(zip(("diff", "se"), (round(x, 4) for x in
                                            paired_difference(run, base, data.qrels, m)),
                            strict=True)) for m in METRICS}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['dataset']} ({args.split}): {report['queries']} queries, "
          f"{report['documents']} documents, {report['chunks']} chunks; mode {args.mode}")
    names = {"ndcg@10": "nDCG@10", "recall@10": "Recall@10", "recall@100": "Recall@100",
             "mrr@10": "MRR@10"}
    for key, label in names.items():
        print(f"  {label:<11}{metrics[key]:.4f}")
    for key, d in report.get("against_baseline", {}).items():
        print(f"  {names[key]:<11}{d['diff']:+.4f} \u00b1 {d['se']:.4f} against the baseline run")
    print(f"indexing {t_index:.1f}s, queries {1000 * t_query / len(data.queries):.1f} ms each"
          + (f"; run written to {args.run_out}" if args.run_out else ""))
    return 0


def add_commands(sub: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    from .search import FUSIONS, LEVELS, MODES

    e = sub.add_parser(
        "eval", help="measure retrieval quality on a BEIR collection",
        description="Indexes a BEIR collection (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) "
        "through the same path as your files, runs its queries through the same search, and "
        "prints nDCG@10, Recall@10, Recall@100 and MRR@10. Never touches your own index.")
    e.add_argument("beir_dir", metavar="BEIR_DIR")
    e.add_argument("--split", choices=("test", "train", "dev"), default="test")
    e.add_argument("--mode", choices=MODES, default="hybrid")
    e.add_argument("--run-out", metavar="FILE", help="write a TREC run file (qid Q0 doc rank "
                   "score tag), up to 100 documents per query")
    e.add_argument("--json", action="store_true")
    e.add_argument("--limit-docs", type=int, metavar="N", help="index only N documents "
                   "(every judged one kept): quicker, and easier than the full collection")
    e.add_argument("--limit-queries", type=int, metavar="N", help="only the first N queries")
    e.add_argument("--eval-home", metavar="DIR", help="build the evaluation index here and "
                   "keep it, so later runs reuse it (default: a temporary home)")
    g = e.add_argument_group("indexing (a change re-chunks and re-embeds a kept home)")
    g.add_argument("--chunk-tokens", type=int, metavar="N")
    g.add_argument("--chunk-overlap", type=int, metavar="N")
    g.add_argument("--file-names", choices=("title", "id"), default="title",
                   help="name each document's file by its title (as people do) or its id")
    t = e.add_argument_group("ranking (defaults: the tuned values in search.Tuning)")
    t.add_argument("--fusion", choices=FUSIONS)
    t.add_argument("--rrf-k", type=int, metavar="K")
    t.add_argument("--dense-weight", type=float, metavar="W")
    t.add_argument("--keyword-weight", type=float, metavar="W")
    t.add_argument("--level", choices=LEVELS, help="fuse file rankings or chunk rankings")
    t.add_argument("--title-weight", type=float, metavar="W", help="BM25 weight of titles")
    t.add_argument("--no-stop-words", action="store_true", help="keep stop words in BM25")
    t.add_argument("--depth", type=int, metavar="N", help="candidates per ranking")
    t.add_argument("--keyword-budget", type=int, metavar="N", help="at most N passages scored "
                   "to find keyword candidates (0 = no limit)")
    t.add_argument("--common-share", type=float, metavar="S", help="query words in more than "
                   "this share of passages only add to scores (1 = every word finds passages)")
    t.add_argument("--rare-max", type=int, metavar="N", help="exact matches of every query "
                   "word or an identifier in at most N passages rank first (0 = off)")
    t.add_argument("--name-weight", type=float, metavar="W", help="weight of file and folder "
                   "names (0 = not searched)")
    t.add_argument("--doc-damping", type=float, metavar="D", help="a file's score adds D times "
                   "its next passages' (0 = best passage only)")
    e.add_argument("--baseline", metavar="RUN", help="a run file to compare with: per-query "
                   "differences with their paired standard error")
    r = e.add_argument_group("reranking (--mode rerank)")
    r.add_argument("--reranker", metavar="GGUF", help="cross-encoder GGUF (default: the "
                   "configured or installed one)")
    r.add_argument("--rerank-top-n", type=int, metavar="N")
    return {"eval": cmd_eval}
