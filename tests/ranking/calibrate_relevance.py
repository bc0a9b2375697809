"""Rebuilds relevance.py's table: the share of results that are relevant, by similarity of the
best passage to the query and by whether query words are in it, over the top 10 hybrid
results of every SciFact training query. Not a test; run by hand on a kept eval home:

    python tests/ranking/calibrate_relevance.py /work/shared/eval/scifact-train /tmp/home-full
"""

from __future__ import annotations

import sys
from pathlib import Path

from desktop_search.evaluation import _literal, index_corpus, load_beir, open_engine
from desktop_search.relevance import SIM_EDGES
from desktop_search.search import SearchOptions


def main(beir: str, home: str) -> None:
    data = load_beir(Path(beir), "train")
    eng = open_engine(Path(home))
    by_path = index_corpus(eng, data, "title", None)  # nothing to index on a kept home
    counts: dict[tuple[bool, int], list[int]] = {}
    exact = [0, 0]
    best_rel: list[tuple[int, bool]] = []  # each query's first result: relevance, relevant
    for qid, text in data.queries.items():
        for i, r in enumerate(eng.search(_literal(text), SearchOptions(k=10))):
            if r.similarity is None:
                continue
            words = r.match != "meaning"
            b = max(i for i, e in enumerate(SIM_EDGES) if r.similarity >= e or i == 0)
            rel = data.qrels.get(qid, {}).get(by_path.get(r.path, ""), 0)
            if i == 0:
                best_rel.append((r.relevance or 0, rel > 0))
            if r.exact:
                exact[0] += rel > 0
                exact[1] += 1
                continue
            c = counts.setdefault((words, b), [0, 0])
            c[0] += rel > 0
            c[1] += 1
    print(f"exact (rare-term rule): {exact[0]} / {exact[1]} relevant")
    for bar in (2, 3, 5, 7, 10, 20):
        low = [ok for v, ok in best_rel if v < bar]
        print(
            f"best result below {bar}: {len(low)} queries of {len(best_rel)},"
            f" {sum(low)} of them relevant"
        )
    for words in (True, False):
        print("with words" if words else "meaning only")
        for b, e in enumerate(SIM_EDGES):
            rel, n = counts.get((words, b), [0, 0])
            share = 100 * rel / n if n else 0.0
            print(f"  sim >= {e:.2f}: {rel:4d} / {n:5d} relevant = {share:5.1f}%")
    eng.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
