"""`desktop-entry install|remove`: Desktop Search in the application menu (desktop_entry.py
writes the files)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..desktop_entry import GUI_COMMAND
from ..errors import DesktopSearchError


def add_desktop_entry(sub: Any) -> None:
    d = sub.add_parser(
        "desktop-entry",
        help="add or remove Desktop Search in the application menu",
        description="Writes (or deletes) the freedesktop menu entry and its icons under "
        "$XDG_DATA_HOME (default ~/.local/share), pointing at this installation's "
        f"{GUI_COMMAND}.",
    )
    d.add_argument("action", choices=("install", "remove"))
    d.set_defaults(handler=cmd_desktop_entry)


def cmd_desktop_entry(args: argparse.Namespace) -> int:
    from ..desktop_entry import data_home, gui_executable, install, remove

    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        raise DesktopSearchError(
            f"menu entries are for freedesktop desktops (Linux, BSD); here, run {GUI_COMMAND}"
        )
    data = data_home()
    if args.action == "install":
        program = gui_executable()
        written = install(data, program)
        print(f"installed the menu entry {written[-1]}")
        print(f"  runs {program}")
        print(f"  icons: {len(written) - 1} files under {data / 'icons' / 'hicolor'}")
    else:
        removed = remove(data)
        if not removed:
            print(f"no menu entry to remove in {data}")
        for path in removed:
            print(f"removed {path}")
    return 0
