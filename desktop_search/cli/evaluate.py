"""`eval BEIR_DIR`: retrieval quality on a BEIR collection, through the same indexing and search
as a person's files (the measuring is in evaluation.py)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import DesktopSearchError
from ..evaluation import (
    METRICS,
    RUN_DEPTH,
    evaluate,
    index_corpus,
    limit,
    load_beir,
    open_engine,
    paired_difference,
    read_trec_run,
    run_queries,
    write_trec_run,
)
from .progress import ProgressBar


def add_eval(sub: Any) -> None:
    from ..search import FUSIONS, LEVELS, MODES

    e = sub.add_parser(
        "eval",
        help="measure retrieval quality on a BEIR collection",
        description="Indexes a BEIR collection (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) "
        "through the same path as your files, runs its queries through the same search, and "
        "prints nDCG@10, Recall@10, Recall@100 and MRR@10. Never touches your own index.",
    )
    e.add_argument("beir_dir", metavar="BEIR_DIR")
    e.add_argument("--split", choices=("test", "train", "dev"), default="test")
    e.add_argument("--mode", choices=MODES, default="hybrid")
    e.add_argument(
        "--run-out",
        metavar="FILE",
        help="write a TREC run file (qid Q0 doc rank score tag), up to 100 documents per query",
    )
    e.add_argument("--json", action="store_true")
    e.add_argument(
        "--limit-docs",
        type=int,
        metavar="N",
        help="index only N documents "
        "(every judged one kept): quicker, and easier than the full collection",
    )
    e.add_argument("--limit-queries", type=int, metavar="N", help="only the first N queries")
    e.add_argument(
        "--eval-home",
        metavar="DIR",
        help="build the evaluation index here and "
        "keep it, so later runs reuse it (default: a temporary home)",
    )
    g = e.add_argument_group("indexing (a change re-chunks and re-embeds a kept home)")
    g.add_argument("--chunk-tokens", type=int, metavar="N")
    g.add_argument("--chunk-overlap", type=int, metavar="N")
    g.add_argument(
        "--file-names",
        choices=("title", "id"),
        default="title",
        help="name each document's file by its title (as people do) or its id",
    )
    t = e.add_argument_group("ranking (defaults: the tuned values in search.Tuning)")
    t.add_argument("--fusion", choices=FUSIONS)
    t.add_argument("--rrf-k", type=int, metavar="K")
    t.add_argument("--dense-weight", type=float, metavar="W")
    t.add_argument("--keyword-weight", type=float, metavar="W")
    t.add_argument("--level", choices=LEVELS, help="fuse file rankings or chunk rankings")
    t.add_argument("--title-weight", type=float, metavar="W", help="BM25 weight of titles")
    t.add_argument("--no-stop-words", action="store_true", help="keep stop words in BM25")
    t.add_argument("--depth", type=int, metavar="N", help="candidates per ranking")
    t.add_argument(
        "--keyword-budget",
        type=int,
        metavar="N",
        help="at most N passages scored to find keyword candidates (0 = no limit)",
    )
    t.add_argument(
        "--common-share",
        type=float,
        metavar="S",
        help="query words in more than "
        "this share of passages only add to scores (1 = every word finds passages)",
    )
    t.add_argument(
        "--rare-max",
        type=int,
        metavar="N",
        help="exact matches of every query "
        "word or an identifier in at most N passages rank first (0 = off)",
    )
    t.add_argument(
        "--name-weight",
        type=float,
        metavar="W",
        help="weight of file and folder names (0 = not searched)",
    )
    t.add_argument(
        "--doc-damping",
        type=float,
        metavar="D",
        help="a file's score adds D times its next passages' (0 = best passage only)",
    )
    e.add_argument(
        "--baseline",
        metavar="RUN",
        help="a run file to compare with: per-query differences with their paired standard error",
    )
    r = e.add_argument_group("reranking (--mode rerank)")
    r.add_argument(
        "--reranker",
        metavar="GGUF",
        help="cross-encoder GGUF (default: the configured or installed one)",
    )
    r.add_argument("--rerank-top-n", type=int, metavar="N")
    e.set_defaults(handler=cmd_eval)


def _tuning_from(args: argparse.Namespace) -> Any:
    from ..search import DEFAULT_TUNING

    changes = {
        name: getattr(args, name)
        for name in (
            "fusion",
            "rrf_k",
            "dense_weight",
            "keyword_weight",
            "level",
            "title_weight",
            "depth",
            "common_share",
            "keyword_budget",
            "rare_max",
            "name_weight",
            "doc_damping",
        )
        if getattr(args, name) is not None
    }
    if args.no_stop_words:
        changes["stop_words"] = False
    return replace(DEFAULT_TUNING, **changes).validate()


def cmd_eval(args: argparse.Namespace) -> int:
    from ..search import SearchOptions

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
        eng = stack.enter_context(
            open_engine(home, args.chunk_tokens, args.chunk_overlap, args.model)
        )
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
        qbar = ProgressBar("queries ", sys.stderr, unit="queries")
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
            "dataset": folder.name,
            "split": args.split,
            "mode": args.mode,
            "queries": len(data.queries),
            "documents": len(data.corpus),
            "chunks": st.chunks,
            "metrics": {k: round(v, 4) for k, v in metrics.items()},
            "model": st.model.get("name"),
            "chunking": {
                "tokens": eng.settings.chunk_tokens,
                "overlap": eng.settings.chunk_overlap,
                "file_names": args.file_names,
            },
            "tuning": {k: getattr(tuning, k) for k in tuning.__dataclass_fields__},
            "reranker": eng.settings.reranker_path if args.mode == "rerank" else None,
            "seconds": {
                "index": round(t_index, 1),
                "queries": round(t_query, 1),
                "per_query_ms": round(1000 * t_query / len(data.queries), 1),
            },
            "run_file": args.run_out,
        }
        if args.baseline:
            with open(Path(args.baseline).expanduser(), encoding="utf-8") as f:
                base = read_trec_run(f)
            report["against_baseline"] = {
                m: dict(
                    zip(
                        ("diff", "se"),
                        (round(x, 4) for x in paired_difference(run, base, data.qrels, m)),
                        strict=True,
                    )
                )
                for m in METRICS
            }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_report(report, args)
    return 0


def _print_report(report: dict[str, Any], args: argparse.Namespace) -> None:
    metrics, secs = report["metrics"], report["seconds"]
    print(
        f"{report['dataset']} ({args.split}): {report['queries']} queries, "
        f"{report['documents']} documents, {report['chunks']} chunks; mode {args.mode}"
    )
    names = {
        "ndcg@10": "nDCG@10",
        "recall@10": "Recall@10",
        "recall@100": "Recall@100",
        "mrr@10": "MRR@10",
    }
    for key, label in names.items():
        print(f"  {label:<11}{metrics[key]:.4f}")
    for key, d in report.get("against_baseline", {}).items():
        print(f"  {names[key]:<11}{d['diff']:+.4f} \u00b1 {d['se']:.4f} against the baseline run")
    print(
        f"indexing {secs['index']:.1f}s, queries {secs['per_query_ms']:.1f} ms each"
        + (f"; run written to {args.run_out}" if args.run_out else "")
    )
