"""The evaluation metrics against cases computed by hand, the TREC run format and BEIR loading."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest

from desktop_search.errors import DesktopSearchError
from desktop_search.evaluation import (
    BeirData,
    evaluate,
    file_name,
    limit,
    load_beir,
    materialise,
    mrr_at_k,
    ndcg_at_k,
    read_trec_run,
    recall_at_k,
    write_trec_run,
)


def test_ndcg_binary_by_hand() -> None:
    # relevant at ranks 1 and 3, two relevant in all:
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3)
    grades = {"a": 1, "c": 1}
    assert ndcg_at_k(["a", "b", "c"], grades, 10) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["a", "c", "b"], grades, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["b", "d"], grades, 10) == 0.0


def test_ndcg_graded_gain_is_linear_as_trec_eval() -> None:
    # grades 2 and 1; ranked: the 1 first, then the 2.
    # DCG = 1/1 + 2/log2(3); IDCG = 2/1 + 1/log2(3)
    grades = {"x": 2, "y": 1}
    want = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert ndcg_at_k(["y", "x"], grades, 10) == pytest.approx(want)


def test_ndcg_cut_at_k_and_ideal_uses_all_judged() -> None:
    # relevant doc at rank 11 does not count at k=10; three relevant docs judged, one found
    # at rank 2: DCG = 1/log2(3); IDCG = 1 + 1/log2(3) + 1/log2(4)
    grades = {"r1": 1, "r2": 1, "r3": 1}
    ranked = ["n0", "r1"] + [f"n{i}" for i in range(1, 9)] + ["r2"]
    assert len(ranked) == 11
    want = (1 / math.log2(3)) / (1 + 1 / math.log2(3) + 0.5)
    assert ndcg_at_k(ranked, grades, 10) == pytest.approx(want)


def test_zero_grade_judgements_are_not_relevant() -> None:
    grades = {"a": 0, "b": 1}
    assert ndcg_at_k(["a", "b"], grades, 10) == pytest.approx(1 / math.log2(3))
    assert recall_at_k(["a"], grades, 10) == 0.0
    assert mrr_at_k(["a", "b"], grades, 10) == 0.5


def test_recall_and_mrr_by_hand() -> None:
    grades = {"a": 1, "b": 1, "c": 1, "d": 1}
    ranked = ["x", "a", "y", "b"] + [f"z{i}" for i in range(96)] + ["c"]
    assert recall_at_k(ranked, grades, 10) == 0.5
    assert recall_at_k(ranked, grades, 100) == 0.5  # "c" is at rank 101
    assert recall_at_k(ranked, grades, 101) == 0.75
    assert mrr_at_k(ranked, grades, 10) == 0.5
    assert mrr_at_k(["x"] * 10 + ["a"], grades, 10) == 0.0


def test_evaluate_means_over_judged_queries_missing_run_counts_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}  # q3 has nothing relevant
    run = {"q1": [("a", 3.0), ("b", 2.0)], "q3": [("c", 1.0)]}  # q2 returned nothing
    m = evaluate(run, qrels)
    assert m["ndcg@10"] == pytest.approx(0.5)
    assert m["mrr@10"] == pytest.approx(0.5)
    assert m["recall@100"] == pytest.approx(0.5)
    assert set(m) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}


def test_trec_run_round_trip() -> None:
    run = {"7": [("d1", 0.9), ("d2", 0.5)], "8": [("d3", 1.25)]}
    buf = io.StringIO()
    write_trec_run(run, buf, "tag")
    lines = buf.getvalue().splitlines()
    assert lines[0] == "7 Q0 d1 1 0.900000 tag"
    assert lines[1] == "7 Q0 d2 2 0.500000 tag"
    assert lines[2] == "8 Q0 d3 1 1.250000 tag"
    assert read_trec_run(lines) == run


def _beir(tmp_path: Path) -> Path:
    d = tmp_path / "beir"
    (d / "qrels").mkdir(parents=True)
    corpus = [
        {"_id": "10", "title": "Kidney stones", "text": "Diet causes stones."},
        {"_id": "11", "title": "", "text": "No title here."},
        {"_id": "12", "title": "a/b: c?", "text": "Odd title."},
        {"_id": "13", "title": "Kidney stones", "text": "Same title, other text."},
    ]
    (d / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus) + "\n")
    queries = [
        {"_id": "1", "text": "what causes kidney stones"},
        {"_id": "2", "text": "unjudged query"},
        {"_id": "3", "text": "odd"},
    ]
    (d / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries))
    (d / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n1\t10\t1\n1\t13\t1\n3\t12\t2\n"
    )
    return d


def test_load_beir_keeps_judged_queries_only(tmp_path: Path) -> None:
    data = load_beir(_beir(tmp_path), "train")
    assert list(data.queries) == ["1", "3"]
    assert data.qrels == {"1": {"10": 1, "13": 1}, "3": {"12": 2}}
    assert data.corpus["10"] == ("Kidney stones", "Diet causes stones.")
    with pytest.raises(DesktopSearchError, match=r"no qrels/test.tsv .*train"):
        load_beir(_beir(tmp_path / "x"), "test")


def test_limit_keeps_judged_documents(tmp_path: Path) -> None:
    data = load_beir(_beir(tmp_path), "train")
    small = limit(data, max_docs=1, max_queries=1)
    assert list(small.queries) == ["1"]
    assert set(small.corpus) == {"10", "13"}  # both judged ones, even over the limit


def test_materialise_names_files_by_title_and_reuses_them(tmp_path: Path) -> None:
    data = load_beir(_beir(tmp_path), "train")
    folder = tmp_path / "corpus"
    mapping = materialise(data, folder)
    by_doc = {v: Path(k) for k, v in mapping.items()}
    assert by_doc["10"].name == "Kidney stones.txt"
    assert by_doc["13"].name == "Kidney stones.txt" and by_doc["13"] != by_doc["10"]
    assert by_doc["11"].name == "11.txt"  # no title: the id
    assert by_doc["12"].name == "a b c.txt"
    assert by_doc["10"].read_text() == "Kidney stones\n\nDiet causes stones.\n"
    assert by_doc["11"].read_text() == "No title here.\n"
    before = by_doc["10"].stat().st_mtime_ns
    again = materialise(data, folder)
    assert again == mapping
    assert by_doc["10"].stat().st_mtime_ns == before  # same bytes: not rewritten
    fewer = BeirData({"10": data.corpus["10"]}, data.queries, data.qrels)
    materialise(fewer, folder)
    assert sorted(p.name for p in folder.rglob("*.txt")) == ["Kidney stones.txt"]
    assert file_name("42", "Title", "id") == "42.txt"
