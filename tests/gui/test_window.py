"""The real window over real indexes (real model, SQLite, USearch, files on disk), offscreen.

At the boundary where the window hands a file to the desktop, a stand-in `xdg-open` on PATH
writes down what it was given (or QDesktopServices is replaced, to show nothing was handed).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_search.gui.highlight import MARK_STYLE
from desktop_search.gui.main_window import MainWindow

from .conftest import Heartbeat, build_index, write_docs

pytestmark = pytest.mark.gui


def typed_results(w: MainWindow, qtbot: Any, text: str) -> list[Any]:
    """Types like a person (one key at a time) and waits for that query's results."""
    sp = w.search_page
    sp.box.setFocus()
    qtbot.keyClicks(sp.box, text)
    qtbot.waitUntil(lambda: sp.outcome is not None and sp.outcome.text == text, timeout=20000)
    assert sp.outcome is not None
    return sp.outcome.results


def test_typing_shows_the_expected_file_first_with_highlighted_words_and_preview(
    shared_index: tuple[Path, Path], open_window: Any, qtbot: Any
) -> None:
    home, docs = shared_index
    w = open_window(home, watch=False, index_on_start=False)
    sp = w.search_page
    results = typed_results(w, qtbot, "glacier valleys")
    assert Path(results[0].path).name == "glaciers.txt"
    first_row = sp.results.model_.html[0]
    assert "glaciers.txt" in first_row
    assert f'<span style="{MARK_STYLE}">valleys</span>' in first_row
    # the best file is selected and its text is extracted (off the GUI thread) into the preview
    qtbot.waitUntil(lambda: sp.preview.data is not None, timeout=20000)
    data = sp.preview.data
    assert data.path == str(docs / "glaciers.txt")
    assert "U-shaped valleys" in sp.preview.text.toPlainText()
    words = {data.text[a:b].lower() for a, b in data.hits}
    assert "valleys" in words and len(data.hits) >= 2
    marks = sp.preview.text.extraSelections()
    assert len(marks) >= len(data.hits)
    first = sp.preview.current
    sp.preview.next_hit()
    assert sp.preview.current == (first + 1) % len(data.hits)
    assert "hit" in sp.preview.hit_label.text()
    # filters re-run the query at once: no PDF says it; markdown/text and today's files do
    sp.kind.setCurrentIndex(next(i for i in range(sp.kind.count()) if sp.kind.itemText(i) == "PDF"))
    qtbot.waitUntil(
        lambda: sp.outcome is not None and sp.outcome.options.kinds == ["pdf"], timeout=20000
    )
    assert sp.outcome.results == [] and sp.stack.currentWidget() is sp.message
    assert "Filters are on" in sp.message.body.text()
    sp.kind.setCurrentIndex(0)
    sp.date.setCurrentIndex(1)  # today
    qtbot.waitUntil(
        lambda: (
            sp.outcome is not None
            and sp.outcome.options.after is not None
            and not sp.outcome.options.kinds
        ),
        timeout=20000,
    )
    assert Path(sp.outcome.results[0].path).name == "glaciers.txt"
    sp.date.setCurrentIndex(0)
    # keyboard: arrows move the selection from the search box, Esc clears, Ctrl+L focuses
    if len(results) > 1:
        qtbot.keyClick(sp.box, Qt.Key.Key_Down)
        assert sp.results.currentIndex().row() == 1
    qtbot.keyClick(sp.box, Qt.Key.Key_Escape)
    assert sp.box.text() == "" and sp.results.model_.rowCount() == 0
    w.show_page("Settings")
    qtbot.keyClick(w, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert w.stack.currentWidget() is sp


def fake_launcher(folder: Path, exit_code: int = 0) -> Path:
    """An `xdg-open` that writes down what it was asked to open: the desktop's launcher, at
    the boundary where the window hands a file to it (run as a real process)."""
    log = folder / "opened.txt"
    script = folder / "xdg-open"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{log}"\nexit {exit_code}\n')
    script.chmod(0o755)
    return log


def test_open_reveal_and_copy_hand_the_right_files_to_the_desktop(
    shared_index: tuple[Path, Path],
    open_window: Any,
    qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    home, docs = shared_index
    log = fake_launcher(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")  # no file manager
    w = open_window(home, watch=False, index_on_start=False)
    sp = w.search_page
    results = typed_results(w, qtbot, "brake pads caliper")
    path = results[0].path
    assert path == str(docs / "brakes.txt")
    qtbot.keyClick(sp.box, Qt.Key.Key_Return)  # Enter opens the selected result
    qtbot.waitUntil(lambda: log.is_file() and log.read_text().strip() != "", timeout=10000)
    assert QUrl(log.read_text().splitlines()[-1]).toLocalFile() == path
    assert not sp.preview.notice.isVisible()
    qtbot.waitUntil(lambda: sp.preview.reveal_btn.isEnabled(), timeout=10000)
    qtbot.mouseClick(sp.preview.reveal_btn, Qt.MouseButton.LeftButton)
    # no FileManager1 to select it: the folder that holds it is opened instead
    qtbot.waitUntil(lambda: len(log.read_text().splitlines()) == 2, timeout=10000)
    assert QUrl(log.read_text().splitlines()[-1]).toLocalFile() == str(docs)
    qtbot.mouseClick(sp.preview.copy_btn, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == path
    # a launcher that finds no application for the file: said a moment later
    fake_launcher(tmp_path, exit_code=3)
    qtbot.keyClick(sp.box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(log.read_text().splitlines()) == 3, timeout=10000)
    qtbot.waitUntil(lambda: "no application" in sp.preview.notice.text(), timeout=10000)
    assert not sp.preview.notice.isHidden()


def test_without_a_launcher_open_says_so_and_offers_copy_path(
    shared_index: tuple[Path, Path],
    open_window: Any,
    qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    home, _docs = shared_index
    monkeypatch.setenv("PATH", str(tmp_path))  # a desktop with no xdg-open
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(QUrl(url)) or True)
    w = open_window(home, watch=False, index_on_start=False)
    sp = w.search_page
    messages: list[str] = []
    sp.status_message.connect(messages.append)
    typed_results(w, qtbot, "brake pads caliper")
    qtbot.keyClick(sp.box, Qt.Key.Key_Return)
    assert opened == []  # nothing was handed to a launcher that is not there
    assert "xdg-open is missing" in sp.preview.notice.text()
    assert not sp.preview.notice.isHidden() and sp.preview.copy_btn.isEnabled()
    assert messages[-1].startswith("Cannot open brakes.txt")
    sp.open_with_program("no-such-program-here")
    assert "no such program" in sp.preview.notice.text()
    qtbot.keyClick(sp.box, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert not sp.rerank_btn.isEnabled() and "reranker" in sp.hint.text().lower()
    assert not sp.hint.isHidden()  # Ctrl+Enter without a reranker says how to get one


def test_the_query_lane_answers_while_the_writer_lane_is_busy(
    shared_index: tuple[Path, Path], open_window: Any, qtbot: Any
) -> None:
    home, _docs = shared_index
    w = open_window(home, watch=False, index_on_start=False)
    release = threading.Event()
    w.backend.run_writer(lambda _eng: release.wait(30), lambda _r: None)
    try:
        qtbot.waitUntil(lambda: w.backend.writer.busy(), timeout=5000)
        results = typed_results(w, qtbot, "tax return deadline")
        assert Path(results[0].path).name == "taxes.txt"
        assert not release.is_set()  # answered while the writer lane was still occupied
    finally:
        release.set()


def test_adding_documents_indexes_with_progress_pause_resume_and_a_responsive_window(
    tmp_path: Path, open_window: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_home = tmp_path / "user"
    topics = ["volcano", "harbour", "violin", "orchard", "comet", "lichen", "canal", "falcon"]
    many = {
        f"note-{i:02d}.txt": (
            f"Note {i} about the {topics[i % 8]}\n\n"
            f"This note describes the {topics[i % 8]} number {i} in some detail, with enough words "
            f"to make a passage: observations, dates, and a short list of things to check next."
        )
        for i in range(40)
    }
    docs = write_docs(user_home / "Documents", many)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf\x00\x01")
    monkeypatch.setenv("HOME", str(user_home))
    w = open_window(tmp_path / "home")
    sp = w.search_page
    assert sp.stack.currentWidget() is sp.empty
    assert sp.empty.docs_btn.isVisible()

    states: list[tuple[bool, int, int, bool]] = []
    w.backend.index_state.connect(lambda s: states.append((s.running, s.done, s.total, s.paused)))
    beat = Heartbeat()
    beat.start()
    t0 = time.perf_counter()
    qtbot.mouseClick(sp.empty.docs_btn, Qt.MouseButton.LeftButton)  # "Add ~/Documents"
    qtbot.waitUntil(lambda: any(r and d >= 3 for r, d, _t, _p in states), timeout=30000)
    # words first for every file, then meaning counted in passages (one a note here)
    assert "all 41 files findable by words" in w.state_label.text()
    assert "of 40 passages" in w.state_label.text()
    w.backend.pause()
    qtbot.waitUntil(lambda: w.backend.state.paused, timeout=30000)
    assert w.pause_btn.text() == "Resume"
    w.backend.resume()
    qtbot.waitUntil(
        lambda: (
            not w.backend.state.running
            and not w.backend.state.paused
            and w.backend.snapshot is not None
            and w.backend.snapshot.status.files.get("indexed", 0) == 40
        ),
        timeout=60000,
    )
    beat.stop()
    elapsed = time.perf_counter() - t0
    qtbot.waitUntil(lambda: not w.backend.query.busy(), timeout=30000)  # see the print below
    # (printed once no model is loading: llama-cpp-python silences fds 1 and 2 meanwhile)
    print(
        f"\nindexed 41 files through the window in {elapsed:.1f}s (paused and resumed once);"
        f" longest GUI stall {beat.longest * 1000:.0f} ms over {beat.ticks} heartbeats"
    )
    assert beat.longest < 2.0  # a sanity bound, not a timing claim
    progress = [(d, t) for r, d, t, _p in states if r and t]
    assert progress and progress[0][1] == 40  # counts out of every passage of the folder
    assert any(p for _r, _d, _t, p in states)  # the pause was shown
    # the failed file is listed with its reason
    w.show_page("Indexing")
    table = w.indexing_page.table
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=10000)
    assert "broken.pdf" in table.item(0, 0).text()
    assert table.item(0, 1).text() == "failed" and table.item(0, 2).text()
    w.show_page("Search")
    results = typed_results(w, qtbot, "falcon")
    assert Path(results[0].path).name in {f"note-{i:02d}.txt" for i in range(7, 40, 8)}


def test_a_file_written_on_disk_appears_in_the_results_without_a_click(
    tmp_path: Path, open_window: Any, qtbot: Any
) -> None:
    docs = write_docs(tmp_path / "docs")
    build_index(tmp_path / "home", docs)
    w = open_window(tmp_path / "home", watch_debounce_s=0.3)
    qtbot.waitUntil(
        lambda: w.backend.watcher is not None and not w.backend.state.running, timeout=30000
    )
    sp = w.search_page
    w.search_page.mode.setCurrentIndex(2)  # exact words: the new file is the only match
    results = typed_results(w, qtbot, "armadillo burrows")
    assert results == []
    (docs / "armadillo.txt").write_text(
        "Field notes\n\nThe armadillo digs burrows at the edge of the scrub and sleeps there "
        "through the heat of the day.",
        encoding="utf-8",
    )
    t0 = time.perf_counter()
    qtbot.waitUntil(
        lambda: (
            sp.outcome is not None
            and any(Path(r.path).name == "armadillo.txt" for r in sp.outcome.results)
        ),
        timeout=30000,
    )
    print(f"\nsaved file findable in the open window after {time.perf_counter() - t0:.1f}s")


def test_removing_a_folder_and_excluding_files_from_the_folders_page(
    tmp_path: Path, quiet_window: tuple[Any, Path], qtbot: Any
) -> None:
    w, docs = quiet_window
    w.show_page("Folders")
    fp = w.folders_page
    assert fp.tree.topLevelItemCount() == 1 and fp.selected_path() == str(docs)
    fp.excludes.setText("*.md, taxes*")
    qtbot.mouseClick(fp.save_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: (
            w.backend.snapshot.roots[0].excludes == ["*.md", "taxes*"]
            and not w.backend.state.running
            and sum(w.backend.snapshot.status.files.values()) == 2
        ),
        timeout=30000,
    )
    assert "*.md, taxes*" in fp.tree.topLevelItem(0).text(2)
    fp.remove_folder(str(docs))
    qtbot.waitUntil(lambda: not w.backend.snapshot.roots, timeout=30000)
    w.show_page("Search")
    assert w.search_page.stack.currentWidget() is w.search_page.empty
    fp.add_folder(str(tmp_path / "no-such-folder"))
    qtbot.waitUntil(lambda: not fp.error.isHidden(), timeout=10000)
    assert "no such folder" in fp.error.text()


def test_settings_say_a_reindex_is_needed_first(
    shared_index: tuple[Path, Path], tmp_path: Path, quiet_window: tuple[Any, Path], qtbot: Any
) -> None:
    w, _docs = quiet_window
    w.show_page("Settings")
    sp = w.settings_page
    sp.chunk.setValue(120)
    seen: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text() + " " + box.informativeText())
            box.button(QMessageBox.StandardButton.Ok).click()

    qtbot.waitUntil(lambda: sp.isEnabled(), timeout=10000)
    from PySide6.QtCore import QTimer

    QTimer.singleShot(200, answer)
    qtbot.mouseClick(sp.save_btn, Qt.MouseButton.LeftButton)
    assert seen and "indexed again" in seen[0] and "passage size" in seen[0]
    qtbot.waitUntil(
        lambda: w.backend.snapshot.settings.chunk_tokens == 120 and not w.backend.state.running,
        timeout=30000,
    )
    assert "chunk_tokens = 120" in (tmp_path / "home" / "config.toml").read_text()
    assert "Saved" in sp.status.text()
    # threads take effect without re-indexing: no question asked
    sp.threads.setValue(1)
    qtbot.mouseClick(sp.save_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.backend.snapshot.settings.n_threads == 1, timeout=30000)
    assert len(seen) == 1
    # rerank: no reranker configured, so Ctrl+Enter's button says why it is off
    assert not w.search_page.rerank_btn.isEnabled()
    assert w.search_page.rerank_btn.toolTip()


def tiny_cross_encoder(folder: Path) -> Path:
    """A random-weight BERT cross-encoder converted to GGUF by the project's own converter (no
    reranker can be downloaded here): its scores mean nothing, the plumbing is what is tested."""
    import importlib.util

    repo = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        "convert_cross_encoder_gguf", repo / "packaging" / "convert_cross_encoder_gguf.py"
    )
    assert spec is not None and spec.loader is not None
    conv = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("convert_cross_encoder_gguf", conv)
    spec.loader.exec_module(conv)
    conv.make_random_checkpoint(folder / "ckpt", seed=3)
    out = folder / "tiny-cross-encoder.f32.gguf"
    conv.convert(folder / "ckpt", out, "f32", name="tiny-cross-encoder")
    return out


def test_ctrl_enter_asks_for_the_reranked_list_once_a_reranker_is_set(
    tmp_path: Path, quiet_window: tuple[Any, Path], qtbot: Any
) -> None:
    w, docs = quiet_window
    sp = w.search_page
    assert not sp.rerank_btn.isEnabled() and "Settings" in sp.rerank_btn.toolTip()
    model = tiny_cross_encoder(tmp_path / "cross")
    w.show_page("Settings")
    w.settings_page.reranker.setText(str(model))
    qtbot.mouseClick(w.settings_page.save_btn, Qt.MouseButton.LeftButton)  # no re-index needed
    qtbot.waitUntil(lambda: sp.rerank_btn.isEnabled(), timeout=20000)
    assert model.name in sp.rerank_btn.toolTip()
    w.show_page("Search")
    results = typed_results(w, qtbot, "bread dough")
    assert not sp.outcome.reranked
    qtbot.keyClick(sp.box, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: sp.outcome.reranked, timeout=30000)
    assert {r.path for r in sp.outcome.results} <= {r.path for r in results} | {
        str(p) for p in docs.iterdir()
    }
    assert "reranked" in sp.summary.text()


def test_screenshot_command_saves_the_window_and_exits_zero(
    shared_index: tuple[Path, Path], tmp_path: Path
) -> None:
    home, _docs = shared_index
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "desktop_search.cli",
            "--home",
            str(home),
            "gui",
            "--query",
            "sourdough starter",
            "--screenshot",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    img = QImage(str(out))
    assert not img.isNull() and img.width() >= 900 and img.height() >= 600


def test_qt_calls_do_not_leak_references_to_none(qtbot: Any) -> None:
    """PySide6 6.12.0 on Python 3.11 drops a reference to None on every void call; a window
    open for an hour makes millions of them and dies with "none_dealloc" (hence the pin)."""
    from PySide6.QtWidgets import QLabel

    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
        QApplication.processEvents()
    assert sys.getrefcount(None) > before - 500
