"""The hardware page: what this computer offers the search, the measured speed of the indexing
model, and which catalog models run well here. The facts and verdicts come from
desktop_search.hardware (detect, measure_embedding_speed), always on a worker lane."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from .. import hardware
from ..hardware import HardwareReport, ModelVerdict, SpeedSample
from ..index_progress import duration
from .backend import MODEL_LOAD_LOCK, Backend, describe

if TYPE_CHECKING:
    from ..engine import Engine

# Below this page width the facts and the speed cards stack instead of sitting side by side
# (the window's own minimum, 900 px, leaves the page about 750).
SIDE_BY_SIDE_MIN = 1000
VERDICT_COLORS = {"runs well": "#067647", "slow": "#b54708", "won't fit": "#b42318"}
MUTED = "#667085"


@dataclass
class Measurement:
    """What the Measure action found: the whole report (verdicts scaled from the bundled model
    timed just now) and the indexing model's own speed, with what it ran on."""

    report: HardwareReport
    speed: SpeedSample
    model: str
    gpu_layers: int


def measure(eng: Engine) -> Measurement:
    """Runs on the writer lane, so it never races an indexing step for the cores."""
    from ..models import bundled_model_path

    emb = eng.embedder()
    with MODEL_LOAD_LOCK:  # detect() loads the bundled model to time it
        rep = hardware.detect(
            measure=True,
            models_dir=eng.paths.models_dir,
            threads=eng.settings.n_threads,
            measure_installed=False,
        )
    sample = rep.bundled_speed
    same = (
        eng.model_path().resolve() == bundled_model_path().resolve()
        and not emb.n_gpu_layers
        and emb.n_threads == rep.threads
    )
    if sample is None or not same:  # the indexing model differs from what detect() timed
        sample = hardware.measure_embedding_speed(emb)
    return Measurement(
        report=rep, speed=sample, model=emb.info.name, gpu_layers=int(emb.n_gpu_layers)
    )


def fact_rows(rep: HardwareReport) -> list[tuple[str, str]]:
    """(label, value) in display order, in words a non-expert can follow."""
    return [
        ("Processor", rep.cpu_model or "unknown"),
        ("Cores", f"{rep.cores}; indexing uses {rep.threads} threads"),
        (
            "Vector units",
            f"{hardware.vector_units(rep.cpu_features)} "
            f"({', '.join(rep.cpu_features) or 'none reported'}). "
            "The wider they are, the faster models run on the processor.",
        ),
        (
            "Memory",
            f"{hardware.gb_text(rep.ram_bytes)} "
            f"({hardware.gb_text(rep.ram_available_bytes)} free now)",
        ),
        (
            "GPU offload",
            "yes: this llama.cpp build can run models on a graphics card"
            if rep.gpu_offload
            else "no: this llama.cpp build runs models on the processor only",
        ),
        ("GPUs seen", ", ".join(rep.gpu_devices) or "none"),
        ("llama.cpp", f"llama-cpp-python {rep.llama_cpp_version}"),
        ("System", rep.os),
    ]


def _fits(m: ModelVerdict) -> str:
    text = "yes" if m.fits_ram else "no"
    if m.fits_vram is not None:
        text += f" · on the GPU: {'yes' if m.fits_vram else 'no'}"
    return text


def _size(mb: float) -> str:
    return f"{mb / 1000:.1f} GB" if mb >= 1000 else f"{mb:.0f} MB"


def verdict_table(models: list[ModelVerdict]) -> str:
    head = "".join(
        f"<th align='left'>{h}</th>"
        for h in ("Model", "Used for", "Size", "Fits in<br>memory", "Verdict", "Speed here")
    )
    rows = []
    for m in models:
        name = f"<b>{html.escape(m.name)}</b>"
        if m.installed:
            name += f" <span style='color:{MUTED}'>(installed)</span>"
        color = VERDICT_COLORS.get(m.verdict, "#101828")
        rows.append(
            f"<tr><td>{name}</td>"
            f"<td>{'search' if m.kind == 'embedding' else 're-ranking'}</td>"
            f"<td>{_size(m.size_mb)}</td><td>{_fits(m)}</td>"
            f"<td style='color:{color}; white-space:nowrap'><b>{html.escape(m.verdict)}</b></td>"
            f"<td>{html.escape(m.reason)}</td></tr>"
        )  # wraps: the page fits 900 px
    return (
        f"<table cellspacing='0' cellpadding='4'><tr style='color:{MUTED}'>{head}</tr>"
        + "".join(rows)
        + "</table>"
    )


def shown_notes(rep: HardwareReport) -> list[str]:
    # the caption above the table already says when speeds are guessed
    return [n for n in rep.notes if n != hardware.GUESSED_NOTE]


class HardwarePage(QWidget):
    measured = Signal(object)  # Measurement

    def __init__(self, backend: Backend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.backend = backend
        self.report: HardwareReport | None = None
        self.speed: SpeedSample | None = None
        self._loading = False

        title = QLabel("Hardware")
        title.setObjectName("h1")
        intro = QLabel(
            "What this computer offers the search, how fast the current model "
            "runs on it, and which other models would run well."
        )
        intro.setObjectName("muted")
        intro.setWordWrap(True)

        self.grid_card = QFrame()
        self.grid_card.setObjectName("card")
        self.grid = QGridLayout(self.grid_card)
        self.grid.setContentsMargins(20, 16, 20, 16)
        self.grid.setHorizontalSpacing(24)
        self.grid.setVerticalSpacing(8)
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
        self.measure_btn.setToolTip(
            "Times the indexing model on a few sample passages (a few seconds)"
        )
        self.measure_btn.clicked.connect(self.measure)
        head.addWidget(st)
        head.addStretch(1)
        head.addWidget(self.measure_btn)
        self.speed_label = QLabel("Not measured yet.")
        self.speed_label.setWordWrap(True)
        self.speed_label.setTextFormat(Qt.TextFormat.RichText)
        sl.addLayout(head)
        sl.addWidget(self.speed_label)
        sl.addStretch(1)

        self.verdict_card = QFrame()
        self.verdict_card.setObjectName("card")
        vl = QVBoxLayout(self.verdict_card)
        vl.setContentsMargins(20, 16, 20, 16)
        vl.setSpacing(6)
        vt = QLabel("Models on this computer")
        vt.setObjectName("h2")
        self.verdict_caption = QLabel()
        self.verdict_caption.setObjectName("muted")
        self.verdict_caption.setWordWrap(True)
        self.verdicts = QLabel()
        self.verdicts.setTextFormat(Qt.TextFormat.RichText)
        self.verdicts.setWordWrap(True)
        self.notes = QLabel()
        self.notes.setObjectName("muted")
        self.notes.setWordWrap(True)
        for w in (vt, self.verdict_caption, self.verdicts, self.notes):
            vl.addWidget(w)
        self.verdict_card.hide()

        body = QWidget()
        body.setObjectName("page")
        lay = QVBoxLayout(body)
        lay.setContentsMargins(24, 20, 24, 20)
        lay.setSpacing(12)
        # facts beside the speed where there is room (the model table needs the height),
        # one above the other on a narrow window: nothing is cut off or scrolls sideways
        top = self.cards = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        top.setSpacing(12)
        top.addWidget(self.grid_card, 3)
        top.addWidget(speed_card, 2)
        for w in (title, intro):
            lay.addWidget(w)
        lay.addLayout(top)
        lay.addWidget(self.verdict_card)
        lay.addStretch(1)
        scroll = self.scroll_area = QScrollArea()  # the model table runs past a small window
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self._show_rows([("Reading…", "")])

    def resizeEvent(self, event: QResizeEvent) -> None:
        wide = event.size().width() >= SIDE_BY_SIDE_MIN
        self.cards.setDirection(
            QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        )
        super().resizeEvent(event)

    def load(self) -> None:
        """Reads the facts on the reader lane (once: instant, the speeds guessed from the cores),
        and measures when the writer lane is free (a run would skew the figure)."""
        if self.speed is None and self.measure_btn.isEnabled() and not self.backend.state.running:
            self.measure()
        if self.report is not None or self._loading:
            return
        self._loading = True
        from ..paths import resolve_home

        snap = self.backend.snapshot
        threads = snap.settings.n_threads if snap is not None else 0
        models_dir = resolve_home(self.backend.home).models_dir

        def work() -> HardwareReport:
            return hardware.detect(
                measure=False, models_dir=models_dir, threads=threads, measure_installed=False
            )

        self.backend.run_reader(work, self.show_report, self._facts_failed)

    def _facts_failed(self, e: BaseException) -> None:
        self._loading = False
        if self.report is None:
            self._show_rows([("Could not read the hardware", describe(e))])

    def show_report(self, rep: HardwareReport) -> None:
        self._loading = False
        if (
            self.report is not None
            and self.report.bundled_speed is not None
            and rep.bundled_speed is None
        ):
            return  # a measured report came first: keep it
        self.report = rep
        self._show_rows(fact_rows(rep))
        if rep.bundled_speed is None:
            caption = (
                "Speeds below are guessed from the number of cores until the model is measured."
            )
        else:
            caption = (
                "Measured: timed just now on this computer. Estimated: scaled from "
                "that measurement by the size of each model."
            )
        self.verdict_caption.setText(
            "Whether each model the app knows fits in memory here, and how fast it indexes. "
            f"A passage is a few paragraphs; 10,000 passages is about 3,000 documents. {caption}"
        )
        self.verdicts.setText(verdict_table(rep.models))
        notes = shown_notes(rep)
        self.notes.setText("\n".join(f"Note: {n[0].upper()}{n[1:]}." for n in notes))
        self.notes.setVisible(bool(notes))
        self.verdict_card.setVisible(bool(rep.models))

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

    def fact_texts(self) -> dict[str, str]:
        """label -> value as shown (for tests and accessibility checks)."""
        out: dict[str, str] = {}
        for i in range(self.grid.rowCount()):
            lab, val = self.grid.itemAtPosition(i, 0), self.grid.itemAtPosition(i, 1)
            if lab is not None and val is not None:
                lw, vw = lab.widget(), val.widget()
                if isinstance(lw, QLabel) and isinstance(vw, QLabel):
                    out[lw.text()] = vw.text()
        return out

    def measure(self) -> None:
        self.measure_btn.setEnabled(False)
        busy = self.backend.state.running
        self.speed_label.setText(
            "Measuring… (waits for the current indexing step)" if busy else "Measuring…"
        )
        self.backend.run_writer(measure, self.show_measurement, self._speed_failed)

    def _speed_failed(self, e: BaseException) -> None:
        self.measure_btn.setEnabled(True)
        self.speed_label.setText(f'<span style="color:#b42318">{html.escape(describe(e))}</span>')

    def show_measurement(self, m: Measurement) -> None:
        self.measure_btn.setEnabled(True)
        self.speed = s = m.speed
        self.show_report(m.report)
        where = (
            f"the graphics card ({m.gpu_layers} layers offloaded)"
            if m.gpu_layers
            else "the processor"
        )
        per_1000 = (
            f"A thousand passages (a few hundred pages) take about "
            f"{duration(1000 / s.chunks_per_s)}."
            if s.chunks_per_s > 0
            else ""
        )
        self.speed_label.setText(
            f"<span style='font-size:16pt; font-weight:600'>{s.chunks_per_s:.1f}</span>"
            f" passages/s &nbsp;·&nbsp; {s.tokens_per_s:,.0f} tokens/s"
            f"<br><span style='color:{MUTED}'>{html.escape(m.model)} on {where}, "
            f"{s.threads} threads, {s.chunks} passages of about 200 tokens. {per_1000}</span>"
        )
        self.measured.emit(m)
