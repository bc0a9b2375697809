"""The settings page: embedding model, threads, GPU layers, chunk size, reranker.

The page says which model searches use (active), which one is chosen (configured) and how far a
switch has come. A change that needs re-indexing says so before it is saved, a model switch with
what it costs here (passages to re-embed, time at the measured speed); the old index keeps
answering until the new one is complete (the engine switches models only then), and only a
switch confirmed here ever re-embeds."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
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
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..config import Settings
from .backend import Backend, SettingsChange, Snapshot, diff_settings


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
        model_row = QHBoxLayout()
        model_row.addWidget(self.custom)
        model_row.addWidget(self.model_path, 1)
        model_row.addWidget(self.model_browse)
        model_box = QVBoxLayout()
        model_box.setSpacing(6)
        model_box.addWidget(self.bundled)
        model_box.addLayout(model_row)
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

        self.reranker = QLineEdit()
        self.reranker.setPlaceholderText("none (optional: a GGUF cross-encoder, e.g. bge-reranker)")
        rr_browse = QPushButton("Browse…")
        rr_browse.clicked.connect(lambda: self._browse(self.reranker, None))
        rr_row = QHBoxLayout()
        rr_row.addWidget(self.reranker, 1)
        rr_row.addWidget(rr_browse)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(16)
        form.addRow("Embedding model:", _with_hint(
            model_box, "Changing the model embeds every passage again (you see what it costs "
            "before anything starts); searches keep using the current index until the new one "
            "is complete. Vectors of a model used before are kept, so switching back is "
            "instant; `desktop-search models prune` removes them."))
        form.addRow("CPU threads:", self._left(self.threads))
        form.addRow("GPU layers:", _with_hint(self._left(self.gpu_layers), self.gpu_note))
        form.addRow("Passage size:", _with_hint(
            chunk_row, "Smaller passages point more precisely, larger ones carry more context. "
            "Changing it splits every file again."))
        form.addRow("Reranker model:", _with_hint(
            rr_row, "With a reranker, Ctrl+Enter re-orders the top results with a slower, more "
            "precise model."))
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

        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 20)
        lay.setSpacing(12)
        lay.addWidget(title)
        lay.addWidget(card)
        lay.addLayout(buttons)
        lay.addStretch(1)
        self.setEnabled(False)

    @staticmethod
    def _left(w: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(w)
        row.addStretch(1)
        return row

    def _browse(self, edit: QLineEdit, radio: QRadioButton | None) -> None:
        start = os.path.dirname(edit.text()) if edit.text() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Choose a GGUF model", start,
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            edit.setText(path)
            if radio is not None:
                radio.setChecked(True)

    def _sync_enabled(self) -> None:
        custom = self.custom.isChecked()
        self.model_path.setEnabled(custom)
        self.model_browse.setEnabled(custom)

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
        self.snapshot = snap
        self.setEnabled(True)
        self._load(snap.settings)
        self.model_state.setText(model_state_text(snap.status.model, snap.status.notices))
        gpu = snap.gpu_offload
        self.gpu_layers.setEnabled(gpu)
        self.gpu_note.setText(
            "This llama.cpp build can offload layers to the GPU; -1 offloads all." if gpu else
            "This llama.cpp build runs on the CPU only, so layers stay on the CPU. Install a "
            "GPU build of llama-cpp-python (CUDA, Metal, Vulkan) to use a graphics card.")

    def _load(self, s: Settings) -> None:
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
        if self.custom.isChecked() and not new.model_path:
            self._say("Choose a GGUF file for the embedding model, or pick the bundled one.",
                      error=True)
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
        files = self.snapshot.files if self.snapshot else 0
        switch = model is not None
        box = QMessageBox(QMessageBox.Icon.Question,
                          "Switch the embedding model?" if switch else "Re-index needed",
                          model.cost()[0].upper() + model.cost()[1:] + "." if switch else
                          "This change needs every file indexed again.",
                          QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
                          self)
        box.setObjectName("reindexConfirm")
        reasons = [r for r in change.reasons if not (switch and "model" in r)]
        box.setInformativeText(
            "".join(f"• {r[0].upper()}{r[1:]}.\n" for r in reasons)
            + ("You can switch back later: the current model's vectors are kept." if switch else
               f"\n{files:,} files will be processed. Searches keep using the current index "
               "until the new one is ready."))
        box.button(QMessageBox.StandardButton.Ok).setText(
            "Switch model" if switch and not model.passages else
            "Switch and re-embed" if switch else "Save and re-index")
        return box

    def apply(self, change: SettingsChange) -> None:
        self.save_btn.setEnabled(False)
        self._say("Saving…")

        def done(_snap: Snapshot) -> None:
            self.save_btn.setEnabled(True)
            self._say("Saved. Re-indexing has started; see the Indexing page."
                      if change.reindex else "Saved.")

        def failed(message: str) -> None:
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
            lines.append(f"<b>Switching to:</b> {configured}: "
                         + (left.split(": ", 1)[1].split(";")[0] if left else "in progress"))
        else:
            lines.append(f"<b>Named in config.toml but not in use:</b> {configured} (choose it "
                         "above and Save to switch)")
    others = [k for k in stored if k not in (key, model.get("configured_key"))]
    if others:
        lines.append(f"Kept from earlier models: {sum(stored[k] for k in others):,} vectors "
                     "(switching back to one is instant)")
    return "<br>".join(lines)
