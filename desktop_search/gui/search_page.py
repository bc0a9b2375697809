"""The search page: the box, the filters, results grouped by file, and the preview.

Typing restarts a 150 ms timer; when it fires the query goes to the query lane. Results of an
older query are dropped by the backend, so the list only ever shows the newest one.
"""

from __future__ import annotations

import html
import os
import time
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..scan import display_path, real_path
from ..search import SearchOptions
from .backend import Backend, QueryOutcome, Snapshot, rerank_support
from .highlight import PreviewData, build_preview, matched_words
from .preview import PreviewPane
from .results_view import ResultsView, short_folder
from .style import app_icon

DEBOUNCE_MS = 150
RESULTS_K = 20

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


def _combo(items: list[str], tip: str) -> QComboBox:
    c = QComboBox()
    c.setObjectName("filter")
    c.addItems(items)
    c.setToolTip(tip)
    c.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    return c


def _centred(w: QWidget) -> QHBoxLayout:
    """A fixed-width wrapped label, centred: an alignment flag in a box layout would make the
    layout ignore the label's height-for-width, and cut its last line."""
    row = QHBoxLayout()
    row.addStretch(1)
    row.addWidget(w)
    row.addStretch(1)
    return row


class EmptyState(QFrame):
    """First run: no folders yet. Says what to do and offers ~/Documents."""

    add_documents = Signal()
    choose_folder = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(96, 96))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("Search your files by what they say")
        title.setObjectName("h1")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body = QLabel(
            "Add a folder and Desktop Search reads the documents in it — text, Markdown, PDF, "
            "Word, OpenDocument, web pages, e-books and code — so you can find a passage by "
            "its meaning, not just its words."
        )
        body.setObjectName("muted")
        body.setWordWrap(True)
        body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body.setFixedWidth(560)  # a fixed width gives the wrapped label its true height
        private = QLabel("Everything stays on this computer.")
        private.setObjectName("muted")
        private.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.docs_btn = QPushButton("Add ~/Documents")
        self.docs_btn.setObjectName("primary")
        self.docs_btn.clicked.connect(self.add_documents)
        self.choose_btn = QPushButton("Choose a folder…")
        self.choose_btn.clicked.connect(self.choose_folder)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.error.setWordWrap(True)
        self.error.hide()
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.docs_btn)
        buttons.addWidget(self.choose_btn)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addStretch(2)
        lay.addWidget(icon)
        lay.addSpacing(12)
        lay.addWidget(title)
        lay.addSpacing(6)
        lay.addLayout(_centred(body))
        lay.addSpacing(4)
        lay.addWidget(private)
        lay.addSpacing(18)
        lay.addLayout(buttons)
        lay.addSpacing(8)
        lay.addWidget(self.error)
        lay.addStretch(3)

    def set_documents(self, path: str | None) -> None:
        self.docs_btn.setVisible(bool(path))
        # without a ~/Documents to offer, choosing a folder is the main action
        self.choose_btn.setObjectName("" if path else "primary")
        self.choose_btn.style().unpolish(self.choose_btn)
        self.choose_btn.style().polish(self.choose_btn)
        if path:
            self.docs_btn.setText(f"Add {short_folder(os.path.join(path, 'x'))}")
            self.docs_btn.setToolTip(path)


class MessageState(QFrame):
    """A centred message: the hint before typing, "no results", a query error."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setObjectName("h2")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        self.body = QLabel()
        self.body.setObjectName("muted")
        self.body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.body.setWordWrap(True)
        self.body.setFixedWidth(620)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        lay = QVBoxLayout(self)
        lay.addStretch(2)
        lay.addWidget(self.title)
        lay.addSpacing(8)
        lay.addLayout(_centred(self.body))
        lay.addStretch(3)

    def show_message(self, title: str, body: str) -> None:
        self.title.setText(title)
        self.body.setText(body)


TIPS = (
    "<table cellspacing='6' style='margin-top:6px'>"
    "<tr><td align='right'><b>how do plants survive drought</b></td>"
    "<td>&nbsp;finds passages by meaning</td></tr>"
    "<tr><td align='right'><b>\"exact phrase\"</b></td><td>&nbsp;must appear as written</td></tr>"
    "<tr><td align='right'><b>-word</b></td><td>&nbsp;leaves out passages with the word</td></tr>"
    "<tr><td align='right'><b>type:pdf &nbsp;in:Projects</b></td>"
    "<td>&nbsp;file type and folder</td></tr>"
    "<tr><td align='right'><b>after:2024-01 &nbsp;before:7d</b></td>"
    "<td>&nbsp;modified dates</td></tr></table>"
    "<br>Ctrl+L search &nbsp;·&nbsp; ↑↓ move &nbsp;·&nbsp; Enter open &nbsp;·&nbsp; "
    "Ctrl+Enter rerank &nbsp;·&nbsp; Esc clear"
)


class SearchPage(QWidget):
    status_message = Signal(str)
    add_folder_requested = Signal(str)  # a path
    results_shown = Signal(object)  # QueryOutcome, after the list was updated
    preview_shown = Signal(str)

    def __init__(self, backend: Backend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.backend = backend
        self.snapshot: Snapshot | None = None
        self.outcome: QueryOutcome | None = None
        self.last_error = ""
        self._preview_token = 0
        self._typed_at = 0.0  # when the newest keystroke arrived (for latency figures)
        self._split_sized = False

        self.box = QLineEdit()
        self.box.setObjectName("search")
        self.box.setPlaceholderText("Search your files — type what you are looking for")
        self.box.setClearButtonEnabled(True)
        self.box.installEventFilter(self)
        self.box.textEdited.connect(self._on_edited)
        self.box.textChanged.connect(self._on_text_changed)
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(DEBOUNCE_MS)
        self.debounce.timeout.connect(self.run_query)

        self.folder = _combo(["All folders"], "Only results under this folder")
        self.kind = _combo([t for t, _ in TYPE_FILTERS], "Only files of this type")
        self.date = _combo([t for t, _ in DATE_FILTERS], "Only files modified since")
        self.mode = _combo([t for t, _, _ in MODE_FILTERS], "How results are ranked")
        for i, (_t, _m, tip) in enumerate(MODE_FILTERS):
            self.mode.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        for c in (self.folder, self.kind, self.date, self.mode):
            c.currentIndexChanged.connect(self._filters_changed)
        self.rerank_btn = QPushButton("Rerank")
        self.rerank_btn.setToolTip("Rerank the results (Ctrl+Enter)")
        self.rerank_btn.clicked.connect(self.rerank)
        self.summary = QLabel()
        self.summary.setObjectName("muted")

        self.filter_bar = QWidget()
        filters = QHBoxLayout(self.filter_bar)
        filters.setContentsMargins(0, 0, 0, 0)
        filters.setSpacing(8)
        for c in (self.folder, self.kind, self.date, self.mode):
            filters.addWidget(c)
        filters.addWidget(self.rerank_btn)
        filters.addStretch(1)
        filters.addWidget(self.summary)

        self.results = ResultsView()
        self.results.selectionModel().currentChanged.connect(self._on_current_changed)
        self.results.doubleClicked.connect(lambda _i: self.open_current())
        self.results.installEventFilter(self)
        self.results.customContextMenuRequested.connect(self._context_menu)
        self.preview = PreviewPane()
        self.preview.open_requested.connect(self.open_current)
        self.preview.reveal_requested.connect(self.reveal_current)
        self.preview.copy_requested.connect(self.copy_current)
        self.preview.shown.connect(self.preview_shown)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.results)
        self.split.addWidget(self.preview)
        self.split.setStretchFactor(0, 5)
        self.split.setStretchFactor(1, 6)
        self.split.setChildrenCollapsible(False)
        self.split.setHandleWidth(10)

        self.empty = EmptyState()
        self.empty.add_documents.connect(self._add_documents)
        self.empty.choose_folder.connect(self.choose_folder)
        self.message = MessageState()
        self.stack = QStackedWidget()
        for w in (self.empty, self.message, self.split):
            self.stack.addWidget(w)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(18, 16, 18, 14)
        lay.setSpacing(10)
        lay.addWidget(self.box)
        lay.addWidget(self.filter_bar)
        self.no_match = QLabel(
            "<b>No good match.</b> Nothing in your files is close to what you asked for; "
            "these are the nearest. Try other words, or check the folder is indexed.")
        self.no_match.setWordWrap(True)
        self.no_match.setStyleSheet("background:#fff6e0; color:#5c4400; border:1px solid "
                                    "#f0d48a; border-radius:6px; padding:7px 10px;")
        self.no_match.hide()
        lay.addWidget(self.no_match)
        lay.addWidget(self.stack, 1)

        self.open_act = self._action("Open", "Return", self.open_current)
        self.reveal_act = self._action("Show in folder", "Ctrl+Shift+O", self.reveal_current)
        self.copy_act = self._action("Copy path", "Ctrl+Shift+C", self.copy_current)
        self._action("Next hit", "F3", self.preview.next_hit, add=True)
        self._action("Previous hit", "Shift+F3", self.preview.previous_hit, add=True)
        self.update_rerank(None)
        self.show_loading_state()

    def _action(self, text: str, keys: str, slot: Any, add: bool = False) -> QAction:
        a = QAction(text, self)
        a.setShortcut(QKeySequence(keys))
        a.triggered.connect(slot)
        if add:
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(a)
        return a

    # states ------------------------------------------------------------------------------
    def show_loading_state(self) -> None:
        self.message.show_message("Opening your index…", "")
        self.stack.setCurrentWidget(self.message)

    def set_snapshot(self, snap: Snapshot) -> None:
        self.snapshot = snap
        current = self.folder.currentData()
        self.folder.blockSignals(True)
        self.folder.clear()
        self.folder.addItem("All folders", None)
        for r in snap.roots:
            self.folder.addItem(short_folder(os.path.join(r.path, "x")), r.path)
        i = self.folder.findData(current)
        self.folder.setCurrentIndex(max(0, i))
        self.folder.blockSignals(False)
        self.empty.set_documents(getattr(snap, "documents_dir", None))
        self.update_rerank(snap)
        self.refresh_state()

    def update_rerank(self, snap: Snapshot | None) -> None:
        ok, why = rerank_support(snap)
        self.rerank_btn.setEnabled(ok)
        self.rerank_btn.setToolTip(why)

    def refresh_state(self) -> None:
        """Which of empty / hint / results the page shows, from what we know now."""
        snap = self.snapshot
        if snap is None:
            return
        self.filter_bar.setVisible(bool(snap.roots))
        if not snap.roots:
            self.stack.setCurrentWidget(self.empty)
            self.box.setEnabled(False)
            return
        self.box.setEnabled(True)
        if not self.box.text().strip():
            n = snap.files
            findable = snap.indexed + snap.words_only
            what = (f"Type to search {findable:,} files" if findable
                    else "Your files are being read — results appear as they are indexed"
                    if n == 0 or self.backend.state.running else "Type to search")
            if snap.words_only:
                what += (f" ({snap.words_only:,} found by their words only for now: their "
                         "meaning is still being added)")
            self.message.show_message(what, TIPS)
            self.stack.setCurrentWidget(self.message)

    def show_empty_error(self, message: str) -> None:
        self.empty.error.setText(message)
        self.empty.error.setVisible(bool(message))

    # querying ----------------------------------------------------------------------------
    def _on_edited(self, _text: str) -> None:
        self._typed_at = time.perf_counter()
        self.debounce.start()

    def _on_text_changed(self, text: str) -> None:
        if not text.strip():
            self.debounce.stop()
            self.backend.cancel_queries()  # results still in flight are dropped
            self.outcome = None
            self.results.model_.set_results([])
            self.preview.clear("Select a result to preview it here.")
            self.summary.setText("")
            self.no_match.hide()
            self.refresh_state()

    def _filters_changed(self) -> None:
        if self.box.text().strip():
            self.debounce.stop()
            self.run_query()

    def options(self) -> SearchOptions:
        opts = SearchOptions(k=RESULTS_K, mode=MODE_FILTERS[self.mode.currentIndex()][1])
        folder = self.folder.currentData()
        if folder:
            opts.folders = [folder]
        opts.kinds = list(TYPE_FILTERS[self.kind.currentIndex()][1])
        days = DATE_FILTERS[self.date.currentIndex()][1]
        if days is not None:
            opts.after = time.time() - days * 86400
        return opts

    def run_query(self, rerank: bool = False) -> int:
        text = self.box.text().strip()
        if not text:
            return -1
        if not self.summary.text():
            self.summary.setText("searching…")
        return self.backend.search(text, self.options(), rerank=rerank)

    def rerank(self) -> None:
        if self.rerank_btn.isEnabled() and self.box.text().strip():
            self.summary.setText("reranking…")
            self.run_query(rerank=True)

    def show_outcome(self, out: QueryOutcome) -> None:
        if out.text != self.box.text().strip():
            return  # the box changed since: a newer query is on its way
        if self.snapshot is not None and not self.snapshot.roots:
            self.refresh_state()  # no folders: the first-run page says what to do
            self.results_shown.emit(out)
            return
        # the same query again (a live update): stay on the file the user was looking at
        same = self.outcome is not None and self.outcome.text == out.text
        keep = self.results.current_result() if same else None
        self.outcome = out
        self.results.model_.set_results(out.results)
        n = len(out.results)
        how = " · reranked" if out.reranked else ""
        pending = self.snapshot.words_only if self.snapshot is not None else 0
        later = (f" · {pending:,} files not yet searchable by meaning (found by words)"
                 if pending else "")
        self.summary.setText(f"{n} file{'s' if n != 1 else ''} · {out.seconds * 1000:.0f} ms{how}"
                             f"{later}" if n else "")
        # said plainly, with the nearest files still listed below
        self.no_match.setVisible(bool(n) and not any(r.good_match for r in out.results))
        if not n:
            self.message.show_message(
                f"No files match “{html.escape(out.text)}”",
                "Try other words, fewer filters, or “Meaning only” to find passages that say "
                "it differently." + ("" if not self._filtered() else
                                     "<br><br>Filters are on: folder, type or date."))
            self.stack.setCurrentWidget(self.message)
            self.preview.clear("")
        else:
            self.stack.setCurrentWidget(self.split)
            if not self._split_sized:
                self._split_sized = True
                w = max(self.stack.width(), 800)
                self.split.setSizes([int(w * 0.46), w - int(w * 0.46)])
            row = 0
            if keep is not None:
                row = next((i for i, r in enumerate(out.results) if r.path == keep.path), 0)
            self.results.select_row(row)
        self.results_shown.emit(out)

    def _filtered(self) -> bool:
        return any(c.currentIndex() > 0 for c in (self.folder, self.kind, self.date))

    def show_query_error(self, message: str) -> None:
        self.last_error = message
        self.summary.setText("")
        self.no_match.hide()
        self.message.show_message("Cannot search for that", html.escape(message))
        self.stack.setCurrentWidget(self.message)

    # preview -----------------------------------------------------------------------------
    def _on_current_changed(self, *_a: Any) -> None:
        r = self.results.current_result()
        if r is None:
            return
        shown = self.preview.result
        if (shown is not None and self.preview.data is not None and shown.path == r.path
                and shown.mtime == r.mtime and matched_words(shown) == matched_words(r)
                and [p.chunk_start for p in shown.passages]
                == [p.chunk_start for p in r.passages]):
            self.preview.result = r  # the same file, hits and passages: nothing to redo
            return
        self._preview_token += 1
        token = self._preview_token
        self.preview.show_loading(r)

        def work() -> PreviewData | None:
            if token != self._preview_token:
                return None  # the selection moved on before this started
            return build_preview(r.path, r)

        def done(data: PreviewData | None) -> None:
            if data is not None and token == self._preview_token:
                self.preview.show_data(r, data)

        def failed(e: BaseException) -> None:
            if token == self._preview_token:
                self.preview.show_error(r, str(e))

        self.backend.run_reader(work, done, failed)

    # actions -----------------------------------------------------------------------------
    def _current_path(self) -> str | None:
        r = self.results.current_result()
        if r is None and self.results.model_.rowCount():
            self.results.select_row(0)
            r = self.results.current_result()
        return r.path if r else None

    def open_current(self) -> None:
        p = self._current_path()
        if p:
            QDesktopServices.openUrl(file_url(real_path(p)))
            self.status_message.emit(f"Opening {os.path.basename(p)}")

    def reveal_current(self) -> None:
        p = self._current_path()
        if p:
            QDesktopServices.openUrl(file_url(os.path.dirname(real_path(p))))
            self.status_message.emit(f"Showing {short_folder(p)}")

    def copy_current(self) -> None:
        p = self._current_path()
        if p:
            # the text people paste (a QMimeData with the exact bytes as a file: URL would be
            # better for a name that is not UTF-8, but PySide6 then frees it twice at exit)
            QGuiApplication.clipboard().setText(display_path(p))
            self.status_message.emit(f"Copied {display_path(p)}")

    def _context_menu(self, pos: QPoint) -> None:
        idx = self.results.indexAt(pos)
        if not idx.isValid():
            return
        self.results.setCurrentIndex(idx)
        m = QMenu(self)
        for a in (self.open_act, self.reveal_act, self.copy_act):
            m.addAction(a)
        m.exec(self.results.viewport().mapToGlobal(pos))

    # folders -----------------------------------------------------------------------------
    def _add_documents(self) -> None:
        path = getattr(self.snapshot, "documents_dir", None) if self.snapshot else None
        if path:
            self.add_folder_requested.emit(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder to search")
        if path:
            self.add_folder_requested.emit(path)

    # keyboard ----------------------------------------------------------------------------
    def focus_search(self) -> None:
        self.box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.box.selectAll()

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:
        if ev.type() != QEvent.Type.KeyPress or not isinstance(ev, QKeyEvent):
            return False
        key, mods = ev.key(), ev.modifiers()
        enter = key in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and mods & Qt.KeyboardModifier.ControlModifier:
            self.rerank()
            return True
        if enter:
            if obj is self.box and self.debounce.isActive():
                self.debounce.stop()
                self.run_query()  # Enter before the pause: search now
                return True
            self.open_current()
            return True
        if key == Qt.Key.Key_Escape:
            self.box.clear()
            self.focus_search()
            return True
        if obj is self.box and key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown,
                                       Qt.Key.Key_PageUp):
            n = self.results.model_.rowCount()
            if n:
                cur = self.results.currentIndex().row()
                step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 5,
                        Qt.Key.Key_PageUp: -5}[Qt.Key(key)]
                self.results.select_row(cur + step if cur >= 0 else 0)
                return True
        return False


def file_url(path: str) -> QUrl:
    """A file: URL of the exact bytes of a name, also one that is not valid UTF-8 (a lone
    surrogate from os.fsdecode would not survive the trip into Qt's UTF-16 strings)."""
    from urllib.parse import quote

    return QUrl.fromEncoded(b"file://" + quote(os.fsencode(path)).encode("ascii"))
