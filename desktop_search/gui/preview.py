"""The preview pane: the file's extracted text, scrolled to the hit, matched words marked, with
next/previous hit. The text is extracted on the reader lane; this widget only shows it."""

from __future__ import annotations

import html
import os

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QResizeEvent, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from ..reasons import plain_reason
from ..search import SearchResult
from .highlight import PreviewData
from .results_view import friendly_date, kind_label, short_folder, size_text
from .style import HIT, HIT_CURRENT, PASSAGE

MAX_MARKS = 1500  # extra selections around the current hit; more only slows painting


class ElidedLabel(QLabel):
    """One line that ends in "…" when it does not fit, the whole text in its tooltip: a long
    file name must never widen the pane (and so shrink the result list beside it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def resizeEvent(self, e: QResizeEvent) -> None:
        super().resizeEvent(e)
        self._elide()

    def _elide(self) -> None:
        width = max(self.width(), 40)
        self.setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle, width))


class PreviewPane(QFrame):
    open_requested = Signal()
    open_with_requested = Signal()
    reveal_requested = Signal()
    copy_requested = Signal()
    shown = Signal(str)  # path, once its text is on screen

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewCard")
        self.data: PreviewData | None = None
        self.result: SearchResult | None = None
        self.current = -1

        self.title = ElidedLabel()
        self.title.setObjectName("h2")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.meta = QLabel()
        self.meta.setObjectName("muted")
        self.meta.setWordWrap(True)
        self.meta.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # an action that did not work (no launcher, a file gone): said here, beside Copy path
        self.notice = QLabel()
        self.notice.setObjectName("error")
        self.notice.setWordWrap(True)
        self.notice.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.notice.hide()

        self.open_btn = QPushButton("Open")
        self.open_btn.setObjectName("primary")
        self.open_btn.setToolTip("Open in the default application (Enter)")
        self.reveal_btn = QPushButton("Show in folder")
        self.reveal_btn.setToolTip("Open the folder that holds it (Ctrl+Shift+O)")
        self.copy_btn = QPushButton("Copy path")
        self.copy_btn.setToolTip("Copy the file's full path (Ctrl+Shift+C)")
        self.with_btn = QPushButton("Open with…")
        self.with_btn.setToolTip("Open it with a program you choose")
        self.with_btn.clicked.connect(self.open_with_requested)
        self.open_btn.clicked.connect(self.open_requested)
        self.reveal_btn.clicked.connect(self.reveal_requested)
        self.copy_btn.clicked.connect(self.copy_requested)

        self.hit_label = QLabel()
        self.hit_label.setObjectName("muted")
        self.prev_btn = QPushButton("◀ Previous")
        self.prev_btn.setObjectName("flat")
        self.prev_btn.setToolTip("Previous hit (Shift+F3)")
        self.next_btn = QPushButton("Next ▶")
        self.next_btn.setObjectName("flat")
        self.next_btn.setToolTip("Next hit (F3)")
        self.prev_btn.clicked.connect(self.previous_hit)
        self.next_btn.clicked.connect(self.next_hit)

        self.text = QPlainTextEdit()
        self.text.setObjectName("preview")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.text.document().setDocumentMargin(14)

        self.placeholder = QLabel()
        self.placeholder.setTextFormat(Qt.TextFormat.RichText)
        self.placeholder.linkActivated.connect(self._toggle_details)
        self._details = False  # the raw reason behind "Details", once asked for
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setObjectName("muted")
        self.placeholder.setWordWrap(True)
        self.body = QStackedWidget()
        self.body.addWidget(self.placeholder)
        self.body.addWidget(self.text)

        head = QVBoxLayout()
        head.setContentsMargins(16, 14, 16, 8)
        head.setSpacing(2)
        head.addWidget(self.title)
        head.addWidget(self.meta)
        actions = QHBoxLayout()
        actions.setContentsMargins(0, 8, 0, 0)
        actions.setSpacing(6)
        for b in (self.open_btn, self.with_btn, self.reveal_btn, self.copy_btn):
            b.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves the keys to the list
            actions.addWidget(b)
        actions.addStretch(1)
        # the hits on a line of their own: beside the four actions they would not fit a
        # narrow pane, and the pane's width must not depend on what it shows
        hits = QHBoxLayout()
        hits.setContentsMargins(0, 4, 0, 0)
        hits.setSpacing(6)
        hits.addWidget(self.hit_label, 1)
        hits.addWidget(self.prev_btn)
        hits.addWidget(self.next_btn)
        head.addLayout(actions)
        head.addLayout(hits)
        head.addWidget(self.notice)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setStyleSheet("color: #e6e9ef;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(1, 1, 1, 1)
        lay.setSpacing(0)
        lay.addLayout(head)
        lay.addWidget(line)
        lay.addWidget(self.body, 1)
        self.clear("Select a result to preview it here.")

    # states ------------------------------------------------------------------------------
    def _set_actions(self, enabled: bool) -> None:
        for b in (self.open_btn, self.with_btn, self.reveal_btn, self.copy_btn):
            b.setEnabled(enabled)

    def show_notice(self, message: str) -> None:
        """Says an action failed; the next file shown clears it."""
        self.notice.setText(message)
        self.notice.setVisible(bool(message))

    def clear(self, message: str) -> None:
        self.data, self.result, self.current = None, None, -1
        self.title.set_full_text("Preview")
        self.meta.setText("")
        self.show_notice("")
        self.placeholder.setText(message)
        self.body.setCurrentWidget(self.placeholder)
        self._set_actions(False)
        self._update_nav()

    def show_result_header(self, r: SearchResult) -> None:
        """Immediately on selection; the text follows when extracted."""
        if self.result is None or self.result.path != r.path:
            self.show_notice("")
        self.result = r
        self.title.set_full_text(os.path.basename(r.path))
        self.title.setToolTip(r.path)
        bits = [
            short_folder(r.path),
            kind_label(r.kind, r.path),
            "modified " + friendly_date(r.mtime),
            size_text(r.size),
        ]
        # keep each item on one line; wrap only between them
        self.meta.setText("  ·  ".join([bits[0], *(b.replace(" ", "\u00a0") for b in bits[1:])]))
        self._set_actions(True)

    def show_loading(self, r: SearchResult) -> None:
        self.show_result_header(r)
        self.data = None
        self.current = -1
        self.placeholder.setText("Reading the file…")
        self.body.setCurrentWidget(self.placeholder)
        self._update_nav()

    def show_name_only(self, r: SearchResult) -> None:
        """A file found by its name: no text to show, and why; the raw reason on request."""
        self.show_result_header(r)
        self.data = None
        self.current = -1
        raw = r.name_only
        why = html.escape(plain_reason(raw) or "its text is not in the index")
        detail = ""
        if raw and plain_reason(raw) != raw:
            detail = (
                '<br><br><a href="details" style="color:#5b6472;">Details</a>'
                if not self._details
                else f'<br><br><span style="color:#5b6472;">{html.escape(raw)}</span>'
            )
        self.placeholder.setText(
            f"<b>Found by its name.</b> Its text cannot be searched: {why}.{detail}"
        )
        self.body.setCurrentWidget(self.placeholder)
        self._update_nav()

    def _toggle_details(self, _link: str) -> None:
        self._details = not self._details
        if self.result is not None and self.result.name_only is not None:
            self.show_name_only(self.result)

    def show_error(self, r: SearchResult, message: str) -> None:
        self.show_result_header(r)
        self.data = None
        self.placeholder.setText(
            f'<span style="color:#b42318;">Cannot show this file.</span>'
            f"<br><br>{html.escape(message)}"
        )
        self.body.setCurrentWidget(self.placeholder)
        self._update_nav()

    def show_data(self, r: SearchResult, data: PreviewData) -> None:
        self.show_result_header(r)
        self.data = data
        self.text.setPlainText(data.text)
        self.body.setCurrentWidget(self.text)
        targets = data.targets()
        self.current = min(data.first, len(targets) - 1) if targets else -1
        self._apply_marks()
        self._update_nav()
        if data.offset:
            self.meta.setText(
                self.meta.text() + f"  ·  showing {len(data.text):,} of "
                f"{data.total_chars:,} characters around the hit"
            )
        self.shown.emit(data.path)

    # hits --------------------------------------------------------------------------------
    def hit_count(self) -> int:
        return len(self.data.targets()) if self.data else 0

    def next_hit(self) -> None:
        n = self.hit_count()
        if n:
            self.current = (self.current + 1) % n
            self._apply_marks()
            self._update_nav()

    def previous_hit(self) -> None:
        n = self.hit_count()
        if n:
            self.current = (self.current - 1) % n
            self._apply_marks()
            self._update_nav()

    def _fmt(self, color: str, bold: bool = False) -> QTextCharFormat:
        f = QTextCharFormat()
        f.setBackground(QColor(color))
        if bold:
            f.setFontWeight(600)
        return f

    def _selection(self, a: int, b: int, fmt: QTextCharFormat) -> QTextEdit.ExtraSelection:
        sel = QTextEdit.ExtraSelection()
        cur = QTextCursor(self.text.document())
        cur.setPosition(a)
        cur.setPosition(b, QTextCursor.MoveMode.KeepAnchor)
        sel.cursor = cur
        sel.format = fmt
        return sel

    def _apply_marks(self) -> None:
        d = self.data
        if d is None:
            return
        sels: list[QTextEdit.ExtraSelection] = []
        passage_fmt = self._fmt(PASSAGE)
        passage_fmt.setProperty(QTextFormat.Property.FullWidthSelection, False)
        for a, b in d.passages[:3]:
            sels.append(self._selection(a, b, passage_fmt))
        hit_fmt, cur_fmt = self._fmt(HIT, True), self._fmt(HIT_CURRENT, True)
        lo = max(0, self.current - MAX_MARKS // 2)
        for i, (a, b) in enumerate(d.hits[lo : lo + MAX_MARKS], start=lo):
            sels.append(self._selection(a, b, cur_fmt if i == self.current else hit_fmt))
        self.text.setExtraSelections(sels)
        targets = d.targets()
        if 0 <= self.current < len(targets):
            a, b = targets[self.current]
            cur = QTextCursor(self.text.document())
            cur.setPosition(min(b, len(d.text)))
            self.text.setTextCursor(cur)
            cur.setPosition(a)
            self.text.setTextCursor(cur)
            self.text.centerCursor()

    def _update_nav(self) -> None:
        d = self.data
        n = self.hit_count()
        self.prev_btn.setEnabled(n > 1)
        self.next_btn.setEnabled(n > 1)
        if d is None or n == 0:
            self.hit_label.setText("")
            return
        what = "hit" if d.hits else "passage"
        label = f"{what} {self.current + 1} of {n}"
        a = d.targets()[self.current][0]
        page = d.page_at(a)
        if page:
            label += f" · page {page}"
        self.hit_label.setText(label)
