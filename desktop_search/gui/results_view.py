"""The result list: one row per file (name, folder, type, date, page) with its best passages,
the matched words marked. Rows are rich text painted by a delegate; nothing here does I/O."""

from __future__ import annotations

import html
import os
import time
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QAbstractTextDocumentLayout, QColor, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from ..reasons import plain_reason
from ..search import SearchResult
from .highlight import snippet_html
from .style import ACCENT, ACCENT_SOFT, MUTED

ResultRole = Qt.ItemDataRole.UserRole + 1
PAD_X, PAD_Y = 14, 10
COMPACT_PAD_Y = 5

KIND_LABELS = {
    "text": "Text",
    "code": "Code",
    "markdown": "Markdown",
    "rst": "reStructuredText",
    "html": "HTML",
    "pdf": "PDF",
    "docx": "Word",
    "pptx": "PowerPoint",
    "odt": "OpenDocument",
    "ods": "Spreadsheet",
    "odp": "Presentation",
    "epub": "EPUB",
}


def kind_label(kind: str, path: str) -> str:
    if kind in KIND_LABELS:
        return KIND_LABELS[kind]
    ext = os.path.splitext(path)[1].lstrip(".").upper()
    return ext or (kind.capitalize() if kind else "File")


def friendly_date(ts: float, now: float | None = None) -> str:
    now = now or time.time()
    d = datetime.fromtimestamp(ts)
    today = datetime.fromtimestamp(now).date()
    if d.date() == today:
        return f"today {d:%H:%M}"
    if (today - d.date()).days == 1:
        return f"yesterday {d:%H:%M}"
    if d.year == today.year:
        return f"{d:%d %b}".lstrip("0")
    return f"{d:%d %b %Y}".lstrip("0")


def size_text(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB"):
        if size < 1024:
            return f"{n:,} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def short_folder(path: str) -> str:
    folder = os.path.dirname(path)
    home = os.path.expanduser("~")
    if folder == home or folder.startswith(home + os.sep):
        folder = "~" + folder[len(home) :]
    return folder


MATCH_LABELS = {
    "words+meaning": "words + meaning",
    "meaning": "meaning only",
    "words": "words only",
    "name": "by its name",
}


def relevance_label(r: SearchResult) -> str:
    """In words, from the calibrated relevance (relevance.py): "strong", "good", "weak"."""
    if r.name_only is not None:
        return "name only"
    if r.exact:
        return "exact match"
    if r.relevance is None:
        return ""
    return "strong match" if r.relevance >= 40 else "good match" if r.good_match else "weak match"


def match_tag_html(r: SearchResult) -> str:
    """Small tags after the file name: how well it matched (the calibrated relevance in words;
    the number is in `search --json`), and whether by words, meaning or both."""
    tags = []
    label = relevance_label(r)
    if label:
        colour = ACCENT if r.good_match else MUTED
        tags.append(f'<span style="color:{colour};">{label}</span>')
    if r.match and r.name_only is None:
        tags.append(f'<span style="color:{MUTED};">{MATCH_LABELS.get(r.match, r.match)}</span>')
    if not tags:
        return ""
    return (
        '<span style="font-size:8.5pt; font-weight:400;">&nbsp;&nbsp;'
        + " &nbsp;·&nbsp; ".join(tags)
        + "</span>"
    )


def result_html(r: SearchResult, max_passages: int = 3) -> str:
    name = os.path.basename(r.path)
    # wrap between the items only, never inside "modified today 05:49"
    meta = [
        html.escape(short_folder(r.path)),
        *(
            m.replace(" ", "&nbsp;")
            for m in (kind_label(r.kind, r.path), "modified " + friendly_date(r.mtime))
        ),
    ]
    title = ""
    stem = os.path.splitext(name)[0]
    if r.title and r.title.strip() and r.title.strip().lower() != stem.lower():
        title = (
            f'<div style="color:#3b4452; margin-top:1px;">'
            f"{html.escape(r.title.strip()[:140])}</div>"
        )
    parts = [
        f'<div style="font-size:11pt; font-weight:600; color:{ACCENT};">{html.escape(name)}'
        f"{match_tag_html(r)}</div>",
        title,
        f'<div style="color:{MUTED}; font-size:9pt; margin-top:1px;">'
        + " &nbsp;·&nbsp; ".join(meta)
        + "</div>",
    ]
    if r.name_only is not None:
        parts.append(
            f'<div style="margin-top:6px; color:{MUTED};"><i>Its text cannot be '
            f"searched: {html.escape(plain_reason(r.name_only))}</i></div>"
        )
    for p in r.passages[:max_passages]:
        page = (
            f'<span style="color:{MUTED}; font-size:9pt;">p.&nbsp;{p.page}&nbsp;&nbsp;</span>'
            if p.page
            else ""
        )
        parts.append(
            f'<div style="margin-top:6px; color:#2b313b;">{page}'
            f"{snippet_html(p.snippet, p.highlights)}</div>"
        )
    return "".join(parts)


def compact_html(r: SearchResult) -> str:
    """One line per file, as a file list: name, tag, folder, date, size."""
    meta = " &nbsp;·&nbsp; ".join(
        m.replace(" ", "&nbsp;")
        for m in (short_folder(r.path), "modified " + friendly_date(r.mtime), size_text(r.size))
    )
    return (
        f'<div style="white-space:nowrap;"><span style="font-weight:600; color:{ACCENT};">'
        f"{html.escape(os.path.basename(r.path))}</span>{match_tag_html(r)}"
        f'&nbsp;&nbsp;<span style="color:{MUTED}; font-size:9pt;">{meta}</span></div>'
    )


class ResultsModel(QAbstractListModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results: list[SearchResult] = []
        self.html: list[str] = []
        self.compact = False  # one line per file instead of the passages
        self.generation = 0  # bumps on every new result set (for "painted" measurements)

    def set_results(self, results: list[SearchResult]) -> None:
        self.beginResetModel()
        self.results = list(results)
        self.html = [compact_html(r) if self.compact else result_html(r) for r in self.results]
        self.generation += 1
        self.endResetModel()

    def set_compact(self, compact: bool) -> None:
        if compact != self.compact:
            self.compact = compact
            self.set_results(self.results)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.results)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or index.row() >= len(self.results):
            return None
        r = self.results[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.html[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return r.path
        if role == ResultRole:
            return r
        return None


class ResultDelegate(QStyledItemDelegate):
    """Paints a row's HTML with QTextDocument; layouts are cached per row and width."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cache: dict[tuple[int, int, int], QTextDocument] = {}
        self._generation = -1

    def _doc(self, index: QModelIndex | QPersistentModelIndex, width: int) -> QTextDocument:
        model = index.model()
        gen = getattr(model, "generation", 0)
        if gen != self._generation:
            self._cache.clear()
            self._generation = gen
        key = (gen, index.row(), width)
        doc = self._cache.get(key)
        if doc is None:
            doc = QTextDocument()
            doc.setDocumentMargin(0)
            view = self.parent()
            doc.setDefaultFont(view.font() if isinstance(view, QWidget) else doc.defaultFont())
            doc.setHtml(str(index.data(Qt.ItemDataRole.DisplayRole) or ""))
            doc.setTextWidth(max(120, width - 2 * PAD_X))
            if len(self._cache) > 400:
                self._cache.clear()
            self._cache[key] = doc
        return doc

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        rect = option.rect
        state = option.state
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = bool(state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(rect, QColor(ACCENT_SOFT))
            painter.fillRect(rect.x(), rect.y(), 3, rect.height(), QColor(ACCENT))
        elif state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(rect, QColor("#f7f9fc"))
        painter.setPen(QColor("#eceff3"))
        painter.drawLine(rect.left() + PAD_X, rect.bottom(), rect.right() - PAD_X, rect.bottom())
        doc = self._doc(index, rect.width())
        pad_y = self._pad_y(index)
        painter.translate(rect.x() + PAD_X, rect.y() + pad_y)
        ctx = QAbstractTextDocumentLayout.PaintContext()
        ctx.palette.setColor(QPalette.ColorRole.Text, option.palette.color(QPalette.ColorRole.Text))
        ctx.clip = QRectF(0, 0, rect.width() - PAD_X, rect.height() - pad_y)
        doc.documentLayout().draw(painter, ctx)
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        view = self.parent()
        width = view.viewport().width() if isinstance(view, QListView) else 600
        doc = self._doc(index, width)
        return QSize(width, int(doc.size().height()) + 2 * self._pad_y(index) + 1)

    @staticmethod
    def _pad_y(index: QModelIndex | QPersistentModelIndex) -> int:
        model = index.model()
        return COMPACT_PAD_Y if getattr(model, "compact", False) else PAD_Y


class ResultsView(QListView):
    """Emits `painted(generation)` after each paint, so latency can be measured to the pixel."""

    painted = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("results")
        self.model_ = ResultsModel(self)
        self.setModel(self.model_)
        self.setItemDelegate(ResultDelegate(self))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(False)
        self.setMouseTracking(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def resizeEvent(self, e: Any) -> None:
        old = e.oldSize().width()
        super().resizeEvent(e)
        if old != e.size().width():
            self.scheduleDelayedItemsLayout()  # row heights depend on the width

    def paintEvent(self, e: Any) -> None:
        super().paintEvent(e)
        self.painted.emit(self.model_.generation)

    def current_result(self) -> SearchResult | None:
        idx = self.currentIndex()
        if not idx.isValid():
            return None
        r = idx.data(ResultRole)
        return r if isinstance(r, SearchResult) else None

    def select_row(self, row: int) -> None:
        n = self.model_.rowCount()
        if n == 0:
            return
        row = max(0, min(n - 1, row))
        self.setCurrentIndex(self.model_.index(row))
        self.scrollTo(self.model_.index(row))
