"""The window's cold start, timed in a fresh process for `desktop-search bench`:

    python -m desktop_search.gui.cold_start_probe HOME LAUNCHED QUERY OUT

"usable" (window_s) is the first turn of the event loop after show(), when the window paints
and takes input; index_open_s is when the index is open; first_result_s is the first result
list shown for QUERY, typed as soon as the index is open. Seconds since LAUNCHED (time.time()
in the launching process) are written to OUT as JSON.

Part of the window's edge: it drives the real window, so it lives with it.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

WINDOW_MISSING = 3  # bench.WINDOW_MISSING: the exit code that says the window is not installed


def main(argv: list[str]) -> int:
    home, launched, query, out_path = argv[1], float(argv[2]), argv[3], argv[4]
    try:
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        from .main_window import MainWindow
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in ("PySide6", "desktop_search"):
            raise
        print("the window (desktop_search.gui with PySide6) is not installed")
        return WINDOW_MISSING

    app = QApplication(argv[:1])
    out: dict[str, float] = {}
    win: Any = MainWindow(home, watch=False, index_on_start=False)
    win.show()
    QTimer.singleShot(0, lambda: out.setdefault("window_s", time.time() - launched))

    def opened(_snap: object) -> None:
        out.setdefault("index_open_s", time.time() - launched)
        win.search_page.box.setText(query)
        win.search_page.run_query()

    def shown(_outcome: object) -> None:
        if "first_result_s" not in out:
            out["first_result_s"] = time.time() - launched
            QTimer.singleShot(0, app.quit)

    win.backend.opened.connect(opened)
    win.search_page.results_shown.connect(shown)
    QTimer.singleShot(60000, app.quit)
    app.exec()
    win.shutdown()
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
