"""Embedder over llama_cpp.Llama (GGUF): one sequence per decode, pooled, L2-normalised.

Every setting is explicit. n_ctx = n_batch = n_ubatch and every sequence is truncated to it, so no
input can trip llama.cpp's "sequence longer than n_ubatch" assert, which aborts the process.
One sequence per decode because packing unrelated sequences into one ubatch makes the attention
cost grow with all of them (measured 2-4x slower here).

Optionally (lanes > 1: the parameter's name; in this module they are called contexts) batches
run data-parallel: one llama.cpp context each, with its own share of the threads, all on the
same mmapped weights, so no decode waits on another's barriers. Indexing asks for one context
per thread (Engine.embedder): on an idle 2-core machine 17 % more passages/s than llama.cpp's
own per-op thread split (docs/performance.md). The class default stays one context: a query
embeds one text, where contexts have nothing to share. ("Lane" elsewhere means a thread of
serial work: the writer lane and the query lane.)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ModelError
from .models import KnownModel, check_gguf, known_model_for, model_fingerprint
from .paths import make_private_dir

# llama.cpp's pooling type codes (enum llama_pooling_type)
POOLING_NAMES = {0: "none", 1: "mean", 2: "cls", 3: "last", 4: "rank"}
GGUF_MOSTLY_F16 = "1"  # general.file_type of a model stored in F16
F32_COPY_MAX_BYTES = 400 << 20  # larger F16 models run as they are (the copy doubles them)


def f32_copy(model_path: Path, key: str, folder: Path) -> Path | None:
    """A lossless F32 copy of an F16 model, made once by llama.cpp's own converter (0.6 s for
    the bundled model) and kept in `folder`. On the CPU, ggml's F16 matrix products convert
    every weight as they load it; from F32 weights indexing runs 11-27 % faster here (300
    files, alternating runs) with the same vectors (cosine 0.9999999). None when
    the copy cannot be made (no space, a read-only cache): the F16 file is used then."""
    import llama_cpp

    dst = folder / f"{model_path.stem}-{key}.f32.gguf"
    if dst.is_file():
        return dst
    tmp = dst.with_name(f"{dst.name}.{os.getpid()}.tmp")
    try:
        make_private_dir(folder)  # the user's alone, like the home
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = llama_cpp.LLAMA_FTYPE_ALL_F32
        rc = llama_cpp.llama_model_quantize(
            str(model_path).encode(), str(tmp).encode(), ctypes.byref(params)
        )
        if rc != 0 or not tmp.is_file():
            return None
        tmp.chmod(0o600)
        os.replace(tmp, dst)  # whole or absent, also when two processes race
        return dst
    except OSError:
        return None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


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


def open_llama(
    path: Path, *, n_ctx: int, n_threads: int, n_gpu_layers: int, flash_attn: bool = False
) -> Any:
    """A llama.cpp model in embedding mode, every setting explicit (the embedder's and the
    reranker's: the cross-encoder's score comes out of the same embedding call)."""
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


class _Context:
    """One llama.cpp context and its batch: decodes one sequence at a time."""

    def __init__(self, ctx: Any, n_ctx: int, dims: int, owned: bool) -> None:
        import llama_cpp

        self.ctx = ctx
        self.dims = dims
        self.owned = owned  # False for the Llama object's own context
        self.batch = llama_cpp.llama_batch_init(n_ctx, 0, 1)
        # numpy views over the batch's C arrays: filling them is one copy, not a Python loop
        self.tokens = np.ctypeslib.as_array(self.batch.token, shape=(n_ctx,))
        self.pos = np.ctypeslib.as_array(self.batch.pos, shape=(n_ctx,))
        self.n_seq = np.ctypeslib.as_array(self.batch.n_seq_id, shape=(n_ctx,))
        self.logits = np.ctypeslib.as_array(self.batch.logits, shape=(n_ctx,))
        for i in range(n_ctx):
            self.batch.seq_id[i][0] = 0
        self.n_seq[:] = 1
        self.pos[:] = np.arange(n_ctx, dtype=self.pos.dtype)
        self.logits[:] = 1  # embedding mode wants every token as an output
        self.threads = 0

    def set_threads(self, n: int) -> None:
        import llama_cpp

        if n != self.threads:
            llama_cpp.llama_set_n_threads(self.ctx, n, n)
            self.threads = n

    def embed(self, tokens: list[int]) -> NDArray[np.float32]:
        import llama_cpp

        n = len(tokens)
        self.tokens[:n] = tokens
        self.batch.n_tokens = n
        mem = llama_cpp.llama_get_memory(self.ctx)
        if mem:
            llama_cpp.llama_memory_clear(mem, True)
        rc = llama_cpp.llama_decode(self.ctx, self.batch)
        if rc != 0:
            raise ModelError(f"llama.cpp could not embed a passage (llama_decode returned {rc})")
        ptr = llama_cpp.llama_get_embeddings_seq(self.ctx, 0)
        if not ptr:
            raise ModelError("llama.cpp returned no pooled embedding for this model")
        vec = np.ctypeslib.as_array(ptr, shape=(self.dims,)).astype(np.float32)
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else vec

    def close(self) -> None:
        import llama_cpp

        if self.batch is not None:
            llama_cpp.llama_batch_free(self.batch)
            self.batch = None
        if self.owned and self.ctx:
            llama_cpp.llama_free(self.ctx)
            self.ctx = None


class Embedder:
    """Not thread-safe: the writer lane and the query lane each own an instance."""

    def __init__(
        self,
        model_path: Path,
        *,
        n_threads: int = 0,
        n_gpu_layers: int = 0,
        max_tokens: int = 512,
        flash_attn: bool = True,
        lanes: int = 1,
        f32_folder: Path | None = None,
    ) -> None:
        """lanes: contexts for data-parallel batches (1 = off, the default; 0 = one per thread).
        f32_folder: on the CPU, run an F16 model from its F32 copy kept there (f32_copy)."""
        import llama_cpp

        model_path = Path(model_path).expanduser()
        check_gguf(model_path)
        self.n_threads = n_threads or default_threads()
        self.gpu_offload = bool(llama_cpp.llama_supports_gpu_offload())
        self.n_gpu_layers = n_gpu_layers if self.gpu_offload else 0
        # Said plainly where asked for and impossible: the setting is ignored, not an error.
        self.gpu_note = (
            f"n_gpu_layers={n_gpu_layers} ignored: this llama.cpp build has no GPU support "
            '(reinstall llama-cpp-python with CMAKE_ARGS="-DGGML_CUDA=on"; see '
            "docs/performance.md)"
            if n_gpu_layers and not self.gpu_offload
            else ""
        )
        # Read the context length first with a cheap vocab-only load, so n_ctx never exceeds
        # what the model was trained for (BERT's position table has exactly that many rows).
        probe = open_llama(model_path, n_ctx=64, n_threads=1, n_gpu_layers=0, flash_attn=False)
        meta: dict[str, str] = dict(getattr(probe, "metadata", {}) or {})
        arch = meta.get("general.architecture", "")
        train_ctx = int(meta.get(f"{arch}.context_length", "512") or 512)
        del probe
        self.n_ctx = max(32, min(max_tokens, train_ctx))
        # the weights computed with; the model's identity (path, key) stays model_path's
        self.weights_path = model_path
        if (
            f32_folder is not None
            and not self.n_gpu_layers
            and meta.get("general.file_type") == GGUF_MOSTLY_F16
            and model_path.stat().st_size <= F32_COPY_MAX_BYTES
        ):
            self.weights_path = (
                f32_copy(model_path, model_fingerprint(model_path), f32_folder) or model_path
            )
        self.llm = open_llama(
            self.weights_path,
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            n_gpu_layers=self.n_gpu_layers,
            flash_attn=flash_attn,
        )
        llm = self.llm
        pooling_code = int(llm.pooling_type())
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
            dims=int(llm.n_embd()),
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
        main = _Context(llm._ctx.ctx, self.n_ctx, self.info.dims, owned=False)
        main.threads = self.n_threads
        self._contexts: list[_Context] = [main]
        want = lanes if lanes > 0 else (1 if self.n_gpu_layers else self.n_threads)
        self._want_contexts = max(1, min(want, self.n_threads))
        self._pool: ThreadPoolExecutor | None = None

    @property
    def lanes(self) -> int:
        return self._want_contexts

    def _extra_contexts(self) -> list[_Context]:
        """Created on the first batch that can use them (a query embedder never pays for them)."""
        import llama_cpp

        while len(self._contexts) < self._want_contexts:
            params = llama_cpp.llama_context_params()
            ctypes.pointer(params)[0] = self.llm.context_params
            params.n_threads = params.n_threads_batch = 1
            ctx = llama_cpp.llama_init_from_model(self.llm._model.model, params)
            if not ctx:
                self._want_contexts = len(self._contexts)  # out of memory: run with what we have
                break
            context = _Context(ctx, self.n_ctx, self.info.dims, owned=True)
            self._contexts.append(context)
            # freed before the model it points into, however the objects are collected
            self.llm._model._exit_stack.callback(context.close)
        if self._pool is None and len(self._contexts) > 1:
            self._pool = ThreadPoolExecutor(len(self._contexts) - 1, thread_name_prefix="embed")
        return self._contexts

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
            for context in self._contexts[1:]:
                context.close()
            del self._contexts[1:]

    def __del__(self) -> None:
        # Never wait here: a collection can run inside threading's own bookkeeping (while some
        # thread starts), and joining a context's worker there deadlocked the test suite. The
        # idle workers exit on their own; the contexts are freed with the model (exit stack).
        pool = getattr(self, "_pool", None)
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.shutdown(wait=False, cancel_futures=True)

    # tokens -------------------------------------------------------------------------------
    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        toks: list[int] = self.llm.tokenize(
            text.encode("utf-8", "replace"), add_bos=special, special=False
        )
        return toks

    def count_tokens(self, text: str) -> int:
        """Tokens of text alone, without [CLS]/[SEP] (what the chunker budgets). Asked with
        no buffer, llama_tokenize returns minus the count: the same number, without the
        512-slot buffer and the list the wrapper builds on each of the chunker's calls
        (reading a folder calls this once a sentence)."""
        if not text:
            return 0
        import llama_cpp

        raw = text.encode("utf-8", "replace")
        vocab = getattr(getattr(self.llm, "_model", None), "vocab", None)
        if vocab is None:
            return len(self.tokenize(text, special=False))
        n = int(llama_cpp.llama_tokenize(vocab, raw, len(raw), None, 0, False, False))
        return -n if n < 0 else n

    def _model_tokens(self, text: str) -> list[int]:
        tokens = self.tokenize(text)
        if len(tokens) > self.n_ctx:
            # keep the trailing [SEP]-like token: truncation must not change what the model sees
            # at the end of a sequence more than needed
            tokens = [*tokens[: self.n_ctx - 1], tokens[-1]]
        if not tokens:
            tokens = self.tokenize(" ")
        return tokens

    # embeddings ---------------------------------------------------------------------------
    def _embed_one(self, text: str) -> NDArray[np.float32]:
        tokens = self._model_tokens(text)
        context = self._contexts[0]
        context.set_threads(self.n_threads)
        vec = context.embed(tokens)
        self.tokens_embedded += len(tokens)
        return vec

    def embed_documents(
        self,
        texts: Sequence[str],
        progress: Callable[[int, int], bool] | None = None,
    ) -> NDArray[np.float32]:
        """Rows are L2-normalised; the model's document prefix is added here. If progress
        returns False the rows done so far (a prefix) are returned."""
        out = np.zeros((len(texts), self.info.dims), dtype=np.float32)
        with self._lock:
            if len(texts) >= 2 and self._want_contexts > 1:
                return self._embed_parallel(texts, out, progress)
            for i, t in enumerate(texts):
                out[i] = self._embed_one(self.info.document_prefix + t)
                if progress is not None and not progress(i + 1, len(texts)):
                    return out[: i + 1]
        return out

    def _embed_parallel(
        self,
        texts: Sequence[str],
        out: NDArray[np.float32],
        progress: Callable[[int, int], bool] | None,
    ) -> NDArray[np.float32]:
        contexts = self._extra_contexts()
        toks = [self._model_tokens(self.info.document_prefix + t) for t in texts]
        n = len(toks)
        k = min(len(contexts), n)
        # A tail shorter than the contexts would leave cores idle at the end: those texts go
        # first, one at a time with every thread; the rest split evenly across k contexts.
        head = n % k if n > k else 0
        done = np.zeros(n, dtype=bool)
        state = {"next": head, "count": 0, "stop": False}
        cond = threading.Condition()
        error: list[BaseException] = []

        def finish(i: int, vec: NDArray[np.float32]) -> bool:
            with cond:
                out[i] = vec
                done[i] = True
                state["count"] += 1
                self.tokens_embedded += len(toks[i])
                if progress is not None and not state["stop"] and not progress(state["count"], n):
                    state["stop"] = True
                return not state["stop"]

        main = contexts[0]
        main.set_threads(self.n_threads)
        for i in range(head):
            if not finish(i, main.embed(toks[i])):
                return out[: int(np.argmin(done)) if not done.all() else n]

        def work(context: _Context) -> None:
            try:
                context.set_threads(max(1, self.n_threads // k))
                while True:
                    with cond:
                        i = state["next"]
                        if state["stop"] or i >= n:
                            return
                        state["next"] = i + 1
                    if not finish(i, context.embed(toks[i])):
                        return
            except BaseException as e:  # surfaced in the calling thread
                with cond:
                    error.append(e)
                    state["stop"] = True

        assert self._pool is not None
        futures = [self._pool.submit(work, context) for context in contexts[1:k]]
        work(main)
        for f in futures:
            f.result()
        if error:
            raise error[0]
        if done.all():
            return out
        return out[: int(np.argmin(done))]  # cancelled: the leading rows that are complete

    def embed_query(self, text: str) -> NDArray[np.float32]:
        with self._lock:
            return self._embed_one(self.info.query_prefix + text)


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())
