"""Reranker over llama.cpp's rank pooling: a GGUF cross-encoder reads the query and a passage
together and gives one relevance score (a logit; higher is more relevant).

Traps this module avoids (measured):
- llama-cpp-python's `embed()` copies n_embd floats per sequence, but rank pooling yields
  n_cls_out values: read them with the low-level `llama_get_embeddings_seq`.
- The pair must be laid out as llama.cpp's own server does (`format_rerank`): [BOS] query [EOS]
  [SEP] document [EOS], each special only where the vocabulary asks for it. For BERT that is
  [CLS] q [SEP] d [SEP]; for XLM-RoBERTa (bge-reranker-v2-m3) <s> q </s></s> d </s>.
- n_ctx = n_batch = n_ubatch and every pair is truncated to fit (the document side first), so
  no input can reach llama.cpp's "sequence longer than n_ubatch" abort.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .embed import open_llama
from .errors import ModelError
from .models import KnownModel, check_gguf, known_model_for, model_fingerprint

RANK_POOLING = 4  # enum llama_pooling_type: LLAMA_POOLING_TYPE_RANK
QUERY_MAX_FRACTION = 4  # a query may take at most 1/4 of the context; the passage the rest


@dataclass(frozen=True)
class RerankerInfo:
    path: Path
    key: str
    name: str
    context: int
    n_outputs: int
    known: KnownModel | None


def _default_threads() -> int:
    from .embed import default_threads

    return default_threads()


class Reranker:
    """Not thread-safe across lanes: the query lane owns one. Scores are cached per
    (query, passage key), so paging through results or re-running a query costs nothing."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        n_threads: int = 0,
        n_gpu_layers: int = 0,
        max_tokens: int = 512,
        cache_size: int = 20_000,
    ) -> None:
        import llama_cpp

        path = Path(model_path).expanduser()
        check_gguf(path)
        threads = n_threads or _default_threads()
        gpu = n_gpu_layers if llama_cpp.llama_supports_gpu_offload() else 0
        probe = open_llama(path, n_ctx=64, n_threads=1, n_gpu_layers=0)
        meta: dict[str, str] = dict(getattr(probe, "metadata", {}) or {})
        arch = meta.get("general.architecture", "")
        train_ctx = int(meta.get(f"{arch}.context_length", "512") or 512)
        del probe
        self.n_ctx = max(64, min(max_tokens, train_ctx))
        self.llm: Any = open_llama(path, n_ctx=self.n_ctx, n_threads=threads, n_gpu_layers=gpu)
        pooling = int(self.llm.pooling_type())
        if pooling != RANK_POOLING:
            raise ModelError(
                f"{path.name} is not a reranker: its GGUF declares pooling {pooling}, not rank "
                "(convert cross-encoders with packaging/convert_cross_encoder_gguf.py)"
            )
        model = self.llm._model  # low-level handles: vocab flags and classifier width
        self._vocab = model.vocab
        n_out = int(llama_cpp.llama_model_n_cls_out(model.model))
        name = meta.get("general.name", "") or path.stem
        self.info = RerankerInfo(
            path=path,
            key=model_fingerprint(path),
            name=name,
            context=train_ctx,
            n_outputs=max(1, n_out),
            known=known_model_for(name) or known_model_for(path.name),
        )
        self._specials = self._special_layout()
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, Hashable], float] = OrderedDict()
        self._cache_size = cache_size
        self.pairs_scored = 0

    # the input layout ----------------------------------------------------------------------
    def _special_layout(self) -> tuple[list[int], list[int], list[int]]:
        """(before query, between, after document) tokens, as llama.cpp's format_rerank."""
        import llama_cpp

        v = self._vocab
        null = -1
        eos = int(llama_cpp.llama_vocab_eos(v))
        if eos == null:
            eos = int(llama_cpp.llama_vocab_sep(v))
        bos, sep = int(llama_cpp.llama_vocab_bos(v)), int(llama_cpp.llama_vocab_sep(v))
        add_bos = bool(llama_cpp.llama_vocab_get_add_bos(v)) and bos != null
        add_eos = bool(llama_cpp.llama_vocab_get_add_eos(v)) and eos != null
        add_sep = bool(llama_cpp.llama_vocab_get_add_sep(v)) and sep != null
        head = [bos] if add_bos else []
        mid = ([eos] if add_eos else []) + ([sep] if add_sep else [])
        tail = [eos] if add_eos else []
        return head, mid, tail

    def _tokens(self, text: str) -> list[int]:
        toks: list[int] = self.llm.tokenize(
            text.encode("utf-8", "replace"), add_bos=False, special=False
        )
        return toks

    def pair_tokens(self, query: str, document: str) -> list[int]:
        head, mid, tail = self._specials
        room = self.n_ctx - len(head) - len(mid) - len(tail)
        q = self._tokens(query)[: max(1, room // QUERY_MAX_FRACTION)]
        d = self._tokens(document)[: max(0, room - len(q))]
        return [*head, *q, *mid, *d, *tail]

    # scoring -------------------------------------------------------------------------------
    def _score_tokens(self, tokens: list[int]) -> float:
        import llama_cpp

        llm = self.llm
        ctx = llm._ctx
        batch = llm._batch
        batch.reset()
        batch.add_sequence(tokens, 0, True)
        ctx.kv_cache_clear()
        ctx.decode(batch)
        ptr = llama_cpp.llama_get_embeddings_seq(ctx.ctx, 0)
        if not ptr:
            raise ModelError("llama.cpp returned no rank score for this model")
        # llama-server reports the first classifier output as the score; so do we
        out = np.ctypeslib.as_array(ptr, shape=(self.info.n_outputs,))
        batch.reset()
        self.pairs_scored += 1
        return float(out[0])

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Raw scores, higher = more relevant; no cache."""
        with self._lock:
            return [self._score_tokens(self.pair_tokens(q, d)) for q, d in pairs]

    def scores(self, query: str, passages: Sequence[tuple[Hashable, str]]) -> list[float]:
        """Scores for (key, text) passages, cached per (query, key): the key must change when
        the passage text does (an embed hash does)."""
        out: list[float] = []
        with self._lock:
            for key, text in passages:
                ck = (query, key)
                hit = self._cache.get(ck)
                if hit is None:
                    hit = self._score_tokens(self.pair_tokens(query, text))
                    self._cache[ck] = hit
                    if len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
                else:
                    self._cache.move_to_end(ck)
                out.append(hit)
        return out

    def close(self) -> None:
        with self._lock:
            close = getattr(self.llm, "close", None)
            if close is not None:
                close()
