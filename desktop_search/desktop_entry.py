"""`desktop-search desktop-entry install|remove`: the application-menu entry and its icons for
the current user, in the freedesktop places under $XDG_DATA_HOME (~/.local/share by default)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import platformdirs

from .errors import DesktopSearchError
from .fsutil import atomic_write
from .paths import RESOURCES

APP_ID = "desktop-search"  # the entry's and the icon's name; the window sets the same app id
GUI_COMMAND = "desktop-search-gui"

# packaging/desktop-search.desktop holds the same fields for distributions (a test keeps the two
# in step). Spec 1.4 and an X- key for "one window": 1.5's SingleMainWindow fails the validator
# Debian 12 and Ubuntu 22.04 ship.
ENTRY_FIELDS: tuple[tuple[str, str], ...] = (
    ("Type", "Application"),
    ("Version", "1.4"),
    ("Name", "Desktop Search"),
    ("GenericName", "File Search"),
    ("Comment", "Search your own files by meaning, offline"),
    ("Exec", GUI_COMMAND),
    ("Icon", APP_ID),
    ("Terminal", "false"),
    ("Categories", "Utility;Qt;"),
    ("Keywords", "search;find;files;documents;semantic;full-text;PDF;notes;"),
    ("StartupNotify", "true"),
    ("X-GNOME-SingleWindow", "true"),
)


def data_home() -> Path:
    """$XDG_DATA_HOME, or ~/.local/share (platformdirs applies the spec's rules)."""
    return Path(platformdirs.user_data_dir(appname=None, appauthor=False))


def entry_path(data: Path | None = None) -> Path:
    return (data or data_home()) / "applications" / f"{APP_ID}.desktop"


def icon_targets(data: Path | None = None) -> list[tuple[Path, Path]]:
    """(bundled icon, where the hicolor theme wants it) for every size we ship."""
    theme = (data or data_home()) / "icons" / "hicolor"
    pairs = []
    for png in sorted((RESOURCES / "icons").glob(f"{APP_ID}-*.png")):
        size = png.stem.rsplit("-", 1)[1]
        if size.isdigit():
            pairs.append((png, theme / f"{size}x{size}" / "apps" / f"{APP_ID}.png"))
    svg = RESOURCES / "icons" / f"{APP_ID}.svg"
    if svg.exists():
        pairs.append((svg, theme / "scalable" / "apps" / f"{APP_ID}.svg"))
    return pairs


def gui_executable() -> Path:
    """The absolute path of the installed window command: the one beside this Python (a venv's
    or pipx's bin folder, which a menu's PATH usually lacks), else the one on PATH."""
    beside = Path(sys.executable).parent / GUI_COMMAND
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside.absolute()
    found = shutil.which(GUI_COMMAND)
    if found:
        return Path(found).absolute()
    raise DesktopSearchError(
        f"cannot find the {GUI_COMMAND} command beside {sys.executable} or on PATH; "
        "install the package (pip install . or pipx install .) first"
    )


def exec_value(program: Path) -> str:
    """`program` as a desktop entry's Exec key: quoted by the spec's rules when it must be,
    then escaped as a string value (backslashes doubled, % doubled)."""
    arg = str(program)
    if re.search(r"[\s\"'\\><~|&;$*?#()`]", arg):
        arg = '"' + re.sub(r'(["`$\\])', r"\\\1", arg) + '"'
    return arg.replace("\\", "\\\\").replace("%", "%%")


def entry_text(program: Path | str = GUI_COMMAND) -> str:
    exec_ = exec_value(program) if isinstance(program, Path) else program
    lines = ["[Desktop Entry]"]
    lines += [f"{k}={exec_ if k == 'Exec' else v}" for k, v in ENTRY_FIELDS]
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, data: bytes) -> None:
    # readable by all: menus and icon themes are read by other processes of the desktop
    atomic_write(path, data, mode=0o644)


def _refresh_caches(data: Path) -> None:
    """Menus notice a new entry on their own after a moment; update-desktop-database makes it
    immediate where it exists (failure is harmless). No icon cache is written: a user-level
    icon-theme.cache goes stale and hides icons other programs install later."""
    exe = shutil.which("update-desktop-database")
    if exe and (data / "applications").is_dir():
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [exe, "-q", str(data / "applications")],
                check=False,
                timeout=60,
                capture_output=True,
            )


def install(data: Path | None = None, program: Path | None = None) -> list[Path]:
    """Writes the entry (Exec = the installed command's absolute path) and the icons; returns
    the files written. Installing again overwrites them (a reinstall moves the command)."""
    data = data or data_home()
    program = program or gui_executable()
    icons = icon_targets(data)
    if not icons:
        raise DesktopSearchError(f"the bundled icons are missing from {RESOURCES / 'icons'}")
    written = []
    for src, dst in icons:
        _write_atomic(dst, src.read_bytes())
        written.append(dst)
    entry = entry_path(data)
    _write_atomic(entry, entry_text(program).encode("utf-8"))
    written.append(entry)
    _refresh_caches(data)
    return written


def remove(data: Path | None = None) -> list[Path]:
    """Deletes the entry and the icons `install` writes (only those); returns what was there."""
    data = data or data_home()
    removed = []
    for path in [entry_path(data), *(dst for _src, dst in icon_targets(data))]:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
    if removed:
        _refresh_caches(data)
    return removed
