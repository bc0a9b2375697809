"""The filter controls above the results: folder (with its subfolders), type, date and ranking,
kept in step with the filters typed in the box (type:, in:, after:, before:)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QWidget

from ..scan import display_path
from ..search import SearchOptions
from .result_order import TypedFilters
from .results_view import short_folder

TYPED = "typed"  # the data of a control's entry that shows what the box sets
MAX_DEPTH = 3  # subfolders offered this deep under a root; deeper ones by a typed in:

TYPE_FILTERS: list[tuple[str, list[str]]] = [
    ("Any type", []),
    ("Documents", ["pdf", "docx", "odt", "epub", "markdown", "text", "rst", "html"]),
    ("PDF", ["pdf"]),
    ("Word & OpenDocument", ["docx", "odt"]),
    ("Text & Markdown", ["text", "markdown", "rst"]),
    ("Code", ["code"]),
    ("Web pages", ["html"]),
    ("Slides", ["pptx", "odp"]),
    ("E-books", ["epub"]),
]
DATE_FILTERS: list[tuple[str, float | None]] = [
    ("Any time", None),
    ("Today", 1.0),
    ("Past week", 7.0),
    ("Past month", 31.0),
    ("Past year", 365.0),
]
MODE_FILTERS: list[tuple[str, str, str]] = [
    ("Meaning + words", "hybrid", "Ranks by meaning and by the words you typed"),
    ("Meaning only", "dense", "Passages that say what you mean, whatever the words"),
    ("Exact words", "keyword", "Only passages that contain your words"),
]


def combo(items: list[str], tip: str) -> QComboBox:
    c = QComboBox()
    c.setObjectName("filter")
    c.addItems(items)
    c.setToolTip(tip)
    c.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    return c


class FilterBar(QWidget):
    changed = Signal()  # a control the person changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = combo(["All folders"], "Only results under this folder")
        self.folder.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.folder.setMinimumContentsLength(16)
        self.kind = combo([t for t, _ in TYPE_FILTERS], "Only files of this type")
        self.date = combo([t for t, _ in DATE_FILTERS], "Only files modified since")
        self.mode = combo([t for t, _, _ in MODE_FILTERS], "How results are ranked")
        for i, (_t, _m, tip) in enumerate(MODE_FILTERS):
            self.mode.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self._tips = {c: c.toolTip() for c in (self.folder, self.kind, self.date)}
        for c in (self.folder, self.kind, self.date, self.mode):
            c.currentIndexChanged.connect(self.changed)
        self.rerank_btn = QPushButton("Rerank")
        self.rerank_btn.setToolTip("Rerank the results (Ctrl+Enter)")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        for c in (self.folder, self.kind, self.date, self.mode):
            lay.addWidget(c)
        lay.addWidget(self.rerank_btn)
        lay.addStretch(1)

    def set_folders(self, roots: Sequence[Any], folders: Sequence[str]) -> None:
        """Each root, then the folders under it that hold files, indented by depth."""
        current = self.folder.currentData()
        self.folder.blockSignals(True)
        typed = self.folder.findData(TYPED)
        typed_text = self.folder.itemText(typed) if typed >= 0 else ""
        self.folder.clear()
        self.folder.addItem("All folders", None)
        for r in roots:
            self._add_folder(short_folder(os.path.join(r.path, "x")), r.path)
            root = r.path.rstrip(os.sep) + os.sep
            for f in folders:
                depth = f[len(root) :].count(os.sep)
                if f.startswith(root) and depth < MAX_DEPTH:
                    self._add_folder("    " * (depth + 1) + os.path.basename(f), f)
        if typed >= 0:
            self.folder.addItem(typed_text, TYPED)
        self.folder.setCurrentIndex(max(0, self.folder.findData(current)))
        self.folder.blockSignals(False)

    def _add_folder(self, label: str, path: str) -> None:
        self.folder.addItem(label, path)
        self.folder.setItemData(
            self.folder.count() - 1, display_path(path), Qt.ItemDataRole.ToolTipRole
        )

    def sync_typed(self, tf: TypedFilters) -> None:
        """A filter typed in the box shows in its control, which waits until it is removed
        from the box (two places setting one filter would disagree)."""
        when = [
            f"after {_day(tf.after)}" if tf.after else "",
            f"before {_day(tf.before)}" if tf.before else "",
        ]
        for c, label, typed in (
            (self.folder, "in: " + ", ".join(tf.folders), bool(tf.folders)),
            (self.kind, "type: " + ", ".join(tf.kinds), bool(tf.kinds)),
            (self.date, " and ".join(w for w in when if w), bool(tf.after or tf.before)),
        ):
            c.blockSignals(True)
            at = c.findData(TYPED)
            if typed:
                if at < 0:
                    c.setProperty("chosen", c.currentIndex())
                    c.addItem(label, TYPED)
                    at = c.count() - 1
                c.setItemText(at, label)
                c.setCurrentIndex(at)
                c.setEnabled(False)
                c.setToolTip(f"Set by “{label}” in the search box")
            elif at >= 0:
                c.removeItem(at)
                c.setCurrentIndex(int(c.property("chosen") or 0))
                c.setEnabled(True)
                c.setToolTip(self._tips[c])
            c.blockSignals(False)

    def apply(self, opts: SearchOptions) -> None:
        """The chosen filters into the query's options (typed ones the query reads itself)."""
        opts.mode = MODE_FILTERS[self.mode.currentIndex()][1]
        folder = self.folder.currentData()
        if folder and folder != TYPED:
            opts.folders = [folder]
        if self.kind.currentData() != TYPED:
            opts.kinds = list(TYPE_FILTERS[self.kind.currentIndex()][1])
        if self.date.currentData() != TYPED:
            days = DATE_FILTERS[self.date.currentIndex()][1]
            if days is not None:
                opts.after = time.time() - days * 86400

    def filtered(self) -> bool:
        return any(c.currentIndex() > 0 for c in (self.folder, self.kind, self.date))


def _day(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(ts)) if ts else ""
