"""The main window: navigation, the pages, an error banner and the indexing status bar."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from .backend import Backend, IndexState, Snapshot
from .folders_page import FoldersPage
from .hardware_page import HardwarePage
from .indexing_page import IndexingPage, bar_range, progress_text
from .search_page import SearchPage
from .settings_page import SettingsPage
from .style import app_icon

PAGES = ("Search", "Folders", "Indexing", "Settings", "Hardware")


class Banner(QFrame):
    """An error people must see, with a way to dismiss it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setStyleSheet("color:#7a271a;")
        close = QPushButton("Dismiss")
        close.setObjectName("flat")
        close.clicked.connect(self.hide)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 8, 8, 8)
        lay.addWidget(self.label, 1)
        lay.addWidget(close)
        self.hide()

    def show_error(self, message: str) -> None:
        self.label.setText(f"<b>Something went wrong.</b> {html.escape(message)}")
        self.show()


class MainWindow(QMainWindow):
    closed = Signal()

    def __init__(
        self,
        home: str | None = None,
        *,
        watch: bool = True,
        index_on_start: bool = True,
        watch_debounce_s: float = 0.5,
    ) -> None:
        super().__init__()
        self.setWindowTitle("Desktop Search")
        self.setWindowIcon(app_icon())
        self.setMinimumSize(900, 600)
        self.backend = Backend(
            home,
            watch=watch,
            index_on_start=index_on_start,
            watch_debounce_s=watch_debounce_s,
            parent=self,
        )
        b = self.backend

        self.search_page = SearchPage(b)
        # the size only: where the window goes is the window manager's business (Wayland
        # does not even let a program choose)
        size = self.search_page.ui.get("size")
        ok = isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)
        self.resize(*(size if ok else (1280, 800)))
        self.folders_page = FoldersPage(b)
        self.indexing_page = IndexingPage(b)
        self.settings_page = SettingsPage(b)
        self.hardware_page = HardwarePage(b)
        self.pages: list[QWidget] = [
            self.search_page,
            self.folders_page,
            self.indexing_page,
            self.settings_page,
            self.hardware_page,
        ]
        self.stack = QStackedWidget()
        for p in self.pages:
            self.stack.addWidget(p)

        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(184)
        self.nav.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for i, name in enumerate(PAGES):
            item = QListWidgetItem(name)
            item.setToolTip(f"{name} (Ctrl+{i + 1})")
            self.nav.addItem(item)
        self.nav.currentRowChanged.connect(self._show_page)
        brand = QLabel()
        brand.setPixmap(app_icon().pixmap(28, 28))
        brand_text = QLabel("Desktop Search")
        brand_text.setStyleSheet("font-weight:600; font-size:10.5pt;")
        brand_row = QHBoxLayout()
        brand_row.setContentsMargins(12, 14, 6, 8)
        brand_row.addWidget(brand)
        brand_row.addWidget(brand_text, 1)
        side = QFrame()
        side.setStyleSheet("QFrame { background:#eceff4; }")
        side_l = QVBoxLayout(side)
        side_l.setContentsMargins(0, 0, 0, 0)
        side_l.setSpacing(0)
        side_l.addLayout(brand_row)
        side_l.addWidget(self.nav, 1)
        side.setFixedWidth(184)

        self.banner = Banner()
        content = QWidget()
        cl = QVBoxLayout(content)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        banner_wrap = QHBoxLayout()
        banner_wrap.setContentsMargins(18, 10, 18, 0)
        banner_wrap.addWidget(self.banner)
        cl.addLayout(banner_wrap)
        cl.addWidget(self.stack, 1)
        central = QWidget()
        root = QHBoxLayout(central)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(0)
        root.addWidget(side)
        root.addWidget(content, 1)
        self.setCentralWidget(central)

        # status bar: what indexing is doing, pause/resume, and the totals
        self.state_label = QLabel()
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setFixedWidth(180)
        self.bar.hide()
        self.pause_btn = QPushButton("Pause")
        self.pause_btn.setObjectName("flat")
        self.pause_btn.clicked.connect(self._toggle_pause)
        self.pause_btn.hide()
        self.totals = QLabel()
        self.totals.setObjectName("muted")
        sb = self.statusBar()
        sb.setSizeGripEnabled(False)
        sb.addWidget(self.state_label)
        sb.addWidget(self.bar)
        sb.addWidget(self.pause_btn)
        sb.addPermanentWidget(self.totals)

        b.opened.connect(self._on_snapshot)
        b.snapshot_changed.connect(self._on_snapshot)
        b.open_failed.connect(self._on_open_failed)
        b.error.connect(self.banner.show_error)
        b.damaged.connect(self.show_damaged)
        self.damaged_dialog: QMessageBox | None = None
        b.results_ready.connect(self.search_page.show_outcome)
        b.query_failed.connect(lambda _s, m: self.search_page.show_query_error(m))
        b.index_state.connect(self._on_index_state)
        b.content_changed.connect(self._on_content_changed)
        b.folders_ready.connect(self.search_page.set_folders)
        b.opened.connect(lambda _s: b.list_folders())
        b.counts_changed.connect(self._on_counts)
        for page in (self.search_page, self.folders_page):
            page.status_message.connect(self.flash)
        self.search_page.add_folder_requested.connect(self.add_folder)

        QShortcut(QKeySequence("Ctrl+L"), self, self.focus_search)
        QShortcut(QKeySequence("Ctrl+F"), self, self.focus_search)
        QShortcut(QKeySequence("Ctrl+Q"), self, self.close)
        for i in range(len(PAGES)):
            QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self, lambda i=i: self.nav.setCurrentRow(i))
        self.nav.setCurrentRow(0)
        self.state_label.setText("Opening the index…")
        b.start()

    # pages -----------------------------------------------------------------------------
    def _show_page(self, row: int) -> None:
        if 0 <= row < len(self.pages):
            self.stack.setCurrentIndex(row)
            if self.pages[row] is self.hardware_page:
                self.hardware_page.load()
            if self.pages[row] is self.search_page:
                self.search_page.box.setFocus()

    def show_page(self, name: str) -> None:
        self.nav.setCurrentRow(PAGES.index(name))

    def focus_search(self) -> None:
        self.show_page("Search")
        self.search_page.focus_search()

    # backend events --------------------------------------------------------------------
    def _on_snapshot(self, snap: Snapshot) -> None:
        for page in (self.search_page, self.folders_page, self.indexing_page, self.settings_page):
            page.set_snapshot(snap)
        self._update_totals(snap)
        self._on_index_state(self.backend.state)

    def _on_counts(self, _counts: object) -> None:
        snap = self.backend.snapshot
        if snap is not None:
            self._update_totals(snap)
            self.indexing_page.show_counts()
            self.search_page.refresh_state()

    def _update_totals(self, snap: Snapshot) -> None:
        n = len(snap.roots)
        if not n:
            self.totals.setText("No folders yet")
            return
        watching = " · watching for changes" if self.backend.watch and n else ""
        findable = snap.indexed + snap.words_only
        by_meaning = f" ({snap.indexed:,} by meaning)" if snap.words_only else ""
        self.totals.setText(
            f"{findable:,} files searchable{by_meaning} in {n} "
            f"folder{'s' if n != 1 else ''}{watching}"
        )
        problems = len(snap.status.problems)
        self.nav.item(2).setText(f"Indexing  ({problems})" if problems else "Indexing")

    def show_damaged(self, message: str) -> None:
        """The catalog is damaged: say so once, in a dialog, with the command that repairs it."""
        if self.damaged_dialog is not None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "The index is damaged",
            message,
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setInformativeText(
            "Close this window, then run this in a terminal:\n\n    desktop-search repair"
        )
        box.setWindowModality(Qt.WindowModality.WindowModal)
        self.damaged_dialog = box
        box.open()

    def _on_open_failed(self, message: str) -> None:
        self.banner.show_error(f"The index cannot be opened: {message}")
        self.search_page.message.show_message("The index cannot be opened", html.escape(message))
        self.state_label.setText("Not ready")

    def _on_index_state(self, state: IndexState) -> None:
        self.indexing_page.set_state(state)
        head, detail = progress_text(state)
        # a watcher update of a few files is too quick to be worth a progress bar
        p = state.progress
        visible = state.running and not (
            state.live and (p is None or p.files_total + p.passages_total < 20)
        )
        if visible:
            self.state_label.setText(head + (f" · {detail}" if detail else ""))
            counted = bar_range(state)
            if counted is None:
                self.bar.setRange(0, 0)
            else:
                self.bar.setRange(0, counted[1])
                self.bar.setValue(counted[0])
        elif state.paused:
            self.state_label.setText("Indexing paused")
        else:
            snap = self.backend.snapshot
            self.state_label.setText(
                "Ready"
                if snap and snap.roots
                else "Add a folder to start"
                if snap
                else "Opening the index…"
            )
        self.bar.setVisible(visible)
        self.pause_btn.setVisible(visible or state.paused)
        self.pause_btn.setText("Resume" if state.paused else "Pause")
        if not state.running and self.search_page.snapshot is not None:
            self.search_page.refresh_state()

    def _on_content_changed(self) -> None:
        self.backend.list_folders()
        if self.search_page.box.text().strip():
            self.search_page.run_query()

    def _toggle_pause(self) -> None:
        if self.backend.paused:
            self.backend.resume()
        else:
            self.backend.pause()

    def add_folder(self, path: str) -> None:
        def failed(message: str) -> None:
            self.search_page.show_empty_error(message)
            self.folders_page.show_error(message)

        self.search_page.show_empty_error("")
        self.backend.add_root(path, on_error=failed)

    def flash(self, message: str) -> None:
        self.statusBar().showMessage(message, 4000)

    def save_state(self) -> None:
        """Size, split, sort and view, for the next launch."""
        ui = self.search_page.ui
        if not (self.isMaximized() or self.isFullScreen()):
            ui.set("size", [self.width(), self.height()])
        self.search_page.save_state()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        self.hide()  # gone at once; the writer lane may need a moment to finish its file
        self.backend.shutdown()
        self.closed.emit()
        super().closeEvent(event)

    def shutdown(self) -> None:
        self.backend.shutdown()
