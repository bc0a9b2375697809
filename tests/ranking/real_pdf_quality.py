"""Recall@3 and MRR@10 (by document) and page hits@3 of the questions in
tests/data/real_pdf_questions.json over /work/shared/real-pdfs. Not a test: indexing the 59
PDFs (~2,000 pages) takes about 7 minutes on two cores, so index once into a kept home:

    python tests/ranking/real_pdf_quality.py /work/shared/real-pdfs --home /tmp/home-pdfs
    python tests/ranking/real_pdf_quality.py ... --rare-max 0 --name-weight 0   # rules off

Only Engine and SearchOptions are used, so the same script measures older code too.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import fields, replace
from pathlib import Path

from desktop_search.engine import Engine
from desktop_search.search import SearchOptions, Tuning

QUESTIONS = Path(__file__).resolve().parents[1] / "data" / "real_pdf_questions.json"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--home")
    ap.add_argument("--mode", default="hybrid")
    for f in fields(Tuning):
        if f.type in ("int", "float"):
            ap.add_argument("--" + f.name.replace("_", "-"), type=float)
    args = ap.parse_args()
    folder = Path(args.folder).resolve()
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="ds-pdfq-"))
    eng = Engine(home)
    if not any(Path(r.path) == folder for r in eng.roots()):
        eng.add_root(folder)
    eng.index()
    changes = {
        f.name: (int(v) if f.type == "int" else v)
        for f in fields(Tuning)
        if (v := getattr(args, f.name, None)) is not None
    }
    tuning = replace(Tuning(), **changes)
    qs = json.loads(QUESTIONS.read_text())["questions"]
    totals: dict[str, list[float]] = {}
    for q in qs:
        results = eng.search(q["question"], SearchOptions(k=10, mode=args.mode, tuning=tuning))
        want = {str(folder / a["doc"]): set(a["pages"]) for a in q["answers"]}
        ranks = [i for i, r in enumerate(results, 1) if r.path in want]
        page_hit = any(
            p.page in want[r.path] for r in results[:3] if r.path in want for p in r.passages
        )
        row = [
            1.0 if ranks and ranks[0] <= 3 else 0.0,
            1.0 / ranks[0] if ranks else 0.0,
            1.0 if page_hit else 0.0,
        ]
        for key in ("all", q["kind"]):
            t = totals.setdefault(key, [0.0, 0.0, 0.0, 0.0])
            t[0] += row[0]
            t[1] += row[1]
            t[2] += row[2]
            t[3] += 1
        if row[1] < 1:
            print(f"  {q['id']} rank {ranks[0] if ranks else '-'}: {q['question'][:70]}")
    print(f"{'kind':<11}{'n':>4}{'Recall@3':>10}{'MRR@10':>9}{'page@3':>9}")
    for key, (r3, mrr, pg, n) in totals.items():
        print(f"{key:<11}{int(n):>4}{r3 / n:>10.3f}{mrr / n:>9.3f}{pg / n:>9.3f}")
    eng.close()


if __name__ == "__main__":
    main()
