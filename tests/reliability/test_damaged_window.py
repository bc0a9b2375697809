"""The window meets a damaged catalog with a dialog that says the same one line as the CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pytestqt")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from desktop_search.engine import Engine


def test_a_damaged_catalog_opens_a_dialog_with_the_repair_command(
    tmp_path: Path, qtbot: Any
) -> None:
    from desktop_search.gui.main_window import MainWindow

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "tapir.txt").write_text("The tapir browses at night.", encoding="utf-8")
    home = tmp_path / "home"
    eng = Engine(home)
    eng.add_root(notes)
    eng.index()
    eng.close()
    with open(home / "catalog.sqlite3", "r+b") as f:
        f.write(bytes(100))  # the header zeroed

    w = MainWindow(str(home), watch=False, index_on_start=False)
    qtbot.addWidget(w)
    w.resize(1100, 700)
    w.show()
    qtbot.waitUntil(lambda: w.damaged_dialog is not None, timeout=30000)
    box = w.damaged_dialog
    assert box is not None
    qtbot.waitUntil(box.isVisible, timeout=5000)
    text = box.text()
    assert str(home) in text and "damaged" in text
    assert "your own files are untouched" in text and "desktop-search repair" in text
    assert "desktop-search repair" in box.informativeText()
    shots = Path(os.environ.get("DESKTOP_SEARCH_SHOTS", tmp_path))
    qtbot.wait(300)
    assert box.grab().save(str(shots / "damaged-dialog.png"), "PNG")
    assert w.grab().save(str(shots / "damaged-window.png"), "PNG")
    # a second damage report does not stack a second dialog
    w.show_damaged(text)
    assert w.damaged_dialog is box
