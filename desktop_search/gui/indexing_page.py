"""The indexing page: progress with counts and ETA, pause/resume, and the files that could not
be indexed with the reason for each."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..index_progress import DONE, READING, SCANNING, duration
from ..reasons import plain_reason
from .backend import Backend, IndexState, Snapshot
from .results_view import short_folder

PAUSING = "Pausing after this file…"


def progress_text(state: IndexState) -> tuple[str, str]:
    """(headline, detail) for an index state, as the status bar and this page say it: first
    how many files are findable by their words, then how many passages have meaning. Once
    Pause is clicked it says so at once, without a speed or an ETA that would stand still."""
    if state.pausing:
        p = state.progress
        if p is None or p.phase == SCANNING or state.scanning:
            return PAUSING, ""
        return PAUSING, (p.words_line() if p.phase == READING else p.meaning_line())
    if state.running:
        p = state.progress
        if state.scanning or p is None or p.phase == SCANNING:
            return (
                "Checking your folders for changes…"
                if not state.live
                else "Updating changed files…",
                "",
            )
        if p.phase == READING:
            return (f"Reading files: {p.files_read:,} of {p.files_total:,} findable by words", "")
        head = f"Adding meaning: {p.passages_done:,} of {p.passages_total:,} passages"
        parts = []
        if p.files_total:
            parts.append(f"all {p.files_total:,} files findable by words")
        rate, eta = p.passages_per_s(), p.eta_s()
        if rate > 0:
            parts.append(f"{rate:.1f} passages/s")
        if eta is not None:
            parts.append(f"about {duration(eta)} left")
        return head, " · ".join(parts)
    if state.paused:
        p = state.progress
        got = (
            ""
            if p is None or p.phase in (SCANNING, DONE)
            else (p.words_line() if p.phase == READING else p.meaning_line()) + ". "
        )
        return "Indexing paused", f"{got}Resume continues where it stopped."
    return "", ""


def current_file_text(state: IndexState) -> str:
    """ "now reading report.pdf (page 12 of 80)": the file the run is working on."""
    p = state.progress
    if not state.running or p is None or not p.current or p.phase == SCANNING:
        return ""
    doing = "reading" if p.phase == READING else "adding meaning to"
    text = f"now {doing} {Path(p.current).name}"
    done, pages = p.current_pages
    if p.phase == READING and pages > 1:
        text += f" (page {min(done, pages):,} of {pages:,})"
    return text


def bar_range(state: IndexState) -> tuple[int, int] | None:
    """(value, maximum) for a progress bar; None while nothing can be counted yet."""
    p = state.progress
    if (
        not (state.running or state.paused)
        or state.scanning
        or p is None
        or p.phase in (SCANNING, DONE)
    ):
        return None
    if p.phase == READING:
        return p.files_read, max(p.files_total, 1)
    return p.passages_done, max(p.passages_total, 1)


class IndexingPage(QWidget):
    def __init__(self, backend: Backend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.backend = backend
        self.snapshot: Snapshot | None = None

        title = QLabel("Indexing")
        title.setObjectName("h1")
        card = QFrame()
        card.setObjectName("card")
        self.headline = QLabel()
        self.headline.setObjectName("h2")
        self.headline.setWordWrap(True)  # beside the buttons on a 900 px window
        self.detail = QLabel()
        self.detail.setObjectName("muted")
        self.detail.setWordWrap(True)
        self.current = QLabel()  # the file being worked on (the status bar has no room)
        self.current.setObjectName("muted")
        self.current.setTextFormat(Qt.TextFormat.PlainText)
        self.current.setMinimumWidth(1)  # a long name is elided, never widens the page
        self._current_text = ""
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.pause_btn = QPushButton("Pause")
        self.pause_btn.clicked.connect(self._toggle_pause)
        self.index_btn = QPushButton("Check for changes now")
        self.index_btn.clicked.connect(self.backend.index_all)
        self.counts = QLabel()
        self.counts.setWordWrap(True)
        self.counts.setTextFormat(Qt.TextFormat.RichText)
        cl = QVBoxLayout(card)
        cl.setContentsMargins(18, 16, 18, 16)
        cl.setSpacing(8)
        top = QHBoxLayout()
        texts = QVBoxLayout()
        texts.setSpacing(2)
        texts.addWidget(self.headline)
        texts.addWidget(self.detail)
        texts.addWidget(self.current)
        top.addLayout(texts, 1)
        top.addWidget(self.pause_btn)
        top.addWidget(self.index_btn)
        cl.addLayout(top)
        cl.addWidget(self.bar)
        cl.addSpacing(4)
        cl.addWidget(self.counts)

        self.notice = QLabel()
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet(
            "QLabel { background:#fffaeb; border:1px solid #fedf89;"
            " border-radius:6px; padding:8px 10px; }"
        )
        self.notice.hide()

        self.problems_title = QLabel("Files not indexed, or indexed in part")
        self.problems_title.setObjectName("h2")
        self.problems_hint = QLabel()
        self.problems_hint.setObjectName("muted")
        self.problems_hint.setWordWrap(True)
        # reasons in plain words; the raw error (both PDF readers' messages...) on request
        self.details = QCheckBox("Show the full errors")
        self.details.toggled.connect(self._details_toggled)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["File", "Status", "Reason"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        h = self.table.horizontalHeader()
        h.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        h.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        h.resizeSection(0, 340)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 20)
        lay.setSpacing(12)
        lay.addWidget(title)
        lay.addWidget(card)
        lay.addWidget(self.notice)
        lay.addSpacing(4)
        heading = QHBoxLayout()
        heading.addWidget(self.problems_title, 1)
        heading.addWidget(self.details)
        lay.addLayout(heading)
        lay.addWidget(self.problems_hint)
        lay.addWidget(self.table, 1)
        lay.addStretch(0)  # takes the room when the table is hidden (no problems)
        self.set_state(IndexState())

    def _toggle_pause(self) -> None:
        if self.backend.paused:
            self.backend.resume()
        else:
            self.backend.pause()
        self.set_state(self.backend.state)  # at once, not at the next progress report

    def set_state(self, state: IndexState) -> None:
        head, detail = progress_text(state)
        if not head:
            snap = self.snapshot
            if snap is None:
                head = "Opening the index…"
            elif not snap.roots:
                head, detail = "No folders yet", "Add a folder on the Folders page."
            else:
                head = f"Up to date · {snap.indexed:,} files searchable"
                detail = "Changes on disk are picked up while the window is open."
        self.headline.setText(head)
        self.detail.setText(detail)
        self.detail.setVisible(bool(detail))
        self._current_text = current_file_text(state)
        self._elide_current()
        counted = bar_range(state)
        if counted is not None:
            self.bar.setRange(0, counted[1])
            self.bar.setValue(counted[0])
        elif state.running:
            self.bar.setRange(0, 0)  # busy: no count yet
        else:
            self.bar.setRange(0, max(state.total, 1))
            self.bar.setValue(state.done)
        self.bar.setVisible(state.running or state.paused)
        self.pause_btn.setText("Resume" if state.paused else "Pause")
        self.pause_btn.setToolTip(
            "Stops after the file being worked on; Resume continues from there"
            if not state.paused
            else "Continues where indexing stopped"
        )
        self.pause_btn.setEnabled(state.running or state.paused)
        self.index_btn.setEnabled(not state.running and bool(self.snapshot and self.snapshot.roots))

    def _elide_current(self) -> None:
        text = self._current_text
        self.current.setVisible(bool(text))
        # the headline sits in the same column and is always shown: its width is the room
        width = max(self.headline.width(), 50)
        self.current.setText(
            self.current.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, width)
        )
        self.current.setToolTip(text)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide_current()

    def set_snapshot(self, snap: Snapshot) -> None:
        self.snapshot = snap
        self.show_counts()
        self._show_problems(snap)
        self.set_state(self.backend.state)

    def show_counts(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        st = snap.status
        f = st.files
        parts = [
            ("Searchable", f.get("indexed", 0), "by meaning and words"),
            ("By words so far", f.get("chunked", 0), "meaning still to add"),
            ("Waiting", f.get("pending", 0), ""),
            ("Failed", f.get("failed", 0), ""),
            ("Skipped", f.get("skipped", 0), ""),
        ]
        cells = "".join(
            f"<td style='padding-right:28px'><span style='font-size:14pt;font-weight:600'>"
            f"{n:,}</span><br><span style='color:#667085'>{label}</span></td>"
            for label, n, _ in parts
        )
        extra = [f"{st.chunks:,} passages"]
        if not self.backend.state.running:  # these are read after a run, not during it
            extra.append(f"{st.vectors:,} vectors")
            if st.model.get("name"):
                extra.append(f"model {html.escape(str(st.model['name']))}")
            extra.append(f"{st.index_bytes / 1e6:.1f} MB on disk")
        self.counts.setText(
            f"<table><tr>{cells}</tr></table>"
            f"<div style='color:#667085; margin-top:6px'>{' · '.join(extra)}</div>"
        )

    def _details_toggled(self, _on: bool) -> None:
        if self.snapshot is not None:
            self._show_problems(self.snapshot)

    def _show_problems(self, snap: Snapshot) -> None:
        st = snap.status
        notices = [n for n in (snap.notice, *st.notices) if n]
        self.notice.setText("<br>".join(html.escape(n) for n in notices))
        self.notice.setVisible(bool(notices))
        probs = st.problems
        self.table.setRowCount(len(probs))
        for i, p in enumerate(probs):
            name = QTableWidgetItem(short_folder(p["path"]) + "/" + p["path"].rsplit("/", 1)[-1])
            name.setToolTip(p["path"])
            # failed / skipped / partial (indexed, but some of its text could not be read)
            label = {"partial": "in part"}.get(p["state"], p["state"])
            state = QTableWidgetItem(label)
            state.setForeground(
                Qt.GlobalColor.darkRed
                if p["state"] == "failed"
                else Qt.GlobalColor.darkYellow
                if p["state"] == "partial"
                else Qt.GlobalColor.darkGray
            )
            raw = str(p["reason"])
            reason = QTableWidgetItem(raw if self.details.isChecked() else plain_reason(raw))
            reason.setToolTip(raw)
            for j, it in enumerate((name, state, reason)):
                self.table.setItem(i, j, it)
        self.table.setVisible(bool(probs))
        self.details.setVisible(bool(probs))
        self.problems_hint.setText(
            "None: every file in your folders could be read."
            if not probs
            else "Failed files are retried when they change; skipped files are of a kind that is "
            "not read (images, archives, binaries) or too large; files indexed in part are "
            "searchable, but some of their text could not be read."
        )
