"""House rules that keep the code base honest (docs/architecture.md draws the rooms).

Checked on the syntax tree, so a comment or a docstring that names a rule's subject is not
caught, and code hidden in a string is.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "desktop_search"
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6")
# The two edges over the core: the window (gui/, with the probe that times its start) and the
# command line (cli/). Everything else is the core.
QT_EDGES = ("gui",)
CLI = ("cli", "__main__.py")  # `python -m desktop_search` is the command line too
# The rooms that speak SQL: the catalog and the keyword index.
SQL_ROOMS = ("store.py", "fts.py")
_SQL = re.compile(
    r"^\s*(SELECT\s|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s"
    r"|CREATE\s+(TABLE|INDEX|VIRTUAL|TRIGGER|TEMP)|DROP\s+(TABLE|INDEX|TRIGGER)\s"
    r"|ALTER\s+TABLE\s|PRAGMA\s|BEGIN(\s|$)|COMMIT$|ROLLBACK$|VACUUM$)"
    r"|\sFROM\s+\w+\s+WHERE\s"
)
_EXECUTE = ("execute", "executemany", "executescript")
_CODE = re.compile(r"^\s*(import\s+[\w.]+\s*$|from\s+[\w.]+\s+import\s)", re.M)


def _modules() -> Iterator[tuple[Path, tuple[str, ...], ast.Module]]:
    for py in sorted(PKG.rglob("*.py")):
        parts = py.relative_to(PKG).parts
        yield py, parts, ast.parse(py.read_text(encoding="utf-8"))


def _is_edge(parts: tuple[str, ...]) -> bool:
    return parts[0] in QT_EDGES or parts[0] in CLI


def _imported(node: ast.AST, parts: tuple[str, ...]) -> list[str]:
    """Absolute names of what an import statement imports ('from .x import y' resolved)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if not node.level:
        return [node.module or ""]
    package = ["desktop_search", *parts[:-1]][: len(parts) - node.level + 1]
    base = ".".join([*package, *([node.module] if node.module else [])])
    return [base] if node.module else [f"{base}.{a.name}" for a in node.names]


def _strings(tree: ast.Module) -> Iterator[ast.Constant]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node


def test_core_never_imports_qt() -> None:
    offenders = []
    for py, parts, tree in _modules():
        if parts[0] in QT_EDGES:
            continue
        for node in ast.walk(tree):
            if any(n.split(".")[0] in QT for n in _imported(node, parts)):
                offenders.append(f"{py.relative_to(PKG)}:{getattr(node, 'lineno', 0)}")
    assert offenders == []


def test_no_qt_in_strings() -> None:
    """Qt code written as a string (for a child process) hides it from lint, types and the
    rule above: such code is a module of its own, run with `python -m`."""
    offenders = [
        f"{py.relative_to(PKG)}:{s.lineno}"
        for py, parts, tree in _modules()
        if not _is_edge(parts)
        for s in _strings(tree)
        if any(q in s.value for q in QT)
    ]
    assert offenders == []


def test_no_code_in_strings_for_a_child_process() -> None:
    """`python -c CODE` hides code from every check: children run modules (`python -m`)."""
    offenders = []
    for py, _parts, tree in _modules():
        for s in _strings(tree):
            if _CODE.search(s.value) and "\n" in s.value.strip():
                offenders.append(f"{py.relative_to(PKG)}:{s.lineno}")
    assert offenders == []


def test_sql_only_in_the_store() -> None:
    """Only the catalog (store.py) and the keyword index (fts.py) write SQL or run it: every
    other room asks them by name (Catalog.bm25, Catalog.chunk_rows, remove_root...)."""
    offenders = []
    for py, parts, tree in _modules():
        if parts == (parts[-1],) and parts[-1] in SQL_ROOMS:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _EXECUTE
            ):
                offenders.append(f"{py.relative_to(PKG)}:{node.lineno} {node.func.attr}()")
        offenders += [
            f"{py.relative_to(PKG)}:{s.lineno} {s.value[:40]!r}"
            for s in _strings(tree)
            if _SQL.search(s.value)
        ]
    assert offenders == []


def test_no_core_module_imports_the_cli() -> None:
    """The command line is an edge over the core: the core never sees argparse's commands,
    progress bars or exit codes (an edge may use the core, never the other way round)."""
    offenders = []
    for py, parts, tree in _modules():
        if parts[0] in CLI:
            continue
        for node in ast.walk(tree):
            names = _imported(node, parts)
            if any(n == "desktop_search.cli" or n.startswith("desktop_search.cli.") for n in names):
                offenders.append(f"{py.relative_to(PKG)}:{getattr(node, 'lineno', 0)}")
    assert offenders == []


# What the window may not reach past the engine for: the catalog, the index, the indexer.
BEHIND_THE_ENGINE = ("store", "vector_index", "fts", "indexer", "embed")


def test_the_window_talks_to_the_engine_only() -> None:
    """Like Anki's aqt over pylib: the window asks `Engine` (adding the few methods it needs)
    and never holds the catalog or the index itself; data types (SearchResult, Settings) and
    pure helpers it may import."""
    offenders = []
    for py, parts, tree in _modules():
        if parts[0] != "gui":
            continue
        for node in ast.walk(tree):
            names = _imported(node, parts)
            if any(
                n.split(".")[1:2] and n.split(".")[1] in BEHIND_THE_ENGINE
                for n in names
                if n.startswith("desktop_search.")
            ):
                offenders.append(f"{py.relative_to(PKG)}:{getattr(node, 'lineno', 0)} {names}")
            if isinstance(node, ast.Attribute) and node.attr == "catalog":
                offenders.append(f"{py.relative_to(PKG)}:{node.lineno} .catalog")
    assert offenders == []


def test_the_sql_rule_sees_sql() -> None:
    """The rule above is not vacuous: it finds the statements the store holds."""
    tree = ast.parse((PKG / "store.py").read_text(encoding="utf-8"))
    found = [s.value for s in _strings(tree) if _SQL.search(s.value)]
    assert any(v.startswith("SELECT") for v in found)
    assert any("DELETE FROM roots" in v for v in found)
    assert not _SQL.search("Select the folders to search")


def test_the_import_rule_resolves_relative_imports() -> None:
    tree = ast.parse("from ..cli import main\nfrom .progress import ProgressBar\nfrom . import x\n")
    names = [n for node in tree.body for n in _imported(node, ("gui", "backend.py"))]
    assert names == ["desktop_search.cli", "desktop_search.gui.progress", "desktop_search.gui.x"]
