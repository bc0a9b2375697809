"""A NumPy forward pass of a BERT checkpoint: what a converted GGUF must reproduce.

One place for the reference that ``convert_cross_encoder_gguf.reference_scores`` (rerankers)
and ``tests/integration/test_model_fidelity.py`` (embedders) check llama.cpp against.

It computes in float64 on one unpadded sequence (so no attention mask), with erf GELU and
token type 0 at every position, as llama.cpp feeds a BERT graph. Weight names are a
``BertModel``'s without the ``bert.`` prefix (``embeddings.word_embeddings.weight``, ...);
a cross-encoder adds ``pooler.dense.*`` and ``classifier.*``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

Array = np.ndarray[Any, Any]
Pooling = Literal["mean", "cls", "rank"]


def float64_weights(named: Iterable[tuple[str, Array]]) -> dict[str, Array]:
    """The floating tensors as float64 (integer buffers such as position_ids are dropped)."""
    return {name: a.astype(np.float64) for name, a in named if a.dtype.kind == "f"}


def _layer_norm(x: Array, g: Array, b: Array, eps: float) -> Array:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def _gelu(x: Array) -> Array:
    erf = np.vectorize(math.erf)
    return np.asarray(0.5 * x * (1.0 + erf(x / math.sqrt(2.0))))


def hidden_states(
    f: Mapping[str, Array], ids: Sequence[int], *, n_layer: int, n_head: int, eps: float
) -> Array:
    """Last-layer hidden states, shape (len(ids), hidden), of float64 weights ``f``."""
    n = len(ids)
    x = (
        f["embeddings.word_embeddings.weight"][list(ids)]
        + f["embeddings.position_embeddings.weight"][:n]
        + f["embeddings.token_type_embeddings.weight"][0]
    )
    x = _layer_norm(x, f["embeddings.LayerNorm.weight"], f["embeddings.LayerNorm.bias"], eps)
    h = x.shape[-1]
    hd = h // n_head
    for i in range(n_layer):
        p = f"encoder.layer.{i}."

        def lin(name: str, a: Array, p: str = p) -> Array:
            return a @ f[p + name + ".weight"].T + f[p + name + ".bias"]

        q, k, v = (
            lin(f"attention.self.{part}", x).reshape(n, n_head, hd).transpose(1, 0, 2)
            for part in ("query", "key", "value")
        )
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(1, 0, 2).reshape(n, h)
        x = _layer_norm(
            lin("attention.output.dense", a) + x,
            f[p + "attention.output.LayerNorm.weight"],
            f[p + "attention.output.LayerNorm.bias"],
            eps,
        )
        x = _layer_norm(
            lin("output.dense", _gelu(lin("intermediate.dense", x))) + x,
            f[p + "output.LayerNorm.weight"],
            f[p + "output.LayerNorm.bias"],
            eps,
        )
    return x


def forward(
    f: Mapping[str, Array],
    ids: Sequence[int],
    *,
    n_layer: int,
    n_head: int,
    eps: float,
    pooling: Pooling,
    pooler: bool = True,
) -> Array:
    """The model's output for one sequence.

    ``mean``: sentence-transformers mean of every token's hidden state (an embedding).
    ``cls``: the [CLS] hidden state as it is (sentence-transformers CLS pooling, no pooler).
    ``rank``: BertForSequenceClassification logits, ``classifier(tanh(pooler.dense([CLS])))``;
    ``pooler=False`` puts the classifier straight on [CLS], which is what a converter that
    drops the pooler computes.
    """
    x = hidden_states(f, ids, n_layer=n_layer, n_head=n_head, eps=eps)
    if pooling == "mean":
        return x.mean(0)
    if pooling == "cls":
        return x[0]
    if pooling != "rank":
        raise ValueError(f"unknown pooling {pooling!r}")
    pooled = np.tanh(f["pooler.dense.weight"] @ x[0] + f["pooler.dense.bias"]) if pooler else x[0]
    return f["classifier.weight"] @ pooled + f["classifier.bias"]
