"""The hardware page: CPU, memory, GPU offload, and the measured speed of the current model."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .backend import MODEL_LOAD_LOCK, Backend, describe
from .hardware_info import HardwareFacts, SpeedResult, collect_hardware, measure_speed
from .indexing_page import duration


class HardwarePage(QWidget):
    measured = Signal(object)  # SpeedResult

    def __init__(self, backend: Backend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.backend = backend
        self.facts: HardwareFacts | None = None
        self.speed: SpeedResult | None = None
        self._loading = False

        title = QLabel("Hardware")
        title.setObjectName("h1")
        intro = QLabel("What this computer offers the search, and how fast the current "
                       "model runs on it.")
        intro.setObjectName("muted")

        self.grid_card = QFrame()
        self.grid_card.setObjectName("card")
        self.grid = QGridLayout(self.grid_card)
        self.grid.setContentsMargins(20, 16, 20, 16)
        self.grid.setHorizontalSpacing(24)
        self.grid.setVerticalSpacing(10)
        self.grid.setColumnStretch(1, 1)

        speed_card = QFrame()
        speed_card.setObjectName("card")
        sl = QVBoxLayout(speed_card)
        sl.setContentsMargins(20, 16, 20, 16)
        sl.setSpacing(6)
        head = QHBoxLayout()
        st = QLabel("Measured speed")
        st.setObjectName("h2")
        self.measure_btn = QPushButton("Measure")
        self.measure_btn.setToolTip("Embeds a dozen sample passages with the indexing model")
        self.measure_btn.clicked.connect(self.measure)
        head.addWidget(st)
        head.addStretch(1)
        head.addWidget(self.measure_btn)
        self.speed_label = QLabel("Not measured yet.")
        self.speed_label.setWordWrap(True)
        self.speed_label.setTextFormat(Qt.TextFormat.RichText)
        sl.addLayout(head)
        sl.addWidget(self.speed_label)

        self.verdict_card = QFrame()
        self.verdict_card.setObjectName("card")
        self.verdicts = QLabel()
        self.verdicts.setWordWrap(True)
        self.verdicts.setTextFormat(Qt.TextFormat.RichText)
        vl = QVBoxLayout(self.verdict_card)
        vl.setContentsMargins(20, 16, 20, 16)
        vt = QLabel("Models on this machine")
        vt.setObjectName("h2")
        vl.addWidget(vt)
        vl.addWidget(self.verdicts)
        self.verdict_card.hide()

        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 20)
        lay.setSpacing(12)
        lay.addWidget(title)
        lay.addWidget(intro)
        lay.addWidget(self.grid_card)
        lay.addWidget(speed_card)
        lay.addWidget(self.verdict_card)
        lay.addStretch(1)
        self._show_rows([("Reading…", "")])

    def load(self) -> None:
        """Reads the facts on the reader lane (once; they do not change while we run), and
        measures the model when the writer lane is free (a run would skew the figure)."""
        if self.speed is None and self.measure_btn.isEnabled() and not self.backend.state.running:
            self.measure()
        if self.facts is not None or self._loading:
            return
        self._loading = True
        def work() -> HardwareFacts:
            with MODEL_LOAD_LOCK:  # detect() may load models to time them
                return collect_hardware()

        self.backend.run_reader(work, self.show_facts, self._facts_failed)

    def _facts_failed(self, e: BaseException) -> None:
        self._loading = False
        self._show_rows([("Could not read the hardware", describe(e))])

    def show_facts(self, facts: HardwareFacts) -> None:
        self._loading = False
        self.facts = facts
        self._show_rows(facts.rows)
        if facts.verdicts:
            self.verdicts.setText("<table cellspacing='4'>" + "".join(
                f"<tr><td><b>{html.escape(m)}</b>&nbsp;&nbsp;</td><td>{html.escape(v)}</td></tr>"
                for m, v in facts.verdicts) + "</table>")
            self.verdict_card.show()

    def _show_rows(self, rows: list[tuple[str, str]]) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            w = item.widget() if item else None
            if w is not None:
                w.deleteLater()
        for i, (label, value) in enumerate(rows):
            lab = QLabel(label)
            lab.setObjectName("muted")
            val = QLabel(value)
            val.setWordWrap(True)
            val.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.grid.addWidget(lab, i, 0, Qt.AlignmentFlag.AlignTop)
            self.grid.addWidget(val, i, 1)

    def measure(self) -> None:
        self.measure_btn.setEnabled(False)
        busy = self.backend.state.running
        self.speed_label.setText("Measuring… (waits for the current indexing step)" if busy
                                 else "Measuring…")
        self.backend.run_writer(lambda eng: measure_speed(eng.embedder()), self.show_speed,
                                self._speed_failed)

    def _speed_failed(self, e: BaseException) -> None:
        self.measure_btn.setEnabled(True)
        self.speed_label.setText(f'<span style="color:#b42318">{html.escape(describe(e))}</span>')

    def show_speed(self, r: SpeedResult) -> None:
        self.measure_btn.setEnabled(True)
        self.speed = r
        where = f"GPU ({r.gpu_layers} layers offloaded)" if r.gpu_layers else "CPU"
        per_1000 = 1000 / r.chunks_per_s if r.chunks_per_s else 0
        self.speed_label.setText(
            f"<span style='font-size:16pt; font-weight:600'>{r.chunks_per_s:.1f}</span>"
            f" passages/s &nbsp;·&nbsp; {r.tokens_per_s:,.0f} tokens/s"
            f"<br><span style='color:#667085'>{html.escape(r.model)} on {where}, "
            f"{r.threads} threads, {r.chunks} passages of about 200 tokens. "
            f"A thousand passages (a few hundred pages) take about "
            f"{duration(per_1000)}.</span>")
        self.measured.emit(r)
