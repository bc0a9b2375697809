"""`bench` and `hardware` on the real model, catalog and vector index: they run, and what they
return is complete and sane (numbers are never compared with timing targets here)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from desktop_search.cli import main
from desktop_search.hardware import VERDICTS, SpeedSample, model_verdicts

STAGES = {"scan", "extract", "chunk", "embed", "store"}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_bench_json_at_a_tiny_scale(capsys: pytest.CaptureFixture[str]) -> None:
    from desktop_search.bench import render

    r = run_cli(
        capsys,
        "bench",
        "--json",
        "--files",
        "3",
        "--scale",
        "300",
        "--queries",
        "3",
        "--embed-chunks",
        "2",
    )
    m, e, ix, q, c = r["machine"], r["embedding"], r["indexing"], r["queries"], r["cold_start"]
    assert m["model"] == "all-MiniLM-L6-v2" and m["threads"] >= 1
    assert m["load_avg_start"] >= 0 and m["load_avg_end"] >= 0
    assert e["chunks"] == 2 and e["tokens"] > 2 * 150 and e["chunks_per_s"] > 0
    assert e["tokens_per_s"] > e["chunks_per_s"]
    assert ix["files"] == 3 and ix["failed"] == 0 and ix["chunks"] >= 3 and ix["tokens"] > 0
    assert ix["files_per_s"] > 0 and ix["chunks_per_s"] > 0 and ix["tokens_per_s"] > 0
    assert set(ix["stage_seconds"]) == STAGES and set(ix["stage_share"]) == STAGES
    assert ix["stage_seconds"]["embed"] > 0
    assert all(0 <= v <= 1.5 for v in ix["stage_share"].values())  # extraction overlaps
    assert q["chunks"] == 300 and q["queries"] == 3
    assert set(q["latency_ms"]) == {"dense", "keyword", "hybrid"}  # no reranker installed
    for lat in q["latency_ms"].values():
        assert 0 < lat["p50"] <= lat["p95"]
    assert 0.0 <= q["recall_at_10"] <= 1.0
    assert q["rss_bytes"] > 10e6 and q["rss_peak_bytes"] >= q["rss_bytes"]
    # the split of resident memory adds up (file pages: the mapped model and vector index)
    assert q["rss_file_bytes"] > 0 and q["rss_anon_bytes"] > 0
    assert q["rss_file_bytes"] + q["rss_anon_bytes"] <= q["rss_bytes"] + 1e6
    assert q["catalog_bytes"] > 0 and q["vector_index_bytes"] > 0
    assert q["vector_index_viewed"] is True  # the search process maps the saved index
    if importlib.util.find_spec("PySide6") is not None:  # the window is there: it was timed
        assert "skipped" not in c, c
        assert 0 < c["window_s"] <= c["first_result_s"]
    assert any("rerank" in n for n in r["notes"])
    text = render(r)
    for label in (
        "Embedding speed",
        "Indexing speed",
        "Query time, hybrid",
        "Vector recall@10",
        "Search process memory",
        "Window cold start",
        "passages/s",
        " ms ",
    ):
        assert label in text


def test_hardware_json_is_complete(capsys: pytest.CaptureFixture[str]) -> None:
    from desktop_search.models import CATALOG

    h = run_cli(capsys, "hardware", "--json")
    assert h["cpu_model"] and h["cores_physical"] >= 1
    assert h["cores_logical"] >= h["cores_physical"]
    assert 0 < h["ram_available_bytes"] <= h["ram_bytes"]
    assert isinstance(h["gpu_offload"], bool) and isinstance(h["gpu_devices"], list)
    assert h["llama_cpp_version"] and "CPU" in h["system_info"]
    assert isinstance(h["cpu_features"], list)
    assert h["bundled_speed"]["chunks_per_s"] > 0 and h["bundled_speed"]["tokens"] > 0
    assert [x["name"] for x in h["models"]] == [x.name for x in CATALOG]
    for x in h["models"]:
        assert x["verdict"] in VERDICTS
        assert x["chunks_per_s"] > 0 and x["params_m"] > 0 and x["size_mb"] > 0
        assert isinstance(x["fits_ram"], bool) and x["reason"]
        assert x["fits_vram"] is None or isinstance(x["fits_vram"], bool)
    bundled = h["models"][0]
    assert bundled["installed"] and bundled["measured"]
    assert bundled["chunks_per_s"] == pytest.approx(h["bundled_speed"]["chunks_per_s"], rel=0.01)
    if not h["gpu_offload"]:
        assert any("GPU" in n for n in h["notes"])


def test_hardware_text_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hardware", "--no-measure"]) == 0
    out = capsys.readouterr().out
    for label in ("processor", "cores", "memory", "GPU offload", "all-MiniLM-L6-v2", "GB"):
        assert label in out


def test_verdicts_follow_memory_and_speed(tmp_path: Path) -> None:
    fast = SpeedSample(chunks=40, tokens=8000, seconds=1.0, threads=2)  # 40 passages/s here
    ok, _ = model_verdicts(
        fast,
        ram_available=64 << 30,
        vram=0,
        gpu=False,
        models_dir=tmp_path,
        threads=2,
        measure_installed=False,
    )
    by = {m.name: m for m in ok}
    assert by["all-MiniLM-L6-v2"].verdict == "runs well" and by["all-MiniLM-L6-v2"].measured
    assert by["all-MiniLM-L6-v2"].chunks_per_s == 40
    # bigger models are estimated slower, in the order of their compute per token
    assert by["bge-base-en-v1.5"].chunks_per_s < by["bge-small-en-v1.5"].chunks_per_s < 40
    assert by["Qwen3-Embedding-0.6B"].verdict == "slow" and not by["Qwen3-Embedding-0.6B"].measured
    tight, _ = model_verdicts(
        fast,
        ram_available=100 << 20,
        vram=0,
        gpu=False,
        models_dir=tmp_path,
        threads=2,
        measure_installed=False,
    )
    assert {m.verdict for m in tight} == {"won't fit"}
    # no speed to scale from (a zero-length timing): said in words, never "inf" or "1e-06"
    stalled = SpeedSample(chunks=0, tokens=0, seconds=1.0, threads=2)
    unknown, _ = model_verdicts(
        stalled,
        ram_available=64 << 30,
        vram=0,
        gpu=False,
        models_dir=tmp_path,
        threads=2,
        measure_installed=False,
    )
    assert {m.reason for m in unknown} == {"speed unknown"}


def test_measured_passages_have_the_asked_length(embedder: Any) -> None:
    from desktop_search.hardware import measure_embedding_speed

    s = measure_embedding_speed(embedder, n_chunks=3, tokens_per_chunk=60)
    assert s.chunks == 3 and s.seconds > 0
    assert 3 * 62 <= s.tokens <= 3 * (60 + 30 + 2)  # whole sentences, plus [CLS] and [SEP]


def test_lanes_give_the_same_vectors_and_cancel_to_a_prefix(model_path: Path) -> None:
    from desktop_search.embed import Embedder

    texts = [f"passage {i}: " + "the kidney filters blood " * (i + 1) for i in range(5)]
    one = Embedder(model_path, n_threads=2)
    two = Embedder(model_path, n_threads=2, lanes=2)
    try:
        a, b = one.embed_documents(texts), two.embed_documents(texts)
        assert two.lanes == 2 and np.allclose(a, b, atol=1e-5)
        assert two.tokens_embedded == one.tokens_embedded
        seen: list[int] = []
        part = two.embed_documents(texts, progress=lambda d, _t: seen.append(d) or d < 2)
        assert 2 <= len(part) < len(texts) and np.allclose(part, a[: len(part)], atol=1e-5)
    finally:
        two.close()
        one.close()


def test_an_embedder_collected_without_close_never_waits_for_its_lanes(model_path: Path) -> None:
    """Garbage collection can finalise an Embedder at any moment, also inside threading's own
    bookkeeping while another thread starts; waiting for a lane's worker there deadlocked
    the test suite once. Finalising returns at once, even with a lane still busy."""
    import threading

    from desktop_search.embed import Embedder

    emb = Embedder(model_path, n_threads=2, lanes=2)
    emb.embed_documents(["a passage", "another passage"])  # starts the lane's worker
    assert emb._pool is not None
    started, release = threading.Event(), threading.Event()

    def lane_work() -> bool:
        started.set()
        return release.wait(60)

    busy = emb._pool.submit(lane_work)
    assert started.wait(10)
    finaliser = threading.Thread(target=emb.__del__)
    finaliser.start()
    finaliser.join(10)
    try:
        assert not finaliser.is_alive(), "finalising waited for a busy lane"
    finally:
        release.set()
    assert busy.result(10) is True
    emb.close()


def test_vector_index_view_turns_mutable_on_change(tmp_path: Path) -> None:
    from desktop_search.vector_index import VectorIndex

    class Gen:
        def __init__(self, g: int) -> None:
            self.g = g

        def generation(self) -> int:
            return self.g

    rng = np.random.default_rng(1)
    v = rng.normal(size=(40, 8)).astype(np.float32)
    vi = VectorIndex(tmp_path / "vectors-m", 8)
    vi.add(np.arange(40, dtype=np.uint64), v)
    vi.save(3)
    w, how = VectorIndex.open(tmp_path / "vectors-m", 8, Gen(3), "m")  # type: ignore[arg-type]
    assert how == "loaded" and w.viewed and len(w) == 40
    assert w.search(v[5], 1)[0][0] == 5
    w.add(np.array([5, 100], dtype=np.uint64), v[:2])  # replaces key 5, adds 100
    assert not w.viewed and len(w) == 41
    assert w.search(v[1], 2)[0][0] in (1, 100)
    w.save(4)  # the file it was a view of is gone; the copy in memory is complete
    # (with its checksum; the older generation's file and checksum are gone)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "vectors-m-g4.usearch",
        "vectors-m-g4.usearch.b2",
    ]
    w.remove([100])
    assert len(w) == 40
