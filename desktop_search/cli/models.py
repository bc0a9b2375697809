"""`desktop-search models` (the catalog and what is installed), `models download NAME` (fetch a
GGUF from the Hugging Face hub, only when a person asks), `models install PATH` (copy one a person
has), `models list` (active, configured, stored vectors), `models use NAME|PATH` (switch) and
`models prune` (drop the vectors of models no longer used). A switch is always the person's
decision: `index` asks before it re-embeds (see settle_model)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import DesktopSearchError
from ..models import (
    CATALOG,
    KnownModel,
    download,
    find_installed,
    find_model,
    install_model,
    installed_models,
    model_fingerprint,
)
from ..paths import resolve_home
from .common import EXIT_FAIL, EXIT_USAGE, index_with_progress, print_report
from .progress import ByteProgress, size_text


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
            m.kind == "embedding" and row["bundled"] and not settings.model_path
        )
        rows.append(row)
    unknown = [str(i.path) for i in installed if i.known is None]
    return rows, unknown


def cmd_models(args: argparse.Namespace) -> int:
    from ..config import load_settings

    paths = resolve_home(args.home).ensure()
    action = getattr(args, "models_command", None)
    if action == "download":
        return _download(args, paths.models_dir)
    if action == "install":
        return _install(args, paths.models_dir)
    if action in ("list", "use", "prune"):
        from ..engine import Engine

        with Engine(args.home) as eng:
            return {"list": _list, "use": _use, "prune": _prune}[action](args, eng)
    rows, unknown = _rows(paths.models_dir, load_settings(paths.config))
    if args.json:
        print(
            json.dumps(
                {"models_dir": str(paths.models_dir), "catalog": rows, "other_installed": unknown},
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    print(f"{'NAME':<26}{'KIND':<11}{'DIMS':>5}{'CONTEXT':>9}{'SIZE':>9}  {'LICENCE':<11}STATE")
    for r in rows:
        state = (
            "bundled"
            if r["bundled"]
            else "installed"
            if r["installed"]
            else "downloadable"
            if r["downloadable"]
            else "convert (see note)"
        )
        if r["in_use"]:
            state += ", in use"
        dims = str(r["dims"]) if r["dims"] else "-"
        print(
            f"{r['name']:<26}{r['kind']:<11}{dims:>5}{r['context']:>9}"
            f"{size_text(r['size_mb'] * 1e6):>9}  {r['licence']:<11}{state}"
        )
        print(f"{'':<26}{r['quality']}" + (f"; {r['note']}" if r["note"] else ""))
    for p in unknown:
        print(f"also installed (not in the catalog): {p}")
    print(f"models folder: {paths.models_dir}")
    print("get one with `desktop-search models download NAME` (the only command that goes online)")
    return 0


def _download(args: argparse.Namespace, models_dir: Path) -> int:
    model = find_model(args.name)
    if model is None:
        names = ", ".join(m.name for m in CATALOG if m.downloadable)
        raise DesktopSearchError(
            f"no model called {args.name!r} in the catalog; downloadable: {names}"
        )
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


def _how_to_use(model: KnownModel | None, path: Path) -> str:
    if model is not None and model.kind == "reranker":
        return "`desktop-search search QUERY --rerank` now uses it"
    return (
        f"switch to it with `desktop-search models use {path.name}` (it says first what "
        "re-embedding costs; the old index answers until the new one is complete)"
    )


def _install(args: argparse.Namespace, models_dir: Path) -> int:
    from ..models import known_model_for

    path, copied = install_model(Path(args.path), models_dir)
    print(f"installed {path}" if copied else f"{path.name} is already installed: {path}")
    print(_how_to_use(known_model_for(path.name), path))
    return 0


def model_rows(eng: Any) -> dict[str, Any]:
    """Every installed model and every model with stored vectors: which one searches use
    (active), which one config.toml names (configured), how many vectors each has stored."""
    st = eng.status()
    active, stored = st.model.get("key"), dict(st.model.get("stored") or {})
    configured = st.model.get("configured_key")
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for m in installed_models(eng.paths.models_dir):
        try:
            key = model_fingerprint(m.path)
        except OSError:
            continue
        seen.add(key)
        rows.append(
            {
                "name": m.path.name,
                "path": str(m.path),
                "key": key,
                "kind": m.known.kind if m.known else "",
                "bundled": m.bundled,
                "active": key == active,
                "configured": key == configured,
                "vectors": stored.get(key, 0),
            }
        )
    for key, n in stored.items():
        if key not in seen:  # vectors of a model not in models/ (a GGUF elsewhere, or gone)
            where = eng.catalog.get_meta(f"path:{key}") or ""
            path = where if where and Path(where).is_file() else None
            rows.append(
                {
                    "name": Path(where).name if where else f"(key {key})",
                    "path": path,
                    "key": key,
                    "kind": "embedding",
                    "bundled": False,
                    "active": key == active,
                    "configured": key == configured,
                    "vectors": n,
                }
            )
    return {
        "active": active,
        "configured": st.model.get("configured"),
        "switching": bool(st.model.get("switching")),
        "models": rows,
        "stored": stored,
        "notices": st.notices,
    }


def _list(args: argparse.Namespace, eng: Any) -> int:
    info = model_rows(eng)
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    print(f"{'MODEL':<40}{'KIND':<11}{'VECTORS':>9}  STATE")
    for r in info["models"]:
        if r["kind"] == "reranker":
            state = "reranker"
        else:
            marks = [
                w
                for w, on in (
                    ("active", r["active"]),
                    ("configured", r["configured"]),
                    ("bundled", r["bundled"]),
                )
                if on
            ]
            state = ", ".join(marks) + ("" if r["path"] else " (file not found)")
        print(f"{r['name'][:39]:<40}{r['kind'] or '?':<11}{r['vectors']:>9,}  {state}")
    for n in info["notices"]:
        print(f"note: {n}")
    print(
        "active: what searches use; configured: what config.toml names. Switch with "
        "`desktop-search models use NAME`; `models prune` drops the vectors of the others"
    )
    return 0


def _use(args: argparse.Namespace, eng: Any) -> int:
    path = find_installed(args.name, eng.paths.models_dir)
    change = eng.model_change(path)
    if change is not None:
        print(change.cost(), file=sys.stderr)
    eng.use_model(path)
    st = eng.status()
    if change is None or st.model.get("key") == change.key:
        print(
            f"using {path.name}"
            + (" (switched at once: its vectors were stored)" if change is not None else "")
        )
        return 0
    if not eng.roots():
        print(f"configured {path.name}; `desktop-search index` embeds with it")
        return 0
    rep = index_with_progress(eng, "index")
    print_report(rep, sys.stdout)
    done = eng.status().model.get("key") == change.key
    print(
        f"using {path.name}"
        if done
        else f"the switch to {path.name} continues with the next `desktop-search index`"
    )
    return 0


def _prune(args: argparse.Namespace, eng: Any) -> int:
    removed, freed = eng.prune_models()
    if args.json:
        print(json.dumps({"removed": removed, "freed_bytes": freed}, indent=2))
        return 0
    if not removed:
        print(
            f"nothing to prune: only the active and configured models have vectors; "
            f"{size_text(freed)} freed"
        )
        return 0
    n = sum(removed.values())
    print(
        f"removed {n:,} vectors of {len(removed)} model(s) no longer used; {size_text(freed)} freed"
    )
    return 0


def settle_model(eng: Any, named: str | None, yes: bool) -> int | None:
    """Before `index` or `watch`: a model change is the person's decision, never a side effect.
    Says what switching costs, then asks (a terminal), or needs --yes (no terminal: refused
    with exit code 2, bad usage). Without --model, a configured model nobody confirmed leaves
    indexing on the active one, with a note. Returns an exit code to stop with, or None."""
    tty = sys.stdin.isatty()
    if named is None and not yes and not tty:
        change = eng.model_change(measure=False)
        if change is not None and not change.confirmed:
            print(
                f"note: config.toml names {change.name}, but indexing keeps using "
                f"{change.active_name}; `desktop-search models use {change.name}` switches "
                f"({change.cost()})",
                file=sys.stderr,
            )
        return None
    change = eng.model_change()
    if change is None:
        if named is not None:
            eng.use_model(named)  # the model the index uses: saved, costs nothing
        return None
    if change.confirmed:
        print(f"continuing: {change.cost()}", file=sys.stderr)
        return None
    if not yes and not tty:
        print(
            f"desktop-search: not switched: {change.cost()}; confirm with --yes, or run "
            f"`desktop-search models use {change.name}`",
            file=sys.stderr,
        )
        return EXIT_USAGE
    print(change.cost(), file=sys.stderr)
    if not yes:
        sys.stderr.write(f"switch to {change.name}? [y/N] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            if named is not None:
                print(
                    f"not switched: the index keeps {change.active_name}; nothing was indexed",
                    file=sys.stderr,
                )
                return EXIT_FAIL
            print(f"not switched: indexing with {change.active_name}", file=sys.stderr)
            return None
    eng.use_model(change.path)
    return None


def add_models(sub: Any) -> None:
    m = sub.add_parser(
        "models",
        help="the model catalog and what is installed",
        description="Lists known embedding and reranker models, what is installed "
        "in this home's models folder, and the bundled model.",
    )
    m.add_argument("--json", action="store_true")
    msub = m.add_subparsers(dest="models_command", metavar="ACTION")
    d = msub.add_parser(
        "download",
        help="fetch a model's GGUF from the Hugging Face hub (set HF_ENDPOINT for a mirror)",
    )
    d.add_argument("name", metavar="NAME")
    d.add_argument("--force", action="store_true", help="download again even if installed")
    i = msub.add_parser(
        "install",
        help="copy a GGUF embedding model you have into this home's "
        "models folder (checked with llama.cpp first)",
    )
    i.add_argument("path", metavar="PATH")
    ls = msub.add_parser(
        "list",
        help="installed models: which one searches use (active), "
        "which one config.toml names, vectors stored for each",
    )
    ls.add_argument("--json", action="store_true")
    u = msub.add_parser(
        "use",
        help="switch to a model: saved in config.toml, then re-embeds "
        "(nothing when its vectors are stored); the old index answers meanwhile",
    )
    u.add_argument("name", metavar="NAME|PATH")
    pr = msub.add_parser(
        "prune",
        help="remove the vectors of models neither active nor configured, and give the space back",
    )
    pr.add_argument("--json", action="store_true")
    m.set_defaults(handler=cmd_models)
