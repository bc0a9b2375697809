"""The Settings page's model switch over the real core: it says which model searches use and
which one is chosen, a model only named in config.toml never makes the window re-embed, and a
switch asks first with its cost here. Two real GGUFs: the bundled F16 and a Q8_0 quantised from
it by llama.cpp."""

from __future__ import annotations

import ctypes
import tomllib
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_search.models import bundled_model_path, model_fingerprint

from .conftest import DOCS, build_index, write_docs

pytestmark = pytest.mark.gui


def quantize_q8(out: Path) -> Path:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    params.nthread = 1
    assert (
        llama_cpp.llama_model_quantize(
            str(bundled_model_path()).encode(), str(out).encode(), ctypes.byref(params)
        )
        == 0
    )
    return out


def test_the_window_switches_models_only_when_asked_and_says_the_cost(
    tmp_path: Path, open_window: Any, qtbot: Any
) -> None:
    q8 = quantize_q8(tmp_path / "all-MiniLM-L6-v2.q8_0.gguf")
    f16_key, q8_key = model_fingerprint(bundled_model_path()), model_fingerprint(q8)
    home = tmp_path / "home"
    build_index(home, write_docs(tmp_path / "docs"))
    (home / "config.toml").write_text(f'model_path = "{q8}"\n', encoding="utf-8")  # by hand

    # the window indexes on start and watches: neither re-embeds with the unconfirmed model
    w = open_window(home, watch=True, index_on_start=True)
    qtbot.waitUntil(
        lambda: not w.backend.state.running and not w.backend.writer.busy(), timeout=60000
    )
    eng = w.backend.engine
    assert eng.catalog.get_meta("model_key") == f16_key
    assert eng.catalog.vector_counts() == {f16_key: len(DOCS)}
    w.show_page("Settings")
    sp = w.settings_page
    qtbot.waitUntil(lambda: sp.isEnabled(), timeout=10000)
    assert "Searches use:</b> all-MiniLM-L6-v2.f16.gguf" in sp.model_state.text()
    assert f"not in use:</b> {q8.name}" in sp.model_state.text()
    assert sp.bundled.isChecked()  # the page starts from the model in use

    # choosing the Q8 model asks first, with what it costs here
    sp.custom.setChecked(True)
    sp.model_path.setText(str(q8))
    seen: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text() + " " + box.informativeText())
            box.button(QMessageBox.StandardButton.Ok).click()
        else:
            QTimer.singleShot(100, answer)  # the cost is still being measured

    QTimer.singleShot(100, answer)
    qtbot.mouseClick(sp.save_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(seen), timeout=30000)
    assert f"re-embeds {len(DOCS)} passages" in seen[0] and " here (" in seen[0]
    assert "keeps answering searches" in seen[0]
    qtbot.waitUntil(
        lambda: (
            w.backend.engine.catalog.get_meta("model_key") == q8_key and not w.backend.state.running
        ),
        timeout=60000,
    )
    assert tomllib.loads((home / "config.toml").read_text())["model_path"] == str(q8)
    # the old model's vectors are kept: switching back would be instant
    assert w.backend.engine.catalog.vector_counts() == {f16_key: len(DOCS), q8_key: len(DOCS)}
    qtbot.waitUntil(lambda: f"Searches use:</b> {q8.name}" in sp.model_state.text(), timeout=10000)
    assert f"Kept from earlier models: {len(DOCS)} vectors" in sp.model_state.text()
