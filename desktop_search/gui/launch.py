"""Opening a file, showing it in its folder, opening it with a chosen program — each says
whether it worked. Qt's openUrl hands a file to xdg-open on Linux and only logs "Unable to
detect a launcher" when there is none, and never says when xdg-open finds no application; so
on Linux xdg-open is run here, and a failure comes back as one line for people: at once when
there is no launcher, a moment later when the launcher gives up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QProcess, QTimer, QUrl
from PySide6.QtGui import QDesktopServices

LAUNCHER_WATCH_S = 5.0  # how long a launcher that gives up (no application) is listened to

NO_LAUNCHER = (
    "no program to open files is set up on this computer (xdg-open is missing); "
    "copy the path and open it from your file manager"
)


@dataclass(frozen=True)
class Launched:
    ok: bool
    message: str  # what to tell people: what happened, or why not


def file_url(path: str) -> QUrl:
    """A file: URL of the exact bytes of a name, also one that is not valid UTF-8 (a lone
    surrogate from os.fsdecode would not survive the trip into Qt's UTF-16 strings)."""
    from urllib.parse import quote

    return QUrl.fromEncoded(b"file://" + quote(os.fsencode(path)).encode("ascii"))


def _launch(path: str, name: str, on_failure: Callable[[str], None] | None) -> Launched:
    """Hands `path` (a file or a folder) to the desktop's launcher."""
    url = file_url(path)
    if sys.platform.startswith(("win", "darwin")):
        ok = QDesktopServices.openUrl(url)
        return Launched(
            ok, f"Opening {name}" if ok else f"Cannot open {name}: no application is set to open it"
        )
    exe = shutil.which("xdg-open")
    if exe is None:
        return Launched(False, f"Cannot open {name}: {NO_LAUNCHER}")
    try:
        proc = subprocess.Popen(
            [exe, url.toString(QUrl.ComponentFormattingOption.FullyEncoded)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as e:
        return Launched(False, f"Cannot open {name}: the launcher did not start ({e.strerror})")
    _watch(proc, name, on_failure)
    return Launched(True, f"Opening {name}")


def _watch(
    proc: subprocess.Popen[bytes],
    name: str,
    on_failure: Callable[[str], None] | None,
    until: float | None = None,
) -> None:
    """xdg-open exits non-zero when no application takes the file: said when it happens."""
    until = until if until is not None else time.monotonic() + LAUNCHER_WATCH_S
    code = proc.poll()
    if code is None and time.monotonic() < until:
        QTimer.singleShot(100, lambda: _watch(proc, name, on_failure, until))
    elif code and on_failure is not None:
        on_failure(
            f"Cannot open {name}: no application is set to open it (try Open with…, or Copy path)"
        )


def open_file(path: str, on_failure: Callable[[str], None] | None = None) -> Launched:
    name = os.path.basename(path)
    if not os.path.exists(path):
        return Launched(False, f"Cannot open {name}: it is no longer there")
    return _launch(path, name, on_failure)


def show_in_folder(path: str, on_failure: Callable[[str], None] | None = None) -> Launched:
    """Selects the file in the file manager where it supports the freedesktop FileManager1
    call (Files, Dolphin, Nemo, Thunar...), else opens the folder that holds it."""
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        return Launched(False, f"Cannot show {os.path.basename(path)}: its folder is gone")
    if _select_with_file_manager(path):
        return Launched(True, f"Showing {os.path.basename(path)} in its folder")
    got = _launch(folder, os.path.basename(folder) or folder, on_failure)
    return Launched(got.ok, f"Opening the folder {folder}" if got.ok else got.message)


def _select_with_file_manager(path: str) -> bool:
    try:
        from PySide6.QtDBus import QDBusConnection, QDBusInterface, QDBusMessage
    except ImportError:  # Qt built without D-Bus
        return False
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    if not address:
        return False
    # the bus named by the environment now (Qt's sessionBus() keeps the first one it saw)
    bus = QDBusConnection.connectToBus(address, f"desktop-search {address}")
    if not bus.isConnected():
        return False
    iface = QDBusInterface(
        "org.freedesktop.FileManager1",
        "/org/freedesktop/FileManager1",
        "org.freedesktop.FileManager1",
        bus,
    )
    if not iface.isValid():
        return False
    iface.setTimeout(3000)  # a file manager that hangs must not hang the window for long
    reply = iface.call("ShowItems", [file_url(path).toString()], "")
    return reply.type() != QDBusMessage.MessageType.ErrorMessage


def open_with(program: str, path: str) -> Launched:
    """Starts `program` (a path or a command on PATH) with the file."""
    exe = program if os.path.isabs(program) else shutil.which(program)
    name = os.path.basename(path)
    if not exe or not os.access(exe, os.X_OK):
        return Launched(False, f"Cannot open {name} with {program}: no such program")
    ok, _pid = QProcess.startDetached(exe, [path])
    if not ok:
        return Launched(False, f"Cannot open {name} with {os.path.basename(exe)}: it did not start")
    return Launched(True, f"Opening {name} with {os.path.basename(exe)}")
