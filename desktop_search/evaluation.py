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

import contextlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
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
    dcg = sum(
        grades.get(d, 0) / math.log2(i + 2)
        for i, d in enumerate(ranked[:k])
        if grades.get(d, 0) > 0
    )
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


def paired_difference(
    run: Run, baseline: Run, qrels: Qrels, metric: str = "ndcg@10"
) -> tuple[float, float]:
    """Mean per-query difference of a metric (run minus baseline) and its standard error
    (standard deviation of the differences / sqrt(n)): the same queries on both sides, so
    the spread between queries cancels and small real changes show."""
    qids = [q for q, g in qrels.items() if any(v > 0 for v in g.values())]
    diffs = [
        per_query([d for d, _ in run.get(q, ())], qrels[q])[metric]
        - per_query([d for d, _ in baseline.get(q, ())], qrels[q])[metric]
        for q in qids
    ]
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
        raise DesktopSearchError(
            f"not a BEIR folder: {path.name} is missing in {path.parent}"
        ) from e


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
    queries = {
        str(q["_id"]): str(q["text"])
        for q in _jsonl(folder / "queries.jsonl")
        if str(q["_id"]) in qrels
    }
    corpus = {
        str(d["_id"]): (str(d.get("title") or ""), str(d.get("text") or ""))
        for d in _jsonl(folder / "corpus.jsonl")
    }
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


def open_engine(
    home: Path,
    chunk_tokens: int | None = None,
    chunk_overlap: int | None = None,
    model_path: str | None = None,
) -> Any:
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
        raise DesktopSearchError(
            f"{len(report.failed)} documents failed to index, e.g. {path}: {reason}"
        )
    return mapping


def run_queries(
    eng: Any,
    data: BeirData,
    mapping: Mapping[str, str],
    options: Any,
    progress: Progress | None = None,
) -> dict[str, list[tuple[str, float]]]:
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
