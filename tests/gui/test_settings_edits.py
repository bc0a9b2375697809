"""The Settings page keeps what a person typed and says what a change costs, over the real core:
a model path is checked as it is typed (the GGUF header, no model load) with the problem under
the field, a failed save keeps the text, and the passage-size question names how long the
re-index takes at the speed measured while this home was indexed."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_search.models import bundled_model_path

from .conftest import build_index, write_docs

pytestmark = pytest.mark.gui

TOPICS = [
    "glacier",
    "harbour",
    "violin",
    "orchard",
    "comet",
    "lichen",
    "canal",
    "falcon",
    "bakery",
    "lighthouse",
    "monsoon",
    "tram",
]


def long_notes(n: int) -> dict[str, str]:
    """n notes of a few hundred words each: enough passages that indexing them is timed."""
    notes = {}
    for i in range(n):
        t = TOPICS[i % len(TOPICS)]
        body = " ".join(
            f"Entry {j} on the {t}: on day {i + j} the {t} was observed again near the "
            f"{TOPICS[(i + j) % len(TOPICS)]}, and the notes record the weather, who came "
            f"along, what it cost and what to check the next time."
            for j in range(14)
        )
        notes[f"{t}-{i:02d}.txt"] = f"Notes on the {t}, part {i}\n\n{body}"
    return notes


def type_into(qtbot: Any, edit: Any, text: str) -> None:
    edit.clear()
    qtbot.keyClicks(edit, text)


def test_a_bad_model_path_is_named_as_typed_and_survives_a_failed_save(
    tmp_path: Path, quiet_window: tuple[Any, Path], qtbot: Any
) -> None:
    w, _docs = quiet_window
    w.show_page("Settings")
    sp = w.settings_page
    qtbot.waitUntil(lambda: sp.isEnabled(), timeout=10000)
    saved = w.backend.snapshot.settings  # the page opens on what is saved
    assert (sp.chunk.value(), sp.overlap.value()) == (saved.chunk_tokens, saved.chunk_overlap)
    assert sp.bundled.isChecked() and not sp.has_edits()
    assert sp.model_error.isHidden()

    sp.custom.setChecked(True)
    missing = str(tmp_path / "models" / "nonexistent-model.gguf")
    type_into(qtbot, sp.model_path, missing)
    qtbot.waitUntil(lambda: not sp.model_error.isHidden(), timeout=5000)
    assert sp.model_error.text() == "No file at this path."

    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("these are notes, not a model", encoding="utf-8")
    type_into(qtbot, sp.model_path, str(not_gguf))
    qtbot.waitUntil(lambda: "not a GGUF model file" in sp.model_error.text(), timeout=5000)
    type_into(qtbot, sp.model_path, str(tmp_path))
    qtbot.waitUntil(lambda: "folder" in sp.model_error.text(), timeout=5000)
    type_into(qtbot, sp.model_path, missing)
    qtbot.waitUntil(lambda: sp.model_error.text() == "No file at this path.", timeout=5000)

    # Save refuses with the field marked, asks nothing, and the typed path stays
    asked: list[str] = []

    def no_question() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            asked.append(box.text())
            box.button(QMessageBox.StandardButton.Cancel).click()

    QTimer.singleShot(300, no_question)
    qtbot.mouseClick(sp.save_btn, Qt.MouseButton.LeftButton)
    qtbot.wait(500)
    assert not asked
    assert sp.status.text().startswith("Not saved")
    assert sp.custom.isChecked() and sp.model_path.text() == missing
    # a snapshot arriving meanwhile (a run, the watcher) does not throw the edit away
    with qtbot.waitSignal(w.backend.snapshot_changed, timeout=10000):
        w.backend.refresh()
    assert sp.custom.isChecked() and sp.model_path.text() == missing
    assert not sp.model_error.isHidden()

    # fixing it clears the field's error and the stale "Not saved" at once
    type_into(qtbot, sp.model_path, str(bundled_model_path()))
    assert sp.status.text() == ""
    qtbot.waitUntil(lambda: sp.model_error.isHidden(), timeout=5000)
    # the same for the reranker's field and the passage overlap
    type_into(qtbot, sp.reranker, str(not_gguf))
    qtbot.waitUntil(lambda: "not a GGUF" in sp.reranker_error.text(), timeout=5000)
    sp.reranker.clear()
    qtbot.waitUntil(lambda: sp.reranker_error.isHidden(), timeout=5000)
    sp.chunk.setValue(100)
    sp.overlap.setValue(60)
    qtbot.waitUntil(lambda: "under half the passage size" in sp.chunk_error.text(), timeout=5000)
    qtbot.mouseClick(sp.save_btn, Qt.MouseButton.LeftButton)
    assert sp.status.text().startswith("Not saved") and sp.overlap.value() == 60
    sp.overlap.setValue(20)
    qtbot.waitUntil(lambda: sp.chunk_error.isHidden(), timeout=5000)
    # Revert goes back to what is saved
    qtbot.mouseClick(sp.revert_btn, Qt.MouseButton.LeftButton)
    assert sp.bundled.isChecked() and sp.chunk.value() == w.backend.snapshot.settings.chunk_tokens
    assert sp.model_error.isHidden() and sp.chunk_error.isHidden()


def test_a_passage_size_change_says_how_long_the_reindex_takes_here(
    tmp_path: Path, open_window: Any, qtbot: Any
) -> None:
    docs = write_docs(tmp_path / "docs", long_notes(36))
    build_index(tmp_path / "home", docs)  # timed: the speed is stored with the index
    w = open_window(tmp_path / "home", watch=False, index_on_start=False)
    meaning = w.backend.snapshot.status.meaning
    assert meaning["tokens_per_s"] and meaning["tokens"] > 10_000
    w.show_page("Settings")
    sp = w.settings_page
    qtbot.waitUntil(lambda: sp.isEnabled(), timeout=10000)
    sp.chunk.setValue(120)
    seen: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text() + " " + box.informativeText())
            box.button(QMessageBox.StandardButton.Ok).click()
        else:
            QTimer.singleShot(100, answer)

    QTimer.singleShot(100, answer)
    qtbot.mouseClick(sp.save_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    said = seen[0]
    assert "36 files will be read and split again" in said
    m = re.search(
        r"takes (about [\d.]+ (?:s|min|h)|under a second) here at the [\d.]+ "
        r"passages/s measured while indexing",
        said,
    )
    assert m, said
    t0 = time.perf_counter()
    qtbot.waitUntil(lambda: w.backend.state.running, timeout=10000)
    qtbot.waitUntil(
        lambda: (
            not w.backend.state.running
            and not w.backend.writer.busy()
            and w.backend.snapshot.settings.chunk_tokens == 120
        ),
        timeout=120000,
    )
    print(
        f"\nthe dialog said the passage-size re-index {m.group(1)}; "
        f"it took {time.perf_counter() - t0:.1f} s"
    )


def test_without_a_measured_speed_the_question_says_so(
    quiet_window: tuple[Any, Path], qtbot: Any
) -> None:
    w, _docs = quiet_window  # four short notes: too little embedding to time
    w.show_page("Settings")
    sp = w.settings_page
    qtbot.waitUntil(lambda: sp.isEnabled(), timeout=10000)
    sp.overlap.setValue(10)
    box = sp.reindex_box(sp.pending_change())
    assert "4 files will be read and split again" in box.informativeText()
    assert "not known yet" in box.informativeText()
    assert "not run long enough to be timed" in box.informativeText()
