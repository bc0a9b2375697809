"""The search page's full-page states: the first run (no folders yet), and a centred message
(the hint before typing, "no results", a query that cannot be read)."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .results_view import short_folder
from .style import app_icon


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
        for b in (self.docs_btn, self.choose_btn):
            # typing goes to the search box: a space must never press a button
            b.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            b.setAutoDefault(False)
        self.typed = QLabel(
            "There is nothing to search yet: add a folder first, and what you "
            "typed is searched as soon as its files are read."
        )
        self.typed.setObjectName("hint")
        self.typed.setWordWrap(True)
        self.typed.setFixedWidth(560)
        self.typed.hide()
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
        lay.addLayout(_centred(self.typed))
        lay.addSpacing(12)
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
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # it quotes what was typed
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
