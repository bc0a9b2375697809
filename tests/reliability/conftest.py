"""Helpers for the reliability tests: real subprocesses of the CLI, homes checked without being
changed, a process that file permissions apply to even when the tests run as root, and small
filesystems that fill up."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))  # nasty_files, engine_run


def cli(
    home: Path,
    *args: str,
    check: bool = True,
    timeout: float = 300,
    prefix: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`desktop-search --home HOME ARGS...` in a fresh interpreter, as a user would run it."""
    proc = subprocess.run(
        [*(prefix or []), sys.executable, "-m", "desktop_search.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


def home_problems(home: Path) -> tuple[list[str], str]:
    """The consistency rules, checked on a home no process holds, without changing it: a
    read-only catalog connection (no checkpoint on close) and a vector index loaded or
    rebuilt in memory only. Returns the problems and how the vector index opened."""
    from desktop_search.store import Catalog, consistency_problems
    from desktop_search.vector_index import VectorIndex

    cat = Catalog(home / "catalog.sqlite3", readonly=True)
    try:
        key, dims = cat.get_meta("model_key"), cat.get_meta("model_dims")
        vi = None
        how = "none"
        if key and dims:
            vi, how = VectorIndex.open(home / "index" / f"vectors-{key}", int(dims), cat, key)
        return consistency_problems(cat, vi), how
    finally:
        cat.close()


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def unprivileged_prefix() -> list[str] | None:
    """A command prefix under which file permissions apply. Root ignores them (it has
    CAP_DAC_OVERRIDE), so as root the capabilities that bypass them are dropped with setpriv
    (util-linux). None when that cannot be done here."""
    if not is_root():
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    caps = "-dac_override,-dac_read_search,-fowner"
    prefix = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    return prefix if probe.returncode == 0 else None


@pytest.fixture
def unprivileged() -> list[str]:
    prefix = unprivileged_prefix()
    if prefix is None:
        pytest.skip("running as root without setpriv: file permissions cannot be made to apply")
    return prefix


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """Mounts tmpfs filesystems of a given size in KiB (root only): a disk that really fills
    up (ENOSPC), for SQLite, USearch and the config alike."""
    mounts: list[Path] = []

    def make(size_kib: int) -> Path:
        where = tmp_path / f"fs-{uuid.uuid4().hex[:6]}"
        where.mkdir()
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()}")
        mounts.append(where)
        return where

    yield make
    for m in mounts:
        with contextlib.suppress(Exception):
            subprocess.run(["umount", "-l", str(m)], capture_output=True)
