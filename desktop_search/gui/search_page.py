"""The search page: the box, the filters, results grouped by file, and the preview.

Typing restarts a 150 ms timer; when it fires the query goes to the query lane. Results of an
older query are dropped by the backend, so the list only ever shows the newest one. The list can
be re-sorted and shown one line per file without asking again; "Show more" asks for more files.
"""

from __future__ import annotations

import html
import time
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeyEvent, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..scan import display_path, real_path
from ..search import SearchOptions, SearchResult
from .backend import Backend, QueryOutcome, Snapshot, rerank_support
from .highlight import PreviewData, build_preview, matched_words
from .launch import Launched, open_file, open_with, show_in_folder
from .preview import PreviewPane
from .result_order import SORTS, ordered, typed_filters
from .results_view import ResultsView
from .search_filters import FilterBar, combo
from .search_states import EmptyState, MessageState
from .window_state import WindowState

DEBOUNCE_MS = 150
RESULTS_K = 20  # files asked for at first; "Show more" asks for as many again
MIN_LIST_WIDTH = 320  # the result list never gets narrower than this beside the preview
MIN_PREVIEW_WIDTH = 420  # its four buttons
# Below this width the preview goes under the list: side by side, both would be too narrow.
SIDE_BY_SIDE_MIN = MIN_LIST_WIDTH + MIN_PREVIEW_WIDTH + 60
LIST_SHARE = 0.44  # of the width (side by side) or the height (stacked), until the user drags

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
        self.ui = WindowState(backend.home)
        self.snapshot: Snapshot | None = None
        self.outcome: QueryOutcome | None = None
        self.last_error = ""
        self.k = RESULTS_K
        self._preview_token = 0
        self._typed_at = 0.0  # when the newest keystroke arrived (for latency figures)
        self._list_share = float(self.ui.get("list_share", LIST_SHARE))
        self._folders: list[str] = []  # folders holding files, for the folder filter

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

        self.filters = FilterBar()
        self.filters.changed.connect(self._filters_changed)
        self.filters.rerank_btn.clicked.connect(self.rerank)
        self.filter_bar = self.filters
        f = self.filters
        self.folder, self.kind, self.date, self.mode = f.folder, f.kind, f.date, f.mode
        self.rerank_btn = f.rerank_btn

        # what a half-typed filter expects, why Ctrl+Enter cannot rerank: said, results kept
        self.hint = QLabel()
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        self.hint.hide()

        self.summary = QLabel()
        self.summary.setObjectName("muted")
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.sort = combo([label for label, _k, _r in SORTS], "Order of the files listed")
        self.sort.setCurrentIndex(int(self.ui.get("sort", 0)) % len(SORTS))
        self.sort.currentIndexChanged.connect(self._order_changed)
        self.compact_btn = QPushButton("One line per file")
        self.compact_btn.setObjectName("flat")
        self.compact_btn.setCheckable(True)
        self.compact_btn.setToolTip("A compact file list, or the passages of each file")
        self.compact_btn.toggled.connect(self._compact_changed)
        self.list_bar = QWidget()
        bar = QHBoxLayout(self.list_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(8)
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.compact_btn)
        bar.addWidget(self.sort)

        self.results = ResultsView()
        self.results.selectionModel().currentChanged.connect(self._on_current_changed)
        self.results.doubleClicked.connect(lambda _i: self.open_current())
        self.results.installEventFilter(self)
        self.results.customContextMenuRequested.connect(self._context_menu)
        self.more_btn = QPushButton("Show more files")
        self.more_btn.setObjectName("flat")
        self.more_btn.clicked.connect(self.show_more)
        self.more_btn.hide()
        self.list_box = QWidget()
        self.list_box.setMinimumWidth(MIN_LIST_WIDTH)
        lb = QVBoxLayout(self.list_box)
        lb.setContentsMargins(0, 0, 0, 0)
        lb.setSpacing(4)
        lb.addWidget(self.results, 1)
        lb.addWidget(self.more_btn)
        # the preview's content never sizes the split: its header elides a long name and
        # wraps the rest, so its smallest width is that of its buttons, whatever it shows
        self.preview = PreviewPane()
        self.preview.setMinimumWidth(MIN_PREVIEW_WIDTH)
        self.preview.open_requested.connect(self.open_current)
        self.preview.open_with_requested.connect(self.choose_program)
        self.preview.reveal_requested.connect(self.reveal_current)
        self.preview.copy_requested.connect(self.copy_current)
        self.preview.shown.connect(self.preview_shown)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.list_box)
        self.split.addWidget(self.preview)
        self.split.setChildrenCollapsible(False)
        self.split.setHandleWidth(10)
        self.split.splitterMoved.connect(self._split_moved)
        self.results_page = QWidget()
        rp = QVBoxLayout(self.results_page)
        rp.setContentsMargins(0, 0, 0, 0)
        rp.setSpacing(6)
        rp.addWidget(self.list_bar)
        rp.addWidget(self.split, 1)

        self.empty = EmptyState()
        self.empty.add_documents.connect(self._add_documents)
        self.empty.choose_folder.connect(self.choose_folder)
        self.message = MessageState()
        self.stack = QStackedWidget()
        for w in (self.empty, self.message, self.results_page):
            self.stack.addWidget(w)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(18, 16, 18, 14)
        lay.setSpacing(10)
        lay.addWidget(self.box)
        lay.addWidget(self.filter_bar)
        lay.addWidget(self.hint)
        self.no_match = QLabel(
            "<b>No good match.</b> Nothing in your files is close to what you asked for; "
            "these are the nearest. Try other words, or check the folder is indexed."
        )
        self.no_match.setWordWrap(True)
        self.no_match.setStyleSheet(
            "background:#fff6e0; color:#5c4400; border:1px solid "
            "#f0d48a; border-radius:6px; padding:7px 10px;"
        )
        self.no_match.hide()
        lay.addWidget(self.no_match)
        lay.addWidget(self.stack, 1)

        self.open_act = self._action("Open", "Return", self.open_current)
        self.with_act = self._action("Open with…", "", self.choose_program)
        self.reveal_act = self._action("Show in folder", "Ctrl+Shift+O", self.reveal_current)
        self.copy_act = self._action("Copy path", "Ctrl+Shift+C", self.copy_current)
        self._action("Next hit", "F3", self.preview.next_hit, add=True)
        self._action("Previous hit", "Shift+F3", self.preview.previous_hit, add=True)
        self.compact_btn.setChecked(bool(self.ui.get("compact", False)))
        self.update_rerank(None)
        self.show_loading_state()

    def _action(self, text: str, keys: str, slot: Any, add: bool = False) -> QAction:
        a = QAction(text, self)
        if keys:
            a.setShortcut(QKeySequence(keys))
        a.triggered.connect(slot)
        if add:
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(a)
        return a

    # layout ------------------------------------------------------------------------------
    def resizeEvent(self, e: QResizeEvent) -> None:
        super().resizeEvent(e)
        self._arrange()

    def _arrange(self) -> None:
        """Side by side when both fit at their minimum widths, else the preview below; the
        list keeps its share of the room whatever the preview shows."""
        width = self.split.width() or self.width() - 36
        want = Qt.Orientation.Horizontal if width >= SIDE_BY_SIDE_MIN else Qt.Orientation.Vertical
        if self.split.orientation() != want:
            self.split.setOrientation(want)
            self.list_box.setMinimumWidth(
                MIN_LIST_WIDTH if want == Qt.Orientation.Horizontal else 0
            )
            self.preview.setMinimumWidth(
                MIN_PREVIEW_WIDTH if want == Qt.Orientation.Horizontal else 0
            )
        self._apply_share()

    def _apply_share(self) -> None:
        horizontal = self.split.orientation() == Qt.Orientation.Horizontal
        total = self.split.width() if horizontal else self.split.height()
        total = max(total - self.split.handleWidth(), 2)
        first = int(total * self._list_share)
        if horizontal:
            first = max(MIN_LIST_WIDTH, min(first, total - MIN_PREVIEW_WIDTH))
        self.split.setSizes([first, total - first])

    def _split_moved(self, _pos: int, _index: int) -> None:
        sizes = self.split.sizes()
        if sum(sizes) > 0:
            self._list_share = min(0.8, max(0.2, sizes[0] / sum(sizes)))
            self.ui.set("list_share", round(self._list_share, 3))

    def save_state(self) -> None:
        self.ui.set("sort", self.sort.currentIndex())
        self.ui.set("compact", self.compact_btn.isChecked())
        self.ui.save()

    # states ------------------------------------------------------------------------------
    def show_loading_state(self) -> None:
        self.message.show_message("Opening your index…", "")
        self.stack.setCurrentWidget(self.message)

    def set_snapshot(self, snap: Snapshot) -> None:
        self.snapshot = snap
        self._fill_folders()
        self.empty.set_documents(getattr(snap, "documents_dir", None))
        self.update_rerank(snap)
        self.refresh_state()

    def set_folders(self, folders: list[str]) -> None:
        """The folders that hold files (from the backend), offered under their root."""
        self._folders = folders
        self._fill_folders()

    def _fill_folders(self) -> None:
        if self.snapshot is not None:
            self.filters.set_folders(self.snapshot.roots, self._folders)
            self.filters.sync_typed(typed_filters(self.box.text()))

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
            self.empty.typed.setVisible(bool(self.box.text().strip()))
            self.box.setPlaceholderText("Add a folder first, then search it here")
            return
        self.box.setPlaceholderText("Search your files — type what you are looking for")
        if not self.box.text().strip():
            n = snap.files
            findable = snap.indexed + snap.words_only
            what = (
                f"Type to search {findable:,} files"
                if findable
                else "Your files are being read — results appear as they are indexed"
                if n == 0 or self.backend.state.running
                else "Type to search"
            )
            if snap.words_only:
                what += (
                    f" ({snap.words_only:,} found by their words only for now: their "
                    "meaning is still being added)"
                )
            self.message.show_message(what, TIPS)
            self.stack.setCurrentWidget(self.message)

    def show_empty_error(self, message: str) -> None:
        self.empty.error.setText(message)
        self.empty.error.setVisible(bool(message))

    # querying ----------------------------------------------------------------------------
    def _on_edited(self, _text: str) -> None:
        self._typed_at = time.perf_counter()
        self.k = RESULTS_K  # a new query starts with the first page of files
        self.debounce.start()

    def _on_text_changed(self, text: str) -> None:
        tf = typed_filters(text)
        if not tf.error:  # half typed: the controls keep showing what was read last
            self.filters.sync_typed(tf)
            self._say("")
        if self.snapshot is not None and not self.snapshot.roots:
            self.empty.typed.setVisible(bool(text.strip()))
        if not text.strip():
            self.debounce.stop()
            self.backend.cancel_queries()  # results still in flight are dropped
            self.outcome = None
            self.results.model_.set_results([])
            self.preview.clear("Select a result to preview it here.")
            self.summary.setText("")
            self.no_match.hide()
            self.more_btn.hide()
            self.refresh_state()

    def _say(self, message: str) -> None:
        self.hint.setText(message[:1].upper() + message[1:])
        self.hint.setVisible(bool(message))

    def _filters_changed(self) -> None:
        if self.box.text().strip():
            self.debounce.stop()
            self.k = RESULTS_K
            self.run_query()

    def options(self) -> SearchOptions:
        opts = SearchOptions(k=self.k)
        self.filters.apply(opts)
        return opts

    def run_query(self, rerank: bool = False) -> int:
        text = self.box.text().strip()
        if not text:
            return -1
        if not self.summary.text():
            self.summary.setText("searching…")
        return self.backend.search(text, self.options(), rerank=rerank)

    def rerank(self) -> None:
        if not self.rerank_btn.isEnabled():
            self._say(self.rerank_btn.toolTip())  # how to get a reranker
            return
        if self.box.text().strip():
            self.summary.setText("reranking…")
            self.run_query(rerank=True)

    def show_more(self) -> None:
        self.k += RESULTS_K
        self.more_btn.setText("Loading more files…")
        self.run_query()

    def show_outcome(self, out: QueryOutcome) -> None:
        if out.text != self.box.text().strip():
            return  # the box changed since: a newer query is on its way
        if self.snapshot is not None and not self.snapshot.roots:
            self.refresh_state()  # no folders: the first-run page says what to do
            self.results_shown.emit(out)
            return
        self.last_error = ""
        self._say("")
        # the same query again (a live update, more files): stay on the file being looked at
        same = self.outcome is not None and self.outcome.text == out.text
        keep = self.results.current_result() if same else None
        old_row = self.results.currentIndex().row() if same else 0
        self.outcome = out
        self._show_results(out.results)
        n = len(out.results)
        self.more_btn.setText("Show more files")
        self.more_btn.setVisible(n >= out.options.k)
        how = " · reranked" if out.reranked else ""
        pending = self.snapshot.words_only if self.snapshot is not None else 0
        later = (
            f" · {pending:,} files not yet searchable by meaning (found by words)"
            if pending
            else ""
        )
        self.summary.setText(
            f"{n} file{'s' if n != 1 else ''} · {out.seconds * 1000:.0f} ms{how}{later}"
            if n
            else ""
        )
        self.summary.setToolTip(self.summary.text())
        # said plainly, with the nearest files still listed below
        self.no_match.setVisible(bool(n) and not any(r.good_match for r in out.results))
        if not n:
            self.message.show_message(
                f"No files match “{out.text}”",
                "Try other words, fewer filters, or “Meaning only” to find passages that say "
                "it differently."
                + (
                    ""
                    if not self.filters.filtered()
                    else "<br><br>Filters are on: folder, type or date."
                ),
            )
            self.stack.setCurrentWidget(self.message)
            self.preview.clear("")
        else:
            was_shown = self.stack.currentWidget() is self.results_page
            self.stack.setCurrentWidget(self.results_page)
            if not was_shown:
                self._arrange()
            rows = self.results.model_.results
            row = 0
            if keep is not None:
                # the file itself, or (it was deleted) the one now where it was
                row = next(
                    (i for i, r in enumerate(rows) if r.path == keep.path),
                    min(max(old_row, 0), len(rows) - 1),
                )
            self.results.select_row(row)
        self.results_shown.emit(out)

    def _show_results(self, results: list[SearchResult]) -> None:
        self.results.model_.set_results(ordered(results, self.sort.currentIndex()))

    def _order_changed(self) -> None:
        self.ui.set("sort", self.sort.currentIndex())
        if self.outcome is not None:
            keep = self.results.current_result()
            self._show_results(self.outcome.results)
            rows = self.results.model_.results
            self.results.select_row(
                next((i for i, r in enumerate(rows) if keep is not None and r.path == keep.path), 0)
            )

    def _compact_changed(self, on: bool) -> None:
        self.ui.set("compact", on)
        keep = self.results.currentIndex().row()
        self.results.model_.set_compact(on)
        if keep >= 0:
            self.results.select_row(keep)

    def show_query_error(self, message: str) -> None:
        self.last_error = message
        if self.outcome is not None and self.stack.currentWidget() is self.results_page:
            # half-typed (after:20): keep the last results and say what is expected
            self._say(message)
            return
        self.summary.setText("")
        self.no_match.hide()
        self.message.show_message("Cannot search for that", html.escape(message))
        self.stack.setCurrentWidget(self.message)

    # preview -----------------------------------------------------------------------------
    def _on_current_changed(self, *_a: Any) -> None:
        r = self.results.current_result()
        if r is None:
            return
        if r.name_only is not None:
            self._preview_token += 1
            self.preview.show_name_only(r)
            return
        shown = self.preview.result
        if (
            shown is not None
            and self.preview.data is not None
            and shown.path == r.path
            and shown.mtime == r.mtime
            and matched_words(shown) == matched_words(r)
            and [p.chunk_start for p in shown.passages] == [p.chunk_start for p in r.passages]
        ):
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

    def _report(self, got: Launched) -> None:
        """Success in the status bar; a failure also beside the buttons, with Copy path."""
        self.status_message.emit(got.message)
        self.preview.show_notice("" if got.ok else got.message)

    def _failed_later(self, message: str) -> None:
        self._report(Launched(False, message))

    def open_current(self) -> None:
        p = self._current_path()
        if p:
            self._report(open_file(real_path(p), self._failed_later))

    def reveal_current(self) -> None:
        p = self._current_path()
        if p:
            self._report(show_in_folder(real_path(p), self._failed_later))

    def choose_program(self) -> None:
        p = self._current_path()
        if not p:
            return
        program, _ = QFileDialog.getOpenFileName(self, "Open with which program?", "/usr/bin")
        if program:
            self.open_with_program(program)

    def open_with_program(self, program: str) -> None:
        p = self._current_path()
        if p:
            self._report(open_with(program, real_path(p)))

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
        for a in (self.open_act, self.with_act, self.reveal_act, self.copy_act):
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
        if obj is self.box and key in (
            Qt.Key.Key_Down,
            Qt.Key.Key_Up,
            Qt.Key.Key_PageDown,
            Qt.Key.Key_PageUp,
        ):
            n = self.results.model_.rowCount()
            if n:
                cur = self.results.currentIndex().row()
                step = {
                    Qt.Key.Key_Down: 1,
                    Qt.Key.Key_Up: -1,
                    Qt.Key.Key_PageDown: 5,
                    Qt.Key.Key_PageUp: -5,
                }[Qt.Key(key)]
                self.results.select_row(cur + step if cur >= 0 else 0)
                return True
        return False
