"""Reranker plumbing on a real llama.cpp cross-encoder GGUF the test builds itself.

No reranker weights can be downloaded here, so a tiny BertForSequenceClassification with random
weights is written with safetensors + NumPy and converted by packaging/
convert_cross_encoder_gguf.py. Its scores mean nothing; what is checked is that llama.cpp's rank
pooling gives exactly the NumPy reference forward pass of the same weights (pooler kept), that
the pair is laid out as [CLS] q [SEP] d [SEP], that scores are cached, and that the search
pipeline orders results by them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tiny_models import packaging_module, tiny_cross_encoder

from desktop_search.errors import ModelError
from desktop_search.fusion import sigmoid
from desktop_search.search import SearchOptions

REPO = Path(__file__).resolve().parents[2]


def _converter() -> ModuleType:
    return packaging_module("convert_cross_encoder_gguf")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    ckpt, out = tiny_cross_encoder(tmp_path_factory.mktemp("cross"))
    return {"ckpt": ckpt, "gguf": out}


@pytest.fixture(scope="module")
def reranker(tiny: dict[str, Path]) -> Any:
    from desktop_search.rerank import Reranker

    return Reranker(tiny["gguf"], n_threads=1)


PAIRS = [
    ("what causes kidney stones?", "diet and blood sugar cause kidney stones."),
    ("heart attack risk", "the cat sat on the mat."),
    ("vitamin d", "bones need vitamin d and the sun."),
    ("cancer cells", "a study of protein in cancer cells and the gene."),
]


def test_gguf_keeps_the_pooler_and_declares_rank_pooling(tiny: dict[str, Path]) -> None:
    import gguf

    reader = gguf.GGUFReader(tiny["gguf"])
    names = {t.name for t in reader.tensors}
    assert {"cls.weight", "cls.bias", "cls.output.weight", "cls.output.bias"} <= names
    field = reader.get_field("bert.pooling_type")
    assert field is not None and field.contents() == int(gguf.PoolingType.RANK)


def test_scores_match_numpy_reference_with_pooler(tiny: dict[str, Path], reranker: Any) -> None:
    conv = _converter()
    ours = reranker.score_pairs(PAIRS)
    ids = [reranker.pair_tokens(q, d) for q, d in PAIRS]
    ref = [s[0] for s in conv.reference_scores(tiny["ckpt"], ids)]
    no_pooler = [s[0] for s in conv.reference_scores(tiny["ckpt"], ids, pooler=False)]
    # llama.cpp keeps K/V in F16: agreement to ~1e-3 (measured 2e-3 at most)
    assert ours == pytest.approx(ref, abs=1e-2)
    # ... which would not hold had the pooler been dropped (what llama.cpp's converter does)
    assert max(abs(a - b) for a, b in zip(ours, no_pooler, strict=True)) > 0.1
    # and the order of the pairs is the reference's order
    assert sorted(range(4), key=lambda i: ours[i]) == sorted(range(4), key=lambda i: ref[i])


def test_pair_layout_is_cls_query_sep_document_sep(reranker: Any) -> None:
    conv = _converter()
    vocab = {t: i for i, t in enumerate(conv.TINY_SPECIAL + conv.TINY_WORDS)}
    toks = reranker.pair_tokens("kidney stones", "the cat sat")
    assert toks == [
        vocab["[CLS]"],
        vocab["kidney"],
        vocab["stones"],
        vocab["[SEP]"],
        vocab["the"],
        vocab["cat"],
        vocab["sat"],
        vocab["[SEP]"],
    ]


def test_long_inputs_are_truncated_to_the_context(reranker: Any) -> None:
    long_doc = "the cat sat on the mat . " * 400  # far over 512 tokens
    long_query = "kidney stones " * 300
    toks = reranker.pair_tokens(long_query, long_doc)
    conv = _converter()
    vocab = {t: i for i, t in enumerate(conv.TINY_SPECIAL + conv.TINY_WORDS)}
    assert len(toks) == reranker.n_ctx
    assert toks[0] == vocab["[CLS]"] and toks[-1] == vocab["[SEP]"]
    assert toks.count(vocab["[SEP]"]) == 2  # the document was cut, not the closing [SEP]
    # the query keeps at most a quarter of the room; the document gets the rest
    assert toks.index(vocab["[SEP]"]) - 1 == (reranker.n_ctx - 3) // 4
    [score] = reranker.score_pairs([(long_query, long_doc)])  # no llama.cpp abort
    assert score == score  # not NaN


def test_scores_are_cached_per_query_and_passage(reranker: Any) -> None:
    passages = [("h1", PAIRS[0][1]), ("h2", PAIRS[1][1])]
    before = reranker.pairs_scored
    first = reranker.scores("kidney stones", passages)
    assert reranker.pairs_scored == before + 2
    again = reranker.scores("kidney stones", passages)
    assert again == first and reranker.pairs_scored == before + 2
    reranker.scores("heart attack", passages[:1])  # another query: scored anew
    assert reranker.pairs_scored == before + 3
    assert first == pytest.approx(reranker.score_pairs([("kidney stones", p) for _, p in passages]))


def test_models_of_the_wrong_kind_are_refused(tiny: dict[str, Path], model_path: Path) -> None:
    from desktop_search.embed import Embedder
    from desktop_search.rerank import Reranker

    with pytest.raises(ModelError, match="not a reranker"):
        Reranker(model_path, n_threads=1)
    with pytest.raises(ModelError, match="is a reranker"):
        Embedder(tiny["gguf"], n_threads=1)


DOCS = {
    "stones.txt": "Kidney stones form when urine holds too much calcium oxalate. Diet and "
    "blood sugar change the risk of kidney stones.",
    "heart.txt": "A heart attack happens when blood flow to the heart muscle is blocked. Blood "
    "pressure is a risk factor.",
    "bones.txt": "Vitamin D helps the body absorb calcium, which keeps bones strong.",
    "cells.txt": "Cancer cells divide without control because of changes in a gene or protein.",
    "cats.txt": "The cat sat on the mat and watched the dog in the garden all afternoon.",
}


@pytest.fixture
def indexed(engine: Any, docs: Path) -> Any:
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    engine.add_root(docs)
    engine.index()
    return engine


def test_search_rerank_orders_by_the_cross_encoder(
    indexed: Any, tiny: dict[str, Path], reranker: Any
) -> None:
    from desktop_search.chunking import embed_input

    indexed.settings.reranker_path = str(tiny["gguf"])
    indexed.settings.rerank_top_n = 30
    query = "kidney stones risk"
    plain = indexed.search(query, SearchOptions(k=5))
    ranked = indexed.search(query, SearchOptions(k=5, mode="rerank"))
    assert sorted(r.path for r in ranked) == sorted(r.path for r in plain)
    # every file here has one chunk, all in the top N: the order is the reranker's
    want = {}
    for r in ranked:
        title = Path(r.path).stem
        text = DOCS[Path(r.path).name]
        [logit] = reranker.score_pairs([(query, embed_input(title, text))])
        want[r.path] = sigmoid(logit)
    assert [r.path for r in ranked] == sorted(want, key=lambda p: -want[p])
    assert [r.score for r in ranked] == pytest.approx([want[r.path] for r in ranked], abs=1e-2)
    # the flag form on another mode gives the same as mode "rerank" on hybrid
    flagged = indexed.search(query, SearchOptions(k=5, rerank=True))
    assert [r.path for r in flagged] == [r.path for r in ranked]
    assert "rerank" in indexed.searcher().last_timings


def test_rerank_beyond_top_n_keeps_order_below(indexed: Any, tiny: dict[str, Path]) -> None:
    indexed.settings.reranker_path = str(tiny["gguf"])
    indexed.settings.rerank_top_n = 2
    res = indexed.search("blood risk of stones and cells", SearchOptions(k=5, mode="rerank"))
    scores = [r.score for r in res]
    assert scores == sorted(scores, reverse=True)  # one consistent order for a run file
    assert scores[1] > 2 * scores[2] * 0.999  # the unreranked tail sits below the reranked


def test_no_reranker_is_one_clear_error(indexed: Any) -> None:
    indexed.settings.reranker_path = ""
    with pytest.raises(ModelError, match="no reranker model"):
        indexed.search("kidney", SearchOptions(mode="rerank"))


def test_cli_search_rerank_finds_the_installed_reranker(
    indexed: Any, tiny: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop_search.cli import main

    home = indexed.paths.home
    indexed.close()
    assert main(["--home", str(home), "search", "kidney", "--rerank", "--json"]) == 1
    assert "no reranker model" in capsys.readouterr().err
    # a reranker in the home's models/ folder named as a catalog reranker is picked up
    shutil.copy(tiny["gguf"], home / "models" / "ms-marco-MiniLM-L-6-v2.f32.gguf")
    assert main(["--home", str(home), "search", "kidney stones", "--rerank", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out and all(0.0 < r["score"] < 1.0 for r in out)
    assert (
        main(
            [
                "--home",
                str(home),
                "search",
                "kidney",
                "--reranker",
                str(home / "nope.gguf"),
                "--rerank",
            ]
        )
        == 1
    )
    assert "model file not found" in capsys.readouterr().err


def test_converter_refuses_a_checkpoint_without_a_head(tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    conv = _converter()
    conv.make_random_checkpoint(tmp_path / "ck")
    weights = load_file(str(tmp_path / "ck" / "model.safetensors"))
    del weights["classifier.weight"], weights["classifier.bias"]
    save_file(weights, str(tmp_path / "ck" / "model.safetensors"))
    with pytest.raises(conv.ConversionError, match="not a BERT cross-encoder"):
        conv.convert(tmp_path / "ck", tmp_path / "x.gguf", "f16")
    assert not list(tmp_path.glob("x.gguf*"))
