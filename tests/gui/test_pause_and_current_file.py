"""Pause and Resume say so the moment they are clicked, and the Indexing page names the file
being worked on, during a real index of real files (notes and PDFs) in a real window."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pdf_maker import make_pdf
from PySide6.QtCore import Qt

from .conftest import write_docs
from .test_settings_edits import long_notes

pytestmark = pytest.mark.gui


def folder_of_real_files(folder: Path) -> set[str]:
    write_docs(folder, long_notes(30))
    for k in range(3):
        pages = [
            f"Chapter {p} of manual {k}\nThe pump must be primed before the valve on "
            f"page {p} is opened.\nCheck the seals every spring."
            for p in range(1, 41)
        ]
        (folder / f"manual-{k}.pdf").write_bytes(make_pdf(pages, title=f"Pump manual {k}"))
    return {p.name for p in folder.iterdir()}


def test_pause_and_resume_change_at_once_and_the_page_names_the_current_file(
    tmp_path: Path, open_window: Any, qtbot: Any
) -> None:
    names = folder_of_real_files(tmp_path / "docs")
    w = open_window(tmp_path / "home", watch=False, index_on_start=False)
    w.show_page("Indexing")
    ip = w.indexing_page
    shown: list[str] = []  # every "now reading …" line the page showed (full text)
    w.backend.index_state.connect(lambda _s: shown.append(ip.current.toolTip()))
    w.backend.add_root(str(tmp_path / "docs"))
    qtbot.waitUntil(
        lambda: (
            w.backend.state.running
            and not w.backend.state.scanning
            and w.backend.state.progress is not None
        ),
        timeout=30000,
    )

    # Pause: the button and the words change in the same click, the ETA goes
    qtbot.mouseClick(ip.pause_btn, Qt.MouseButton.LeftButton)
    assert w.backend.state.running  # still working on its current file(s)
    assert ip.pause_btn.text() == "Resume"
    assert ip.headline.text() == "Pausing after this file…"
    assert "left" not in ip.detail.text() and "/s" not in ip.detail.text()
    assert w.pause_btn.text() == "Resume"
    assert w.state_label.text().startswith("Pausing after this file…")
    qtbot.waitUntil(lambda: not w.backend.state.running, timeout=60000)
    assert w.backend.state.paused
    assert ip.headline.text() == "Indexing paused" and ip.pause_btn.text() == "Resume"
    assert re.match(
        r"\d+ of \d+ (files findable by words|passages with meaning)\. Resume "
        "continues where it stopped",
        ip.detail.text(),
    ), ip.detail.text()
    assert w.state_label.text() == "Indexing paused"
    assert ip.current.isHidden()

    # Resume: at once too
    qtbot.mouseClick(ip.pause_btn, Qt.MouseButton.LeftButton)
    assert ip.pause_btn.text() == "Pause" and ip.headline.text() != "Indexing paused"
    qtbot.waitUntil(
        lambda: (
            not w.backend.state.running
            and not w.backend.state.paused
            and w.backend.snapshot.status.files.get("indexed", 0) == len(names)
        ),
        timeout=120000,
    )
    assert ip.headline.text().startswith("Up to date")
    named = {
        m.group(1)
        for line in shown
        if (m := re.match(r"now (?:reading|adding meaning to) (\S+)", line))
    }
    assert named and named <= names, named
    pages = [line for line in shown if "(page " in line]
    print(
        f"\nthe page named {len(named)} of {len(names)} files as they were worked on;"
        f" {len(pages)} updates showed a PDF's page progress"
    )
