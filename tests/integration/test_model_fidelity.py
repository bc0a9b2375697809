"""The bundled default model is the original all-MiniLM-L6-v2, faithfully converted.

* the bundled GGUF matches its recorded sha256, is a mean-pooled 384-dimension BERT;
* through plain ``llama_cpp.Llama`` it tokenizes exactly as the Hugging Face tokenizer did and
  gives embeddings with cosine >= 0.99 to the PyTorch reference (tests/data, made by
  packaging/make_reference_embeddings.py);
* packaging/convert_bert_gguf.py turns a tiny random BERT checkpoint into a GGUF that
  llama.cpp loads, whose embedding matches a NumPy forward pass of the same weights
  (packaging/bert_reference.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import gguf
import llama_cpp
from tiny_models import packaging_module

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "resources" / "models"
BUNDLED = MODELS_DIR / "all-MiniLM-L6-v2.f16.gguf"
REFERENCE = REPO_ROOT / "tests" / "data" / "minilm_reference_embeddings.json"
PACKAGING = REPO_ROOT / "packaging"

LLAMA_KW: dict[str, Any] = dict(
    embedding=True,
    n_ctx=512,
    n_batch=512,
    n_ubatch=512,
    n_threads=2,
    n_gpu_layers=0,
    flash_attn=True,
    verbose=False,
)


def _load_packaging(name: str) -> ModuleType:
    """packaging/<name>.py (scripts, not a package)."""
    return packaging_module(name)


def _unit(v: Any) -> np.ndarray[Any, Any]:
    a = np.asarray(v, dtype=np.float64)
    return a / np.linalg.norm(a)


def _field(reader: gguf.GGUFReader, key: str) -> Any:
    field = reader.get_field(key)
    assert field is not None, f"GGUF has no {key}"
    return field.contents()


# --------------------------------------------------------------------------------------------
# The bundled model
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled_llama() -> Iterator[llama_cpp.Llama]:
    llm = llama_cpp.Llama(str(BUNDLED), **LLAMA_KW)
    yield llm
    llm.close()


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


def test_bundled_sha256_matches_record() -> None:
    record = BUNDLED.with_name(BUNDLED.name + ".sha256").read_text(encoding="utf-8").split()
    assert record[1] == BUNDLED.name
    h = hashlib.sha256()
    with BUNDLED.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    assert h.hexdigest() == record[0]


def test_bundled_licence_files_present() -> None:
    assert "Apache License" in (MODELS_DIR / "LICENSE").read_text(encoding="utf-8")
    assert "all-MiniLM-L6-v2" in (MODELS_DIR / "NOTICE").read_text(encoding="utf-8")


def test_bundled_metadata() -> None:
    reader = gguf.GGUFReader(BUNDLED)
    assert _field(reader, "general.architecture") == "bert"
    assert _field(reader, "bert.pooling_type") == int(gguf.PoolingType.MEAN)
    assert _field(reader, "bert.embedding_length") == 384
    assert _field(reader, "bert.context_length") == 512
    assert _field(reader, "tokenizer.ggml.model") == "bert"


def test_bundled_loads_as_mean_pooled_384(bundled_llama: llama_cpp.Llama) -> None:
    assert int(bundled_llama.pooling_type()) == llama_cpp.LLAMA_POOLING_TYPE_MEAN
    assert bundled_llama.n_embd() == 384
    # llama.cpp's WordPiece tokenizer wraps the text in [CLS] ... [SEP]
    tokens = bundled_llama.tokenize(b"hello world")
    assert tokens == [101, 7592, 2088, 102]
    # a pooled model returns one vector per input, not one per token
    vec = bundled_llama.embed("hello world")
    assert len(vec) == 384
    assert all(isinstance(x, float) for x in vec)


def test_bundled_matches_reference(
    bundled_llama: llama_cpp.Llama, reference: dict[str, Any]
) -> None:
    assert reference["dimension"] == 384
    assert len(reference["items"]) >= 16
    worst = 1.0
    for item in reference["items"]:
        text = item["text"]
        n_tokens = len(bundled_llama.tokenize(text.encode("utf-8")))
        assert n_tokens == item["n_tokens"], f"tokenization differs for {text[:40]!r}"
        cos = float(_unit(bundled_llama.embed(text)) @ _unit(item["embedding"]))
        assert cos >= 0.99, f"cosine {cos:.5f} for {text[:40]!r}"
        worst = min(worst, cos)
    # F16 conversion is practically lossless (measured min 0.999999)
    assert worst >= 0.999


def test_bundled_ranks_like_the_reference(
    bundled_llama: llama_cpp.Llama, reference: dict[str, Any]
) -> None:
    items = reference["items"]
    ours = np.array([_unit(bundled_llama.embed(it["text"])) for it in items])
    refs = np.array([_unit(it["embedding"]) for it in items])
    # for every text, the most similar other text is the same under both models
    ours_sim = ours @ ours.T
    refs_sim = refs @ refs.T
    np.fill_diagonal(ours_sim, -2.0)
    np.fill_diagonal(refs_sim, -2.0)
    assert list(ours_sim.argmax(axis=1)) == list(refs_sim.argmax(axis=1))


# --------------------------------------------------------------------------------------------
# The converter on a tiny random BERT
# --------------------------------------------------------------------------------------------

TINY_WORDS = ["hello", "world", "the", "cat", "sat", "on", "mat", ".", ",", "##s", "##ing", "a"]
TINY_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TINY_VOCAB = TINY_SPECIAL + TINY_WORDS
H, N_LAYER, N_HEAD, FF, N_POS = 32, 2, 4, 64, 256  # llama.cpp pads n_ctx to 256
LN_EPS = 1e-12


def _tiny_weights(seed: int = 0) -> dict[str, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)

    def r(*shape: int, scale: float = 0.2) -> np.ndarray[Any, Any]:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w: dict[str, np.ndarray[Any, Any]] = {
        "embeddings.word_embeddings.weight": r(len(TINY_VOCAB), H, scale=1.0),
        "embeddings.position_embeddings.weight": r(N_POS, H, scale=0.5),
        "embeddings.token_type_embeddings.weight": r(2, H, scale=0.5),
        "embeddings.LayerNorm.weight": 1.0 + r(H, scale=0.1),
        "embeddings.LayerNorm.bias": r(H, scale=0.1),
        "embeddings.position_ids": np.arange(N_POS, dtype=np.int64)[None, :],
        "pooler.dense.weight": r(H, H),
        "pooler.dense.bias": r(H),
    }
    for i in range(N_LAYER):
        p = f"encoder.layer.{i}."
        for part in ("query", "key", "value"):
            w[p + f"attention.self.{part}.weight"] = r(H, H)
            w[p + f"attention.self.{part}.bias"] = r(H, scale=0.1)
        w[p + "attention.output.dense.weight"] = r(H, H)
        w[p + "attention.output.dense.bias"] = r(H, scale=0.1)
        w[p + "attention.output.LayerNorm.weight"] = 1.0 + r(H, scale=0.1)
        w[p + "attention.output.LayerNorm.bias"] = r(H, scale=0.1)
        w[p + "intermediate.dense.weight"] = r(FF, H)
        w[p + "intermediate.dense.bias"] = r(FF, scale=0.1)
        w[p + "output.dense.weight"] = r(H, FF)
        w[p + "output.dense.bias"] = r(H, scale=0.1)
        w[p + "output.LayerNorm.weight"] = 1.0 + r(H, scale=0.1)
        w[p + "output.LayerNorm.bias"] = r(H, scale=0.1)
    return w


def _write_tiny_checkpoint(model_dir: Path, pooling: str = "mean") -> dict[str, Any]:
    from safetensors.numpy import save_file

    model_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_act": "gelu",
        "hidden_size": H,
        "intermediate_size": FF,
        "num_attention_heads": N_HEAD,
        "num_hidden_layers": N_LAYER,
        "max_position_embeddings": N_POS,
        "type_vocab_size": 2,
        "vocab_size": len(TINY_VOCAB),
        "layer_norm_eps": LN_EPS,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
    }
    (model_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (model_dir / "vocab.txt").write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
    (model_dir / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": True, "cls_token": "[CLS]", "sep_token": "[SEP]"}),
        encoding="utf-8",
    )
    (model_dir / "modules.json").write_text(
        json.dumps(
            [
                {
                    "idx": 0,
                    "name": "0",
                    "path": "",
                    "type": "sentence_transformers.models.Transformer",
                },
                {
                    "idx": 1,
                    "name": "1",
                    "path": "1_Pooling",
                    "type": "sentence_transformers.models.Pooling",
                },
            ]
        ),
        encoding="utf-8",
    )
    (model_dir / "1_Pooling").mkdir(exist_ok=True)
    (model_dir / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": H,
                "pooling_mode_cls_token": pooling == "cls",
                "pooling_mode_mean_tokens": pooling == "mean",
            }
        ),
        encoding="utf-8",
    )
    weights = _tiny_weights()
    save_file(weights, str(model_dir / "model.safetensors"), metadata={"format": "pt"})
    return weights


def _numpy_bert(w: dict[str, np.ndarray[Any, Any]], ids: list[int], pooling: str) -> Any:
    """Reference forward pass of a BertModel + sentence-transformers pooling."""
    ref = _load_packaging("bert_reference")
    return ref.forward(
        ref.float64_weights(w.items()),
        ids,
        n_layer=N_LAYER,
        n_head=N_HEAD,
        eps=LN_EPS,
        pooling=pooling,
    )


def _tiny_llama(path: Path) -> llama_cpp.Llama:
    kw = dict(LLAMA_KW, n_ctx=N_POS, n_batch=N_POS, n_ubatch=N_POS)
    return llama_cpp.Llama(str(path), **kw)


@pytest.mark.parametrize(
    ("outtype", "pooling", "min_cos"),
    [
        ("f32", "mean", 0.9999),
        ("f16", "mean", 0.999),
        ("q8_0", "mean", 0.99),
        ("f32", "cls", 0.9999),
    ],
)
def test_convert_tiny_random_bert(
    tmp_path: Path, outtype: str, pooling: str, min_cos: float
) -> None:
    conv = _load_packaging("convert_bert_gguf")
    weights = _write_tiny_checkpoint(tmp_path / "ckpt", pooling)
    out = tmp_path / f"tiny.{outtype}.gguf"
    result = conv.convert(tmp_path / "ckpt", out, outtype, name="tiny-bert")
    assert out.is_file()
    expected_pooling = gguf.PoolingType.MEAN if pooling == "mean" else gguf.PoolingType.CLS
    assert result.pooling_type == expected_pooling

    reader = gguf.GGUFReader(out)
    assert _field(reader, "bert.pooling_type") == int(expected_pooling)
    types = {t.name: t.tensor_type for t in reader.tensors}
    assert "pooler.dense.weight" not in types and "cls.weight" not in types
    assert types["position_embd.weight"] == gguf.GGMLQuantizationType.F32
    assert types["blk.0.attn_output_norm.weight"] == gguf.GGMLQuantizationType.F32
    assert types["blk.1.ffn_up.bias"] == gguf.GGMLQuantizationType.F32
    assert types["blk.1.ffn_up.weight"].name == outtype.upper()

    llm = _tiny_llama(out)
    try:
        assert llm.n_embd() == H
        tokens = llm.tokenize(b"Hello cats sat, on the mat.")
        ids = {t: i for i, t in enumerate(TINY_VOCAB)}
        assert tokens == [
            ids["[CLS]"], ids["hello"], ids["cat"], ids["##s"], ids["sat"], ids[","],
            ids["on"], ids["the"], ids["mat"], ids["."], ids["[SEP]"],
        ]  # fmt: skip
        vec = llm.embed("Hello cats sat, on the mat.")
    finally:
        llm.close()
    assert len(vec) == H
    assert np.all(np.isfinite(vec))
    expected = _numpy_bert(weights, tokens, pooling)
    cos = float(_unit(vec) @ _unit(expected))
    assert cos >= min_cos, f"cosine to the NumPy forward pass {cos:.6f}"


def test_convert_is_deterministic(tmp_path: Path) -> None:
    conv = _load_packaging("convert_bert_gguf")
    _write_tiny_checkpoint(tmp_path / "ckpt")
    a = conv.convert(tmp_path / "ckpt", tmp_path / "a.gguf", "q8_0").path.read_bytes()
    b = conv.convert(tmp_path / "ckpt", tmp_path / "b.gguf", "q8_0").path.read_bytes()
    assert a == b


def test_convert_rejects_unknown_tensor(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    conv = _load_packaging("convert_bert_gguf")
    weights = _write_tiny_checkpoint(tmp_path / "ckpt")
    weights["encoder.layer.0.mystery.weight"] = np.zeros((H, H), dtype=np.float32)
    save_file(weights, str(tmp_path / "ckpt" / "model.safetensors"))
    with pytest.raises(conv.ConversionError, match="mystery"):
        conv.convert(tmp_path / "ckpt", tmp_path / "x.gguf", "f16")
    assert not (tmp_path / "x.gguf").exists()
    assert not list(tmp_path.glob("x.gguf.*"))
