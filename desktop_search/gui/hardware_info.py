"""What the hardware page shows: facts about this machine and the measured model speed.

Uses desktop_search.hardware.detect() when that module is present, else reads what it can
itself. Everything here does I/O or runs the model: call it on a worker lane.
"""

from __future__ import annotations

import importlib
import os
import platform
import time
from dataclasses import dataclass, field
from typing import Any

SAMPLE_PASSAGE = (
    "Local semantic search splits each document into passages of a few hundred tokens, "
    "embeds every passage with a small transformer model and stores the vectors beside a "
    "keyword index, so a question finds the paragraph that answers it even when it shares "
    "no words with it. The speed of this step decides how long a first index takes: a "
    "laptop with four cores embeds a few dozen passages a second with a small model, and a "
    "graphics card many more. "
)


@dataclass
class HardwareFacts:
    rows: list[tuple[str, str]]  # (label, value) in display order
    verdicts: list[tuple[str, str]] = field(default_factory=list)  # (model, verdict)
    source: str = ""  # where the facts came from


@dataclass
class SpeedResult:
    model: str
    chunks: int
    tokens: int
    seconds: float
    threads: int
    gpu_layers: int

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def _gb(n: float) -> str:
    return f"{n / 1024**3:.1f} GB"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _cpu_flags() -> list[str]:
    wanted = ("avx512f", "avx2", "avx", "fma", "f16c", "sse4_2", "neon", "asimd")
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    have = set(line.split(":", 1)[1].split())
                    return [w for w in wanted if w in have]
    except OSError:
        pass
    return []


def _gpu_line() -> str:
    try:
        from ..embed import gpu_offload_supported

        if gpu_offload_supported():
            return "yes: this llama.cpp build can offload layers to a GPU"
        return "no: this llama.cpp build runs on the CPU only"
    except Exception as e:  # llama.cpp missing or broken: say so rather than fail the page
        return f"unknown ({type(e).__name__})"


def _from_report(rep: Any) -> HardwareFacts:
    rows: list[tuple[str, str]] = []

    def add(label: str, attr: str, fmt: Any = str) -> None:
        v = getattr(rep, attr, None)
        if v not in (None, "", [], ()):
            rows.append((label, fmt(v)))

    add("Processor", "cpu_model")
    add("Cores", "cores")
    add("CPU features", "cpu_features", lambda v: ", ".join(v) if not isinstance(v, str) else v)
    add("Memory", "ram_bytes", _gb)
    add("GPU offload", "gpu_offload",
        lambda v: ("yes: this llama.cpp build can offload layers to a GPU" if v is True
                   else "no: this llama.cpp build runs on the CPU only" if v is False
                   else str(v)))
    add("GPU devices", "gpu_devices",
        lambda v: ", ".join(map(str, v)) if not isinstance(v, str) else v)
    rows.append(("System", f"{platform.system()} {platform.release()} ({platform.machine()})"))
    verdicts: list[tuple[str, str]] = []
    raw = getattr(rep, "verdicts", None) or getattr(rep, "models", None) or []
    if isinstance(raw, dict):
        raw = list(raw.items())
    for item in raw:
        if isinstance(item, tuple) and len(item) == 2:
            verdicts.append((str(item[0]), str(item[1])))
        else:
            name = getattr(item, "name", None) or getattr(item, "model", None) or str(item)
            text = (getattr(item, "verdict", None) or getattr(item, "summary", None)
                    or getattr(item, "message", None) or "")
            verdicts.append((str(name), str(text)))
    return HardwareFacts(rows=rows, verdicts=verdicts, source="desktop_search.hardware")


def collect_hardware() -> HardwareFacts:
    try:  # desktop_search.hardware is optional at run time
        detect = importlib.import_module("desktop_search.hardware").detect
    except (ImportError, AttributeError):
        detect = None
    if detect is not None:
        try:
            return _from_report(detect())
        except Exception:  # fall back to what we can read ourselves
            pass
    ram = _ram_bytes()
    rows = [
        ("Processor", _cpu_model()),
        ("Cores", f"{os.cpu_count() or '?'} logical"),
        ("CPU features", ", ".join(_cpu_flags()) or "unknown"),
        ("Memory", _gb(ram) if ram else "unknown"),
        ("GPU offload", _gpu_line()),
        ("System", f"{platform.system()} {platform.release()} ({platform.machine()})"),
        ("Python", platform.python_version()),
    ]
    return HardwareFacts(rows=rows, source="read directly")


def measure_speed(embedder: Any, chunks: int = 12) -> SpeedResult:
    """Embeds `chunks` passages of about 200 tokens with the indexing model; one warm-up first."""
    texts = [f"{i}. {SAMPLE_PASSAGE}{SAMPLE_PASSAGE[: 200 + i * 7]}" for i in range(chunks)]
    embedder.embed_documents(texts[:1])
    before = int(getattr(embedder, "tokens_embedded", 0))
    t0 = time.perf_counter()
    embedder.embed_documents(texts)
    seconds = time.perf_counter() - t0
    tokens = int(getattr(embedder, "tokens_embedded", 0)) - before
    info = getattr(embedder, "info", None)
    return SpeedResult(model=str(getattr(info, "name", "model")), chunks=chunks, tokens=tokens,
                       seconds=seconds, threads=int(getattr(embedder, "n_threads", 0)),
                       gpu_layers=int(getattr(embedder, "n_gpu_layers", 0)))
