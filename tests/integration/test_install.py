"""What an installation gives a person: the menu entry, --version, and a wheel that carries
every bundled resource (the installed wheel itself is exercised by packaging/smoke_installed.sh
in CI)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from desktop_search import __version__
from desktop_search.desktop_entry import entry_text, exec_value

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "desktop_search.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def read_entry(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(text)
    return dict(parser["Desktop Entry"])


def test_desktop_entry_install_and_remove(tmp_path: Path) -> None:
    data = tmp_path / "xdg-data"
    env = {**os.environ, "XDG_DATA_HOME": str(data)}
    inst = run("desktop-entry", "install", env=env)
    assert inst.returncode == 0, inst.stderr
    entry_file = data / "applications" / "desktop-search.desktop"
    assert str(entry_file) in inst.stdout
    entry = read_entry(entry_file.read_text(encoding="utf-8"))
    program = Path(entry["Exec"])
    assert program.is_absolute() and program.name == "desktop-search-gui"
    assert os.access(program, os.X_OK)
    assert entry["Icon"] == "desktop-search" and entry["Type"] == "Application"
    icons = sorted(p.relative_to(data).as_posix() for p in (data / "icons").rglob("*.*"))
    assert "icons/hicolor/48x48/apps/desktop-search.png" in icons
    assert "icons/hicolor/scalable/apps/desktop-search.svg" in icons
    assert len(icons) == len(list((REPO / "resources" / "icons").glob("desktop-search*.*")))
    assert oct(entry_file.stat().st_mode & 0o777) == "0o644"
    validator = shutil.which("desktop-file-validate")
    if validator:
        check = subprocess.run([validator, str(entry_file)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr

    rm = run("desktop-entry", "remove", env=env)
    assert rm.returncode == 0, rm.stderr
    assert not entry_file.exists()
    assert list((data / "icons").rglob("desktop-search.*")) == []
    again = run("desktop-entry", "remove", env=env)
    assert again.returncode == 0 and "no menu entry" in again.stdout


def test_desktop_entry_install_leaves_other_entries_alone(tmp_path: Path) -> None:
    data = tmp_path / "xdg-data"
    other = data / "applications" / "other.desktop"
    other.parent.mkdir(parents=True)
    other.write_text("[Desktop Entry]\nName=Other\n", encoding="utf-8")
    env = {**os.environ, "XDG_DATA_HOME": str(data)}
    assert run("desktop-entry", "install", env=env).returncode == 0
    assert run("desktop-entry", "remove", env=env).returncode == 0
    assert other.read_text(encoding="utf-8") == "[Desktop Entry]\nName=Other\n"


def test_packaged_entry_matches_the_one_installed() -> None:
    # Distributions ship packaging/desktop-search.desktop; `desktop-entry install` writes the
    # same fields with Exec pointing at the installed command.
    shipped = read_entry((REPO / "packaging" / "desktop-search.desktop").read_text("utf-8"))
    assert shipped == read_entry(entry_text())


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("/home/ann/.local/bin/desktop-search-gui", "/home/ann/.local/bin/desktop-search-gui"),
        ("/home/ann/my apps/bin/desktop-search-gui", '"/home/ann/my apps/bin/desktop-search-gui"'),
        ("/opt/100%/desktop-search-gui", "/opt/100%%/desktop-search-gui"),
        ('/opt/a"b$c/desktop-search-gui', '"/opt/a\\\\"b\\\\$c/desktop-search-gui"'),
    ],
)
def test_exec_is_quoted_as_the_spec_says(path: str, value: str) -> None:
    assert exec_value(Path(path)) == value


def test_version_names_the_app_and_its_libraries() -> None:
    out = run("--version")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"desktop-search {__version__}"
    names = [line.rsplit(" ", 1)[0] for line in lines]
    for name in ("llama-cpp-python", "usearch", "SQLite", "Qt (PySide6)"):
        assert name in names
    import sqlite3

    import usearch

    assert f"SQLite {sqlite3.sqlite_version}" in lines
    assert f"usearch {usearch.__version__}" in lines


def test_pyproject_takes_the_version_from_the_package() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "desktop_search.__version__"
    }


def test_wheel_carries_every_bundled_resource() -> None:
    # A file added under resources/ that the package-data globs miss would be absent from
    # every installed copy; only the icon renderer (a developer's script) stays behind.
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    source = REPO / setuptools["package-dir"]["desktop_search._resources"]
    assert source == REPO / "resources"
    shipped = {
        p
        for pattern in setuptools["package-data"]["desktop_search._resources"]
        for p in source.glob(pattern)
    }
    present = {p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert present - shipped == {source / "icons" / "render_icons.py"}
    assert any(p.suffix == ".gguf" for p in shipped)


def test_wheel_lists_every_subpackage() -> None:
    # pyproject lists the packages (discovery cannot see the mapped resources/); a subpackage
    # added to desktop_search/ but not to that list would be missing from every install.
    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"][
            "packages"
        ]
    )
    pkg = REPO / "desktop_search"
    found = {
        ".".join(("desktop_search", *p.parent.relative_to(pkg).parts))
        for p in pkg.rglob("__init__.py")
    }
    assert found <= listed, sorted(found - listed)
