"""Entry points: `desktop-search gui` (run_gui) and the `desktop-search-gui` script (main).

`run_gui(query=Q, screenshot=FILE)` opens the window on the current index, runs Q, waits for the
results and the preview, saves a PNG of the window and exits 0 (1 if it could not)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

SCREENSHOT_TIMEOUT_MS = 120_000
SCREENSHOT_SIZE = (1280, 800)


def _needs_offscreen() -> bool:
    return (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    )


def run_gui(
    home: str | None = None, query: str | None = None, screenshot: str | None = None
) -> int:
    if screenshot and _needs_offscreen():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # a headless screenshot works
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow
    from .style import apply_style

    logging.basicConfig(level=logging.WARNING, format="desktop-search: %(message)s")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Desktop Search")
    app.setOrganizationName("desktop-search")
    app.setDesktopFileName("desktop-search")
    apply_style(app)
    # The screenshot is of the index as it is: no start-up indexing, no watcher.
    win = MainWindow(home, watch=not screenshot, index_on_start=not screenshot)
    if screenshot:
        win.resize(*SCREENSHOT_SIZE)
    win.show()
    if query and not screenshot:
        win.search_page.box.setText(query)
        win.search_page.run_query()
    outcome = {"rc": 0}
    if screenshot:
        ScreenshotDriver(win, query, screenshot, outcome)
    app.exec()
    if win.isVisible():
        win.close()
    win.shutdown()
    return outcome["rc"]


class ScreenshotDriver:
    """Runs the query once the index is open, waits for results and preview, saves the PNG."""

    def __init__(self, win: object, query: str | None, path: str, outcome: dict[str, int]):
        from PySide6.QtCore import QTimer

        from .main_window import MainWindow

        assert isinstance(win, MainWindow)
        self.win, self.query, self.path, self.outcome = win, query, path, outcome
        self.saved = False
        b = win.backend
        b.opened.connect(self._opened)
        b.open_failed.connect(lambda m: self._fail(f"the index cannot be opened: {m}"))
        b.query_failed.connect(lambda _s, m: self._fail(f"the query failed: {m}"))
        win.search_page.results_shown.connect(self._results)
        win.search_page.preview_shown.connect(lambda _p: self._settle())
        QTimer.singleShot(
            SCREENSHOT_TIMEOUT_MS, lambda: self._fail("timed out waiting for results")
        )

    def _opened(self, _snap: object) -> None:
        if self.query:
            self.win.search_page.box.setText(self.query)
            self.win.search_page.run_query()
        else:
            self._settle()

    def _results(self, out: object) -> None:
        if not getattr(out, "results", None):
            self._settle()  # nothing to preview: the "no results" page is the picture

    def _settle(self) -> None:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(250, self._save)  # let the last layout and paint land

    def _save(self) -> None:
        from PySide6.QtWidgets import QApplication

        if self.saved:
            return
        self.saved = True
        target = os.path.abspath(os.path.expanduser(self.path))
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        if not self.win.grab().save(target, "PNG"):
            self._fail(f"cannot write {target}")
            return
        print(f"saved {target}")
        QApplication.exit(0)

    def _fail(self, message: str) -> None:
        from PySide6.QtWidgets import QApplication

        if self.saved:
            return
        self.saved = True
        print(f"desktop-search: {message}", file=sys.stderr)
        self.outcome["rc"] = 1
        QApplication.exit(1)


def main(argv: Sequence[str] | None = None) -> int:
    import multiprocessing

    multiprocessing.freeze_support()  # the extraction worker, in a frozen app bundle
    p = argparse.ArgumentParser(prog="desktop-search-gui", description="Open the search window.")
    p.add_argument("--home", default=None, help="where the settings and index live")
    p.add_argument("--query", default=None, help="search for this at start")
    p.add_argument(
        "--screenshot",
        default=None,
        metavar="FILE",
        help="run --query, save a PNG of the window to FILE and exit",
    )
    args = p.parse_args(argv)
    return run_gui(home=args.home, query=args.query, screenshot=args.screenshot)
