"""`desktop-search eval` end to end on a small BEIR folder: real files, real model, real index."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from desktop_search.cli import main
from desktop_search.evaluation import read_trec_run

CORPUS = [
    (
        "d1",
        "Kidney stones",
        "Calcium oxalate crystals in urine form kidney stones; drinking water lowers the risk.",
    ),
    (
        "d2",
        "Sourdough bread",
        "A sourdough starter of flour and water ferments for days before the loaf is baked.",
    ),
    (
        "d3",
        "Heart attack",
        "Blocked coronary arteries starve the heart muscle of oxygen during "
        "a myocardial infarction.",
    ),
    ("d4", "Tomato plants", "Water tomato plants deeply twice a week and stake them as they grow."),
    (
        "d5",
        "Vitamin D",
        "Sunlight lets the skin make vitamin D, which the body needs to absorb calcium for bones.",
    ),
    (
        "d6",
        "Brake repair",
        "Worn brake pads and seized caliper pistons make a car pull to one side when stopping.",
    ),
]
QUERIES = [
    ("q1", "what causes kidney stones", {"d1": 1}),
    ("q2", "baking a loaf with a starter", {"d2": 1}),
    ("q3", "myocardial infarction", {"d3": 1}),
    ("q4", "sun exposure and bone health", {"d5": 2, "d1": 1}),
]


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    d = tmp_path / "mini-beir"
    (d / "qrels").mkdir(parents=True)
    (d / "corpus.jsonl").write_text(
        "\n".join(json.dumps({"_id": i, "title": t, "text": x}) for i, t, x in CORPUS)
    )
    (d / "queries.jsonl").write_text(
        "\n".join(json.dumps({"_id": q, "text": t}) for q, t, _ in QUERIES)
    )
    rows = ["query-id\tcorpus-id\tscore"] + [
        f"{q}\t{doc}\t{g}" for q, _, rel in QUERIES for doc, g in rel.items()
    ]
    (d / "qrels" / "dev.tsv").write_text("\n".join(rows) + "\n")
    return d


def _eval(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["eval", *args, "--json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def test_eval_runs_every_mode_and_reuses_a_kept_home(
    beir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "eval-home"
    run_file = tmp_path / "hybrid.run"
    rep = _eval(
        capsys, str(beir), "--split", "dev", "--eval-home", str(home), "--run-out", str(run_file)
    )
    assert rep["queries"] == 4 and rep["documents"] == 6 and rep["mode"] == "hybrid"
    m = rep["metrics"]
    assert set(m) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
    assert m["recall@10"] == 1.0  # six documents: everything relevant is in the top ten
    assert m["mrr@10"] >= 0.75 and 0.75 <= m["ndcg@10"] <= 1.0

    run = read_trec_run(run_file.read_text().splitlines())
    assert set(run) == {"q1", "q2", "q3", "q4"}
    assert run["q1"][0][0] == "d1" and run["q3"][0][0] == "d3"
    for docs in run.values():
        assert len({d for d, _ in docs}) == len(docs) <= 100  # a document once, by best chunk
        scores = [s for _, s in docs]
        assert scores == sorted(scores, reverse=True)
    line = run_file.read_text().splitlines()[0].split()
    assert line[1] == "Q0" and line[3] == "1" and line[5] == "desktop-search-hybrid"

    # the kept home is reused: the corpus is already indexed, nothing is embedded again
    from desktop_search.engine import Engine

    eng = Engine(home)
    try:
        report = eng.index()
        assert report.unchanged == 6 and report.chunks_embedded == 0
        # and the run is exactly what the product's own search returns
        from desktop_search.search import SearchOptions

        res = eng.search("what causes kidney stones", SearchOptions(k=100))
        assert Path(res[0].path).name == "Kidney stones.txt"
        assert len(res) == len(run["q1"])
    finally:
        eng.close()

    # a copied or reused home indexes its corpus and nothing else
    other = tmp_path / "other-root"
    other.mkdir()
    (other / "Kidney stones again.txt").write_text("Kidney stones: what causes kidney stones.")
    eng = Engine(home)
    eng.add_root(other)
    eng.close()
    dense = _eval(capsys, str(beir), "--split", "dev", "--eval-home", str(home), "--mode", "dense")
    eng = Engine(home)
    assert [Path(r.path).name for r in eng.roots()] == ["beir-corpus"]
    eng.close()
    keyword = _eval(
        capsys, str(beir), "--split", "dev", "--eval-home", str(home), "--mode", "keyword"
    )
    assert dense["metrics"]["recall@10"] == 1.0
    assert keyword["metrics"]["mrr@10"] > 0.5  # q2 and q4 share few words with their documents
    assert dense["chunks"] == rep["chunks"]


def test_eval_text_output_limits_and_tuning_flags(
    beir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "eval",
                str(beir),
                "--split",
                "dev",
                "--limit-queries",
                "1",
                "--limit-docs",
                "2",
                "--fusion",
                "score",
                "--level",
                "chunk",
                "--title-weight",
                "2",
                "--file-names",
                "id",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "1 queries, 2 documents" in out
    for label in ("nDCG@10", "Recall@10", "Recall@100", "MRR@10"):
        assert label in out
    assert "1.0000" in out  # one query, its document among two: found first


def test_eval_errors_are_one_line(beir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(beir), "--split", "test"]) == 1
    err = capsys.readouterr().err
    assert "no qrels/test.tsv" in err and "dev" in err and len(err.strip().splitlines()) == 1
    assert main(["eval", str(beir / "nope")]) == 1
    assert "no such folder" in capsys.readouterr().err


def test_eval_rerank_mode_with_the_test_cross_encoder(
    beir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "convert_cross_encoder_gguf"
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().parents[2] / "packaging" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    conv = sys.modules.get(name) or importlib.util.module_from_spec(spec)
    if name not in sys.modules:
        sys.modules[name] = conv
        spec.loader.exec_module(conv)
    conv.make_random_checkpoint(tmp_path / "ck")
    gguf = tmp_path / "tiny-cross.gguf"
    conv.convert(tmp_path / "ck", gguf, "f32")
    rep = _eval(
        capsys,
        str(beir),
        "--split",
        "dev",
        "--mode",
        "rerank",
        "--reranker",
        str(gguf),
        "--rerank-top-n",
        "4",
    )
    assert rep["mode"] == "rerank" and rep["reranker"] == str(gguf)
    # random weights: the order means nothing, but every document is still found
    assert rep["metrics"]["recall@10"] == 1.0
