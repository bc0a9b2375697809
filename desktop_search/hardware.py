"""What this machine can run: CPU features, memory, GPU offload, and per catalog model whether it
fits and how fast it indexes, measured where the model is installed and estimated otherwise.

`detect()` is the API (the GUI's hardware page calls it on a worker lane: it loads the bundled
model and times a few passages, a second or two); `desktop-search hardware` is its CLI.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

VERDICTS = ("runs well", "slow", "won't fit")
# At this pace 10,000 passages (some 3,000 documents) take about half an hour; GPT4All LocalDocs
# users reported 1.5-9 passages/s as the pain point.
RUNS_WELL_CHUNKS_PER_S = 5.0
RERANK_TOP_N = 30  # the settings' default rerank_top_n
RERANK_OK_S = 2.0  # a reranked query (Enter) that answers within this feels fine
# Compute per token follows the parameters outside the token-embedding table (a lookup, no
# arithmetic). Vocabulary sizes and widths the catalog does not carry, by family:
_VOCAB = {
    "multilingual-e5": 250_002,
    "bge-reranker-v2-m3": 250_002,
    "qwen3": 151_669,
    "jina-reranker": 61_056,
}
_WIDTH = {
    "bge-reranker-v2-m3": 1024,
    "jina-reranker-v1-tiny-en": 384,
    "ms-marco-MiniLM-L-6-v2": 384,
}
# What a model costs in memory beyond its weights: context, compute buffers, the app itself.
OVERHEAD_MB = 300.0
FEATURES = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_tile",
    "neon",
    "asimd",
    "dotprod",
    "sve",
    "i8mm",
)

_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "her",
    "she",
    "there",
    "been",
    "one",
    "all",
    "we",
    "their",
    "has",
    "would",
    "when",
    "if",
    "so",
    "no",
    "what",
    "report",
    "results",
    "study",
    "patients",
    "data",
    "method",
    "analysis",
    "effect",
    "cell",
    "protein",
    "model",
    "increase",
    "treatment",
    "response",
    "change",
    "system",
    "level",
    "function",
    "risk",
    "group",
    "time",
    "rate",
    "network",
    "signal",
    "energy",
    "market",
    "policy",
    "water",
    "climate",
    "growth",
    "design",
    "control",
    "test",
    "sample",
    "measure",
    "process",
    "structure",
    "review",
    "evidence",
    "support",
    "history",
    "project",
    "budget",
    "meeting",
    "customer",
    "invoice",
    "contract",
    "schedule",
]


@dataclass
class SpeedSample:
    """One timed run of the embedding model over synthetic passages."""

    chunks: int
    tokens: int
    seconds: float
    threads: int

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "chunks_per_s": round(self.chunks_per_s, 2),
            "tokens_per_s": round(self.tokens_per_s, 1),
        }


@dataclass
class ModelVerdict:
    name: str
    kind: str  # embedding or reranker
    installed: bool
    params_m: float
    size_mb: float
    fits_ram: bool
    fits_vram: bool | None  # None: no GPU this build can use
    chunks_per_s: float  # passages embedded (or, for rerankers, pairs scored) per second
    measured: bool  # False: estimated from parameters and the measured bundled model
    verdict: str  # one of VERDICTS
    reason: str  # one plain sentence

    @property
    def summary(self) -> str:
        return f"{self.verdict}: {self.reason}"


@dataclass
class HardwareReport:
    cpu_model: str
    cpu_features: list[str]
    cores_physical: int
    cores_logical: int
    ram_bytes: int
    ram_available_bytes: int
    gpu_offload: bool
    gpu_devices: list[str]
    llama_cpp_version: str
    system_info: str
    os: str
    threads: int  # what indexing uses (settings n_threads, 0 = physical cores)
    models: list[ModelVerdict] = field(default_factory=list)
    bundled_speed: SpeedSample | None = None
    vram_bytes: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def cores(self) -> str:
        return f"{self.cores_physical} physical, {self.cores_logical} logical"

    @property
    def verdicts(self) -> list[tuple[str, str]]:
        return [(m.name, m.summary) for m in self.models]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["bundled_speed"] = self.bundled_speed.to_json() if self.bundled_speed else None
        return d


# the machine ---------------------------------------------------------------------------------
def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _sysctl(name: str) -> str:
    if not shutil.which("sysctl"):
        return ""
    try:
        return subprocess.run(
            ["sysctl", "-n", name], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.lower().startswith(("model name", "hardware", "cpu model")):
            return line.split(":", 1)[1].strip()
    return _sysctl("machdep.cpu.brand_string") or platform.processor() or platform.machine()


def cpu_features(system_info: str = "") -> list[str]:
    """Instruction sets that matter to llama.cpp's kernels, as the CPU reports them; where the OS
    does not say (macOS, Windows), what this llama.cpp build says it uses."""
    have: set[str] = set()
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith(("flags", "Features")):
            have |= set(line.split(":", 1)[1].split())
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        have |= {"neon", "asimd"}
        if _sysctl("hw.optional.arm.FEAT_DotProd") == "1":
            have.add("dotprod")
        if _sysctl("hw.optional.arm.FEAT_I8MM") == "1":
            have.add("i8mm")
    if not have and system_info:
        have = {k.lower() for k, v in re.findall(r"(\w+) = (\d)", system_info) if v == "1"}
        if "avx512" in have:
            have.add("avx512f")
    return [f for f in FEATURES if f in have]


def cores() -> tuple[int, int]:
    """(physical, logical)."""
    logical = os.cpu_count() or 1
    pairs = set()
    phys = core = ""
    for line in [*_read("/proc/cpuinfo").splitlines(), ""]:
        if line.startswith("physical id"):
            phys = line.split(":", 1)[1].strip()
        elif line.startswith("core id"):
            core = line.split(":", 1)[1].strip()
        elif not line.strip():
            if core:
                pairs.add((phys, core))
            phys = core = ""
    physical = len(pairs) or int(_sysctl("hw.physicalcpu") or 0) or logical
    return physical, logical


def memory() -> tuple[int, int]:
    """(total, available) bytes."""
    info = {}
    for line in _read("/proc/meminfo").splitlines():
        k, _, v = line.partition(":")
        parts = v.split()
        if parts and parts[0].isdigit():
            info[k] = int(parts[0]) * 1024
    if "MemTotal" in info:
        return info["MemTotal"], info.get("MemAvailable", info.get("MemFree", 0))
    if sys.platform == "win32":

        class _Status(ctypes.Structure):
            _fields_ = [
                ("dwLength", ctypes.c_ulong),
                ("dwMemoryLoad", ctypes.c_ulong),
                ("ullTotalPhys", ctypes.c_ulonglong),
                ("ullAvailPhys", ctypes.c_ulonglong),
                ("ullTotalPageFile", ctypes.c_ulonglong),
                ("ullAvailPageFile", ctypes.c_ulonglong),
                ("ullTotalVirtual", ctypes.c_ulonglong),
                ("ullAvailVirtual", ctypes.c_ulonglong),
                ("ullAvailExtendedVirtual", ctypes.c_ulonglong),
            ]

        st = _Status()
        st.dwLength = ctypes.sizeof(_Status)
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(st)):  # type: ignore[attr-defined]
            return int(st.ullTotalPhys), int(st.ullAvailPhys)
    total = int(_sysctl("hw.memsize") or 0)
    if not total:
        with contextlib.suppress(ValueError, OSError, AttributeError):
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return total, total // 2  # no cheap portable "available": assume half


def _ggml() -> Any:
    import llama_cpp

    libdir = Path(llama_cpp.__file__).parent / "lib"
    names = {"win32": "ggml.dll", "darwin": "libggml.dylib"}
    return ctypes.CDLL(str(libdir / names.get(sys.platform, "libggml.so")))


def backend_devices() -> list[tuple[str, str, int, int]]:
    """(name, description, type, total memory) of every device llama.cpp's backend registry
    holds; type 0 is the CPU. Empty if the registry cannot be read."""
    try:
        lib = _ggml()
        lib.ggml_backend_dev_count.restype = ctypes.c_size_t
        lib.ggml_backend_dev_get.restype = ctypes.c_void_p
        lib.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
        for fn in (lib.ggml_backend_dev_name, lib.ggml_backend_dev_description):
            fn.restype = ctypes.c_char_p
            fn.argtypes = [ctypes.c_void_p]
        lib.ggml_backend_dev_type.restype = ctypes.c_int
        lib.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
        lib.ggml_backend_dev_memory.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_size_t),
            ctypes.POINTER(ctypes.c_size_t),
        ]
        out = []
        for i in range(int(lib.ggml_backend_dev_count())):
            dev = lib.ggml_backend_dev_get(i)
            free, total = ctypes.c_size_t(), ctypes.c_size_t()
            lib.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
            out.append(
                (
                    (lib.ggml_backend_dev_name(dev) or b"").decode(errors="replace"),
                    (lib.ggml_backend_dev_description(dev) or b"").decode(errors="replace"),
                    int(lib.ggml_backend_dev_type(dev)),
                    int(total.value),
                )
            )
        return out
    except (OSError, AttributeError, ImportError):
        return []


def nvidia_smi() -> list[tuple[str, int]]:
    """(name, memory bytes) per NVIDIA GPU the driver sees, whatever llama.cpp was built with."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        r = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    out = []
    for line in r.stdout.splitlines():
        name, _, mem = line.rpartition(",")
        with contextlib.suppress(ValueError):
            out.append((name.strip(), int(float(mem)) * 1024 * 1024))
    return out


# speed ---------------------------------------------------------------------------------------
def passage(count: Callable[[str], int], tokens: int, seed: int) -> str:
    """Sentences of common words, grown until the model's tokenizer counts `tokens`."""
    rng = random.Random(seed)
    words: list[str] = []
    while True:
        n = rng.randint(8, 20)
        sentence = " ".join(rng.choice(_WORDS) for _ in range(n))
        words.append(sentence[0].upper() + sentence[1:] + ".")
        text = " ".join(words)
        if count(text) >= tokens:
            return text


def measure_embedding_speed(
    embedder: Any, n_chunks: int = 8, tokens_per_chunk: int = 200
) -> SpeedSample:
    """Embeds n_chunks synthetic passages of about tokens_per_chunk tokens in one call, as the
    indexer does, after a warm-up call that allocates buffers and the parallel lanes."""
    budget = min(tokens_per_chunk, int(getattr(embedder, "max_text_tokens", tokens_per_chunk)))
    warm = max(1, int(getattr(embedder, "lanes", 1)))
    texts = [passage(embedder.count_tokens, budget, i) for i in range(n_chunks + warm)]
    embedder.embed_documents(texts[:warm])
    before = int(embedder.tokens_embedded)
    t0 = time.perf_counter()
    embedder.embed_documents(texts[warm:])
    seconds = time.perf_counter() - t0
    return SpeedSample(
        chunks=n_chunks,
        tokens=int(embedder.tokens_embedded) - before,
        seconds=seconds,
        threads=int(getattr(embedder, "n_threads", 0)),
    )


# verdicts ------------------------------------------------------------------------------------
GUESSED_NOTE = "speeds not measured: guessed from the number of cores"


def speed_text(cps: float) -> str:
    """Two significant digits: 0.25 and 12 passages/s, never a "0.0" for a slow model."""
    return f"{cps:.2g}" if cps < 10 else f"{cps:.0f}"


def duration_text(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 48 * 3600 else f"{seconds / 86400:.0f} days"


def _verdict(
    fits_ram: bool, fits_vram: bool | None, cps: float, measured: bool, kind: str
) -> tuple[str, str]:
    if not fits_ram and not fits_vram:
        return "won't fit", "needs more memory than this machine has free"
    if cps <= 0:  # nothing measured and nothing to scale from: say so, not "1e-06 passages/s"
        return "slow", "speed unknown"
    how = "measured" if measured else "estimated"
    # the verdict is taken on the speed as printed, so "5.0 passages/s" never reads "slow"
    cps = float(speed_text(cps))
    if kind != "embedding":  # a reranker reads the top passages of every reranked query
        per_query = RERANK_TOP_N / cps
        pace = (
            f"{how} {speed_text(cps)} passages/s: about {duration_text(per_query)}"
            " per reranked query"
        )
        return ("runs well" if per_query <= RERANK_OK_S else "slow"), pace
    pace = (
        f"{how} {speed_text(cps)} passages/s: about {duration_text(10_000 / cps)}"
        " per 10,000 passages"
    )
    return ("runs well" if cps >= RUNS_WELL_CHUNKS_PER_S else "slow"), pace


def compute_params_m(m: Any) -> float:
    """Millions of parameters that do arithmetic per token (all but the token embeddings)."""
    vocab = next((v for k, v in _VOCAB.items() if m.name.lower().startswith(k.lower())), 30_522)
    width = m.dims or _WIDTH.get(m.name, 384)
    return max(float(m.params_m) - vocab * width / 1e6, float(m.params_m) * 0.1)


def model_verdicts(
    speed: SpeedSample | None,
    ram_available: int,
    vram: int,
    gpu: bool,
    models_dir: Path,
    threads: int,
    measure_installed: bool,
) -> tuple[list[ModelVerdict], list[str]]:
    from .embed import Embedder
    from .models import CATALOG, installed_models
    from .paths import weights_dir

    notes: list[str] = []
    installed: dict[str, Path] = {}
    bundled_name = ""
    for im in installed_models(models_dir):
        if im.known is not None:
            installed.setdefault(im.known.name, im.path)
            if im.bundled:
                bundled_name = im.known.name
    bundled = next((m for m in CATALOG if m.name == bundled_name), CATALOG[0])
    base_cps = speed.chunks_per_s if speed else 0.0
    base_compute = compute_params_m(bundled)
    out: list[ModelVerdict] = []
    for m in CATALOG:
        path = installed.get(m.name)
        size_mb = (path.stat().st_size / 1e6) if path else m.size_mb
        need = (size_mb + OVERHEAD_MB) * 1e6
        fits_ram = need <= ram_available
        fits_vram = (size_mb * 1e6 * 1.2 <= vram) if gpu and vram else None
        measured = False
        compute = compute_params_m(m)
        cps = base_cps * base_compute / compute if compute > 0 else 0.0
        if m.name == bundled.name and speed is not None:
            cps, measured = base_cps, True
        elif (
            path is not None
            and measure_installed
            and m.kind == "embedding"
            and fits_ram
            and size_mb < 1000
        ):
            try:
                emb = Embedder(
                    path, n_threads=threads, max_tokens=256, lanes=0, f32_folder=weights_dir()
                )
                try:
                    cps, measured = measure_embedding_speed(emb, n_chunks=3).chunks_per_s, True
                finally:
                    emb.close()
            except Exception as e:  # a broken download must not break the page
                notes.append(f"{m.name}: could not be timed ({e}); speed estimated")
        verdict, reason = _verdict(fits_ram, fits_vram, cps, measured, m.kind)
        out.append(
            ModelVerdict(
                name=m.name,
                kind=m.kind,
                installed=path is not None,
                params_m=m.params_m,
                size_mb=round(size_mb, 1),
                fits_ram=fits_ram,
                fits_vram=fits_vram,
                chunks_per_s=round(cps, 2),
                measured=measured,
                verdict=verdict,
                reason=reason,
            )
        )
    if not gpu:
        notes.append(
            "this llama.cpp build cannot use a graphics card, so models run on the "
            "processor (README.md, section GPU, has the install line for one)"
        )
    return out, notes


def detect(
    measure: bool = True,
    models_dir: Path | None = None,
    threads: int = 0,
    measure_installed: bool = True,
) -> HardwareReport:
    """The whole picture. With measure, the bundled model is loaded and timed (1-3 s)."""
    import llama_cpp

    from .embed import Embedder, default_threads
    from .models import bundled_model_path
    from .paths import weights_dir

    system_info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    physical, logical = cores()
    total, available = memory()
    devices = [d for d in backend_devices() if d[2] != 0]
    gpu_names = [
        f"{d[1] or d[0]} ({d[3] / 1024**3:.1f} GB)" if d[3] else (d[1] or d[0]) for d in devices
    ]
    vram = max((d[3] for d in devices), default=0)
    notes: list[str] = []
    smi = nvidia_smi()
    if not devices and smi:
        gpu_names = [f"{n} ({m / 1024**3:.1f} GB)" for n, m in smi]
        if not gpu:
            notes.append(
                "an NVIDIA GPU is present but this llama.cpp build is CPU-only: "
                "reinstall it with CUDA to use the GPU"
            )
    threads = threads or default_threads()
    speed = None
    if measure:
        # as indexing runs it: a context per thread, from the F32 working copy
        emb = Embedder(bundled_model_path(), n_threads=threads, lanes=0, f32_folder=weights_dir())
        try:
            speed = measure_embedding_speed(emb)
        finally:
            emb.close()
    if models_dir is None:
        from .paths import resolve_home

        models_dir = resolve_home(None).models_dir
    basis = speed
    if basis is None:
        # not measured: a rough guess for the bundled model from the cores and vector units
        # (about 4 passages/s per core with AVX2 or NEON here), flagged as a guess
        per_core = 4.0 if {"avx2", "neon", "asimd"} & set(cpu_features(system_info)) else 1.0
        basis = SpeedSample(
            chunks=1, tokens=200, seconds=1.0 / (per_core * physical), threads=threads
        )
        notes.append(GUESSED_NOTE)
    models, more = model_verdicts(
        basis, available, vram, gpu, models_dir, threads, measure_installed and measure
    )
    if speed is None:
        for m in models:
            m.measured = False
            m.reason = m.reason.replace("measured", "guessed").replace("estimated", "guessed")
    return HardwareReport(
        cpu_model=cpu_model(),
        cpu_features=cpu_features(system_info),
        cores_physical=physical,
        cores_logical=logical,
        ram_bytes=total,
        ram_available_bytes=available,
        gpu_offload=gpu,
        gpu_devices=gpu_names,
        llama_cpp_version=str(getattr(llama_cpp, "__version__", "?")),
        system_info=system_info,
        os=f"{platform.system()} {platform.release()} ({platform.machine()})",
        threads=threads,
        models=models,
        bundled_speed=speed,
        vram_bytes=vram,
        notes=notes + more,
    )


# the CLI -------------------------------------------------------------------------------------
def gb_text(n: float) -> str:
    return f"{n / 1024**3:.1f} GB"


def vector_units(features: list[str]) -> str:
    """The widest vector unit, the one that decides how fast a model runs on the CPU."""
    feats = set(features)
    if "avx512f" in feats:
        return "AVX-512"
    if "avx2" in feats:
        return "AVX2"
    if feats & {"neon", "asimd"}:
        return "NEON"
    return "AVX" if "avx" in feats else "none of AVX2, AVX-512 or NEON"


def render(rep: HardwareReport) -> str:
    simd = vector_units(rep.cpu_features)
    lines = [
        "This machine",
        f"  processor     {rep.cpu_model}",
        f"  cores         {rep.cores}  (indexing uses {rep.threads} threads)",
        f"  vector units  {simd}  [{', '.join(rep.cpu_features) or 'unknown'}]",
        "                the wider, the faster a model runs on the CPU",
        f"  memory        {gb_text(rep.ram_bytes)} ({gb_text(rep.ram_available_bytes)} free now)",
        f"  GPU offload   {'yes' if rep.gpu_offload else 'no'}: "
        + (
            "this llama.cpp build can run models on a GPU"
            if rep.gpu_offload
            else "this llama.cpp build runs models on the CPU only"
        ),
        f"  GPUs seen     {', '.join(rep.gpu_devices) or 'none'}",
        f"  llama.cpp     llama-cpp-python {rep.llama_cpp_version}",
    ]
    if rep.bundled_speed:
        s = rep.bundled_speed
        lines += [
            "",
            f"Measured now: the bundled model embeds {s.chunks_per_s:.1f} passages/s "
            f"({s.tokens_per_s:.0f} tokens/s, {s.threads} threads)",
        ]
    lines += [
        "",
        "Models (passages of about 200 tokens; 'estimated' = the bundled model's "
        "measured speed scaled by compute per token)",
    ]
    w = max(len(m.name) for m in rep.models) if rep.models else 10
    for m in rep.models:
        mark = "installed" if m.installed else "         "
        lines.append(f"  {m.name:<{w}}  {mark}  {m.verdict:<10} {m.reason}")
    for n in rep.notes:
        lines.append(f"note: {n}")
    return "\n".join(lines)
