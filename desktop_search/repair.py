"""`desktop-search repair`: a damaged catalog is moved aside (kept, never deleted), what can still
be read is salvaged into a fresh catalog, and a normal index brings back the rest.

The salvage reads a scratch copy, so the damaged file stays exactly as it was found. Where the
`sqlite3` program is installed, SQLite's own `.recover` (which reads every page, also pages no
longer linked from a table) rebuilds the copy first; either way rows are then read by key range,
skipping what cannot be read (store.salvage). Vectors are keyed by model and content hash, so
every vector read back is reused: re-indexing embeds only the text whose vector was lost. The
keyword index is rebuilt from the salvaged chunks as they are written; the vector index, a
cache, is rebuilt from the catalog on the next open.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DesktopSearchError, IndexFailure
from .indexer import IndexReport, Progress
from .paths import AppPaths, resolve_home
from .store import (
    Catalog,
    Salvage,
    fresh_header,
    quick_check,
    restore,
    salvage_file,
    schema_readable,
    table_names,
)

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PAGE_SIZES = (4096, 1024, 2048, 8192, 16384, 32768, 65536)


@dataclass
class RepairReport:
    home: str
    healthy: bool = False  # nothing was wrong: nothing was changed
    damaged_copy: str = ""  # where the damaged catalog was moved
    method: str = ""  # "recover" (sqlite3's .recover) or "rows" (row-by-row copy)
    header_rebuilt: bool = False
    padded: bool = False  # the file was cut short: the missing pages read as empty
    salvaged: dict[str, int] = field(default_factory=dict)  # roots, files, chunks, vectors
    unreadable_rows: int = 0
    reindex: IndexReport | None = None
    seconds: float = 0.0


@contextlib.contextmanager
def _writer_lock(paths: AppPaths) -> Iterator[None]:
    """The lock file every writer takes (engine._acquire_file_lock): no index runs meanwhile."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(paths.home / "writer.lock", "a+b") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise IndexFailure(
                f"cannot repair: another desktop-search process is using the index in "
                f"{paths.home}; close it and try again"
            ) from None
        yield


def _family(path: Path) -> list[Path]:
    """The catalog and its WAL and shared-memory files."""
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm")]


def rebuild_header(path: Path) -> bool:
    """A catalog whose first 100 bytes were overwritten (the file header: zeroed by a bad
    sector or a tool) has intact pages after them. The header is rewritten from a fresh one of
    the same page size; the page size is found by trying which makes the schema readable."""
    with open(path, "rb") as f:
        head = f.read(100)
    if head.startswith(_SQLITE_MAGIC):
        return False
    size = path.stat().st_size
    for page_size in _PAGE_SIZES:
        if size % page_size or size < page_size:
            continue
        header = fresh_header(page_size)
        header[24:28] = (1).to_bytes(4, "big")  # change counter...
        header[92:96] = (1).to_bytes(4, "big")  # ...that the page count below is valid for
        header[28:32] = (size // page_size).to_bytes(4, "big")
        header[32:40] = bytes(8)  # no freelist: only reads follow
        with open(path, "r+b") as f:
            f.write(header)
        if schema_readable(path):
            return True
    return False


def pad_truncated(path: Path) -> bool:
    """A catalog cut short (a copy or a sync stopped half-way) is unreadable as a whole: its
    schema names pages past the end. Padded back to its recorded size with zero pages, every
    page that survived reads again and only the missing ones fail."""
    with open(path, "rb") as f:
        head = f.read(100)
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        return False
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    want = int.from_bytes(head[28:32], "big") * page_size
    if path.stat().st_size >= want:
        return False
    with open(path, "r+b") as f:
        f.truncate(want)
    return True


def _recover(source: Path, target: Path) -> bool:
    """sqlite3's `.recover` of source into target; False when the program is not installed
    or cannot read the file."""
    exe = shutil.which("sqlite3")
    if exe is None:
        return False
    try:
        with subprocess.Popen(
            [exe, str(source), ".recover"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        ) as dump:
            load = subprocess.run(
                [exe, str(target)], stdin=dump.stdout, capture_output=True, timeout=3600
            )
            dump.wait(timeout=3600)
    except (OSError, subprocess.SubprocessError):
        return False
    if dump.returncode != 0 or not target.exists():
        return False
    del load
    names = table_names(target)
    return names is not None and {"files", "chunks"} <= names


def _read_salvage(
    copy: Path, work: Path, report: RepairReport, use_recover: bool | None
) -> Salvage:
    report.header_rebuilt = rebuild_header(copy)
    report.padded = pad_truncated(copy)
    source = copy
    if use_recover is not False:
        recovered = work / "recovered.sqlite3"
        if _recover(copy, recovered):
            source, report.method = recovered, "recover"
    if source is copy:
        report.method = "rows"
    return salvage_file(source)


def repair(
    home: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    *,
    reindex: bool = True,
    use_recover: bool | None = None,
) -> RepairReport:
    """Repairs the catalog of `home` (see the module doc). A healthy catalog is left alone.
    use_recover: None uses sqlite3's .recover when installed, False never (the row copy)."""
    t0 = time.perf_counter()
    paths = resolve_home(home).ensure()
    report = RepairReport(home=str(paths.home))
    catalog = paths.catalog
    if not catalog.exists():
        raise DesktopSearchError(
            f"no index at {paths.home} to repair: add a folder and run `desktop-search index`"
        )
    with _writer_lock(paths):
        if quick_check(catalog):
            report.healthy = True
            report.seconds = time.perf_counter() - t0
            return report
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = catalog.with_name(f"{catalog.name}.damaged-{stamp}")
        with tempfile.TemporaryDirectory(dir=paths.home, prefix=".repair-") as d:
            work = Path(d)
            copy = work / "damaged.sqlite3"
            for src, dst in zip(_family(catalog), _family(copy), strict=True):
                if src.exists():
                    shutil.copyfile(src, dst)
            got = _read_salvage(copy, work, report, use_recover)
            report.unreadable_rows = got.lost()
            # written beside the catalog, then swapped in whole: a repair cut short leaves
            # either the damaged catalog or the repaired one, never half of each
            fresh = work / "catalog.sqlite3"
            cat = Catalog(fresh)
            try:
                dims = cat_dims(got)
                report.salvaged = restore(cat, got, dims)
                cat.checkpoint(truncate=True)
            finally:
                cat.close()
            for src, dst in zip(_family(catalog), _family(aside), strict=True):
                if src.exists():
                    os.replace(src, dst)
            os.replace(fresh, catalog)
        report.damaged_copy = str(aside)
        # the vector index is a cache of the old catalog's chunks: rebuilt from the new one
        for p in paths.index_dir.glob("vectors-*.usearch"):
            with contextlib.suppress(OSError):
                p.unlink()
    if reindex:
        from .engine import Engine

        with Engine(paths.home) as eng:
            if eng.roots():
                report.reindex = eng.index(progress)
    report.seconds = time.perf_counter() - t0
    return report


def cat_dims(got: Salvage) -> int | None:
    for key, value in got.rows["meta"]:
        if key == "model_dims" and isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def describe(report: RepairReport) -> list[str]:
    """What a person reads after `desktop-search repair`."""
    if report.healthy:
        return [f"the index in {report.home} reads back whole: nothing to repair"]
    s = report.salvaged
    how = "SQLite's .recover" if report.method == "recover" else "a row-by-row copy"
    lines = [
        f"the damaged catalog was moved aside (kept): {report.damaged_copy}",
        f"salvaged with {how}{' after rebuilding its header' if report.header_rebuilt else ''}"
        f": {s.get('roots', 0)} folders, {s.get('files', 0)} files, {s.get('chunks', 0)} "
        f"passages, {s.get('vectors', 0)} vectors"
        + (
            f" ({report.unreadable_rows} unreadable rows skipped)" if report.unreadable_rows else ""
        ),
    ]
    r = report.reindex
    if r is not None:
        lines.append(
            f"re-indexed: {r.new} files found again, {r.changed} files redone, "
            f"{r.chunks_embedded} passages re-embedded"
        )
    elif not s.get("roots"):
        lines.append(
            "no folder could be salvaged: add your folders again with "
            "`desktop-search add FOLDER`, then run `desktop-search index`"
        )
    lines.append(f"repaired in {report.seconds:.1f} s")
    return lines
