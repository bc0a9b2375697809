"""Look and feel: one palette, one stylesheet, the app icon."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor, QFont, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from ..paths import RESOURCES

ACCENT = "#2f6fdf"
ACCENT_SOFT = "#e4edfc"
TEXT = "#1d2330"
MUTED = "#667085"
BORDER = "#d9dee7"
WINDOW = "#f5f7fa"
DANGER = "#b42318"
DANGER_SOFT = "#fef3f2"
WARN_SOFT = "#fffaeb"
HIT = "#ffe27a"
HIT_CURRENT = "#ff9f43"
PASSAGE = "#eaf2ff"

ICON_DIR = RESOURCES / "icons"

STYLESHEET = f"""
QWidget {{ color: {TEXT}; }}
QMainWindow, QWidget#page {{ background: {WINDOW}; }}
QListWidget#nav {{
    background: #eceff4; border: none; border-right: 1px solid {BORDER};
    padding: 8px 6px; outline: 0;
}}
QListWidget#nav::item {{ padding: 9px 12px; border-radius: 6px; margin: 1px 0; }}
QListWidget#nav::item:selected {{ background: {ACCENT_SOFT}; color: {ACCENT}; }}
QListWidget#nav::item:hover:!selected {{ background: #e3e7ee; }}
QLineEdit#search {{
    font-size: 12pt; padding: 8px 12px; border: 1px solid {BORDER}; border-radius: 8px;
    background: white; selection-background-color: {ACCENT};
}}
QLineEdit#search:focus {{ border: 2px solid {ACCENT}; padding: 7px 11px; }}
QLineEdit#search:disabled {{ background: #f4f5f7; color: #a0a7b4; border: 1px dashed {BORDER}; }}
QLabel#hint {{
    background: #eef4ff; color: #1d3f7a; border: 1px solid #c9d9f5; border-radius: 6px;
    padding: 6px 10px;
}}
QLineEdit {{
    padding: 4px 8px; border: 1px solid {BORDER}; border-radius: 6px; background: white;
    min-height: 20px;
}}
QLineEdit:focus {{ border: 1px solid {ACCENT}; }}
QLineEdit:disabled {{ background: #f4f5f7; color: #a0a7b4; }}
QComboBox, QSpinBox {{ min-height: 24px; }}
QPushButton {{
    padding: 6px 14px; border: 1px solid {BORDER}; border-radius: 6px; background: white;
}}
QPushButton:hover {{ background: #f0f3f8; }}
QPushButton:pressed {{ background: #e4e8ef; }}
QPushButton:disabled {{ color: #a0a7b4; background: #f4f5f7; }}
QPushButton#primary {{ background: {ACCENT}; color: white; border: 1px solid {ACCENT}; }}
QPushButton#primary:hover {{ background: #285fc0; }}
QPushButton#primary:disabled {{ background: #a9c1ef; border-color: #a9c1ef; }}
QPushButton#flat {{ border: none; background: transparent; padding: 4px 8px; color: {ACCENT}; }}
QPushButton#flat:hover {{ background: {ACCENT_SOFT}; }}
QPushButton#flat:disabled {{ color: #a0a7b4; background: transparent; }}
QListView#results {{
    background: white; border: 1px solid {BORDER}; border-radius: 8px; outline: 0;
}}
QPlainTextEdit#preview {{
    background: white; border: none; font-size: 10.5pt;
    selection-background-color: {ACCENT}; selection-color: white;
}}
QFrame#card {{ background: white; border: 1px solid {BORDER}; border-radius: 8px; }}
QFrame#previewCard {{ background: white; border: 1px solid {BORDER}; border-radius: 8px; }}
QFrame#banner {{ background: {DANGER_SOFT}; border: 1px solid #fecdca; border-radius: 6px; }}
QFrame#notice {{ background: {WARN_SOFT}; border: 1px solid #fedf89; border-radius: 6px; }}
QLabel#h1 {{ font-size: 16pt; font-weight: 600; }}
QLabel#h2 {{ font-size: 12pt; font-weight: 600; }}
QLabel#muted {{ color: {MUTED}; }}
QLabel#error {{ color: {DANGER}; }}
QProgressBar {{
    border: none; border-radius: 4px; background: #e4e8ef; text-align: center;
    max-height: 8px; min-height: 8px;
}}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 4px; }}
QStatusBar {{ background: #eceff4; border-top: 1px solid {BORDER}; }}
QStatusBar QLabel {{ padding: 0 6px; }}
QTableWidget, QTreeWidget, QListWidget#plain {{
    background: white; border: 1px solid {BORDER}; border-radius: 6px;
    gridline-color: #eef0f4; alternate-background-color: #fafbfc;
}}
QTreeWidget::item, QTableWidget::item {{ padding: 5px 4px; }}
QTreeWidget::item:selected, QTableWidget::item:selected {{
    background: {ACCENT_SOFT}; color: {TEXT};
}}
QHeaderView::section {{
    background: #f3f5f8; border: none; border-bottom: 1px solid {BORDER}; padding: 6px 8px;
    font-weight: 600;
}}
QSplitter::handle {{ background: transparent; }}
QToolTip {{ color: {TEXT}; background: white; border: 1px solid {BORDER}; padding: 4px; }}
"""


def apply_style(app: QApplication) -> None:
    app.setStyle("Fusion")
    font = QFont(app.font())
    font.setPointSizeF(10)
    app.setFont(font)
    pal = app.palette()
    pal.setColor(QPalette.ColorRole.Window, QColor(WINDOW))
    pal.setColor(QPalette.ColorRole.Highlight, QColor(ACCENT))
    pal.setColor(QPalette.ColorRole.Base, QColor("white"))
    pal.setColor(QPalette.ColorRole.Text, QColor(TEXT))
    pal.setColor(QPalette.ColorRole.WindowText, QColor(TEXT))
    pal.setColor(QPalette.ColorRole.Button, QColor("white"))
    pal.setColor(QPalette.ColorRole.ButtonText, QColor(TEXT))
    pal.setColor(QPalette.ColorRole.ToolTipBase, QColor("white"))
    pal.setColor(QPalette.ColorRole.ToolTipText, QColor(TEXT))
    app.setPalette(pal)
    app.setStyleSheet(STYLESHEET)
    icon = app_icon()
    if not icon.isNull():
        app.setWindowIcon(icon)


def app_icon() -> QIcon:
    icon = QIcon()
    for size in (16, 32, 48, 64, 128, 256):
        p = ICON_DIR / f"desktop-search-{size}.png"
        if p.exists():
            icon.addFile(str(p))
    svg = ICON_DIR / "desktop-search.svg"
    if icon.isNull() and svg.exists():
        icon.addFile(str(svg))
    return icon


def icon_path(name: str) -> Path:
    return ICON_DIR / name
