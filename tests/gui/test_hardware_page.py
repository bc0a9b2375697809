"""The hardware page over the real core (desktop_search.hardware), the real bundled model and a
real window offscreen: facts first, then the measured speed and the per-model verdicts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import llama_cpp
import pytest
from PySide6.QtCore import Qt

from desktop_search import hardware
from desktop_search.gui.hardware_page import HardwarePage
from desktop_search.models import CATALOG

pytestmark = pytest.mark.gui

FACT_LABELS = (
    "Processor",
    "Cores",
    "Vector units",
    "Memory",
    "GPU offload",
    "GPUs seen",
    "llama.cpp",
    "System",
)


def page_text(hp: HardwarePage) -> str:
    return " ".join(
        [
            *hp.fact_texts().values(),
            hp.speed_label.text(),
            hp.verdicts.text(),
            hp.verdict_caption.text(),
            hp.notes.text(),
        ]
    )


def assert_readable(text: str) -> None:
    assert not re.search(r"\binf\b|\bnan\b", text), text
    assert not re.search(r"\b0\.0 passages/s", text), text
    assert "--no-measure" not in text  # a CLI flag means nothing on this page


def test_the_guessed_report_says_it_is_a_guess_in_plain_words(
    tmp_path: Path, open_window: Any, qtbot: Any
) -> None:
    w = open_window(tmp_path / "home", watch=False, index_on_start=False)
    hp = HardwarePage(w.backend)  # not shown: only what it renders from the core's report
    qtbot.addWidget(hp)
    rep = hardware.detect(measure=False, models_dir=tmp_path / "models", measure_installed=False)
    hp.show_report(rep)
    facts = hp.fact_texts()
    assert list(facts) == list(FACT_LABELS)
    assert facts["Processor"] == hardware.cpu_model()
    assert facts["llama.cpp"].endswith(llama_cpp.__version__)
    assert facts["GPU offload"].startswith("yes" if rep.gpu_offload else "no")
    assert "guessed from the number of cores" in hp.verdict_caption.text()
    table = hp.verdicts.text()
    assert all(m.name in table for m in CATALOG)
    assert "guessed" in table and "measured" not in table
    assert_readable(page_text(hp))


def test_the_page_shows_the_facts_then_measures_the_model_and_the_verdicts(
    tmp_path: Path, open_window: Any, qtbot: Any
) -> None:
    w = open_window(tmp_path / "home", watch=False, index_on_start=False)
    hp = w.hardware_page
    w.show_page("Hardware")
    qtbot.waitUntil(lambda: hp.report is not None, timeout=20000)
    assert set(FACT_LABELS) <= set(hp.fact_texts())
    qtbot.waitUntil(lambda: hp.speed is not None, timeout=60000)  # measured on first view
    assert hp.speed.chunks_per_s > 0 and hp.speed.tokens > 0
    assert "passages/s" in hp.speed_label.text() and "all-MiniLM-L6-v2" in hp.speed_label.text()
    assert hp.report is not None and hp.report.bundled_speed is not None
    # the bundled model's verdict is the measured one; the others are scaled from it
    bundled = next(m for m in hp.report.models if m.installed)
    assert bundled.measured and bundled.chunks_per_s == pytest.approx(
        hp.report.bundled_speed.chunks_per_s, rel=0.01
    )
    table = hp.verdicts.text()
    assert "measured" in table and "estimated" in table and "guessed" not in table
    assert "timed just now" in hp.verdict_caption.text()
    assert not hp.verdict_card.isHidden()
    assert_readable(page_text(hp))

    # Measure again: the button is off while the writer lane works, then a new figure lands
    first = hp.speed
    with qtbot.waitSignal(hp.measured, timeout=60000):
        qtbot.mouseClick(hp.measure_btn, Qt.MouseButton.LeftButton)
        assert not hp.measure_btn.isEnabled()
    assert hp.measure_btn.isEnabled() and hp.speed is not first and hp.speed.chunks_per_s > 0


def _overflow(hp: HardwarePage) -> list[str]:
    """The shown widgets whose right edge runs past the page's visible width."""
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QWidget

    view = hp.scroll_area.viewport()
    out = []
    for child in hp.scroll_area.widget().findChildren(QWidget):
        if child.isVisibleTo(hp) and child.width() > 0:
            right = child.mapTo(view, QPoint(child.width(), 0)).x()
            if right > view.width():
                out.append(f"{type(child).__name__} {child.objectName()!r} ends at {right}")
    return out


def test_the_page_fits_the_smallest_window_without_scrolling_sideways(
    tmp_path: Path, open_window: Any, qtbot: Any
) -> None:
    w = open_window(tmp_path / "home", watch=False, index_on_start=False)
    hp = w.hardware_page
    w.show_page("Hardware")
    qtbot.waitUntil(lambda: hp.report is not None and hp.speed is not None, timeout=60000)
    facts, speed = hp.grid_card, hp.speed_label.parentWidget()
    for size, side_by_side in (((900, 600), False), ((1400, 900), True)):
        w.resize(*size)  # 900x600 is the window's own minimum
        qtbot.waitUntil(lambda s=size: w.size().toTuple() == s, timeout=5000)
        qtbot.wait(100)  # the layouts settle
        assert hp.scroll_area.horizontalScrollBar().maximum() == 0, size
        assert not _overflow(hp), (size, _overflow(hp))
        # the speed card sits beside the facts where there is room, under them where not
        beside = speed.geometry().left() > facts.geometry().right()
        assert beside == side_by_side, size
        assert not hp.verdict_card.isHidden() and "passages/s" in hp.speed_label.text()
