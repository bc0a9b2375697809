"""Model catalog: the bundled default, known GGUFs, and metadata read from the GGUF itself."""

from __future__ import annotations

import hashlib
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelError
from .paths import RESOURCES

BUNDLED_DIR = RESOURCES / "models"
GGUF_MAGIC = b"GGUF"


HF_ENDPOINT_ENV = "HF_ENDPOINT"  # the Hugging Face hub's own variable for a mirror
HF_DEFAULT_ENDPOINT = "https://huggingface.co"


@dataclass(frozen=True)
class KnownModel:
    """What we know of a model family that its GGUF does not say (prefixes, quality, licence),
    and where a person can fetch a GGUF of it when they ask (`models download NAME`)."""

    name: str
    match: str  # regex on the GGUF general.name or file name, case-insensitive
    kind: str = "embedding"  # or "reranker"
    query_prefix: str = ""
    document_prefix: str = ""
    dims: int = 0  # 0 for rerankers (one score, not a vector)
    context: int = 512
    params_m: float = 0.0  # millions of parameters, for speed and memory estimates
    size_mb: float = 0.0  # size of the GGUF listed below (or a typical Q8_0/F16 one)
    licence: str = ""
    quality: str = ""  # a published figure people can compare, where one exists
    url: str = ""  # the model's page
    pooling: str = "mean"  # mean, cls, last (embedders) or rank (rerankers)
    repo: str = ""  # Hugging Face repository with a GGUF; empty: none we can vouch for
    file: str = ""  # the GGUF in that repository
    revision: str = "main"  # a pinned commit where the sha256 is known
    sha256: str = ""  # of `file` at `revision`, checked after download when known
    note: str = ""  # what a person should know (how to convert it when there is no GGUF)

    @property
    def downloadable(self) -> bool:
        return bool(self.repo and self.file)

    def download_url(self, endpoint: str | None = None) -> str:
        base = (endpoint or os.environ.get(HF_ENDPOINT_ENV) or HF_DEFAULT_ENDPOINT).rstrip("/")
        return f"{base}/{self.repo}/resolve/{self.revision}/{self.file}"


_BGE_QUERY = "Represent this sentence for searching relevant passages: "

CATALOG: tuple[KnownModel, ...] = (
    # embedding models ------------------------------------------------------------------------
    KnownModel(
        "all-MiniLM-L6-v2",
        r"all[-_ ]?minilm[-_ ]?l6",
        dims=384,
        context=512,
        params_m=22.7,
        size_mb=46,
        licence="Apache-2.0",
        quality="SciFact nDCG@10 0.645 (dense, BEIR)",
        url="bundled",
        note="bundled; built by packaging/build_default_model.py",
    ),
    KnownModel(
        "nomic-embed-text-v1.5",
        r"nomic[-_ ]?embed[-_ ]?text",
        query_prefix="search_query: ",
        document_prefix="search_document: ",
        dims=768,
        context=2048,
        params_m=137,
        size_mb=146,
        licence="Apache-2.0",
        quality="MTEB retrieval 53.0",
        url="https://huggingface.co/nomic-ai/nomic-embed-text-v1.5",
        repo="nomic-ai/nomic-embed-text-v1.5-GGUF",
        file="nomic-embed-text-v1.5.Q8_0.gguf",
        revision="0188c9bf409793f810680a5a431e7b899c46104c",
        sha256="3e24342164b3d94991ba9692fdc0dd08e3fd7362e0aacc396a9a5c54a544c3b7",
    ),
    KnownModel(
        "bge-small-en-v1.5",
        r"bge[-_ ]?small[-_ ]?en",
        query_prefix=_BGE_QUERY,
        dims=384,
        context=512,
        params_m=33.4,
        size_mb=36,
        licence="MIT",
        quality="SciFact nDCG@10 0.713",
        pooling="cls",
        url="https://huggingface.co/BAAI/bge-small-en-v1.5",
        repo="CompendiumLabs/bge-small-en-v1.5-gguf",
        file="bge-small-en-v1.5-q8_0.gguf",
    ),
    KnownModel(
        "bge-base-en-v1.5",
        r"bge[-_ ]?base[-_ ]?en",
        query_prefix=_BGE_QUERY,
        dims=768,
        context=512,
        params_m=109,
        size_mb=117,
        licence="MIT",
        quality="SciFact nDCG@10 0.741",
        pooling="cls",
        url="https://huggingface.co/BAAI/bge-base-en-v1.5",
        repo="CompendiumLabs/bge-base-en-v1.5-gguf",
        file="bge-base-en-v1.5-q8_0.gguf",
    ),
    KnownModel(
        "multilingual-e5-small",
        r"multilingual[-_ ]?e5[-_ ]?small",
        query_prefix="query: ",
        document_prefix="passage: ",
        dims=384,
        context=512,
        params_m=118,
        size_mb=125,
        licence="MIT",
        quality="MTEB retrieval 46.6 (multilingual)",
        url="https://huggingface.co/intfloat/multilingual-e5-small",
        note="no GGUF we can vouch for: convert with llama.cpp's convert_hf_to_gguf.py "
        "(XLM-R tokenizer)",
    ),
    KnownModel(
        "gte-small",
        r"gte[-_ ]?small",
        dims=384,
        context=512,
        params_m=33.4,
        size_mb=36,
        licence="MIT",
        quality="MTEB retrieval 49.5",
        url="https://huggingface.co/thenlper/gte-small",
        note="no GGUF we can vouch for: convert with packaging/convert_bert_gguf.py",
    ),
    KnownModel(
        "snowflake-arctic-embed-s",
        r"arctic[-_ ]?embed",
        query_prefix=_BGE_QUERY,
        dims=384,
        context=512,
        params_m=33.2,
        size_mb=36,
        licence="Apache-2.0",
        quality="MTEB retrieval 51.98",
        pooling="cls",
        url="https://huggingface.co/Snowflake/snowflake-arctic-embed-s",
        note="no GGUF we can vouch for: convert with packaging/convert_bert_gguf.py",
    ),
    KnownModel(
        "Qwen3-Embedding-0.6B",
        r"qwen3[-_ ]?embedding",
        query_prefix="Instruct: Given a web search query, retrieve relevant passages that"
        " answer the query\nQuery:",
        dims=1024,
        context=32768,
        params_m=596,
        size_mb=639,
        licence="Apache-2.0",
        quality="MTEB retrieval 64.3 (multilingual)",
        pooling="last",
        url="https://huggingface.co/Qwen/Qwen3-Embedding-0.6B",
        repo="Qwen/Qwen3-Embedding-0.6B-GGUF",
        file="Qwen3-Embedding-0.6B-Q8_0.gguf",
        note="slow on CPU: about 25x the bundled model's compute per token",
    ),
    # rerankers (cross-encoders, llama.cpp rank pooling) -------------------------------------
    KnownModel(
        "bge-reranker-v2-m3",
        r"bge[-_ ]?reranker[-_ ]?v2[-_ ]?m3",
        kind="reranker",
        context=8192,
        params_m=568,
        size_mb=636,
        licence="Apache-2.0",
        quality="multilingual; the strongest listed, and the slowest",
        pooling="rank",
        url="https://huggingface.co/BAAI/bge-reranker-v2-m3",
        repo="gpustack/bge-reranker-v2-m3-GGUF",
        file="bge-reranker-v2-m3-Q8_0.gguf",
        revision="3093af03b1a635e67b084b1d8c03c5f5e020fd05",
        sha256="a43c7c9b11a4c1517e5bf95151960e1621d1b72f7a493364b01e386cf1aaa1d3",
    ),
    KnownModel(
        "jina-reranker-v1-tiny-en",
        r"jina[-_ ]?reranker[-_ ]?v1[-_ ]?tiny",
        kind="reranker",
        context=8192,
        params_m=33,
        size_mb=67,
        licence="Apache-2.0",
        quality="English; small and fast",
        pooling="rank",
        url="https://huggingface.co/jinaai/jina-reranker-v1-tiny-en",
        repo="gpustack/jina-reranker-v1-tiny-en-GGUF",
        file="jina-reranker-v1-tiny-en-FP16.gguf",
    ),
    KnownModel(
        "ms-marco-MiniLM-L-6-v2",
        r"ms[-_ ]?marco[-_ ]?minilm[-_ ]?l[-_ ]?6",
        kind="reranker",
        context=512,
        params_m=22.7,
        size_mb=46,
        licence="Apache-2.0",
        quality="TREC DL19 nDCG@10 74.30, MS MARCO dev MRR@10 39.01",
        pooling="rank",
        url="https://huggingface.co/cross-encoder/ms-marco-MiniLM-L-6-v2",
        note="convert with packaging/convert_cross_encoder_gguf.py (llama.cpp's converter "
        "drops the BERT pooler and gives wrong scores)",
    ),
)


def find_model(name: str) -> KnownModel | None:
    """A catalog entry by its name (case-insensitive), else by its pattern."""
    for m in CATALOG:
        if m.name.lower() == name.strip().lower():
            return m
    return known_model_for(name)


@dataclass(frozen=True)
class InstalledModel:
    path: Path
    size: int
    known: KnownModel | None
    bundled: bool


def installed_models(models_dir: Path) -> list[InstalledModel]:
    """The bundled model and every GGUF in the home's models/ folder."""
    out: list[InstalledModel] = []
    try:
        b = bundled_model_path()
        out.append(InstalledModel(b, b.stat().st_size, known_model_for(b.name), True))
    except ModelError:
        pass
    if models_dir.is_dir():
        for p in sorted(models_dir.glob("*.gguf")):
            out.append(InstalledModel(p, p.stat().st_size, known_model_for(p.name), False))
    return out


def installed_reranker(models_dir: Path) -> Path | None:
    """The first reranker GGUF in the home's models/ folder, in catalog order."""
    found = [
        m
        for m in installed_models(models_dir)
        if m.known is not None and m.known.kind == "reranker"
    ]
    order = {m.name: i for i, m in enumerate(CATALOG)}
    found.sort(key=lambda m: order.get(m.known.name if m.known else "", 99))
    return found[0].path if found else None


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


DownloadProgress = Callable[[int, int], bool]  # (bytes done, bytes total or 0) -> go on?


def download(
    model: KnownModel,
    models_dir: Path,
    progress: DownloadProgress | None = None,
    *,
    endpoint: str | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetches the model's GGUF into models_dir, only when a person asks. Written to a hidden
    temporary file, checked (sha256 when known, GGUF header always), then renamed into place:
    an interrupted download never leaves a half file under the real name."""
    import urllib.error
    import urllib.request

    if not model.downloadable:
        raise ModelError(f"no download known for {model.name}: {model.note or 'convert it'}")
    models_dir.mkdir(parents=True, exist_ok=True)
    dest = models_dir / model.file
    url = model.download_url(endpoint)
    tmp = models_dir / f".{model.file}.part"
    h = hashlib.sha256()
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "desktop-search"})
        with urllib.request.urlopen(req, timeout=timeout) as resp, tmp.open("wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while block := resp.read(1 << 20):
                out.write(block)
                h.update(block)
                done += len(block)
                if progress is not None and not progress(done, total):
                    raise ModelError(f"download of {model.name} cancelled")
            out.flush()
            os.fsync(out.fileno())
        if total and done != total:
            raise ModelError(f"download of {model.name} ended early ({done} of {total} bytes)")
        if model.sha256 and h.hexdigest() != model.sha256:
            raise ModelError(
                f"{model.file} failed its checksum (got sha256 {h.hexdigest()[:16]}…,"
                f" want {model.sha256[:16]}…); nothing was installed"
            )
        check_gguf(tmp)
        os.replace(tmp, dest)
    except urllib.error.HTTPError as e:
        raise ModelError(f"cannot download {model.name}: HTTP {e.code} from {url}") from e
    except urllib.error.URLError as e:
        raise ModelError(f"cannot download {model.name}: {e.reason} (offline? tried {url})") from e
    except (TimeoutError, ConnectionError) as e:
        raise ModelError(f"cannot download {model.name}: {e} (offline? tried {url})") from e
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def find_installed(name: str, models_dir: Path) -> Path:
    """A model a person names: a GGUF path, a file in the home's models/ folder, or a catalog
    name (or part of a file name) of an installed embedding model. One clear line otherwise."""
    p = Path(name).expanduser()
    if p.is_file():
        return p.resolve()
    if (models_dir / name).is_file():
        return (models_dir / name).resolve()
    known = find_model(name)
    installed = [
        m
        for m in installed_models(models_dir)
        if (m.known is not None and m.known is known and m.known.kind == "embedding")
        or (known is None and name.lower() in m.path.name.lower())
    ]
    if name.strip().lower() == "bundled":
        installed = [m for m in installed_models(models_dir) if m.bundled]
    if not installed:
        raise ModelError(
            f"no installed model called {name!r}: `desktop-search models list` "
            "shows what is here, `desktop-search models install PATH` copies a "
            "GGUF in"
        )
    if len(installed) > 1:
        names = ", ".join(m.path.name for m in installed)
        raise ModelError(f"several installed models match {name!r} ({names}): name the file")
    return installed[0].path.resolve()


def is_bundled(path: Path) -> bool:
    try:
        return path.resolve() == bundled_model_path().resolve()
    except (ModelError, OSError):
        return False


def install_model(src: Path, models_dir: Path) -> tuple[Path, bool]:
    """Copies a GGUF a person has (a USB stick, another machine) into the home's models/ after
    llama.cpp loaded it as an embedding model (pooling and dimensions read from the file).
    Returns (path, copied); copied is False when the same file was already there."""
    from .embed import Embedder
    from .fsutil import fsync_dir

    src = src.expanduser()
    check_gguf(src)
    emb = Embedder(src, n_threads=1, max_tokens=64)  # raises for an LLM or a reranker
    try:
        if emb.info.dims <= 0:
            raise ModelError(f"{src.name} gives no embedding dimensions; not an embedding model")
    finally:
        emb.close()
    models_dir.mkdir(parents=True, exist_ok=True)
    dest = models_dir / src.name
    if dest.exists():
        if model_fingerprint(dest) == model_fingerprint(src):
            return dest, False
        raise ModelError(f"{dest} exists and is a different file; rename {src.name} first")
    tmp = models_dir / f".{src.name}.part"
    try:
        with src.open("rb") as fin, tmp.open("wb") as fout:
            while block := fin.read(1 << 22):
                fout.write(block)
            fout.flush()
            os.fsync(fout.fileno())
        os.replace(tmp, dest)
        fsync_dir(models_dir)
    finally:
        tmp.unlink(missing_ok=True)
    return dest, True
