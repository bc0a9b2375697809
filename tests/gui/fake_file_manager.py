"""A file manager on a D-Bus session bus, for tests: it implements the freedesktop
FileManager1.ShowItems call that Files, Dolphin, Nemo and Thunar answer, and writes down the
URIs it was asked to show. Run: python fake_file_manager.py BUS_ADDRESS LOG_FILE."""

from __future__ import annotations

import sys

from PySide6.QtCore import ClassInfo, QCoreApplication, QObject, Slot
from PySide6.QtDBus import QDBusConnection


@ClassInfo({"D-Bus Interface": "org.freedesktop.FileManager1"})
class FileManager(QObject):
    def __init__(self, log: str) -> None:
        super().__init__()
        self.log = log

    @Slot("QStringList", str)
    def ShowItems(self, uris: list[str], _startup_id: str) -> None:  # the D-Bus method name
        with open(self.log, "a", encoding="utf-8") as f:
            f.write("".join(u + "\n" for u in uris))


def main() -> None:
    app = QCoreApplication([])
    bus = QDBusConnection.connectToBus(sys.argv[1], "file-manager")
    fm = FileManager(sys.argv[2])
    if not (
        bus.registerObject(
            "/org/freedesktop/FileManager1", fm, QDBusConnection.RegisterOption.ExportAllSlots
        )
        and bus.registerService("org.freedesktop.FileManager1")
    ):
        sys.exit("cannot register on the bus")
    print("ready", flush=True)
    app.exec()


if __name__ == "__main__":
    main()
