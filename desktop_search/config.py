"""Typed settings, kept as TOML in the home folder, versioned and saved atomically."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .fsutil import atomic_write

CONFIG_VERSION = 1

# Folders a desktop indexer should never descend into: noise, or secrets people do not expect in
# a search index. Matched against each path component (fnmatch patterns).
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".*",  # hidden folders and files: .git, .ssh, .gnupg, .aws, .cache, .venv, .mozilla ...
    "node_modules",
    "__pycache__",
    "venv",
    "env",
    "site-packages",
    "*.egg-info",
    "build",
    "dist",
    "target",
    "Cache",
    "Caches",
    "cache",
    "Keychains",
    # browser profiles and app data outside dot-folders: Windows AppData, macOS Library
    "AppData",
    "Application Support",
    "Containers",
    "Group Containers",
    "password-store",
    "*.kdbx",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_ed25519*",
    "*~",
    "*.swp",
    "*.tmp",
)


@dataclass
class Settings:
    version: int = CONFIG_VERSION
    # Embedding model: empty = the bundled default.
    model_path: str = ""
    n_threads: int = 0  # 0 = physical cores
    n_gpu_layers: int = 0  # -1 = all layers when llama.cpp can offload
    chunk_tokens: int = 200
    chunk_overlap: int = 32
    max_file_mb: int = 50
    excludes: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDES))
    reranker_path: str = ""  # a GGUF cross-encoder; empty = the first one in the home's models/
    rerank_top_n: int = 30  # passages the cross-encoder reads per reranked query
    follow_symlinks: bool = False

    def validate(self) -> Settings:
        if not 32 <= self.chunk_tokens <= 500:
            raise ConfigError(f"chunk_tokens must be between 32 and 500, not {self.chunk_tokens}")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise ConfigError("chunk_overlap must be at least 0 and under half of chunk_tokens")
        if self.n_threads < 0:
            raise ConfigError("n_threads must be 0 (automatic) or more")
        if not 1 <= self.rerank_top_n <= 500:
            raise ConfigError("rerank_top_n must be between 1 and 500")
        if self.max_file_mb < 1:
            raise ConfigError("max_file_mb must be at least 1")
        return self


def load_settings(path: Path) -> Settings:
    if not path.exists():
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read settings {path}: {e}") from e
    known = {f.name: f for f in fields(Settings)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            continue  # a newer version's key: ignore rather than refuse to start
        default = getattr(Settings(), key)
        if isinstance(default, bool) != isinstance(value, bool) or not isinstance(
            value, type(default)
        ):
            raise ConfigError(f"setting {key!r} in {path} must be a {type(default).__name__}")
        kwargs[key] = value
    return Settings(**kwargs).validate()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        escaped = "".join(c if c >= " " else f"\\u{ord(c):04x}" for c in escaped)
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def save_settings(settings: Settings, path: Path) -> None:
    settings.validate()
    text = "".join(f"{k} = {_toml_value(v)}\n" for k, v in asdict(settings).items())
    atomic_write(path, text.encode("utf-8"))
