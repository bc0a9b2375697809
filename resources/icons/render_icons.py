"""Renders desktop-search.svg to the PNG sizes desktops use. Run from the repository root:

    QT_QPA_PLATFORM=offscreen .venv/bin/python resources/icons/render_icons.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

HERE = Path(__file__).resolve().parent
SIZES = (16, 32, 48, 64, 128, 256, 512)


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(HERE / "desktop-search.svg"))
    if not renderer.isValid():
        print("cannot read desktop-search.svg", file=sys.stderr)
        return 1
    for size in SIZES:
        img = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(Qt.GlobalColor.transparent)
        p = QPainter(img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(p)
        p.end()
        out = HERE / f"desktop-search-{size}.png"
        img.save(str(out), "PNG")
        print(out.relative_to(HERE.parent.parent))
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
