"""`desktop-search --version`: this app's version and those of the libraries it runs on."""

from __future__ import annotations

import argparse
import platform
import sqlite3
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .. import __version__

# (what a person calls it, the distributions that provide it). Read from the installed metadata:
# importing llama_cpp loads the native library, and the core never imports Qt.
LIBRARIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("llama-cpp-python", ("llama_cpp_python",)),
    ("usearch", ("usearch",)),
    ("Qt (PySide6)", ("PySide6-Essentials", "PySide6")),
)


def _installed(dists: Sequence[str]) -> str | None:
    for d in dists:
        try:
            return version(d)
        except PackageNotFoundError:
            continue
    return None


def versions() -> list[tuple[str, str]]:
    rows = [("desktop-search", __version__)]
    for name, dists in LIBRARIES:
        rows.append((name, _installed(dists) or "not installed"))
    rows.append(("SQLite", sqlite3.sqlite_version))
    rows.append(("Python", platform.python_version()))
    return rows


def version_text() -> str:
    return "\n".join(f"{name} {v}" for name, v in versions())


class VersionAction(argparse.Action):
    """--version: prints version_text() and exits, like argparse's own action."""

    def __init__(
        self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any
    ) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="print the versions of desktop-search, llama-cpp-python, "
            "usearch, SQLite and Qt, and exit",
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(version_text())
        parser.exit()
