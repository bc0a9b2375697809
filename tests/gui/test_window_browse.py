"""Browsing the results in the real window (real model, SQLite, USearch, files on disk): a
layout that holds, files found by name only, sorting, the compact list, more files, the folder
filter with subfolders, filters typed in the box, and what the window remembers."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pdf_maker import make_pdf

pytestmark = pytest.mark.gui

DAY = 86400
LONG_NAME = (
    "minutes-of-the-annual-general-meeting-of-the-harbour-lane-residents-association-"
    "about-the-garden-and-the-bicycle-shed.txt"
)


def _write(folder: Path, name: str, text: str, age_days: float) -> Path:
    p = folder / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    t = time.time() - age_days * DAY
    os.utime(p, (t, t))
    return p


@pytest.fixture(scope="module")
def browse_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(home, docs): notes about gardening in folders and subfolders, of known ages and
    sizes, plus files with no text to read: a scanned PDF, a photo, a damaged PDF."""
    from desktop_search.engine import Engine

    base = tmp_path_factory.mktemp("browse")
    docs = base / "docs"
    for i in range(26):
        sub = ("Garden/Roses" if i % 3 == 0 else "Garden") if i % 2 else "Notes"
        _write(
            docs / sub,
            f"garden-note-{i:02d}.txt",
            f"Garden note {i}: watering the tomatoes, pruning roses and weeding the "
            f"vegetable beds in week {i}. " + "Mulch keeps the soil moist. " * (i % 5),
            age_days=i + 1,
        )
    _write(docs, LONG_NAME, "The residents agreed the garden gate is locked at night.", 40)
    (docs / "Scans").mkdir()
    (docs / "Scans" / "NCT06155240_Prot_SAP_000.pdf").write_bytes(make_pdf(["", ""]))
    (docs / "Scans" / "beach-holiday-2023.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(600))
    (docs / "Scans" / "broken-invoice-4471.pdf").write_bytes(b"%PDF-1.4\n1 0 obj garbage")
    eng = Engine(base / "home")
    eng.add_root(docs)
    eng.index()
    eng.close()
    return base / "home", docs


@pytest.fixture
def browse_window(browse_index: tuple[Path, Path], open_window: Any) -> Any:
    """The window over the browsing home, neither watching nor indexing."""
    return open_window(browse_index[0], watch=False, index_on_start=False)


def results_for(w: Any, qtbot: Any, text: str) -> list[Any]:
    sp = w.search_page
    sp.box.setFocus()
    sp.box.clear()
    qtbot.keyClicks(sp.box, text)
    qtbot.waitUntil(lambda: sp.outcome is not None and sp.outcome.text == text, timeout=20000)
    return list(sp.results.model_.results)


def test_the_list_keeps_its_width_whatever_the_preview_shows(
    browse_window: Any, qtbot: Any
) -> None:
    w = browse_window
    w.resize(1400, 900)
    sp = w.search_page
    results = results_for(w, qtbot, "garden gate locked at night")
    long_row = next(i for i, r in enumerate(results) if Path(r.path).name == LONG_NAME)
    short_row = next(i for i, r in enumerate(results) if "garden-note" in r.path)
    widths = []
    for row in (long_row, short_row, long_row):
        sp.results.select_row(row)
        want = results[row].path
        qtbot.waitUntil(
            lambda want=want: sp.preview.result is not None and sp.preview.result.path == want,
            timeout=10000,
        )
        qtbot.wait(50)
        widths.append(sp.list_box.width())
    assert widths[0] == widths[1] == widths[2] >= 320
    assert sp.split.orientation() == Qt.Orientation.Horizontal
    # the long name is cut short in the preview's header, whole in its tooltip
    sp.results.select_row(long_row)
    qtbot.waitUntil(lambda: sp.preview.title.full_text() == LONG_NAME, timeout=10000)
    assert "…" in sp.preview.title.text()
    # at the window's smallest size the preview goes below a list as wide as the page
    w.resize(900, 600)
    qtbot.waitUntil(lambda: sp.split.orientation() == Qt.Orientation.Vertical, timeout=5000)
    qtbot.wait(50)
    assert sp.list_box.width() >= 600 and sp.list_box.height() >= 120


def test_files_with_no_text_are_found_by_their_names_with_the_reason(
    browse_window: Any, qtbot: Any
) -> None:
    w = browse_window
    sp = w.search_page
    first = results_for(w, qtbot, "NCT06155240_Prot_SAP_000.pdf")[0]
    assert Path(first.path).name == "NCT06155240_Prot_SAP_000.pdf"
    assert first.match == "name" and first.name_only and "no text" in first.name_only
    assert "name only" in sp.results.model_.html[0]
    qtbot.waitUntil(lambda: "Found by its name" in sp.preview.placeholder.text(), timeout=5000)
    # a part of a name, as Everything and Spotlight match it
    names = [Path(r.path).name for r in results_for(w, qtbot, "beach-holi")]
    assert "beach-holiday-2023.jpg" in names[:3]
    photo = next(r for r in sp.results.model_.results if r.path.endswith(".jpg"))
    assert ".jpg" in (photo.name_only or "")
    broken = next(
        r
        for r in results_for(w, qtbot, "invoice-4471")
        if r.path.endswith("broken-invoice-4471.pdf")
    )
    # the reason in plain words; the raw one behind Details
    sp.results.select_row(sp.results.model_.results.index(broken))
    qtbot.waitUntil(lambda: "damaged PDF" in sp.preview.placeholder.text(), timeout=5000)
    assert "pypdf" not in sp.preview.placeholder.text()
    sp.preview._toggle_details("details")
    assert "pypdf" in sp.preview.placeholder.text()


def test_sorting_the_compact_list_and_showing_more_files(browse_window: Any, qtbot: Any) -> None:
    w = browse_window
    sp = w.search_page
    ranked = results_for(w, qtbot, "watering tomatoes and pruning roses")
    assert len(ranked) == 20 and sp.more_btn.isVisible()
    newest = sp.sort.findText("Newest first")
    sp.sort.setCurrentIndex(newest)
    mtimes = [r.mtime for r in sp.results.model_.results]
    assert mtimes == sorted(mtimes, reverse=True) and len(mtimes) == 20
    sp.sort.setCurrentIndex(sp.sort.findText("Name A–Z"))
    names = [Path(r.path).name.casefold() for r in sp.results.model_.results]
    assert names == sorted(names)
    sp.sort.setCurrentIndex(sp.sort.findText("Largest first"))
    sizes = [r.size for r in sp.results.model_.results]
    assert sizes == sorted(sizes, reverse=True)
    sp.sort.setCurrentIndex(0)
    assert [r.path for r in sp.results.model_.results] == [r.path for r in ranked]
    # one line per file: every row shorter than the shortest row with passages
    tall = min(sp.results.sizeHintForRow(i) for i in range(5))
    sp.compact_btn.setChecked(True)
    qtbot.wait(50)
    assert max(sp.results.sizeHintForRow(i) for i in range(5)) < tall
    assert all("margin-top:6px" not in h for h in sp.results.model_.html)  # no passages
    sp.compact_btn.setChecked(False)
    # more files past the first twenty, the selection kept
    sp.results.select_row(3)
    kept = sp.results.current_result()
    qtbot.mouseClick(sp.more_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sp.results.model_.rowCount() > 20, timeout=20000)
    assert sp.results.current_result() is not None
    assert kept is not None and sp.results.current_result().path == kept.path


def test_the_folder_filter_offers_subfolders_and_follows_typed_filters(
    browse_index: tuple[Path, Path], open_window: Any, qtbot: Any
) -> None:
    home, docs = browse_index
    w = open_window(home, watch=False, index_on_start=False)
    sp = w.search_page
    roses = str(docs / "Garden" / "Roses")
    qtbot.waitUntil(lambda: sp.folder.findData(roses) >= 0, timeout=10000)
    assert sp.folder.findData(str(docs / "Notes")) >= 0
    results_for(w, qtbot, "pruning roses")
    sp.folder.setCurrentIndex(sp.folder.findData(roses))
    qtbot.waitUntil(
        lambda: sp.outcome is not None and sp.outcome.options.folders == [roses], timeout=20000
    )
    assert sp.results.model_.results
    assert all(r.path.startswith(roses + os.sep) for r in sp.results.model_.results)
    sp.folder.setCurrentIndex(0)
    # a filter typed in the box shows in its control, which waits until it is removed
    results_for(w, qtbot, "pruning type:pdf")
    assert sp.kind.currentText() == "type: pdf" and not sp.kind.isEnabled()
    sp.box.clear()
    qtbot.keyClicks(sp.box, "pruning")
    assert sp.kind.currentText() == "Any type" and sp.kind.isEnabled()
    # half typed: the last results stay, and the box says what it expects
    before = results_for(w, qtbot, "pruning roses")
    qtbot.keyClicks(sp.box, " after:20")
    qtbot.waitUntil(lambda: sp.hint.isVisible(), timeout=10000)
    assert "date" in sp.hint.text().lower()
    assert sp.stack.currentWidget() is sp.results_page
    assert [r.path for r in sp.results.model_.results] == [r.path for r in before]
    qtbot.keyClicks(sp.box, "24-01")  # after:2024-01 reads: the hint goes
    qtbot.waitUntil(
        lambda: sp.outcome is not None and sp.outcome.text == "pruning roses after:2024-01",
        timeout=20000,
    )
    assert not sp.hint.isVisible()
    assert sp.date.currentText() == "after 2024-01-01"


def test_no_results_quote_the_query_as_typed(browse_window: Any, qtbot: Any) -> None:
    w = browse_window
    sp = w.search_page
    sp.mode.setCurrentIndex(2)  # exact words: nothing has this phrase
    results_for(w, qtbot, '"quantum chromodynamics"')
    assert sp.stack.currentWidget() is sp.message
    assert sp.message.title.text() == 'No files match “"quantum chromodynamics"”'


def test_the_window_remembers_its_size_split_sort_and_view(
    browse_index: tuple[Path, Path], open_window: Any, qtbot: Any
) -> None:
    home, _docs = browse_index
    w = open_window(home, watch=False, index_on_start=False)
    w.resize(1333, 833)
    sp = w.search_page
    results_for(w, qtbot, "pruning roses")
    sp.sort.setCurrentIndex(sp.sort.findText("Newest first"))
    sp.compact_btn.setChecked(True)
    total = sum(sp.split.sizes())
    sp.split.setSizes([int(total * 0.6), total - int(total * 0.6)])
    sp._split_moved(0, 1)
    w.close()
    from desktop_search.gui.main_window import MainWindow

    again = MainWindow(str(home), watch=False, index_on_start=False)
    qtbot.addWidget(again)
    try:
        assert (again.width(), again.height()) == (1333, 833)
        assert again.search_page.sort.currentText() == "Newest first"
        assert again.search_page.compact_btn.isChecked()
        assert abs(again.search_page._list_share - 0.6) < 0.02
    finally:
        again.close()
    assert (home / "window.json").stat().st_mode & 0o077 == 0  # the user's alone


def test_first_launch_typing_goes_to_the_box_and_presses_no_button(
    tmp_path: Path, open_window: Any, qtbot: Any
) -> None:
    w = open_window(tmp_path / "home", watch=False, index_on_start=False)
    sp = w.search_page
    qtbot.waitUntil(lambda: sp.stack.currentWidget() is sp.empty, timeout=10000)
    pressed: list[str] = []
    sp.empty.choose_folder.connect(lambda: pressed.append("choose"))
    sp.empty.add_documents.connect(lambda: pressed.append("documents"))
    # keys go to whatever has the focus: the box, never one of the buttons
    assert sp.empty.choose_btn.focusPolicy() == Qt.FocusPolicy.TabFocus
    sp.box.setFocus()
    qtbot.keyClicks(w.focusWidget() or sp.box, "tax refund")
    assert pressed == []
    assert sp.box.isEnabled() and sp.box.text() == "tax refund"
    assert sp.empty.typed.isVisible() and "nothing to search yet" in sp.empty.typed.text()


def test_a_deleted_result_keeps_the_selection_near_where_it_was(
    tmp_path: Path, open_window: Any, qtbot: Any
) -> None:
    from desktop_search.engine import Engine

    docs = tmp_path / "docs"
    for i in range(6):
        _write(
            docs,
            f"bike-{i}.txt",
            f"Bicycle repair note {i}: fixing a flat tyre and adjusting the chain, step {i}.",
            age_days=i,
        )
    eng = Engine(tmp_path / "home")
    eng.add_root(docs)
    eng.index()
    eng.close()
    w = open_window(tmp_path / "home", watch=False, index_on_start=False)
    sp = w.search_page
    results = results_for(w, qtbot, "bicycle repair chain")
    assert len(results) == 6
    sp.results.select_row(3)
    gone = sp.results.current_result()
    assert gone is not None
    Path(gone.path).unlink()
    w.backend.index_all()  # the run finds it gone; the list is asked again
    qtbot.waitUntil(lambda: sp.outcome is not None and len(sp.outcome.results) == 5, timeout=30000)
    assert sp.results.currentIndex().row() == 3
    assert sp.results.current_result() is not None
    assert sp.results.current_result().path != gone.path


def test_show_in_folder_selects_the_file_in_the_file_manager(
    browse_index: tuple[Path, Path],
    open_window: Any,
    qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Through a real D-Bus session bus, to a file manager that answers FileManager1."""
    import shutil
    import subprocess

    if shutil.which("dbus-daemon") is None:
        pytest.skip("no dbus-daemon here (apt-get install dbus-daemon)")
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    fm = None
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()
        log = tmp_path / "shown.txt"
        fm = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("fake_file_manager.py")),
                address,
                str(log),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert fm.stdout is not None and fm.stdout.readline().strip() == "ready"
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        home, _docs = browse_index
        w = open_window(home, watch=False, index_on_start=False)
        sp = w.search_page
        messages: list[str] = []
        sp.status_message.connect(messages.append)
        target = results_for(w, qtbot, "pruning roses")[0]
        sp.reveal_current()
        qtbot.waitUntil(lambda: log.is_file() and log.read_text().strip() != "", timeout=10000)
        from PySide6.QtCore import QUrl

        assert QUrl(log.read_text().split()[0]).toLocalFile() == target.path
        assert messages[-1] == f"Showing {Path(target.path).name} in its folder"
        assert sp.preview.notice.isHidden()
    finally:
        for p in (fm, bus):
            if p is not None:
                p.terminate()
                p.wait(10)
                if p.stdout is not None:
                    p.stdout.close()


def test_problems_read_in_plain_words_with_the_full_error_on_request(
    browse_window: Any, qtbot: Any
) -> None:
    w = browse_window
    w.show_page("Indexing")
    page = w.indexing_page
    qtbot.waitUntil(lambda: page.table.rowCount() > 0, timeout=10000)
    rows = {
        page.table.item(i, 0).text().rsplit("/", 1)[-1]: i for i in range(page.table.rowCount())
    }
    row = rows["broken-invoice-4471.pdf"]
    assert page.table.item(row, 2).text() == "damaged PDF: not a valid PDF structure"
    page.details.setChecked(True)
    full = page.table.item(row, 2).text()
    assert full.startswith("corrupt: broken-invoice-4471.pdf: damaged PDF") and "pypdf" in full
