"""The folders page: which folders are searched, and what inside them is left out."""

from __future__ import annotations

import html
import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .backend import Backend, Snapshot
from .results_view import short_folder


def split_patterns(text: str) -> list[str]:
    return [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]


class FoldersPage(QWidget):
    status_message = Signal(str)

    def __init__(self, backend: Backend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.backend = backend
        self.snapshot: Snapshot | None = None

        title = QLabel("Folders")
        title.setObjectName("h1")
        intro = QLabel(
            "Desktop Search reads the supported files in these folders and keeps "
            "up with changes while the window is open."
        )
        intro.setObjectName("muted")
        intro.setWordWrap(True)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Folder", "Files", "Left out"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        hdr = self.tree.header()
        hdr.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        hdr.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        hdr.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        hdr.resizeSection(2, 260)
        self.tree.currentItemChanged.connect(self._on_select)

        self.add_btn = QPushButton("Add folder…")
        self.add_btn.setObjectName("primary")
        self.add_btn.clicked.connect(self.choose_folder)
        self.remove_btn = QPushButton("Remove")
        self.remove_btn.setToolTip("Stop searching this folder and delete its text from the index")
        self.remove_btn.clicked.connect(self._remove)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_btn)
        buttons.addWidget(self.remove_btn)
        buttons.addStretch(1)

        self.editor = QFrame()
        self.editor.setObjectName("card")
        self.editing = QLabel()
        self.editing.setObjectName("h2")
        self.excludes = QLineEdit()
        self.excludes.setPlaceholderText("e.g. Archive, *.log, drafts-*")
        self.excludes.setToolTip(
            "Files or folders whose name matches any of these patterns "
            "are left out (comma separated; * and ? work)"
        )
        self.includes = QLineEdit()
        self.includes.setPlaceholderText("everything supported (e.g. *.md, *.pdf to narrow)")
        self.save_btn = QPushButton("Save and re-index")
        self.save_btn.clicked.connect(self._save_patterns)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(10)
        form.addRow("Leave out:", self.excludes)
        form.addRow("Only files named:", self.includes)
        ed = QVBoxLayout(self.editor)
        ed.setContentsMargins(16, 14, 16, 14)
        ed.addWidget(self.editing)
        ed.addLayout(form)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.save_btn)
        ed.addLayout(row)

        self.global_note = QLabel()
        self.global_note.setObjectName("muted")
        self.global_note.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()

        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 20)
        lay.setSpacing(10)
        lay.addWidget(title)
        lay.addWidget(intro)
        lay.addSpacing(4)
        lay.addLayout(buttons)
        lay.addWidget(self.error)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.editor)
        lay.addWidget(self.global_note)
        self._on_select()

    def set_snapshot(self, snap: Snapshot) -> None:
        self.snapshot = snap
        current = self.selected_path()
        self.tree.clear()
        for r in snap.roots:
            left_out = ", ".join(r.excludes) or "—"
            if r.includes:
                left_out += f"   (only {', '.join(r.includes)})"
            item = QTreeWidgetItem(
                [
                    short_folder(os.path.join(r.path, "x")),
                    f"{snap.root_files.get(r.path, 0):,}",
                    left_out,
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, r.path)
            item.setToolTip(0, r.path)
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.tree.addTopLevelItem(item)
            if r.path == current:
                self.tree.setCurrentItem(item)
        first = self.tree.topLevelItem(0)
        if self.tree.currentItem() is None and first is not None:
            self.tree.setCurrentItem(first)
        shown = ", ".join(snap.settings.excludes[:12])
        more = len(snap.settings.excludes) - 12
        self.global_note.setText(
            "Always left out, in every folder: "
            + html.escape(shown)
            + (f" and {more} more" if more > 0 else "")
            + "."
        )
        self._on_select()

    def selected_path(self) -> str | None:
        item = self.tree.currentItem()
        return str(item.data(0, Qt.ItemDataRole.UserRole)) if item else None

    def _root(self, path: str | None) -> object | None:
        if self.snapshot is None or path is None:
            return None
        return next((r for r in self.snapshot.roots if r.path == path), None)

    def _on_select(self, *_a: object) -> None:
        r = self._root(self.selected_path())
        self.remove_btn.setEnabled(r is not None)
        self.editor.setEnabled(r is not None)
        if r is None:
            self.editing.setText("Select a folder to change what is left out")
            self.excludes.clear()
            self.includes.clear()
            return
        self.editing.setText(short_folder(os.path.join(r.path, "x")))  # type: ignore[attr-defined]
        self.excludes.setText(", ".join(r.excludes))  # type: ignore[attr-defined]
        self.includes.setText(", ".join(r.includes))  # type: ignore[attr-defined]

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def add_folder(self, path: str) -> None:
        self.show_error("")
        self.backend.add_root(path, on_error=self.show_error)
        self.status_message.emit(f"Adding {short_folder(os.path.join(path, 'x'))}…")

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder to search")
        if path:
            self.add_folder(path)

    def _remove(self) -> None:
        path = self.selected_path()
        if not path:
            return
        n = self.snapshot.root_files.get(path, 0) if self.snapshot else 0
        ok = QMessageBox.question(
            self,
            "Remove folder",
            f"Stop searching {path}?\n\nIts text ({n:,} files) is deleted from the index. "
            "The files themselves are not touched.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if ok == QMessageBox.StandardButton.Yes:
            self.remove_folder(path)

    def remove_folder(self, path: str) -> None:
        self.show_error("")
        self.backend.remove_root(path, on_error=self.show_error)
        self.status_message.emit(f"Removing {path}…")

    def _save_patterns(self) -> None:
        path = self.selected_path()
        if not path:
            return
        self.show_error("")
        self.backend.add_root(
            path,
            includes=split_patterns(self.includes.text()),
            excludes=split_patterns(self.excludes.text()),
            on_error=self.show_error,
        )
        self.status_message.emit("Saved; re-checking the folder…")
