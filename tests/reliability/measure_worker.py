"""Prints what extraction in the killable worker costs next to extraction in process, measured
side by side in one run (python tests/reliability/measure_worker.py). Not a test: numbers only.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from nasty_files import docx_text, pdf_bytes, text_page

from desktop_search.extract import extract
from desktop_search.extract.worker import ExtractWorker


def per_file(fn: Callable[[Path], object], paths: list[Path], rounds: int = 5) -> float:
    """Median over rounds of the mean seconds per file."""
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for p in paths:
            fn(p)
        out.append((time.perf_counter() - t0) / len(paths))
    return statistics.median(out)


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        sets: dict[str, list[Path]] = {
            "small text (200 B)": [],
            "markdown (8 KB)": [],
            "docx": [],
            "pdf (2 pages)": [],
            "text (5 MB)": [],
        }
        for i in range(100):
            p = root / f"t{i}.txt"
            p.write_text(f"note {i} about a heron in the reeds", encoding="utf-8")
            sets["small text (200 B)"].append(p)
            p = root / f"m{i}.md"
            p.write_text(
                "# Notes\n\n" + "Paragraph about herons and egrets. " * 230, encoding="utf-8"
            )
            sets["markdown (8 KB)"].append(p)
        for i in range(30):
            p = root / f"d{i}.docx"
            p.write_bytes(docx_text("Herons wade in shallow water. " * 50))
            sets["docx"].append(p)
            p = root / f"p{i}.pdf"
            p.write_bytes(pdf_bytes([text_page("Herons wade in shallow water. " * 30)] * 2))
            sets["pdf (2 pages)"].append(p)
        big = root / "big.txt"
        big.write_text("heron egret bittern " * 250_000, encoding="utf-8")
        sets["text (5 MB)"] = [big]
        with ExtractWorker() as w:
            t0 = time.perf_counter()
            w.extract(sets["small text (200 B)"][0])
            start = time.perf_counter() - t0
            print(f"worker start (spawn + imports): {start * 1000:.0f} ms, once per engine")
            print(f"{'files':<20} {'in process':>12} {'worker':>12} {'overhead':>12}")
            for name, paths in sets.items():
                a = per_file(lambda p: extract(p), paths)
                b = per_file(lambda p: w.extract(p), paths)
                print(f"{name:<20} {a * 1e3:>9.2f} ms {b * 1e3:>9.2f} ms {(b - a) * 1e3:>9.2f} ms")


if __name__ == "__main__":
    main()
