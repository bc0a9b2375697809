"""Tiny random-weight models for plumbing tests, made by the project's own converters in
packaging/ (scripts, not a package: loaded by path). Their scores mean nothing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACKAGING = Path(__file__).resolve().parents[1] / "packaging"


def packaging_module(name: str) -> ModuleType:
    """packaging/<name>.py, loaded once per process."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def tiny_cross_encoder(folder: Path, seed: int = 3) -> tuple[Path, Path]:
    """A random BERT cross-encoder checkpoint in folder/ckpt and its f32 GGUF beside it:
    (checkpoint folder, GGUF)."""
    conv = packaging_module("convert_cross_encoder_gguf")
    conv.make_random_checkpoint(folder / "ckpt", seed=seed)
    out = folder / "tiny-cross-encoder.f32.gguf"
    conv.convert(folder / "ckpt", out, "f32", name="tiny-cross-encoder")
    return folder / "ckpt", out
