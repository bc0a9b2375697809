"""Model catalog: the bundled default, known GGUFs, and metadata read from the GGUF itself."""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError
from .paths import RESOURCES

BUNDLED_DIR = RESOURCES / "models"
GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class KnownModel:
    """What we know of a model family that its GGUF does not say (prefixes, quality, licence)."""

    name: str
    match: str  # regex on the GGUF general.name or file name, case-insensitive
    kind: str = "embedding"  # or "reranker"
    query_prefix: str = ""
    document_prefix: str = ""
    dims: int = 0
    context: int = 512
    params_m: float = 0.0  # millions of parameters, for speed and memory estimates
    size_mb: float = 0.0  # typical Q8_0/F16 GGUF size
    licence: str = ""
    quality: str = ""  # BEIR-style figure people can compare, where published
    url: str = ""


CATALOG: tuple[KnownModel, ...] = (
    KnownModel("all-MiniLM-L6-v2", r"all[-_ ]?minilm[-_ ]?l6", dims=384, context=512,
               params_m=22.7, size_mb=46, licence="Apache-2.0",
               quality="SciFact nDCG@10 0.645 (dense)", url="bundled"),
    KnownModel("nomic-embed-text-v1.5", r"nomic[-_ ]?embed[-_ ]?text",
               query_prefix="search_query: ", document_prefix="search_document: ",
               dims=768, context=2048, params_m=137, size_mb=146, licence="Apache-2.0",
               quality="MTEB retrieval 53.0",
               url="https://huggingface.co/nomic-ai/nomic-embed-text-v1.5-GGUF"),
    KnownModel("bge-small-en-v1.5", r"bge[-_ ]?small[-_ ]?en",
               query_prefix="Represent this sentence for searching relevant passages: ",
               dims=384, context=512, params_m=33.4, size_mb=36, licence="MIT",
               quality="SciFact nDCG@10 0.713",
               url="https://huggingface.co/CompendiumLabs/bge-small-en-v1.5-gguf"),
    KnownModel("bge-base-en-v1.5", r"bge[-_ ]?base[-_ ]?en",
               query_prefix="Represent this sentence for searching relevant passages: ",
               dims=768, context=512, params_m=109, size_mb=117, licence="MIT",
               quality="SciFact nDCG@10 0.741",
               url="https://huggingface.co/CompendiumLabs/bge-base-en-v1.5-gguf"),
    KnownModel("multilingual-e5-small", r"multilingual[-_ ]?e5[-_ ]?small",
               query_prefix="query: ", document_prefix="passage: ", dims=384, context=512,
               params_m=118, size_mb=125, licence="MIT",
               quality="MTEB retrieval 46.6 (multilingual)",
               url="https://huggingface.co/intfloat/multilingual-e5-small"),
    KnownModel("gte-small", r"gte[-_ ]?small", dims=384, context=512, params_m=33.4,
               size_mb=36, licence="MIT", quality="MTEB retrieval 49.5",
               url="https://huggingface.co/thenlper/gte-small"),
    KnownModel("snowflake-arctic-embed-s", r"arctic[-_ ]?embed",
               query_prefix="Represent this sentence for searching relevant passages: ",
               dims=384, context=512, params_m=33.2, size_mb=36, licence="Apache-2.0",
               quality="MTEB retrieval 51.98",
               url="https://huggingface.co/Snowflake/snowflake-arctic-embed-s"),
    KnownModel("Qwen3-Embedding-0.6B", r"qwen3[-_ ]?embedding",
               query_prefix="Instruct: Given a web search query, retrieve relevant passages that"
               " answer the query\nQuery:", dims=1024, context=32768, params_m=596,
               size_mb=639, licence="Apache-2.0", quality="MTEB retrieval 64.3 (multilingual)",
               url="https://huggingface.co/Qwen/Qwen3-Embedding-0.6B-GGUF"),
)


def bundled_model_path() -> Path:
    """The default GGUF shipped in resources/models (the one with a .sha256 beside it)."""
    ggufs = sorted(BUNDLED_DIR.glob("*.gguf"))
    candidates = [p for p in ggufs if p.with_name(p.name + ".sha256").exists()] or ggufs
    if not candidates:
        candidates = sorted(BUNDLED_DIR.glob("*.gguf"))
    if not candidates:
        raise ModelError(
            f"the bundled model is missing from {BUNDLED_DIR}; rebuild it with "
            "`python packaging/build_default_model.py` or set a model with --model"
        )
    return candidates[0]


def known_model_for(name: str) -> KnownModel | None:
    for m in CATALOG:
        if re.search(m.match, name, re.IGNORECASE):
            return m
    return None


def check_gguf(path: Path) -> None:
    """Fails with one clear line for a missing file or one that is not a GGUF."""
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelError(f"model path is not a file: {path}")
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as e:
        raise ModelError(f"cannot read model {path}: {e.strerror}") from e
    if len(head) < 8 or head[:4] != GGUF_MAGIC:
        raise ModelError(f"{path} is not a GGUF model file (llama.cpp needs .gguf)")
    (version,) = struct.unpack("<I", head[4:8])
    if version < 2:
        raise ModelError(f"{path} is GGUF version {version}, too old for llama.cpp")


def model_fingerprint(path: Path) -> str:
    """A short id for a model file: size plus hashes of its head and tail. Cheap even for GB
    files, and changes whenever the weights do (the tensor data sits at the tail)."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        h.update(f.read(1 << 20))
        if size > 2 << 20:
            f.seek(size - (1 << 20))
            h.update(f.read(1 << 20))
    return h.hexdigest()[:16]
