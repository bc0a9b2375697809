"""Fixtures for the window tests: real indexes built with the real model, real windows offscreen."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

DOCS = {
    "glaciers.txt": (
        "How glaciers shape mountains\n\n"
        "Glaciers carve deep U-shaped valleys as they grind downhill. When a glacier retreats it "
        "leaves moraines, polished bedrock and lakes in the hollows it scoured."
    ),
    "sourdough.md": (
        "# Sourdough at home\n\n"
        "Feed the starter the night before. Mix flour, water and salt, fold the dough every "
        "half hour, proof it overnight in the fridge and bake it in a hot Dutch oven."
    ),
    "brakes.txt": (
        "Replacing brake pads\n\n"
        "Loosen the wheel nuts, jack up the car, unbolt the caliper and slide out the worn pads. "
        "Push the piston back, fit the new pads and pump the pedal before driving."
    ),
    "taxes.txt": (
        "Filing the annual tax return\n\n"
        "Gather payslips, bank interest statements and receipts for deductible expenses. The "
        "online return is due at the end of January; filing late incurs a penalty."
    ),
}


def write_docs(folder: Path, docs: dict[str, str] = DOCS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def build_index(home: Path, folder: Path) -> None:
    from desktop_search.engine import Engine

    eng = Engine(home)
    eng.add_root(folder)
    rep = eng.index()
    assert rep.indexed == len(list(folder.iterdir()))
    eng.close()


@pytest.fixture(scope="module")
def shared_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(home, docs): an index tests only read, built once per module."""
    base = tmp_path_factory.mktemp("shared")
    docs = write_docs(base / "docs")
    build_index(base / "home", docs)
    return base / "home", docs


@pytest.fixture
def open_window(qtbot: Any) -> Iterator[Callable[..., Any]]:
    """Opens the real MainWindow on a home; closes it (and its lanes) after the test."""
    from desktop_search.gui.main_window import MainWindow

    windows: list[MainWindow] = []

    def make(home: Path, **kw: Any) -> MainWindow:
        w = MainWindow(str(home), **kw)
        qtbot.addWidget(w)
        w.resize(1200, 780)
        w.show()
        qtbot.waitUntil(lambda: w.backend.snapshot is not None, timeout=30000)
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()  # shuts the backend down: lanes drained, watcher stopped, engine closed


@pytest.fixture
def quiet_window(tmp_path: Path, open_window: Callable[..., Any]) -> tuple[Any, Path]:
    """The window over a freshly indexed home of its own (DOCS), neither watching nor
    indexing on start: for tests that change that home. Returns (window, documents folder)."""
    docs = write_docs(tmp_path / "docs")
    build_index(tmp_path / "home", docs)
    return open_window(tmp_path / "home", watch=False, index_on_start=False), docs


class Heartbeat:
    """A 5 ms timer on the GUI thread; the longest gap between ticks is the longest stall."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.last = time.perf_counter()
        self.longest = 0.0
        self.ticks = 0
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last)
        self.last = now
        self.ticks += 1

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
