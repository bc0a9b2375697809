"""The settings page: embedding model, threads, GPU layers, chunk size, reranker.

The page says which model searches use (active), which one is chosen (configured) and how far a
switch has come. A change that needs re-indexing says so before it is saved, with what it costs
here (passages to re-embed, time at the measured speed); the old index keeps answering until
the new one is complete (the engine switches models only then), and only a switch confirmed
here ever re-embeds.

What a person types stays: a model path is checked as it is typed (the core's cheap GGUF header
check, no model load) with the problem shown under the field, a failed save keeps the fields,
and a snapshot arriving meanwhile (indexing, the watcher) never overwrites unsaved edits."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..config import Settings
from ..errors import DesktopSearchError
from ..hardware import duration_text
from .backend import Backend, SettingsChange, Snapshot, diff_settings

CHECK_AFTER_MS = 200  # a path is checked once typing pauses, not on every keystroke
INVALID_FIELD = "QLineEdit { border: 1px solid #b42318; }"


def _hint(text: str) -> QLabel:
    lab = QLabel(text)
    lab.setObjectName("muted")
    lab.setWordWrap(True)
    return lab


def _with_hint(field: QWidget | QHBoxLayout | QVBoxLayout, hint: str | QLabel) -> QVBoxLayout:
    """A field with its explanation right under it, in the same form cell."""
    box = QVBoxLayout()
    box.setSpacing(4)
    if isinstance(field, QWidget):
        box.addWidget(field)
    else:
        box.addLayout(field)
    box.addWidget(hint if isinstance(hint, QLabel) else _hint(hint))
    return box


def _field_error() -> QLabel:
    """The line under a field that says what is wrong with it (hidden while nothing is)."""
    lab = QLabel()
    lab.setObjectName("error")
    lab.setWordWrap(True)
    lab.hide()
    return lab


def path_problem(text: str) -> str:
    """What is wrong with a typed GGUF path, in one line ("" when nothing is): the core's
    header check (exists, a file, GGUF magic and version) without loading the model."""
    from ..models import check_gguf

    text = text.strip()
    if not text:
        return ""
    p = Path(text).expanduser()
    if not p.is_absolute():
        return "Give the full path, starting with / or ~ (or use Browse…)."
    if not p.exists():
        return "No file at this path."
    if p.is_dir():
        return "This is a folder: choose the .gguf file in it."
    try:
        check_gguf(p)
    except DesktopSearchError as e:
        msg = str(e).replace(f"{p} ", "This file ").replace(f"{p}", "this file")
        return msg[0].upper() + msg[1:] + ("" if msg.endswith(".") else ".")
    return ""


def chunk_problem(chunk: int, overlap: int) -> str:
    """Settings.validate's rule for passages, in the page's words."""
    if overlap >= chunk // 2:
        return (
            f"The overlap must be under half the passage size: at most {chunk // 2 - 1} "
            f"tokens for {chunk}-token passages."
        )
    return ""


def reindex_seconds(meaning: dict[str, Any], old: Settings, new: Settings) -> float | None:
    """How long re-embedding every passage takes at the speed measured while indexing here
    (Status.meaning), for the passage size `new`; None when no speed was measured. Each
    passage repeats `overlap` tokens of the one before it, so the tokens to embed scale with
    size / (size - overlap)."""
    tokens = float(meaning.get("tokens") or 0)
    rate = float(meaning.get("tokens_per_s") or 0)
    if tokens <= 0 or rate <= 0:
        return None

    def spread(s: Settings) -> float:
        return s.chunk_tokens / max(s.chunk_tokens - s.chunk_overlap, 1)

    return tokens / spread(old) * spread(new) / rate


def reindex_cost_text(snap: Snapshot | None, change: SettingsChange) -> str:
    """The confirm dialog's line on what re-indexing costs: files, and time at the measured
    speed (or that none was measured yet)."""
    if snap is None:
        return ""
    files = f"{snap.files:,} files will be read and split again"
    meaning = dict(getattr(snap.status, "meaning", None) or {})
    secs = reindex_seconds(meaning, snap.settings, change.settings)
    if secs is None:
        return (
            f"{files}. How long that takes is not known yet: indexing here has not run "
            "long enough to be timed."
        )
    took = "under a second" if secs < 1 else f"about {duration_text(secs)}"
    pps = meaning.get("passages_per_s")
    at = (
        f" at the {pps:g} passages/s measured while indexing"
        if pps
        else " at the speed measured while indexing"
    )
    return f"{files}; embedding them takes {took} here{at}."


class SettingsPage(QWidget):
    def __init__(self, backend: Backend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.backend = backend
        self.snapshot: Snapshot | None = None

        title = QLabel("Settings")
        title.setObjectName("h1")

        self.bundled = QRadioButton("Bundled: all-MiniLM-L6-v2 (English, fast, 384 dimensions)")
        self.custom = QRadioButton("A GGUF embedding model:")
        group = QButtonGroup(self)
        group.addButton(self.bundled)
        group.addButton(self.custom)
        self.model_path = QLineEdit()
        self.model_path.setPlaceholderText("/path/to/model.gguf (e.g. nomic-embed-text, bge)")
        self.model_browse = QPushButton("Browse…")
        self.model_browse.clicked.connect(lambda: self._browse(self.model_path, self.custom))
        self.bundled.toggled.connect(self._sync_enabled)
        # the path gets a row of its own, under its choice: room for a long path at 900 px
        model_row = QHBoxLayout()
        model_row.setContentsMargins(22, 0, 0, 0)
        model_row.addWidget(self.model_path, 1)
        model_row.addWidget(self.model_browse)
        model_box = QVBoxLayout()
        model_box.setSpacing(6)
        model_box.addWidget(self.bundled)
        model_box.addWidget(self.custom)
        model_box.addLayout(model_row)
        self.model_error = _field_error()
        self.model_error.setContentsMargins(22, 0, 0, 0)
        model_box.addWidget(self.model_error)
        self.model_state = QLabel()
        self.model_state.setObjectName("modelState")
        self.model_state.setWordWrap(True)
        self.model_state.setTextFormat(Qt.TextFormat.RichText)
        model_box.addWidget(self.model_state)

        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("automatic")
        self.threads.setSuffix(" threads")
        self.gpu_layers = QSpinBox()
        self.gpu_layers.setRange(-1, 999)
        self.gpu_layers.setSpecialValueText("all layers")
        self.gpu_note = _hint("")
        self.chunk = QSpinBox()
        self.chunk.setRange(32, 500)
        self.chunk.setSuffix(" tokens")
        self.overlap = QSpinBox()
        self.overlap.setRange(0, 249)
        self.overlap.setSuffix(" tokens overlap")
        chunk_row = QHBoxLayout()
        chunk_row.addWidget(self.chunk)
        chunk_row.addWidget(self.overlap)
        chunk_row.addStretch(1)
        self.chunk_error = _field_error()
        chunk_box = QVBoxLayout()
        chunk_box.setSpacing(4)
        chunk_box.addLayout(chunk_row)
        chunk_box.addWidget(self.chunk_error)

        self.reranker = QLineEdit()
        self.reranker.setPlaceholderText("none (optional: a GGUF cross-encoder, e.g. bge-reranker)")
        rr_browse = QPushButton("Browse…")
        rr_browse.clicked.connect(lambda: self._browse(self.reranker, None))
        rr_row = QHBoxLayout()
        rr_row.addWidget(self.reranker, 1)
        rr_row.addWidget(rr_browse)
        self.reranker_error = _field_error()
        rr_box = QVBoxLayout()
        rr_box.setSpacing(4)
        rr_box.addLayout(rr_row)
        rr_box.addWidget(self.reranker_error)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(16)
        form.addRow(
            "Embedding model:",
            _with_hint(
                model_box,
                "Changing the model embeds every passage again (you see what it costs "
                "before anything starts); searches keep using the current index until the new one "
                "is complete. Vectors of a model used before are kept, so switching back is "
                "instant; `desktop-search models prune` removes them.",
            ),
        )
        form.addRow("CPU threads:", self._left(self.threads))
        form.addRow("GPU layers:", _with_hint(self._left(self.gpu_layers), self.gpu_note))
        form.addRow(
            "Passage size:",
            _with_hint(
                chunk_box,
                "Smaller passages point more precisely, larger ones carry more context. "
                "Changing it splits every file again.",
            ),
        )
        form.addRow(
            "Reranker model:",
            _with_hint(
                rr_box,
                "With a reranker, Ctrl+Enter re-orders the top results with a slower, more "
                "precise model.",
            ),
        )
        card = QFrame()
        card.setObjectName("card")
        cl = QVBoxLayout(card)
        cl.setContentsMargins(20, 18, 20, 18)
        cl.addLayout(form)

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.revert_btn = QPushButton("Revert")
        self.revert_btn.clicked.connect(self._revert)
        self.save_btn = QPushButton("Save")
        self.save_btn.setObjectName("primary")
        self.save_btn.clicked.connect(self.save)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.revert_btn)
        buttons.addWidget(self.save_btn)

        body = QWidget()
        body.setObjectName("page")
        lay = QVBoxLayout(body)
        lay.setContentsMargins(24, 20, 24, 20)
        lay.setSpacing(12)
        lay.addWidget(title)
        lay.addWidget(card)
        lay.addLayout(buttons)
        lay.addStretch(1)
        # a short window (900x600) scrolls the form down instead of squashing its rows
        scroll = self.scroll_area = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        self.body = body
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        # every edit: a stale "Not saved" goes, the fields are checked once typing pauses
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(CHECK_AFTER_MS)
        self._check_timer.timeout.connect(self.check_fields)
        self._loading = False
        self._saving = False  # a save is on its way: its own snapshot must not reload
        for edit in (self.model_path, self.reranker):
            edit.textChanged.connect(self._on_edit)
        self.custom.toggled.connect(self._on_edit)
        for spin in (self.threads, self.gpu_layers, self.chunk, self.overlap):
            spin.valueChanged.connect(self._on_edit)
        self.setEnabled(False)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_body()

    def _fit_body(self) -> None:
        """The form's wrapped hints need more height on a narrow window: the scroll area
        only scrolls when the body asks for it (heightForWidth is not passed up through the
        nested layouts), so the body asks for its height at the width it has."""
        lay = self.body.layout()
        width = self.scroll_area.viewport().width()
        if lay is not None and lay.hasHeightForWidth():
            self.body.setMinimumHeight(lay.totalHeightForWidth(width))
        elif lay is not None:
            self.body.setMinimumHeight(lay.totalSizeHint().height())

    @staticmethod
    def _left(w: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(w)
        row.addStretch(1)
        return row

    def _browse(self, edit: QLineEdit, radio: QRadioButton | None) -> None:
        start = os.path.dirname(edit.text()) if edit.text() else ""
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a GGUF model", start, "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            edit.setText(path)
            if radio is not None:
                radio.setChecked(True)

    def _sync_enabled(self) -> None:
        custom = self.custom.isChecked()
        self.model_path.setEnabled(custom)
        self.model_browse.setEnabled(custom)

    def _on_edit(self) -> None:
        if self._loading:
            return
        if self.status.objectName() == "error":
            self._say("")  # the old error was about what was there before this edit
        self._check_timer.start()

    def check_fields(self, saving: bool = False) -> bool:
        """Shows what is wrong under each field and clears what was fixed; True when the
        page can be saved. `saving`: an empty custom model path is a problem too."""
        self._check_timer.stop()
        model = ""
        if self.custom.isChecked():
            model = path_problem(self.model_path.text())
            if saving and not model and not self.model_path.text().strip():
                model = "Choose a GGUF file for the embedding model, or pick the bundled one."
        problems = [
            (self.model_path, self.model_error, model),
            (self.reranker, self.reranker_error, path_problem(self.reranker.text())),
            (None, self.chunk_error, chunk_problem(self.chunk.value(), self.overlap.value())),
        ]
        for edit, label, text in problems:
            label.setText(text)
            label.setVisible(bool(text))
            if edit is not None:
                edit.setStyleSheet(INVALID_FIELD if text else "")
        self._fit_body()  # an error line shown or gone changes the form's height
        return not any(text for _e, _l, text in problems)

    def has_edits(self) -> bool:
        """The fields differ from the settings last loaded (unsaved edits)."""
        return self.snapshot is not None and self.edited() != self.snapshot.settings

    def set_snapshot(self, snap: Snapshot) -> None:
        m = snap.status.model
        if m.get("key") and m.get("configured_key") != m.get("key") and not m.get("switching"):
            # config.toml names a model nobody confirmed: the page starts from the one in use,
            # so choosing the other one is a change that asks first
            from ..models import is_bundled

            snap = copy.copy(snap)
            snap.settings = copy.deepcopy(snap.settings)
            active = Path(m.get("path") or "")
            snap.settings.model_path = "" if is_bundled(active) else str(active)
        # unsaved edits (a failed save's too) stay: a snapshot after a run or a watcher
        # update must not throw away what the person typed
        keep = self.has_edits() or self._saving
        self.snapshot = snap
        self.setEnabled(True)
        if not keep:
            self._load(snap.settings)
        self.model_state.setText(model_state_text(snap.status.model, snap.status.notices))
        gpu = snap.gpu_offload
        self.gpu_layers.setEnabled(gpu)
        self.gpu_note.setText(
            "This llama.cpp build can offload layers to the GPU; -1 offloads all."
            if gpu
            else "This llama.cpp build runs on the CPU only, so layers stay on the CPU. Install a "
            "GPU build of llama-cpp-python (CUDA, Metal, Vulkan) to use a graphics card."
        )
        self._fit_body()

    def _load(self, s: Settings) -> None:
        self._loading = True
        try:
            self._fill(s)
        finally:
            self._loading = False
        self.check_fields()

    def _fill(self, s: Settings) -> None:
        self.bundled.setChecked(not s.model_path)
        self.custom.setChecked(bool(s.model_path))
        self.model_path.setText(s.model_path)
        self.threads.setValue(s.n_threads)
        self.gpu_layers.setValue(s.n_gpu_layers)
        self.chunk.setValue(s.chunk_tokens)
        self.overlap.setValue(s.chunk_overlap)
        self.reranker.setText(s.reranker_path)
        self._sync_enabled()

    def _revert(self) -> None:
        if self.snapshot:
            self._load(self.snapshot.settings)
            self.status.setText("")

    def edited(self) -> Settings:
        assert self.snapshot is not None
        s = copy.deepcopy(self.snapshot.settings)
        s.model_path = self.model_path.text().strip() if self.custom.isChecked() else ""
        s.n_threads = self.threads.value()
        s.n_gpu_layers = self.gpu_layers.value()
        s.chunk_tokens = self.chunk.value()
        s.chunk_overlap = self.overlap.value()
        s.reranker_path = self.reranker.text().strip()
        return s

    def pending_change(self) -> SettingsChange | None:
        """The edit as a change, or None (with the reason shown) when it cannot be saved."""
        if self.snapshot is None:
            return None
        new = self.edited()
        if not self.check_fields(saving=True):
            self._say("Not saved: see the field marked in red.", error=True)
            return None
        try:
            new.validate()
        except Exception as e:
            self._say(str(e), error=True)
            return None
        return diff_settings(self.snapshot.settings, new)

    def save(self) -> None:
        change = self.pending_change()
        if change is None:
            return
        assert self.snapshot is not None
        if change.model:
            # the cost first: the model is loaded and timed off the GUI thread
            self.save_btn.setEnabled(False)
            self._say("Working out what the switch costs here…")

            def costed(model: Any) -> None:
                self.save_btn.setEnabled(True)
                self._say("")
                self._confirm_then_apply(change, model)

            def failed(message: str) -> None:
                self.save_btn.setEnabled(True)
                self._say(f"Not saved: {message}", error=True)

            self.backend.model_change(change.settings.model_path, costed, failed)
            return
        self._confirm_then_apply(change, None)

    def _confirm_then_apply(self, change: SettingsChange, model: Any) -> None:
        if change.reindex and not self.confirm_reindex(change, model):
            self._say("Not saved.")
            return
        self.apply(change)

    def confirm_reindex(self, change: SettingsChange, model: Any = None) -> bool:
        return self.reindex_box(change, model).exec() == QMessageBox.StandardButton.Ok

    def reindex_box(self, change: SettingsChange, model: Any = None) -> QMessageBox:
        """model: the engine's ModelChange for a model switch (None: no switch, or the index
        already uses that model)."""
        switch = model is not None
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Switch the embedding model?" if switch else "Re-index needed",
            model.cost()[0].upper() + model.cost()[1:] + "."
            if switch
            else "This change needs every file indexed again.",
            QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("reindexConfirm")
        reasons = [r for r in change.reasons if not (switch and "model" in r)]
        box.setInformativeText(
            "".join(f"• {r[0].upper()}{r[1:]}.\n" for r in reasons)
            + (
                "You can switch back later: the current model's vectors are kept."
                if switch
                else f"\n{reindex_cost_text(self.snapshot, change)} Searches keep using the "
                "current index until the new one is ready."
            )
        )
        box.button(QMessageBox.StandardButton.Ok).setText(
            "Switch model"
            if switch and not model.passages
            else "Switch and re-embed"
            if switch
            else "Save and re-index"
        )
        return box

    def apply(self, change: SettingsChange) -> None:
        self.save_btn.setEnabled(False)
        self._saving = True
        self._say("Saving…")

        def done(_snap: Snapshot) -> None:
            self._saving = False
            self.save_btn.setEnabled(True)
            self._say(
                "Saved. Re-indexing has started; see the Indexing page."
                if change.reindex
                else "Saved."
            )

        def failed(message: str) -> None:
            self._saving = False
            self.save_btn.setEnabled(True)
            self._say(f"Not saved: {message}", error=True)

        self.backend.apply_settings(change, on_done=done, on_error=failed)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setObjectName("error" if error else "muted")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)


def model_state_text(model: dict[str, Any], notices: list[str]) -> str:
    """Which model searches use, which one is chosen, and a switch's progress (rich text)."""
    stored: dict[str, int] = dict(model.get("stored") or {})
    active = Path(model.get("path") or "").name or model.get("name")
    if not active:
        return "Nothing indexed yet: the chosen model is used from the first run."
    key = model.get("key") or ""
    lines = [f"<b>Searches use:</b> {active} ({stored.get(key, 0):,} passages embedded)"]
    configured = Path(model.get("configured") or "").name
    if configured and model.get("configured_key") != key:
        left = next((n for n in notices if n.startswith(f"switching to {configured}")), "")
        if model.get("switching"):
            lines.append(
                f"<b>Switching to:</b> {configured}: "
                + (left.split(": ", 1)[1].split(";")[0] if left else "in progress")
            )
        else:
            lines.append(
                f"<b>Named in config.toml but not in use:</b> {configured} (choose it "
                "above and Save to switch)"
            )
    others = [k for k in stored if k not in (key, model.get("configured_key"))]
    if others:
        lines.append(
            f"Kept from earlier models: {sum(stored[k] for k in others):,} vectors "
            "(switching back to one is instant)"
        )
    return "<br>".join(lines)
