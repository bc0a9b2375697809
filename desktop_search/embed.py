"""Embedder over llama_cpp.Llama (GGUF): one sequence per decode, pooled, L2-normalised.

Every setting is explicit. n_ctx = n_batch = n_ubatch and every sequence is truncated to it, so no
input can trip llama.cpp's "sequence longer than n_ubatch" assert, which aborts the process.
One sequence per decode because packing unrelated sequences into one ubatch makes the attention
cost grow with all of them (measured 2-4x slower here).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .errors import ModelError
from .models import KnownModel, check_gguf, known_model_for, model_fingerprint

# llama.cpp's pooling type codes (enum llama_pooling_type)
POOLING_NAMES = {0: "none", 1: "mean", 2: "cls", 3: "last", 4: "rank"}


def default_threads() -> int:
    """Physical cores, roughly: llama.cpp gains nothing from SMT siblings."""
    n = os.cpu_count() or 2
    return max(1, n // 2) if n > 4 else n


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    key: str  # fingerprint: vectors are stored under it
    name: str
    arch: str
    dims: int
    pooling: str
    context: int
    query_prefix: str
    document_prefix: str
    known: KnownModel | None


def _open_llama(
    path: Path, *, n_ctx: int, n_threads: int, n_gpu_layers: int, flash_attn: bool
) -> object:
    import llama_cpp

    try:
        return llama_cpp.Llama(
            model_path=str(path),
            embedding=True,
            n_ctx=n_ctx,
            n_batch=n_ctx,
            n_ubatch=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            n_gpu_layers=n_gpu_layers,
            flash_attn=flash_attn,
            use_mmap=True,
            verbose=False,
        )
    except (ValueError, RuntimeError, OSError) as e:
        raise ModelError(f"llama.cpp could not load {path.name}: {e}") from e


class Embedder:
    """Not thread-safe: each lane (indexing, queries) owns its own instance."""

    def __init__(
        self,
        model_path: Path,
        *,
        n_threads: int = 0,
        n_gpu_layers: int = 0,
        max_tokens: int = 512,
        flash_attn: bool = True,
    ) -> None:
        import llama_cpp

        model_path = Path(model_path).expanduser()
        check_gguf(model_path)
        self.n_threads = n_threads or default_threads()
        self.n_gpu_layers = n_gpu_layers if llama_cpp.llama_supports_gpu_offload() else 0
        # Read the context length first with a cheap vocab-only load, so n_ctx never exceeds
        # what the model was trained for (BERT's position table has exactly that many rows).
        probe = _open_llama(model_path, n_ctx=64, n_threads=1, n_gpu_layers=0, flash_attn=False)
        meta: dict[str, str] = dict(getattr(probe, "metadata", {}) or {})
        arch = meta.get("general.architecture", "")
        train_ctx = int(meta.get(f"{arch}.context_length", "512") or 512)
        del probe
        self.n_ctx = max(32, min(max_tokens, train_ctx))
        self.llm = _open_llama(
            model_path,
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            n_gpu_layers=self.n_gpu_layers,
            flash_attn=flash_attn,
        )
        llm = self.llm
        pooling_code = int(llm.pooling_type())  # type: ignore[attr-defined]
        if pooling_code == 0:
            raise ModelError(
                f"{model_path.name} is not an embedding model: its GGUF declares no pooling "
                "(a chat/LLM model?); choose an embedding GGUF such as nomic-embed-text"
            )
        if pooling_code == 4:
            raise ModelError(f"{model_path.name} is a reranker (rank pooling), not an embedder")
        name = meta.get("general.name", "") or model_path.stem
        known = known_model_for(name) or known_model_for(model_path.name)
        self.info = ModelInfo(
            path=model_path,
            key=model_fingerprint(model_path),
            name=name,
            arch=arch,
            dims=int(llm.n_embd()),  # type: ignore[attr-defined]
            pooling=POOLING_NAMES.get(pooling_code, str(pooling_code)),
            context=train_ctx,
            query_prefix=known.query_prefix if known else "",
            document_prefix=known.document_prefix if known else "",
            known=known,
        )
        # The BERT tokenizer adds [CLS] and [SEP]: two of the n_ctx positions are spoken for.
        self.max_text_tokens = self.n_ctx - 2
        self._lock = threading.Lock()
        self.tokens_embedded = 0

    # tokens -------------------------------------------------------------------------------
    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        toks: list[int] = self.llm.tokenize(  # type: ignore[attr-defined]
            text.encode("utf-8", "replace"), add_bos=special, special=False
        )
        return toks

    def count_tokens(self, text: str) -> int:
        """Tokens of text alone, without [CLS]/[SEP] (what the chunker budgets)."""
        if not text:
            return 0
        return len(self.tokenize(text, special=False))

    # embeddings ---------------------------------------------------------------------------
    def _embed_one(self, text: str) -> NDArray[np.float32]:
        import llama_cpp

        llm = self.llm
        tokens = self.tokenize(text)
        if len(tokens) > self.n_ctx:
            # keep the trailing [SEP]-like token: truncation must not change what the model sees
            # at the end of a sequence more than needed
            tokens = [*tokens[: self.n_ctx - 1], tokens[-1]]
        if not tokens:
            tokens = self.tokenize(" ")
        ctx = llm._ctx  # type: ignore[attr-defined]
        batch = llm._batch  # type: ignore[attr-defined]
        batch.reset()
        batch.add_sequence(tokens, 0, True)
        ctx.kv_cache_clear()
        ctx.decode(batch)
        ptr = llama_cpp.llama_get_embeddings_seq(ctx.ctx, 0)
        if not ptr:
            raise ModelError("llama.cpp returned no pooled embedding for this model")
        vec = np.ctypeslib.as_array(ptr, shape=(self.info.dims,)).astype(np.float32)
        batch.reset()
        self.tokens_embedded += len(tokens)
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else vec

    def embed_documents(
        self,
        texts: Sequence[str],
        progress: Callable[[int, int], bool] | None = None,
    ) -> NDArray[np.float32]:
        """Rows are L2-normalised; the model's document prefix is added here."""
        out = np.zeros((len(texts), self.info.dims), dtype=np.float32)
        with self._lock:
            for i, t in enumerate(texts):
                out[i] = self._embed_one(self.info.document_prefix + t)
                if progress is not None and not progress(i + 1, len(texts)):
                    return out[: i + 1]
        return out

    def embed_query(self, text: str) -> NDArray[np.float32]:
        with self._lock:
            return self._embed_one(self.info.query_prefix + text)


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())
