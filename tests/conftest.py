"""Shared fixtures: the real bundled model, real homes on disk, no user state touched."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Set before anything imports Qt or llama_cpp.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The user cache (the F32 working copy of the model, paths.weights_dir) is shared by every
# test, as by every home, and is never the real user's.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="desktop-search-test-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], ignore_errors=True)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may read or write the real user's index."""
    monkeypatch.setenv("DESKTOP_SEARCH_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def model_path() -> Path:
    from desktop_search.models import bundled_model_path

    return bundled_model_path()


@pytest.fixture(scope="session")
def embedder(model_path: Path):  # type: ignore[no-untyped-def]
    from desktop_search.embed import Embedder

    return Embedder(model_path)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    return d


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[object]:
    from desktop_search.engine import Engine

    eng = Engine(tmp_path / "home")
    yield eng
    eng.close()
