"""`desktop-search models` (the catalog and what is installed) and `models download NAME`
(fetch a GGUF from the Hugging Face hub, only when a person asks)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from .errors import DesktopSearchError
from .models import CATALOG, KnownModel, download, find_model, installed_models
from .paths import resolve_home


def _size(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


class ByteProgress:
    """Bytes, rate and ETA on one redrawn line on a terminal; nothing otherwise."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr  # looked up now: tests and GUIs swap sys.stderr
        self.label, self.tty = label, self.stream.isatty()
        self.t0 = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> bool:
        now = time.monotonic()
        if self.tty and (now - self.last > 0.2 or done == total):
            self.last = now
            rate = done / max(now - self.t0, 1e-9)
            part = f"{_size(done)} of {_size(total)}" if total else _size(done)
            eta = f"  ETA {int((total - done) / rate)}s" if total and rate > 0 else ""
            self.stream.write(f"\r{self.label} {part}  {rate / 1e6:.1f} MB/s{eta}\x1b[K")
            self.stream.flush()
        return True

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")


def _rows(models_dir: Path, settings: Any) -> tuple[list[dict[str, Any]], list[str]]:
    installed = installed_models(models_dir)
    in_use = {str(Path(p).expanduser()) for p in (settings.model_path, settings.reranker_path) if p}
    rows: list[dict[str, Any]] = []
    for m in CATALOG:
        have = [i for i in installed if i.known is m]
        row = asdict(m)
        row.pop("match")
        row["downloadable"] = m.downloadable
        row["installed"] = [str(i.path) for i in have]
        row["bundled"] = any(i.bundled for i in have)
        row["in_use"] = any(str(i.path) in in_use for i in have) or (
            m.kind == "embedding" and row["bundled"] and not settings.model_path)
        rows.append(row)
    unknown = [str(i.path) for i in installed if i.known is None]
    return rows, unknown


def cmd_models(args: argparse.Namespace) -> int:
    from .config import load_settings

    paths = resolve_home(args.home).ensure()
    if getattr(args, "models_command", None) == "download":
        return _download(args, paths.models_dir)
    rows, unknown = _rows(paths.models_dir, load_settings(paths.config))
    if args.json:
        print(json.dumps({"models_dir": str(paths.models_dir), "catalog": rows,
                          "other_installed": unknown}, indent=2, ensure_ascii=False))
        return 0
    print(f"{'NAME':<26}{'KIND':<11}{'DIMS':>5}{'CONTEXT':>9}{'SIZE':>9}  {'LICENCE':<11}STATE")
    for r in rows:
        state = ("bundled" if r["bundled"] else "installed" if r["installed"] else
                 "downloadable" if r["downloadable"] else "convert (see note)")
        if r["in_use"]:
            state += ", in use"
        dims = str(r["dims"]) if r["dims"] else "-"
        print(f"{r['name']:<26}{r['kind']:<11}{dims:>5}{r['context']:>9}"
              f"{_size(r['size_mb'] * 1e6):>9}  {r['licence']:<11}{state}")
        print(f"{'':<26}{r['quality']}" + (f"; {r['note']}" if r["note"] else ""))
    for p in unknown:
        print(f"also installed (not in the catalog): {p}")
    print(f"models folder: {paths.models_dir}")
    print("get one with `desktop-search models download NAME` (the only command that goes "
          "online)")
    return 0


def _download(args: argparse.Namespace, models_dir: Path) -> int:
    model = find_model(args.name)
    if model is None:
        names = ", ".join(m.name for m in CATALOG if m.downloadable)
        raise DesktopSearchError(f"no model called {args.name!r} in the catalog; downloadable: "
                                 f"{names}")
    dest = models_dir / model.file if model.file else None
    if dest is not None and dest.exists() and not args.force:
        print(f"{model.name} is already installed: {dest}")
        return 0
    bar = ByteProgress(f"downloading {model.name}")
    try:
        path = download(model, models_dir, bar)
    finally:
        bar.finish()
    print(f"installed {path}")
    print(_how_to_use(model, path))
    return 0


def _how_to_use(model: KnownModel, path: Path) -> str:
    if model.kind == "reranker":
        return "`desktop-search search QUERY --rerank` now uses it"
    return (f"use it with `desktop-search --model {path} index` (everything is embedded again; "
            "the old index answers until the new one is complete)")


def add_commands(sub: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    m = sub.add_parser("models", help="the model catalog and what is installed",
                       description="Lists known embedding and reranker models, what is installed "
                       "in this home's models folder, and the bundled model.")
    m.add_argument("--json", action="store_true")
    msub = m.add_subparsers(dest="models_command", metavar="ACTION")
    d = msub.add_parser("download", help="fetch a model's GGUF from the Hugging Face hub "
                        "(set HF_ENDPOINT for a mirror)")
    d.add_argument("name", metavar="NAME")
    d.add_argument("--force", action="store_true", help="download again even if installed")
    return {"models": cmd_models}
