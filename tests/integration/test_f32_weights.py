"""An F16 model runs from a lossless F32 working copy on the CPU (faster in ggml); the model
keeps its identity, so the index does not notice, and no copy means the F16 file is used."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from desktop_search.embed import Embedder

TEXTS = ["heart attack risk in winter", "The mitochondria is the powerhouse of the cell. " * 8]


def test_the_f32_copy_keeps_the_model_and_its_vectors(
    model_path: Path,
    embedder,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    fast = Embedder(model_path, n_threads=1, f32_folder=tmp_path / "weights")
    try:
        assert fast.weights_path.parent == tmp_path / "weights"
        assert fast.weights_path.stat().st_size > 1.8 * model_path.stat().st_size  # 4 vs 2 bytes
        assert fast.llm.metadata["general.file_type"] == "0"  # type: ignore[attr-defined]  # F32
        # same model as far as the index is concerned: vectors are stored under its key
        assert (fast.info.key, fast.info.path) == (embedder.info.key, embedder.info.path)
        a, b = fast.embed_documents(TEXTS), embedder.embed_documents(TEXTS)
        assert np.allclose((a * b).sum(axis=1), 1.0, atol=1e-5)
        again = Embedder(model_path, n_threads=1, f32_folder=tmp_path / "weights")
        assert again.weights_path == fast.weights_path  # made once, then reused
        again.close()
    finally:
        fast.close()


def test_without_room_for_a_copy_the_f16_file_is_used(model_path: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the weights folder would go", encoding="utf-8")
    emb = Embedder(model_path, n_threads=1, f32_folder=blocked / "weights")
    try:
        assert emb.weights_path == model_path
        assert emb.embed_documents(TEXTS[:1]).shape == (1, 384)
    finally:
        emb.close()
