#!/usr/bin/env python3
"""Convert a Hugging Face BERT cross-encoder (BertForSequenceClassification) into a llama.cpp
reranker GGUF (architecture ``bert``, pooling type ``rank``), keeping the pooler.

llama.cpp's rank pooling on a BERT graph computes, from the [CLS] position h:
``logits = cls.output( tanh( cls(h) ) )``, which is exactly BertForSequenceClassification's
``classifier( tanh( pooler.dense(h) ) )`` (dropout is off at inference). So:

    bert.pooler.dense.{weight,bias}  ->  cls.{weight,bias}
    classifier.{weight,bias}         ->  cls.output.{weight,bias}

llama.cpp's own converter drops the pooler of BERT checkpoints, which silently gives wrong
scores; this one keeps it. Everything else (vocabulary, body tensors, storage types) comes from
packaging/convert_bert_gguf.py, imported, so the two converters cannot drift apart.

Known difference to PyTorch: llama.cpp adds token type 0 to every position, while Hugging Face
gives the document segment token type 1. A real BERT cross-encoder's scores therefore differ
slightly from the reference; XLM-RoBERTa rerankers (bge-reranker-v2-m3) have one token type and
are unaffected. ``reference_scores`` below reproduces llama.cpp's choice (type 0 everywhere) so
a conversion can be checked exactly.

    python packaging/convert_cross_encoder_gguf.py MODEL_DIR OUT.gguf [--outtype f16]
    python packaging/convert_cross_encoder_gguf.py --selftest   # random tiny model, vs NumPy
    python packaging/convert_cross_encoder_gguf.py --make-random DIR   # a plumbing test model
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np


def _sibling(name: str) -> ModuleType:
    """packaging/<name>.py, importable whether or not packaging/ is on sys.path."""
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).with_name(name + ".py")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


cb = _sibling("convert_bert_gguf")
bert_reference = _sibling("bert_reference")
gguf = cb.gguf

HEADS = {
    "pooler.dense.weight": "cls.weight",
    "pooler.dense.bias": "cls.bias",
    "classifier.weight": "cls.output.weight",
    "classifier.bias": "cls.output.bias",
}
ConversionError = cb.ConversionError


@dataclass
class CrossEncoderResult:
    path: Path
    outtype: str
    n_embd: int
    n_labels: int
    labels: list[str]


def _labels(config: dict[str, Any], n_labels: int) -> list[str]:
    id2label = config.get("id2label") or {}
    return [str(id2label.get(str(i), id2label.get(i, f"LABEL_{i}"))) for i in range(n_labels)]


def convert(
    model_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    outtype: str = "f16",
    *,
    name: str | None = None,
    license: str | None = None,
    source_url: str | None = None,
) -> CrossEncoderResult:
    model_dir, out_path = Path(model_dir), Path(out_path)
    if outtype not in cb.OUTTYPES:
        raise ConversionError(f"outtype must be one of {sorted(cb.OUTTYPES)}, not {outtype!r}")
    filetype = cb.OUTTYPES[outtype]
    config = cb.read_config(model_dir)
    n_layer, n_embd = int(config["num_hidden_layers"]), int(config["hidden_size"])
    vocab = cb.read_vocab(model_dir, config.get("vocab_size"))
    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layer)

    tensors: dict[str, tuple[Any, Any]] = {}
    for hf_name, data in cb.iter_checkpoint(model_dir):
        short = cb._normalise_hf_name(hf_name)
        new_name = HEADS.get(short) or cb.gguf_tensor_name(hf_name, name_map)
        if new_name is None:
            continue
        if new_name in tensors:
            raise ConversionError(f"two checkpoint tensors map to {new_name}")
        tensors[new_name] = cb.encode_tensor(data, cb.tensor_qtype(new_name, data.shape, filetype))
    missing = [t for t in HEADS.values() if t not in tensors]
    if missing:
        raise ConversionError(
            f"not a BERT cross-encoder: no {', '.join(missing)} (needs bert.pooler.dense and "
            "classifier from BertForSequenceClassification)"
        )
    n_labels = int(tensors["cls.output.weight"][0].shape[0])
    labels = _labels(config, n_labels)

    # [CLS] query [SEP] document [SEP]: bos + eos around each segment, no extra separator
    cb.write_gguf(
        out_path,
        config,
        vocab,
        tensors,
        filetype,
        name=name or model_dir.name,
        license=license,
        source_url=source_url,
        pooling=gguf.PoolingType.RANK,
        add_tokens=(True, True, False),
        labels=labels,
    )
    return CrossEncoderResult(out_path, outtype, n_embd, n_labels, labels)


# --- the NumPy reference (packaging/bert_reference.py) on a checkpoint folder ---------------


def load_checkpoint(model_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config, {normalised name: float64 array}) of a safetensors checkpoint."""
    config = cb.read_config(model_dir)
    named = ((cb._normalise_hf_name(n), a) for n, a in cb.iter_checkpoint(model_dir))
    return config, bert_reference.float64_weights(named)


def reference_scores(
    model_dir: Path, token_ids: Sequence[Sequence[int]], *, pooler: bool = True
) -> list[list[float]]:
    """BertForSequenceClassification logits for each token sequence, token type 0 throughout
    (as llama.cpp feeds it). pooler=False gives what a converter that drops the pooler
    computes (the classifier straight on [CLS]): the wrong scores this converter avoids."""
    config, f = load_checkpoint(model_dir)
    n_layer, n_head = int(config["num_hidden_layers"]), int(config["num_attention_heads"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    return [
        [
            float(v)
            for v in bert_reference.forward(
                f, ids, n_layer=n_layer, n_head=n_head, eps=eps, pooling="rank", pooler=pooler
            )
        ]
        for ids in token_ids
    ]


# --- a tiny random cross-encoder (plumbing tests, --selftest) ---------------------------------

TINY_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TINY_WORDS = [
    "the",
    "a",
    "of",
    "in",
    "is",
    "and",
    "to",
    "cat",
    "cats",
    "dog",
    "sat",
    "on",
    "mat",
    "kidney",
    "stone",
    "stones",
    "heart",
    "attack",
    "risk",
    "vitamin",
    "d",
    "bone",
    "bones",
    "cancer",
    "cell",
    "cells",
    "protein",
    "gene",
    "what",
    "causes",
    "treatment",
    "disease",
    "patients",
    "study",
    "effect",
    "blood",
    "pressure",
    "sugar",
    "diet",
    ".",
    ",",
    "?",
    "##s",
    "##ing",
    "##ed",
]


def make_random_checkpoint(
    model_dir: Path,
    *,
    seed: int = 0,
    hidden: int = 32,
    layers: int = 2,
    heads: int = 4,
    ff: int = 64,
    n_pos: int = 512,
) -> None:
    """A BertForSequenceClassification checkpoint with random weights and a small vocabulary,
    written with safetensors + NumPy (no torch). Scores mean nothing; the plumbing does."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    vocab = TINY_SPECIAL + TINY_WORDS

    def r(*shape: int, scale: float = 0.2) -> Any:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w: dict[str, Any] = {
        "bert.embeddings.word_embeddings.weight": r(len(vocab), hidden, scale=1.0),
        "bert.embeddings.position_embeddings.weight": r(n_pos, hidden, scale=0.5),
        "bert.embeddings.token_type_embeddings.weight": r(2, hidden, scale=0.5),
        "bert.embeddings.LayerNorm.weight": 1.0 + r(hidden, scale=0.1),
        "bert.embeddings.LayerNorm.bias": r(hidden, scale=0.1),
        "bert.pooler.dense.weight": r(hidden, hidden, scale=0.5),
        "bert.pooler.dense.bias": r(hidden, scale=0.1),
        "classifier.weight": r(1, hidden, scale=1.0),
        "classifier.bias": r(1, scale=0.1),
    }
    for i in range(layers):
        p = f"bert.encoder.layer.{i}."
        for part in ("query", "key", "value"):
            w[p + f"attention.self.{part}.weight"] = r(hidden, hidden)
            w[p + f"attention.self.{part}.bias"] = r(hidden, scale=0.1)
        w[p + "attention.output.dense.weight"] = r(hidden, hidden)
        w[p + "attention.output.dense.bias"] = r(hidden, scale=0.1)
        w[p + "attention.output.LayerNorm.weight"] = 1.0 + r(hidden, scale=0.1)
        w[p + "attention.output.LayerNorm.bias"] = r(hidden, scale=0.1)
        w[p + "intermediate.dense.weight"] = r(ff, hidden)
        w[p + "intermediate.dense.bias"] = r(ff, scale=0.1)
        w[p + "output.dense.weight"] = r(hidden, ff)
        w[p + "output.dense.bias"] = r(hidden, scale=0.1)
        w[p + "output.LayerNorm.weight"] = 1.0 + r(hidden, scale=0.1)
        w[p + "output.LayerNorm.bias"] = r(hidden, scale=0.1)
    model_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["BertForSequenceClassification"],
        "model_type": "bert",
        "hidden_act": "gelu",
        "hidden_size": hidden,
        "intermediate_size": ff,
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "max_position_embeddings": n_pos,
        "type_vocab_size": 2,
        "vocab_size": len(vocab),
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "id2label": {"0": "LABEL_0"},
        "label2id": {"LABEL_0": 0},
    }
    (model_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (model_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (model_dir / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": True, "cls_token": "[CLS]", "sep_token": "[SEP]"}),
        encoding="utf-8",
    )
    save_file(w, str(model_dir / "model.safetensors"), metadata={"format": "pt"})


def selftest(workdir: Path) -> float:
    """Random checkpoint -> GGUF -> llama.cpp rank scores vs the NumPy reference.
    Returns the largest absolute difference."""
    import llama_cpp

    ckpt, out = workdir / "tiny-cross-encoder", workdir / "tiny-cross-encoder.f32.gguf"
    make_random_checkpoint(ckpt)
    convert(ckpt, out, "f32", name="tiny-cross-encoder")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from desktop_search.rerank import Reranker

    rr = Reranker(out, n_threads=1)
    pairs = [
        ("what causes kidney stones?", "diet and blood sugar cause kidney stones."),
        ("heart attack risk", "the cat sat on the mat."),
    ]
    ours = rr.score_pairs(pairs)
    ids = [rr.pair_tokens(q, d) for q, d in pairs]
    ref = [s[0] for s in reference_scores(ckpt, ids)]
    del llama_cpp
    return max(abs(a - b) for a, b in zip(ours, ref, strict=True))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path, nargs="?")
    parser.add_argument("out_path", type=Path, nargs="?")
    parser.add_argument("--outtype", choices=sorted(cb.OUTTYPES), default="f16")
    parser.add_argument("--name", default=None)
    parser.add_argument("--license", default=None)
    parser.add_argument("--source-url", default=None)
    parser.add_argument(
        "--selftest",
        action="store_true",
        help="convert a random tiny cross-encoder and compare with NumPy",
    )
    parser.add_argument(
        "--make-random",
        type=Path,
        metavar="DIR",
        default=None,
        help="write a random tiny cross-encoder checkpoint into DIR (for "
        "plumbing tests; its scores mean nothing)",
    )
    args = parser.parse_args(argv)
    if args.make_random is not None:
        make_random_checkpoint(args.make_random)
        print(f"wrote a random tiny cross-encoder checkpoint to {args.make_random}")
        return 0
    if args.selftest:
        with tempfile.TemporaryDirectory() as d:
            diff = selftest(Path(d))
        print(f"selftest: max |llama.cpp - NumPy| = {diff:.2e}")
        # llama.cpp keeps K/V in F16: about 2e-3 from the float64 reference (test_rerank.py)
        return 0 if diff < 1e-2 else 1
    if args.model_dir is None or args.out_path is None:
        parser.error("MODEL_DIR and OUT_PATH are required (or --selftest)")
    try:
        res = convert(
            args.model_dir,
            args.out_path,
            args.outtype,
            name=args.name,
            license=args.license,
            source_url=args.source_url,
        )
    except ConversionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {res.path} ({res.outtype}, n_embd={res.n_embd}, labels={res.labels}, pooling=rank)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
