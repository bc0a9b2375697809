"""The first-hour benchmark: a real folder in a fresh home, as a new user meets it.

`desktop-search bench --first-hour DIR` prints, for DIR: seconds until every file is findable
by words (beside Recoll's `recollindex` on the same folder in the same run, when installed),
seconds until the first file has meaning and which file it was, passages/s, PDF pages/s, how
the ETA held up, and the indexer's and its extraction worker's peak memory. Nothing of the
user's own index is touched; `meaning_minutes` stops the embedding early (the total is then
projected from the measured speed and said to be a projection).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ExtractionError
from .index_progress import EMBEDDING, duration

_SAMPLE_EVERY_S = 5.0


def recoll_seconds(folder: Path, work: Path) -> dict[str, Any] | None:
    """Recoll's full index of `folder` from scratch (its own config in `work`), or None when
    recollindex is not installed."""
    exe = shutil.which("recollindex")
    if exe is None:
        return None
    conf = work / "recoll"
    conf.mkdir()
    (conf / "recoll.conf").write_text(f"topdirs = {folder}\nloglevel = 1\n", encoding="utf-8")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [exe, "-c", str(conf), "-z"], capture_output=True, text=True, timeout=3600, check=False
    )
    seconds = time.perf_counter() - t0
    status: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in (conf / "idxstatus.txt").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(" = ")
            status[key.strip()] = value.strip()
    return {
        "seconds": round(seconds, 2),
        "exit": proc.returncode,
        "files": int(status.get("totfiles") or 0),
        "docs": int(status.get("dbtotdocs") or 0),
    }


def pdf_speed(folder: Path) -> dict[str, Any]:
    """Every PDF of the folder read as indexing reads it: pages/s, and the ones refused."""
    from .extract import extract

    pages, seconds, refused = 0, 0.0, []
    pdfs = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".pdf" and p.is_file())
    for p in pdfs:
        t0 = time.perf_counter()
        try:
            pages += len(extract(p).pages)
        except ExtractionError as e:
            refused.append(f"{p.name}: {e.reason}: {e}")
        seconds += time.perf_counter() - t0
    return {
        "files": len(pdfs),
        "pages": pages,
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 1) if seconds else None,
        "refused": refused,
    }


def _vm_hwm_mb(pid: int | None) -> float:
    """A process's peak resident memory (Linux /proc), 0 where unknown."""
    if pid is None:
        return 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_first_hour(
    folder: Path,
    say: Callable[[str], None],
    meaning_minutes: float | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    from .engine import Engine

    work = Path(tempfile.mkdtemp(prefix="desktop-search-first-hour-"))
    try:
        result: dict[str, Any] = {"folder": str(folder), "cores": os.cpu_count()}
        say("timing Recoll on the same folder…")
        result["recoll"] = recoll_seconds(folder, work)
        say("timing PDF text…")
        result["pdf"] = pdf_speed(folder)
        say("indexing in a fresh home…")
        with Engine(work / "home") as eng:
            result.update(_index(eng, folder, say, meaning_minutes))
        recoll = result["recoll"]
        if recoll and recoll["seconds"]:
            result["words_vs_recoll"] = round(result["words_s"] / recoll["seconds"], 2)
        if keep:
            result["kept"] = str(work)
        return result
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _index(
    eng: Any, folder: Path, say: Callable[[str], None], meaning_minutes: float | None
) -> dict[str, Any]:
    wall0, t0 = time.time(), time.monotonic()
    marks: dict[str, float] = {}
    samples: list[tuple[float, float, float | None]] = []  # (elapsed, share of tokens, ETA)
    peaks = {"worker": 0.0}
    last = [0.0]

    def progress(_done: int, _total: int) -> bool:
        now = time.monotonic()
        p = eng.index_progress()
        if p is None or p.phase != EMBEDDING:
            return True
        if "words" not in marks:
            marks["words"] = now - t0
            say(f"every file findable by words after {marks['words']:.1f} s")
        if now - last[0] >= _SAMPLE_EVERY_S:
            last[0] = now
            share = p.tokens_done / p.tokens_total if p.tokens_total else 1.0
            samples.append((now - t0, share, p.eta_s()))
            peaks["worker"] = max(peaks["worker"], _vm_hwm_mb(eng.extract_worker_pid()))
        return meaning_minutes is None or now - t0 - marks["words"] < meaning_minutes * 60

    eng.add_root(folder)
    eng.embedder()  # the model loads before the clock, as in a window already open
    t0 = time.monotonic()
    wall0 = time.time()
    report = eng.index(progress)
    total_s = time.monotonic() - t0
    p = eng.index_progress()
    st = eng.status()
    first = eng.first_indexed()
    peaks["worker"] = max(peaks["worker"], _vm_hwm_mb(eng.extract_worker_pid()))
    embed_s = total_s - marks.get("words", total_s)
    out: dict[str, Any] = {
        "files": st.files,
        "passages": st.chunks,
        "tokens": p.tokens_total if p else 0,
        "words_s": round(marks.get("words", total_s), 2),
        "first_meaning_s": round(first[1] - wall0, 2) if first else None,
        "first_meaning_file": first[0] if first else None,
        "passages_embedded": report.chunks_embedded,
        "embed_s": round(embed_s, 1),
        "passages_per_s": round(report.chunks_embedded / embed_s, 2) if embed_s > 0 else None,
        "tokens_per_s": round(report.tokens_embedded / embed_s, 1) if embed_s > 0 else None,
        "finished": not report.cancelled,
        "indexer_peak_mb": round(_vm_hwm_mb(os.getpid()), 1),
        "worker_peak_mb": round(peaks["worker"], 1),
        "failed": len(report.failed),
        "skipped": len(report.skipped),
    }
    if report.cancelled and p is not None and p.tokens_per_s() > 0:
        left = (p.tokens_total - p.tokens_done) / p.tokens_per_s()
        out["meaning_s_projected"] = round(total_s + left, 1)
    elif not report.cancelled:
        out["meaning_s"] = round(total_s, 1)
    out["eta"] = _eta_quality(samples, total_s if not report.cancelled else None)
    return out


def _eta_quality(
    samples: list[tuple[float, float, float | None]], actual_s: float | None
) -> dict[str, Any]:
    """How the ETA held once a tenth of the work was done: each sample's predicted finish
    against the real one (when the run finished), else against each other."""
    late = [(t, t + eta) for t, share, eta in samples if share >= 0.1 and eta is not None]
    if not late:
        return {"samples": 0}
    finishes = [f for _t, f in late]
    out: dict[str, Any] = {"samples": len(late)}
    if actual_s:
        errors = [(f - actual_s) / actual_s for f in finishes]
        out["worst_error_pct"] = round(100 * max(errors, key=abs), 1)
        out["within_30pct"] = all(abs(e) <= 0.3 for e in errors)
    else:
        out["predicted_finish_spread_pct"] = round(
            100 * (max(finishes) - min(finishes)) / min(finishes), 1
        )
    return out


def render_first_hour(r: dict[str, Any]) -> str:
    rec = r.get("recoll")
    pdf = r["pdf"]
    lines = [
        f"first hour with {r['folder']} ({r['cores']} cores)",
        f"  files: {sum(r['files'].values()):,} ({r['files'].get('indexed', 0):,} with meaning, "
        f"{r['failed']} failed, {r['skipped']} skipped); {r['passages']:,} passages, "
        f"{r['tokens']:,} tokens",
        f"  every file findable by words: {r['words_s']:.1f} s"
        + (
            f"  (Recoll: {rec['seconds']:.1f} s for {rec['files']:,} files; ratio "
            f"{r.get('words_vs_recoll')})"
            if rec
            else "  (recollindex not installed)"
        ),
        f"  first file with meaning: {r['first_meaning_s']} s ({r['first_meaning_file']})",
        f"  meaning: {r['passages_embedded']:,} passages in {r['embed_s']:.0f} s, "
        f"{r['passages_per_s']} passages/s, {r['tokens_per_s']} tokens/s",
    ]
    if "meaning_s" in r:
        lines.append(f"  every passage with meaning: {duration(r['meaning_s'])}")
    elif "meaning_s_projected" in r:
        lines.append(
            f"  every passage with meaning: about {duration(r['meaning_s_projected'])}"
            " (projected: stopped early)"
        )
    eta = r["eta"]
    if eta.get("samples"):
        lines.append(
            "  ETA after 10 % of the work: "
            + (
                f"worst error {eta['worst_error_pct']} % over {eta['samples']} samples"
                if "worst_error_pct" in eta
                else f"predicted finish spread {eta['predicted_finish_spread_pct']} % over "
                f"{eta['samples']} samples"
            )
        )
    lines.append(
        f"  PDF text: {pdf['pages']:,} pages of {pdf['files']} files in "
        f"{pdf['seconds']} s ({pdf['pages_per_s']} pages/s); refused: "
        + ("; ".join(pdf["refused"]) or "none")
    )
    lines.append(
        f"  peak memory: indexer {r['indexer_peak_mb']:.0f} MB, extraction worker "
        f"{r['worker_peak_mb']:.0f} MB"
    )
    return "\n".join(lines)
