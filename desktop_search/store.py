"""Catalog: SQLite, the source of truth, and the only room (with fts.py) that speaks SQL.

SQLite holds roots, files, chunks, chunk vectors (keyed by model and content hash, so a rename or
an unchanged re-save never re-embeds) and the FTS5 keyword index. The USearch file is saved
atomically under a name that carries the catalog generation it reflects; on open, a file whose
generation does not match is rebuilt from the stored vectors, never by re-embedding.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import numpy as np
from numpy.typing import NDArray

from .errors import CatalogDamaged, IndexFailure, is_damage

if TYPE_CHECKING:
    from .vector_index import VectorIndex

SCHEMA_VERSION = 1

# File states, in the order a file moves through them.
PENDING = "pending"  # seen on disk, not processed yet
CHUNKED = "chunked"  # phase 1 committed: chunks and keyword rows, findable by words
INDEXED = "indexed"  # phase 2 committed: vectors too, findable by meaning
FAILED = "failed"  # could not be read or parsed; `error` says why
SKIPPED = "skipped"  # deliberately not indexed (binary, too large, ...); `error` says why
STATES = (PENDING, CHUNKED, INDEXED, FAILED, SKIPPED)
PARTIAL = "partial"  # not a state: how `problems` shows a file indexed with some text missing

IN_BATCH = 500  # values per `IN (...)` list: well below SQLite's limit on bound parameters


_T = TypeVar("_T")


def in_batches(values: Sequence[_T]) -> Iterator[tuple[list[_T], str]]:
    """The values in slices for `IN (...)`, each with its "?,?,..." placeholders."""
    for i in range(0, len(values), IN_BATCH):
        part = list(values[i : i + IN_BATCH])
        yield part, ",".join("?" * len(part))


# The keyword index's tokenizer; the query lane stems query words with the same one.
FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (
    id INTEGER PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,
    includes TEXT NOT NULL DEFAULT '[]',
    excludes TEXT NOT NULL DEFAULT '[]',
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
    path TEXT UNIQUE NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    content_hash TEXT,
    state TEXT NOT NULL,
    error TEXT,
    kind TEXT,
    title TEXT,
    n_chars INTEGER,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_state ON files(state);
CREATE INDEX IF NOT EXISTS files_hash ON files(content_hash);
CREATE INDEX IF NOT EXISTS files_root ON files(root_id);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: ids are USearch keys
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    page INTEGER,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    embed_hash TEXT NOT NULL,
    n_tokens INTEGER NOT NULL,
    page_starts TEXT  -- JSON [[offset in the chunk, page], ...] of pages starting inside it
);
CREATE INDEX IF NOT EXISTS chunks_file ON chunks(file_id);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(embed_hash);
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    embed_hash TEXT NOT NULL,
    vec BLOB NOT NULL,
    PRIMARY KEY (model, embed_hash)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    title, text, content='chunks', content_rowid='id',
    tokenize='{FTS_TOKENIZE}'
);
-- files with no text to read (photos, archives, ...): kept so every file is findable by name
CREATE TABLE IF NOT EXISTS other_files (
    id INTEGER PRIMARY KEY,
    root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
    path TEXT UNIQUE NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS other_files_root ON other_files(root_id);
-- indexed files still cut with an earlier passage size: searchable with their old passages
-- (and vectors) until their new ones have vectors too (see rechunk.py)
CREATE TABLE IF NOT EXISTS rechunk (
    file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, old.text);
END;
""".replace("{FTS_TOKENIZE}", FTS_TOKENIZE)


@dataclass(frozen=True)
class Root:
    id: int
    path: str
    includes: list[str]
    excludes: list[str]


@dataclass(frozen=True)
class FileRow:
    id: int
    root_id: int
    path: str
    size: int
    mtime_ns: int
    content_hash: str | None
    state: str
    error: str | None
    kind: str | None
    title: str | None


@dataclass(frozen=True)
class NamedFile:
    """A file whose name holds the words looked for (see Catalog.files_named)."""

    path: str
    size: int
    mtime_ns: int
    state: str  # a file state, or OTHER for a type with no text to read
    error: str | None
    kind: str | None
    title: str | None
    has_text: bool  # it has passages: the query's own ranking finds it by its words


OTHER = "other"  # not a state: how files_named reports a file of a type with no text to read


@dataclass(frozen=True)
class RechunkItem:
    """An indexed file to cut again with the new passage size (see rechunk.py)."""

    file_id: int
    root_id: int
    path: str
    size: int
    mtime_ns: int
    content_hash: str | None
    passages: int  # its passages now: what its re-cut will roughly embed


@dataclass(frozen=True)
class EmbedPlan:
    """A file waiting for meaning: how many of its passages lack a vector, and their tokens."""

    file_id: int
    path: str
    mtime_ns: int
    passages: int
    missing: int
    missing_tokens: int


@dataclass(frozen=True)
class NewChunk:
    ord: int
    page: int | None  # the page the chunk starts on
    char_start: int
    char_end: int
    title: str
    text: str
    embed_hash: str
    n_tokens: int
    # pages that begin inside the chunk, as (offset in its text, page number): a hit's page is
    # where its words are, not where the passage starts
    page_starts: tuple[tuple[int, int], ...] = ()

    noise: bool = False  # chunking.is_noise: kept out of the meaning ranking


class ChunkRow(NamedTuple):  # a tuple: hundreds are built per query (5 -> 1 us each)
    """What the query lane knows of a candidate passage, and of its file, without its text."""

    file_id: int
    page: int | None
    char_start: int
    char_end: int
    path: str
    title: str | None
    kind: str | None
    mtime_ns: int
    size: int
    state: str
    noise: int  # 1: kept out of the meaning ranking (chunking.is_noise)


@dataclass(frozen=True)
class ChunkText:
    """The text of a passage shown or reranked."""

    text: str
    title: str
    embed_hash: str
    page_starts: str | None = None


def page_at(page: int | None, page_starts: str | None, offset: int) -> int | None:
    """The page of the character `offset` into a chunk that starts on `page`."""
    if not page_starts:
        return page
    for start, number in json.loads(page_starts):
        if start > offset:
            break
        page = number
    return page


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection, also for a home the user cannot write (a read-only mount, a
    locked-down copy): there SQLite cannot create the WAL index, so when no WAL is pending the
    database file alone is the whole truth and is opened as immutable."""
    if not path.exists():
        raise IndexFailure(f"no index at {path.parent}: add a folder and run `index`")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=30)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        db.close()
    wal = Path(str(path) + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise IndexFailure(
            f"cannot read the index at {path.parent}: it was not closed cleanly and the folder "
            "is read-only; open it once with write access to recover it"
        )
    return sqlite3.connect(
        f"file:{path}?immutable=1", uri=True, check_same_thread=False, timeout=30
    )


# --- damage: detected on open after an unclean close, and wherever SQLite meets it ----------


def _open_marker(path: Path, pid: int | None = None) -> Path:
    """Present while a writer has the catalog open; one left behind means it did not close."""
    return path.with_name(f".{path.name}.open-{os.getpid() if pid is None else pid}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: alive
    return True


def check_after_unclean_close(catalog: Catalog) -> None:
    """A writer that did not close (a crash, a kill, a power cut) leaves its marker behind;
    then the next writer runs SQLite's quick_check (a read of every page, no index
    cross-checks) before trusting the file. Raises CatalogDamaged when it fails."""
    stale = []
    for m in catalog.path.parent.glob(f".{catalog.path.name}.open-*"):
        pid = m.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            stale.append(m)
    if stale:
        rows = [r[0] for r in catalog.db.execute("PRAGMA quick_check")]
        if rows != ["ok"]:
            catalog.db.close()
            raise CatalogDamaged(catalog.path.parent)
        for m in stale:
            with suppress(OSError):
                m.unlink()
    old_umask = os.umask(0o077)
    try:
        _open_marker(catalog.path).touch()
    except OSError:
        pass  # a full disk: the check is a nicety, opening must not fail for it
    finally:
        os.umask(old_umask)


def _private_file(path: Path) -> None:
    try:
        if path.exists() and path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError:
        pass


class Catalog:
    """One SQLite connection. The writer lane owns one; every reader opens its own."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        # what this home's schema has, looked up once per connection (see ensure_ranking_schema)
        self._has_noise: bool | None = None
        self._has_names: bool | None = None
        try:
            if readonly:
                self.db = _connect_readonly(path)
            else:
                old_umask = os.umask(0o077)  # catalog, WAL and SHM files: owner only
                try:
                    self.db = sqlite3.connect(path, check_same_thread=False, timeout=30)
                    self.db.execute("PRAGMA journal_mode=WAL")
                finally:
                    os.umask(old_umask)
            self.db.execute("PRAGMA foreign_keys=ON")
            # NORMAL in WAL mode: a power cut may lose the last commits but never corrupts;
            # a file whose commit was lost is still in its earlier state and is redone.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA secure_delete=ON")
            self.db.execute("PRAGMA busy_timeout=30000")
            if not readonly:
                check_after_unclean_close(self)
                self._migrate()
                for suffix in ("", "-wal", "-shm"):
                    _private_file(Path(str(path) + suffix))
        except sqlite3.DatabaseError as e:
            if is_damage(e):
                raise CatalogDamaged(path.parent) from e
            raise IndexFailure(f"cannot open the catalog {path}: {e}") from e

    def close(self) -> None:
        self.db.close()
        if not self.readonly:
            with suppress(OSError):
                _open_marker(self.path).unlink()

    def _migrate(self) -> None:
        with self.db:
            self.db.executescript(_SCHEMA)
            cols = {r[1] for r in self.db.execute("PRAGMA table_info(chunks)")}
            if "page_starts" not in cols:  # a home made before pages were kept per chunk
                self.db.execute("ALTER TABLE chunks ADD COLUMN page_starts TEXT")
            ensure_ranking_schema(self.db)
            ensure_name_grams(self.db)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                self.db.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            elif int(row[0]) > SCHEMA_VERSION:
                raise IndexFailure(
                    f"the index at {self.path.parent} was made by a newer desktop-search"
                )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            # After SQLITE_FULL or an I/O error SQLite may have rolled back already; a failing
            # ROLLBACK must not hide the error that says what went wrong.
            if self.db.in_transaction:
                with suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                with suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
            raise

    # privacy -------------------------------------------------------------------------------
    def purge_deleted_text(self) -> None:
        """Makes deleted text unrecoverable from the files on disk. Deleting rows leaves the
        words in older FTS5 segments (a delete only adds a tombstone), so the segments are
        merged ('optimize'); secure_delete zeroes the pages that frees; a truncating checkpoint
        then drops the WAL, which still holds earlier images of those pages."""
        with self.transaction():
            self.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
        self.checkpoint(truncate=True)

    def checkpoint(self, truncate: bool = False, attempts: int = 20) -> bool:
        """Copies the WAL into the database; with truncate, empties the WAL file too. A reader
        in the middle of a query can hold it up: retried briefly. True when complete."""
        mode = "TRUNCATE" if truncate else "PASSIVE"
        for _ in range(attempts):
            busy, _log, _done = self.db.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            if not busy:
                return True
            time.sleep(0.05)
        return False

    # meta ----------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    def generation(self) -> int:
        return int(self.get_meta("generation", "0") or 0)

    def bump_generation(self) -> int:
        """Call inside a transaction that changes which chunks have vectors."""
        gen = self.generation() + 1
        self.set_meta("generation", str(gen))
        return gen

    # roots ---------------------------------------------------------------------------------
    def roots(self) -> list[Root]:
        rows = self.db.execute("SELECT id, path, includes, excludes FROM roots ORDER BY path")
        return [Root(r[0], r[1], json.loads(r[2]), json.loads(r[3])) for r in rows]

    def add_root(
        self, path: str, includes: Sequence[str] = (), excludes: Sequence[str] = ()
    ) -> Root:
        with self.transaction():
            self.db.execute(
                "INSERT INTO roots(path, includes, excludes, added_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET includes=excluded.includes, "
                "excludes=excluded.excludes",
                (path, json.dumps(list(includes)), json.dumps(list(excludes)), time.time()),
            )
        return next(r for r in self.roots() if r.path == path)

    def remove_root(self, root_id: int) -> None:
        """Drops the root row (in the caller's transaction, after its files are deleted)."""
        self.db.execute("DELETE FROM roots WHERE id=?", (root_id,))

    # files ---------------------------------------------------------------------------------
    _FILE_COLS = "id, root_id, path, size, mtime_ns, content_hash, state, error, kind, title"

    def files_under(self, root_id: int) -> dict[str, FileRow]:
        rows = self.db.execute(f"SELECT {self._FILE_COLS} FROM files WHERE root_id=?", (root_id,))
        return {r[2]: FileRow(*r) for r in rows}

    def file_count_under(self, root_id: int) -> int:
        row = self.db.execute("SELECT count(*) FROM files WHERE root_id=?", (root_id,)).fetchone()
        return int(row[0])

    def file_by_path(self, path: str) -> FileRow | None:
        r = self.db.execute(f"SELECT {self._FILE_COLS} FROM files WHERE path=?", (path,)).fetchone()
        return None if r is None else FileRow(*r)

    def files_at(self, path: str) -> list[FileRow]:
        """The file at `path`, or every file under it when it is (or was) a folder."""
        prefix = path.rstrip(os.sep) + os.sep
        rows = self.db.execute(
            f"SELECT {self._FILE_COLS} FROM files WHERE path=? OR substr(path, 1, ?)=?",
            (path, len(prefix), prefix),
        )
        return [FileRow(*r) for r in rows]

    def file_content(self, file_id: int) -> tuple[str | None, str] | None:
        """(content hash, state) of a file, or None when it is gone."""
        r = self.db.execute(
            "SELECT content_hash, state FROM files WHERE id=?", (file_id,)
        ).fetchone()
        return None if r is None else (r[0], r[1])

    def embed_plan(
        self, model: str, states: Sequence[str], file_ids: Sequence[int] | None = None
    ) -> list[EmbedPlan]:
        """Files in `states` (or just `file_ids` among them) with their passages that have no
        vector for `model` yet: what phase 2 has left to do, and how much."""
        marks = ",".join("?" * len(states))
        sql = (
            "SELECT f.id, f.path, f.mtime_ns, count(c.id),"
            " coalesce(sum(c.id IS NOT NULL AND v.embed_hash IS NULL), 0),"
            " coalesce(sum(CASE WHEN c.id IS NOT NULL AND v.embed_hash IS NULL"
            " THEN c.n_tokens ELSE 0 END), 0)"
            " FROM files f LEFT JOIN chunks c ON c.file_id=f.id"
            " LEFT JOIN vectors v ON v.model=? AND v.embed_hash=c.embed_hash"
            f" WHERE f.state IN ({marks}) {{ids}} GROUP BY f.id"
        )
        if file_ids is None:
            rows = self.db.execute(sql.format(ids=""), (model, *states)).fetchall()
        else:
            rows = []
            for part, ids in in_batches(list(file_ids)):
                rows += self.db.execute(
                    sql.format(ids=f"AND f.id IN ({ids})"), (model, *states, *part)
                ).fetchall()
        return [EmbedPlan(*r) for r in rows]

    def meaning_counts(self, model: str) -> tuple[int, int, int]:
        """(passages with a vector for `model`, passages in all, tokens of the passages
        without one): how much of the index is searchable by meaning, and what is left."""
        r = self.db.execute(
            "SELECT count(c.id), count(v.embed_hash),"
            " coalesce(sum(CASE WHEN v.embed_hash IS NULL THEN c.n_tokens END), 0)"
            " FROM chunks c LEFT JOIN vectors v ON v.model=? AND v.embed_hash=c.embed_hash",
            (model,),
        ).fetchone()
        return int(r[1]), int(r[0]), int(r[2])

    def first_indexed(self) -> tuple[str, float] | None:
        """(path, when) of the file that got its meaning first."""
        r = self.db.execute(
            "SELECT path, updated_at FROM files WHERE state=? ORDER BY updated_at LIMIT 1",
            (INDEXED,),
        ).fetchone()
        return None if r is None else (str(r[0]), float(r[1]))

    def queue_rechunk(self) -> int:
        """The passage size changed: indexed files wait to be cut again, keeping their old
        passages meanwhile; files not yet embedded are simply read again."""
        self.db.execute(f"UPDATE files SET state='{PENDING}' WHERE state='{CHUNKED}'")
        cur = self.db.execute(
            f"INSERT OR IGNORE INTO rechunk(file_id) SELECT id FROM files WHERE state='{INDEXED}'"
        )
        return cur.rowcount

    def rechunk_plan(self) -> list[RechunkItem]:
        rows = self.db.execute(
            "SELECT f.id, f.root_id, f.path, f.size, f.mtime_ns, f.content_hash,"
            " (SELECT count(*) FROM chunks c WHERE c.file_id=f.id)"
            f" FROM rechunk r JOIN files f ON f.id=r.file_id WHERE f.state='{INDEXED}'"
        )
        return [RechunkItem(*r) for r in rows]

    def rechunk_left(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM rechunk").fetchone()[0])

    def drop_rechunk(self, file_id: int) -> None:
        """Not cut again (it could not be read now): it keeps the passages it has."""
        self.db.execute("DELETE FROM rechunk WHERE file_id=?", (file_id,))

    def files_in_state(self, *states: str) -> list[FileRow]:
        marks = ",".join("?" * len(states))
        rows = self.db.execute(
            f"SELECT {self._FILE_COLS} FROM files WHERE state IN ({marks}) ORDER BY id", states
        )
        return [FileRow(*r) for r in rows]

    def upsert_file(
        self,
        root_id: int,
        path: str,
        size: int,
        mtime_ns: int,
        state: str,
        *,
        content_hash: str | None = None,
        error: str | None = None,
        kind: str | None = None,
        title: str | None = None,
        n_chars: int | None = None,
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO files(root_id, path, size, mtime_ns, content_hash, state, error, kind,"
            " title, n_chars, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(path) DO UPDATE SET root_id=excluded.root_id, size=excluded.size,"
            " mtime_ns=excluded.mtime_ns, content_hash=excluded.content_hash,"
            " state=excluded.state, error=excluded.error, kind=excluded.kind,"
            " title=excluded.title, n_chars=excluded.n_chars, updated_at=excluded.updated_at"
            " RETURNING id",
            (
                root_id,
                path,
                size,
                mtime_ns,
                content_hash,
                state,
                error,
                kind,
                title,
                n_chars,
                time.time(),
            ),
        )
        file_id = int(cur.fetchone()[0])
        put_file_name(self.db, file_id)
        return file_id

    def touch_file(self, file_id: int, size: int, mtime_ns: int) -> None:
        self.db.execute(
            "UPDATE files SET size=?, mtime_ns=?, updated_at=? WHERE id=?",
            (size, mtime_ns, time.time(), file_id),
        )

    def move_file(
        self,
        file_id: int,
        root_id: int,
        new_path: str,
        size: int,
        mtime_ns: int,
        title_max: int = 120,
    ) -> None:
        """A rename or move: the same text under a new path. A title that was only the old
        file name (the document has none of its own) becomes the new name."""
        old = self.db.execute("SELECT path, title FROM files WHERE id=?", (file_id,)).fetchone()
        title = old[1] if old else None
        if old and title == Path(old[0]).stem.strip()[:title_max]:
            title = Path(new_path).stem.strip()[:title_max]
        self.db.execute(
            "UPDATE files SET root_id=?, path=?, size=?, mtime_ns=?, title=?, updated_at=?"
            " WHERE id=?",
            (root_id, new_path, size, mtime_ns, title, time.time(), file_id),
        )
        put_file_name(self.db, file_id)

    def mark_indexed(self, file_id: int) -> bool:
        """Phase 2 done; keeps the reason a file was indexed only in part, if any. False when
        the file is gone or was changed meanwhile (it is no longer chunked)."""
        cur = self.db.execute(
            "UPDATE files SET state=?, updated_at=? WHERE id=? AND state IN (?, ?)",
            (INDEXED, time.time(), file_id, CHUNKED, INDEXED),
        )
        return cur.rowcount > 0

    def set_state(self, file_id: int, state: str, error: str | None = None) -> None:
        self.db.execute(
            "UPDATE files SET state=?, error=?, updated_at=? WHERE id=?",
            (state, error, time.time(), file_id),
        )

    def chunk_ids_of(self, file_ids: Iterable[int]) -> list[int]:
        ids = list(file_ids)
        out: list[int] = []
        for part, marks in in_batches(ids):
            out += [
                r[0]
                for r in self.db.execute(f"SELECT id FROM chunks WHERE file_id IN ({marks})", part)
            ]
        return out

    def delete_files(self, file_ids: Iterable[int]) -> None:
        """Deletes files with their chunks and keyword rows (cascade + trigger), and the
        vectors no other chunk shares, in the caller's transaction: no orphan survives a
        crash between this and a later clean-up."""
        ids = list(file_ids)
        hashes = self._chunk_hashes(ids)
        self.db.executemany("DELETE FROM files WHERE id=?", [(i,) for i in ids])
        self._drop_unreferenced_vectors(hashes)

    def _chunk_hashes(self, file_ids: list[int]) -> set[str]:
        out: set[str] = set()
        for part, marks in in_batches(file_ids):
            out.update(
                r[0]
                for r in self.db.execute(
                    f"SELECT embed_hash FROM chunks WHERE file_id IN ({marks})", part
                )
            )
        return out

    def _drop_unreferenced_vectors(self, hashes: set[str]) -> None:
        self.db.executemany(
            "DELETE FROM vectors WHERE embed_hash=?"
            " AND NOT EXISTS (SELECT 1 FROM chunks WHERE embed_hash=?)",
            [(h, h) for h in hashes],
        )

    def replace_chunks(self, file_id: int, chunks: Sequence[NewChunk]) -> None:
        old = self._chunk_hashes([file_id])
        self.db.execute("DELETE FROM chunks WHERE file_id=?", (file_id,))
        self.db.execute("DELETE FROM rechunk WHERE file_id=?", (file_id,))  # cut anew
        self._insert_chunks(file_id, chunks)
        self._drop_unreferenced_vectors(old - {c.embed_hash for c in chunks})

    def _insert_chunks(self, file_id: int, chunks: Sequence[NewChunk]) -> None:
        self.db.executemany(
            "INSERT INTO chunks(file_id, ord, page, char_start, char_end, title, text,"
            " embed_hash, n_tokens, noise, page_starts) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    file_id,
                    c.ord,
                    c.page,
                    c.char_start,
                    c.char_end,
                    c.title,
                    c.text,
                    c.embed_hash,
                    c.n_tokens,
                    int(c.noise),
                    json.dumps(c.page_starts, separators=(",", ":")) if c.page_starts else None,
                )
                for c in chunks
            ],
        )

    def chunks_of(self, file_id: int) -> list[tuple[int, str, str, str, int]]:
        """(chunk id, title, text, embed_hash, n_tokens) in order."""
        return list(
            self.db.execute(
                "SELECT id, title, text, embed_hash, n_tokens FROM chunks WHERE file_id=?"
                " ORDER BY ord",
                (file_id,),
            )
        )

    # vectors -------------------------------------------------------------------------------
    def missing_vectors(self, model: str, hashes: Iterable[str]) -> set[str]:
        wanted = set(hashes)
        have: set[str] = set()
        hs = list(wanted)
        for part, marks in in_batches(hs):
            have.update(
                r[0]
                for r in self.db.execute(
                    f"SELECT embed_hash FROM vectors WHERE model=? AND embed_hash IN ({marks})",
                    [model, *part],
                )
            )
        return wanted - have

    def put_vectors(self, model: str, items: Iterable[tuple[str, NDArray[np.float32]]]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO vectors(model, embed_hash, vec) VALUES (?, ?, ?)",
            [(model, h, np.asarray(v, dtype=np.float16).tobytes()) for h, v in items],
        )

    def vectors_for_chunks(
        self, model: str, chunk_ids: Sequence[int]
    ) -> tuple[NDArray[np.uint64], NDArray[np.float32]]:
        ids: list[int] = []
        vecs: list[bytes] = []
        # CROSS JOIN keeps chunks the outer loop: from 20 ids on, SQLite's planner otherwise
        # walks every vector of the model and probes chunks (400 ids: 98 s at a million
        # passages instead of 5 ms)
        for part, marks in in_batches(chunk_ids):
            for cid, blob in self.db.execute(
                f"SELECT c.id, v.vec FROM chunks c CROSS JOIN vectors v"
                f" ON v.embed_hash=c.embed_hash"
                f" AND v.model=? WHERE c.id IN ({marks})",
                [model, *part],
            ):
                ids.append(cid)
                vecs.append(blob)
        return _to_arrays(ids, vecs)

    def indexed_vectors(
        self, model: str, batch: int = 50_000
    ) -> Iterator[tuple[NDArray[np.uint64], NDArray[np.float32]]]:
        """Every (chunk id, vector) of indexed files, in batches: the USearch rebuild source."""
        cur = self.db.execute(
            "SELECT c.id, v.vec FROM chunks c JOIN files f ON f.id=c.file_id"
            " JOIN vectors v ON v.embed_hash=c.embed_hash AND v.model=?"
            " WHERE f.state=? ORDER BY c.id",
            (model, INDEXED),
        )
        while rows := cur.fetchmany(batch):
            yield _to_arrays([r[0] for r in rows], [r[1] for r in rows])

    def gc_vectors(self) -> int:
        """Drops vectors no chunk refers to any more (deleted or rewritten text)."""
        cur = self.db.execute(
            "DELETE FROM vectors WHERE embed_hash NOT IN (SELECT embed_hash FROM chunks)"
        )
        return cur.rowcount

    # vectors per model: a switch back to a model whose vectors are kept costs nothing --------
    def vector_counts(self) -> dict[str, int]:
        """Stored vectors per model key."""
        return {
            str(m): int(n)
            for m, n in self.db.execute(
                "SELECT model, count(*) FROM vectors GROUP BY model ORDER BY model"
            )
        }

    def vector_count(self, model: str) -> int:
        """Stored vectors of one model."""
        row = self.db.execute("SELECT count(*) FROM vectors WHERE model=?", (model,)).fetchone()
        return int(row[0])

    def missing_for_model(self, model: str) -> tuple[int, int]:
        """(passages, tokens) a model still has to embed for every chunk in the catalog."""
        row = self.db.execute(
            "SELECT count(*), coalesce(sum(n), 0) FROM (SELECT max(c.n_tokens) AS n"
            " FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.model=?"
            " AND v.embed_hash=c.embed_hash) GROUP BY c.embed_hash)",
            (model,),
        ).fetchone()
        return int(row[0]), int(row[1])

    def drop_vectors_except(self, keep: Iterable[str]) -> int:
        """Deletes the vectors of every model not in keep (in the caller's transaction)."""
        kept = sorted(set(keep))
        marks = ",".join("?" * len(kept)) or "''"
        return self.db.execute(f"DELETE FROM vectors WHERE model NOT IN ({marks})", kept).rowcount

    def vacuum(self) -> None:
        """Gives freed pages back to the file system (after a prune), then empties the WAL."""
        self.db.execute("VACUUM")
        self.checkpoint(truncate=True)

    # for the benchmark, which copies real passages to reach a size -------------------------
    def embedded_chunks(self, model: str) -> list[tuple[str, str, str, int, bytes]]:
        """(embed hash, title, text, tokens, f16 vector) of every chunk with a vector for
        `model`, in chunk order."""
        return [
            (str(h), str(t), str(x), int(n), bytes(v))
            for h, t, x, n, v in self.db.execute(
                "SELECT c.embed_hash, c.title, c.text, c.n_tokens, v.vec FROM chunks c"
                " JOIN vectors v ON v.embed_hash=c.embed_hash AND v.model=? ORDER BY c.id",
                (model,),
            )
        ]

    def sample_texts(self, limit: int) -> list[str]:
        """The text of up to `limit` chunks."""
        return [str(r[0]) for r in self.db.execute("SELECT text FROM chunks LIMIT ?", (limit,))]

    # the query lane's reads: keyword candidates, names, candidate rows, shown text ----------
    # An FTS5 expression the index cannot read raises sqlite3.OperationalError: the searcher
    # decides whether that is the person's error or just no exact match.
    def bm25(self, expr: str, title_weight: float, limit: int) -> dict[int, float]:
        """The best `limit` passages for an FTS5 expression by BM25, higher = better."""
        rows = self.db.execute(
            "SELECT rowid, bm25(chunks_fts, ?, 1.0) AS s FROM chunks_fts"
            " WHERE chunks_fts MATCH ? ORDER BY s LIMIT ?",
            (title_weight, expr, limit),
        ).fetchall()
        return {int(cid): -float(sc) for cid, sc in rows}  # FTS5's bm25 is lower = better

    def matching_chunks(self, expr: str, limit: int) -> list[tuple[int, int]]:
        """(chunk id, file id) of up to `limit` passages matching, unranked."""
        rows = self.db.execute(
            "SELECT c.id, c.file_id FROM chunks c WHERE c.id IN (SELECT rowid FROM"
            " chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
            (expr, limit),
        ).fetchall()
        return [(int(c), int(f)) for c, f in rows]

    def chunks_matching(self, expr: str, chunk_ids: set[int]) -> set[int]:
        """Which of these chunks match an FTS5 expression (same tokenizer and stemmer as the
        keyword index, so "heart attacks" finds the phrase "heart attack")."""
        out: set[int] = set()
        for part, marks in in_batches(sorted(chunk_ids)):
            out.update(
                int(r[0])
                for r in self.db.execute(
                    f"SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid IN ({marks})",
                    (expr, *part),
                )
            )
        return out

    def files_matching(self, expr: str, file_ids: set[int]) -> set[int]:
        """Which of these files have any chunk matching an FTS5 expression."""
        out: set[int] = set()
        for part, marks in in_batches(sorted(file_ids)):
            out.update(
                int(r[0])
                for r in self.db.execute(
                    f"SELECT DISTINCT c.file_id FROM chunks c WHERE c.file_id IN ({marks})"
                    " AND c.id IN (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?)",
                    (*part, expr),
                )
            )
        return out

    def has_names(self) -> bool:
        """Has this catalog the keyword index of file names (a home a writer opened since)?"""
        if self._has_names is None:
            self._has_names = has_names_index(self.db)
        return self._has_names

    def names_bm25(self, expr: str, limit: int) -> dict[int, float]:
        """BM25 of file and folder names (names_fts) by file id, higher = better."""
        rows = self.db.execute(
            "SELECT rowid, bm25(names_fts) AS s FROM names_fts"
            " WHERE names_fts MATCH ? ORDER BY s LIMIT ?",
            (expr, limit),
        )
        return {int(f): -float(sc) for f, sc in rows}

    def file_ids_named(self, expr: str, limit: int) -> list[int]:
        """Up to `limit` file ids whose names match an FTS5 expression."""
        rows = self.db.execute(
            "SELECT rowid FROM names_fts WHERE names_fts MATCH ? LIMIT ?", (expr, limit)
        ).fetchall()
        return [int(r[0]) for r in rows]

    def first_chunks(self, file_ids: Sequence[int]) -> dict[int, int]:
        """Each file's first passage, by file id."""
        out: dict[int, int] = {}
        for part, marks in in_batches(file_ids):
            for fid, cid in self.db.execute(
                f"SELECT file_id, min(id) FROM chunks WHERE file_id IN ({marks}) GROUP BY file_id",
                part,
            ):
                out[int(fid)] = int(cid)
        return out

    def file_ids_of(self, chunk_ids: Sequence[int]) -> dict[int, int]:
        """The file of each chunk that still exists, by chunk id."""
        found: dict[int, int] = {}
        for part, marks in in_batches(chunk_ids):
            found.update(
                (int(c), int(f))
                for c, f in self.db.execute(
                    f"SELECT id, file_id FROM chunks WHERE id IN ({marks})", part
                )
            )
        return found

    def chunk_rows(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
        """Position and file of each candidate passage, by chunk id (no text)."""
        if self._has_noise is None:  # a home not yet opened by a writer since the upgrade
            self._has_noise = has_noise_flags(self.db)
        noise = "c.noise" if self._has_noise else "0"
        info: dict[int, ChunkRow] = {}
        for part, marks in in_batches(chunk_ids):
            for row in self.db.execute(
                "SELECT c.id, c.file_id, c.page, c.char_start, c.char_end, f.path,"
                f" f.title, f.kind, f.mtime_ns, f.size, f.state, {noise}"
                f" FROM chunks c JOIN files f ON f.id=c.file_id WHERE c.id IN ({marks})",
                part,
            ):
                info[int(row[0])] = ChunkRow(*row[1:])
        return info

    def chunk_texts(self, chunk_ids: Sequence[int]) -> dict[int, ChunkText]:
        """Text of the few passages shown or reranked, by chunk id."""
        out: dict[int, ChunkText] = {}
        for part, marks in in_batches(chunk_ids):
            for cid, text, title, h, starts in self.db.execute(
                "SELECT id, text, title, embed_hash, page_starts FROM chunks"
                f" WHERE id IN ({marks})",
                part,
            ):
                out[int(cid)] = ChunkText(text, title, h, starts)
        return out

    # stats ---------------------------------------------------------------------------------
    def counts_by_state(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for state, n in self.db.execute("SELECT state, count(*) FROM files GROUP BY state"):
            counts[state] = n
        return counts

    def chunk_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def token_count(self) -> int:
        """Tokens of every passage: what re-embedding the whole index costs, in model work."""
        return int(self.db.execute("SELECT coalesce(sum(n_tokens), 0) FROM chunks").fetchone()[0])

    def problems(self) -> list[tuple[str, str, str]]:
        """(path, state, reason) of every failed or skipped file, and of every file indexed
        only in part (state "partial": truncated, timed out, pages without text...)."""
        return list(
            self.db.execute(
                "SELECT path, CASE WHEN state IN (?, ?) THEN state ELSE ? END,"
                " coalesce(error, '') FROM files"
                " WHERE state IN (?, ?) OR (state IN (?, ?) AND error IS NOT NULL)"
                " ORDER BY path",
                (FAILED, SKIPPED, PARTIAL, FAILED, SKIPPED, CHUNKED, INDEXED),
            )
        )

    # file names --------------------------------------------------------------------------
    def sync_other_files(self, root_id: int, found: Iterable[tuple[str, int, int]]) -> None:
        """The root's files of a type with no text, as the walk just found them (path, size,
        mtime_ns): new ones added, changed ones updated, vanished ones dropped."""
        rows = [(root_id, p, size, mtime) for p, size, mtime in found]
        self._replace_other_files("root_id=?", (root_id,), rows)

    def sync_other_files_at(self, path: str, found: Sequence[tuple[int, str, int, int]]) -> None:
        """What the watcher saw at `path` (a file, or a folder and everything under it):
        (root_id, path, size, mtime_ns) of the files with no text to read found there now."""
        prefix = path.rstrip(os.sep) + os.sep
        self._replace_other_files(
            "path=? OR substr(path, 1, ?)=?", (path, len(prefix), prefix), found
        )

    def _replace_other_files(
        self, where: str, args: tuple[object, ...], found: Sequence[tuple[int, str, int, int]]
    ) -> None:
        """The other_files rows matching `where` become `found` (root_id, path, size,
        mtime_ns); no transaction at all when nothing changed (a scan of a quiet folder)."""
        now = {f[1]: f for f in found}
        known = {
            r[1]: tuple(r)
            for r in self.db.execute(
                f"SELECT root_id, path, size, mtime_ns FROM other_files WHERE {where}", args
            )
        }
        gone = [(p,) for p in known if p not in now]
        new = [f for p, f in now.items() if known.get(p) != tuple(f)]
        if not gone and not new:
            return
        with self.transaction():
            self.db.executemany("DELETE FROM other_files WHERE path=?", gone)
            self.db.executemany(
                "INSERT INTO other_files(root_id, path, size, mtime_ns) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(path) DO UPDATE SET root_id=excluded.root_id, size=excluded.size,"
                " mtime_ns=excluded.mtime_ns",
                new,
            )

    def files_named(self, words: Sequence[str], limit: int) -> list[NamedFile]:
        """Files of any state, and files with no text to read, whose name holds every one of
        `words` of three letters or more (case-insensitive), the latest added first (the
        index gives them in that order, so a common word stops at `limit` at once): found
        through the trigram index of names (name_grams), or a scan of the paths in a home
        opened before it was built. A superset the caller narrows (shorter words, letters
        past ASCII)."""
        grams = [w for w in words if len(w) >= 3]
        if not grams:
            return []  # one or two letters are in nearly every name
        cols = "path, size, mtime_ns, {state}, {error}, {kind}, {title}, {text}"
        text = "EXISTS (SELECT 1 FROM chunks c WHERE c.file_id=f.id)"
        files_cols = cols.format(
            state="f.state", error="f.error", kind="f.kind", title="f.title", text=text
        )
        other_cols = cols.format(state="?", error="NULL", kind="NULL", title="NULL", text="0")
        if self._has_table("name_grams"):
            expr = " AND ".join('"' + w.replace('"', '""') + '"' for w in grams)
            rows = self.db.execute(
                f"SELECT {files_cols} FROM name_grams g JOIN files f ON f.id=g.rowid"
                " WHERE name_grams MATCH ? ORDER BY g.rowid DESC LIMIT ?",
                (expr, limit),
            ).fetchall()
            rows += self.db.execute(
                f"SELECT {other_cols} FROM name_grams g JOIN other_files o ON o.id=-g.rowid"
                " WHERE name_grams MATCH ? AND g.rowid < 0 ORDER BY g.rowid LIMIT ?",
                (OTHER, expr, limit),
            ).fetchall()
        else:
            like = " AND ".join(["path LIKE ? ESCAPE '\\'"] * len(grams))
            args = [f"%{_like_escape(w)}%" for w in grams]
            rows = self.db.execute(
                f"SELECT {files_cols} FROM files f WHERE {like} ORDER BY mtime_ns DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
            if self._has_table("other_files"):
                rows += self.db.execute(
                    f"SELECT {other_cols} FROM other_files WHERE {like}"
                    " ORDER BY mtime_ns DESC LIMIT ?",
                    (OTHER, *args, limit),
                ).fetchall()
        return [
            NamedFile(
                path=r[0],
                size=r[1],
                mtime_ns=r[2],
                state=r[3],
                error=r[4],
                kind=r[5],
                title=r[6],
                has_text=bool(r[7]),
            )
            for r in rows
        ]

    def folders(self, limit: int = 5_000) -> list[str]:
        """The folders that directly hold a file the walk saw, sorted (for a folder filter).
        rtrim(path, <every character but the separator>) cuts a path back to its folder."""
        sql = "SELECT DISTINCT rtrim(path, replace(path, ?, '')) FROM {} LIMIT ?"
        sep = os.sep
        got = {r[0] for r in self.db.execute(sql.format("files"), (sep, limit))}
        if self._has_table("other_files"):
            got |= {r[0] for r in self.db.execute(sql.format("other_files"), (sep, limit))}
        return sorted(f.rstrip(sep) for f in got if f)

    def _has_table(self, name: str) -> bool:
        """A reader can open a home made before the table was (the writer adds it on open)."""
        return (
            self.db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)
            ).fetchone()
            is not None
        )


def _like_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _to_arrays(
    ids: list[int], blobs: list[bytes]
) -> tuple[NDArray[np.uint64], NDArray[np.float32]]:
    keys = np.asarray(ids, dtype=np.uint64)
    if not blobs:
        return keys, np.zeros((0, 0), dtype=np.float32)
    mat = np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), -1)
    return keys, mat.astype(np.float32)


def consistency_problems(
    catalog: Catalog, vindex: VectorIndex | None = None, model: str | None = None
) -> list[str]:
    """Checks the rules that keep SQLite, FTS5 and USearch in step; [] when all hold.

    - SQLite's own integrity check, and FTS5's (its index agrees with the chunks table);
    - every chunk belongs to a file that exists and is chunked or indexed, once per position;
    - every chunk of an indexed file has a stored vector for the active model;
    - no stored vector is unreferenced; no file lies outside its root, none twice;
    - the vector index holds exactly the chunks of indexed files.
    """
    db = catalog.db
    out: list[str] = []
    rows = [r[0] for r in db.execute("PRAGMA integrity_check")]
    if rows != ["ok"]:
        out.append("sqlite integrity: " + "; ".join(map(str, rows[:5])))
    fts = _fts_integrity(catalog)
    if fts:
        out.append(f"fts5 integrity: {fts}")
    model = model or catalog.get_meta("model_key")

    def count(sql: str, *args: object) -> int:
        return int(db.execute(sql, args).fetchone()[0])

    checks = [
        (
            "chunks without a file",
            count("SELECT count(*) FROM chunks WHERE file_id NOT IN (SELECT id FROM files)"),
        ),
        (
            "chunks of files that are not chunked or indexed",
            count(
                "SELECT count(*) FROM chunks c JOIN files f ON f.id=c.file_id"
                " WHERE f.state NOT IN (?, ?)",
                CHUNKED,
                INDEXED,
            ),
        ),
        (
            "chunk positions taken twice",
            count(
                "SELECT count(*) FROM (SELECT 1 FROM chunks GROUP BY file_id, ord"
                " HAVING count(*) > 1)"
            ),
        ),
        (
            "keyword rows that differ in number from chunks",
            abs(
                count("SELECT count(*) FROM chunks_fts_docsize")
                - count("SELECT count(*) FROM chunks")
            ),
        ),
        (
            "files without a root",
            count("SELECT count(*) FROM files WHERE root_id NOT IN (SELECT id FROM roots)"),
        ),
        (
            "files outside their root",
            count(
                "SELECT count(*) FROM files f JOIN roots r ON r.id=f.root_id"
                " WHERE substr(f.path, 1, length(r.path) + 1) <> r.path || ?",
                os.sep,
            ),
        ),
        (
            "files in an unknown state",
            count(
                f"SELECT count(*) FROM files WHERE state NOT IN ({','.join('?' * len(STATES))})",
                *STATES,
            ),
        ),
        (
            "vectors no chunk refers to",
            count(
                "SELECT count(*) FROM vectors WHERE embed_hash NOT IN"
                " (SELECT embed_hash FROM chunks)"
            ),
        ),
    ]
    if model:
        checks.append(
            (
                "chunks of indexed files without a vector",
                count(
                    "SELECT count(*) FROM chunks c JOIN files f ON f.id=c.file_id WHERE f.state=?"
                    " AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.model=? AND"
                    " v.embed_hash=c.embed_hash)",
                    INDEXED,
                    model,
                ),
            )
        )
    out += [f"{what}: {n}" for what, n in checks if n]
    if vindex is not None:
        wanted = {
            int(r[0])
            for r in db.execute(
                "SELECT c.id FROM chunks c JOIN files f ON f.id=c.file_id WHERE f.state=?",
                (INDEXED,),
            )
        }
        have = vindex.keys()
        if len(have) != len(vindex):
            out.append(f"vector index: {len(vindex) - len(have)} keys held twice")
        if have - wanted:
            out.append(f"vector index: {len(have - wanted)} vectors of no indexed chunk")
        if wanted - have:
            out.append(f"vector index: {len(wanted - have)} indexed chunks missing")
    return out


def _fts_integrity(catalog: Catalog) -> str | None:
    """FTS5's own check that its index matches the chunks table. It is an INSERT, which a
    read-only connection refuses: then it runs on a short-lived side connection, while the
    read-only one stays open so that closing the side one does not checkpoint the WAL."""
    check = "INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)"
    db = catalog.db
    side: sqlite3.Connection | None = None
    if catalog.readonly:
        try:
            side = db = sqlite3.connect(catalog.path, timeout=30)
        except sqlite3.Error:
            return None
    was_in_transaction = db.in_transaction
    try:
        db.execute(check)
        return None
    except sqlite3.DatabaseError as e:
        if any(w in str(e) for w in ("readonly", "read-only", "disk I/O", "disk is full")):
            return None  # a read-only or full disk: this check needs a write lock, skipped
        return str(e)
    finally:
        # sqlite3 opened a transaction for the INSERT by itself: it changed nothing, end it
        if db.in_transaction and not was_in_transaction:
            db.rollback()
        if side is not None:
            side.close()


# --- salvage: what `desktop-search repair` reads from a damaged catalog ---------------------
# Every read is by key range, and a range that SQLite cannot read is split until the unreadable
# rows are isolated and skipped: a bad page costs the rows on it, not the table.

SALVAGE_TABLES: dict[str, tuple[str, ...]] = {
    "meta": ("key", "value"),
    "roots": ("id", "path", "includes", "excludes", "added_at"),
    "files": (
        "id",
        "root_id",
        "path",
        "size",
        "mtime_ns",
        "content_hash",
        "state",
        "error",
        "kind",
        "title",
        "n_chars",
        "updated_at",
    ),
    "chunks": (
        "id",
        "file_id",
        "ord",
        "page",
        "char_start",
        "char_end",
        "title",
        "text",
        "embed_hash",
        "n_tokens",
    ),
}
_SALVAGE_BLOCK = 256
_NO_MAX_ROWID = 1 << 16  # where probing stops when no max(rowid) can be read at all


@dataclass
class Salvage:
    """What could be read from a damaged catalog, table by table."""

    rows: dict[str, list[tuple[object, ...]]]
    vectors: list[tuple[str, str, bytes]]
    unreadable: dict[str, set[int]]  # rowids whose lookup failed, per table

    def lost(self) -> int:
        return sum(len(v) for v in self.unreadable.values())


def _query(
    db: sqlite3.Connection, sql: str, args: Sequence[object] = ()
) -> list[tuple[object, ...]] | None:
    try:
        return list(db.execute(sql, args).fetchall())
    except sqlite3.Error:  # a damaged page, or text that no longer decodes
        return None


def _salvage_rowids(
    db: sqlite3.Connection, table: str, cols: tuple[str, ...], bad: set[int]
) -> list[tuple[object, ...]]:
    sql = f"SELECT rowid, {', '.join(cols)} FROM {table} WHERE rowid BETWEEN ? AND ?"
    # the largest rowid, from the table or, when its last page is unreadable, from any of
    # its indexes (each entry holds the rowid) or from the AUTOINCREMENT counter
    probes = [f"SELECT max(rowid) FROM {table}", "SELECT seq FROM sqlite_sequence WHERE name=?"]
    for (index,) in (
        _query(db, "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name=?", (table,))
        or []
    ):
        probes.append(f'SELECT max(rowid) FROM {table} INDEXED BY "{index}"')
    tops = [
        r[0]
        for q in probes
        for r in (_query(db, q, (table,) if "?" in q else ()) or [])
        if isinstance(r[0], int)
    ]
    hi = max(tops, default=_NO_MAX_ROWID)
    out: list[tuple[object, ...]] = []
    stack = [(max(1, b - _SALVAGE_BLOCK + 1), b) for b in range(hi, 0, -_SALVAGE_BLOCK)]
    while stack:
        a, b = stack.pop()
        rows = _query(db, sql, (a, b))
        if rows is not None:
            out += [r[1:] for r in rows]
        elif a == b:
            bad.add(a)
        else:
            mid = (a + b) // 2
            stack += [(mid + 1, b), (a, mid)]
    return out


def _salvage_vectors(db: sqlite3.Connection, models: Iterable[str]) -> list[tuple[str, str, bytes]]:
    """vectors has no rowid: read by model and by prefix of the (hex) content hash."""
    found = set(models)
    m = _query(db, "SELECT model FROM vectors ORDER BY model LIMIT 1")
    while m:
        found.add(str(m[0][0]))
        m = _query(
            db, "SELECT model FROM vectors WHERE model > ? ORDER BY model LIMIT 1", (m[0][0],)
        )
    out: list[tuple[str, str, bytes]] = []
    sql = "SELECT embed_hash, vec FROM vectors WHERE model=? AND embed_hash >= ? AND embed_hash < ?"
    for model in sorted(found):
        stack = [f"{i:02x}" for i in range(255, -1, -1)]
        while stack:
            prefix = stack.pop()
            rows = _query(db, sql, (model, prefix, prefix + "g"))
            if rows is not None:
                out += [
                    (model, str(h), bytes(v))
                    for h, v in rows
                    if isinstance(h, str) and isinstance(v, bytes)
                ]
            elif len(prefix) < 5:
                stack += [prefix + c for c in reversed("0123456789abcdef")]
    return out


def salvage(db: sqlite3.Connection) -> Salvage:
    """Reads every row that can still be read from a (damaged) catalog connection."""
    rows: dict[str, list[tuple[object, ...]]] = {}
    bad: dict[str, set[int]] = {}
    for table, cols in SALVAGE_TABLES.items():
        bad[table] = set()
        rows[table] = _salvage_rowids(db, table, cols, bad[table])
    models = [str(r[1]) for r in rows["meta"] if r[0] == "model_key"]  # (key, value)
    return Salvage(rows, _salvage_vectors(db, models), bad)


def restore(catalog: Catalog, got: Salvage, dims: int | None) -> dict[str, int]:
    """Writes what was salvaged into a fresh catalog, keeping only rows that fit together
    (a file needs its root, a chunk its file); a file with chunks lost is set to be indexed
    again, and one whose vectors were lost to be embedded again (its chunks stay). Every
    readable vector is kept, so re-indexing embeds only text whose vector was lost. Returns
    the counts kept."""
    db = catalog.db
    meta = {str(k): str(v) for k, v in got.rows["meta"] if isinstance(k, str)}
    roots = [
        r
        for r in got.rows["roots"]
        if isinstance(r[0], int)
        and isinstance(r[1], str)
        and isinstance(r[2], str)
        and isinstance(r[3], str)
    ]
    root_ids = {r[0] for r in roots}
    files = [
        r
        for r in got.rows["files"]
        if r[1] in root_ids
        and isinstance(r[2], str)
        and isinstance(r[3], int)
        and isinstance(r[4], int)
        and r[6] in STATES
    ]
    file_ids = {r[0] for r in files}
    chunks = [
        r
        for r in got.rows["chunks"]
        if r[1] in file_ids and isinstance(r[7], str) and isinstance(r[8], str)
    ]
    width = 2 * dims if dims else None
    vectors = [
        v
        for v in got.vectors
        if width is None or len(v[2]) == width or v[0] != meta.get("model_key")
    ]
    by_file: dict[object, list[tuple[object, ...]]] = {}
    for c in chunks:
        by_file.setdefault(c[1], []).append(c)
    lost_chunk_ids = got.unreadable["chunks"]
    redo: set[object] = set()
    for r in files:
        own = by_file.get(r[0], [])
        if r[6] not in (CHUNKED, INDEXED):
            if own:
                redo.add(r[0])
            continue
        ords = sorted(int(str(c[2])) for c in own)
        ids = [int(str(c[0])) for c in own]
        if ords != list(range(len(ords))) or not own or max(ids) + 1 in lost_chunk_ids:
            redo.add(r[0])
    with catalog.transaction():
        db.execute("DELETE FROM meta")
        db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", list(meta.items()))
        catalog.set_meta("schema_version", str(SCHEMA_VERSION))
        catalog.set_meta("generation", str(int(meta.get("generation", "0") or 0) + 1))
        db.executemany(
            "INSERT OR IGNORE INTO roots(id, path, includes, excludes, added_at)"
            " VALUES (?,?,?,?,?)",
            roots,
        )
        db.executemany(
            "INSERT OR IGNORE INTO files(id, root_id, path, size, mtime_ns, content_hash,"
            " state, error, kind, title, n_chars, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [(*r[:6], PENDING if r[0] in redo else r[6], *r[7:]) for r in files],
        )
        kept = [c for c in chunks if c[1] not in redo]
        db.executemany(
            "INSERT OR IGNORE INTO chunks(id, file_id, ord, page, char_start, char_end, title,"
            " text, embed_hash, n_tokens) VALUES (?,?,?,?,?,?,?,?,?,?)",
            kept,
        )
        db.executemany(
            "INSERT OR IGNORE INTO vectors(model, embed_hash, vec) VALUES (?,?,?)", vectors
        )
        model = meta.get("model_key")
        if model:  # indexed files with a vector lost: back to chunked, embedded on resume
            db.execute(
                "UPDATE files SET state=? WHERE state=? AND id IN (SELECT c.file_id FROM"
                " chunks c WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.model=?"
                " AND v.embed_hash=c.embed_hash))",
                (CHUNKED, INDEXED, model),
            )
        db.execute("DELETE FROM meta WHERE key='names_version'")
    with db:  # the file-name index is derived: rebuilt from the salvaged files
        ensure_ranking_schema(db)
    return {
        "roots": int(db.execute("SELECT count(*) FROM roots").fetchone()[0]),
        "files": int(
            db.execute("SELECT count(*) FROM files WHERE state<>?", (PENDING,)).fetchone()[0]
        ),
        "chunks": int(db.execute("SELECT count(*) FROM chunks").fetchone()[0]),
        "vectors": int(db.execute("SELECT count(*) FROM vectors").fetchone()[0]),
        "redo": len(redo),
    }


def salvage_file(path: Path) -> Salvage:
    """salvage() of the catalog file at `path` (a scratch copy of a damaged one)."""
    try:
        db = sqlite3.connect(path)
    except sqlite3.Error as e:
        raise IndexFailure(f"cannot read the damaged catalog at all: {e}") from e
    try:
        return salvage(db)
    finally:
        db.close()


def fresh_header(page_size: int) -> bytearray:
    """The first 100 bytes (the file header) of a new WAL catalog with this page size."""
    with tempfile.TemporaryDirectory() as d:
        fresh = Path(d) / "fresh.sqlite3"
        db = sqlite3.connect(fresh)
        db.execute(f"PRAGMA page_size={page_size}")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t(x)")
        db.close()
        return bytearray(fresh.read_bytes()[:100])


def schema_readable(path: Path) -> bool:
    """Can SQLite read this file's schema (its header and first page make sense)?"""
    db = sqlite3.connect(path)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return True
    except sqlite3.DatabaseError:
        return False
    finally:
        db.close()


def table_names(path: Path) -> set[str] | None:
    """The names in this file's schema, or None when it cannot be read."""
    try:
        db = sqlite3.connect(path)
        names = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master")}
        db.close()
    except sqlite3.Error:
        return None
    return names


def quick_check(path: Path) -> bool:
    """True when SQLite reads the file back whole (quick_check and FTS5's own check)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return False
    try:
        if [r[0] for r in db.execute("PRAGMA quick_check")] != ["ok"]:
            return False
        for table in SALVAGE_TABLES:  # every row's text must decode too
            for _row in db.execute(f"SELECT * FROM {table}"):
                pass
        return True
    except sqlite3.Error:
        return False
    finally:
        db.close()


# --- the ranking's parts of the schema: noise flags and the keyword index of file names -------
# Added to existing homes in place: a column computed from the stored text and a small FTS5
# table filled from the files table, so an old home opens and searches without re-embedding.
# Names are written from Python (upsert_file, move_file: camelCase and title words need it);
# only the delete is a trigger, in plain SQL, so an older release opening this home still
# works (its new files just go without name words) and a removed folder's names go with it.

NAMES_VERSION = "3"  # bump when name_words changes: names_fts is rebuilt on open (no embedding)
_NAMES_SCHEMA = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS names_fts USING fts5(name, tokenize='{FTS_TOKENIZE}');
CREATE TRIGGER IF NOT EXISTS names_ad AFTER DELETE ON files BEGIN
    DELETE FROM names_fts WHERE rowid=old.id;
END;
"""
_NAME_TOKEN = re.compile(r"[^\W_]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d{2,})")


def name_words(path: str, root: str | None, title: str | None = None) -> str:
    """What a file's name says, as words: the stem and the folders under its root, split on
    _ - . and spaces (FTS5 does that) and at camelCase ("QuarterlyReport2022" also gives
    "Quarterly Report 2022"). The unsplit name is kept, so "token216q.txt" is found as is.
    Words of the title are left out: every passage's title is in the keyword index already
    (and a file named by its title would count them twice: SciFact lost 0.008 nDCG@10)."""
    p = Path(path)
    try:
        folders = list(p.parent.relative_to(root).parts) if root else []
    except ValueError:
        folders = []
    known = set(_NAME_TOKEN.findall((title or "").lower()))
    words: list[str] = []
    split: list[str] = []
    for word in " ".join([p.stem, *folders]).split():
        if known and set(_NAME_TOKEN.findall(word.lower())) <= known:
            continue  # the title says it already, and its camelCase parts with it
        words.append(word)
        cut = _CAMEL.sub(" ", word)
        if cut != word:
            split.append(cut)
    return " ".join(words + split)


def _basename(path: str) -> str:
    """SQL for the last part of a path: rtrim strips every character but the separator."""
    return f"substr({path}, length(rtrim({path}, replace({path}, '{os.sep}', ''))) + 1)"


# Names by substring (name_match): a trigram index of the name of every file the walk saw,
# so "Prot_SAP" or "beach-holi" is found without reading every path. rowid: files.id, or
# minus other_files.id.
_GRAMS_SCHEMA = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS name_grams USING fts5(name, tokenize='trigram');
CREATE TRIGGER IF NOT EXISTS name_grams_fi AFTER INSERT ON files BEGIN
    INSERT INTO name_grams(rowid, name) VALUES (new.id, {_basename("new.path")});
END;
CREATE TRIGGER IF NOT EXISTS name_grams_fu AFTER UPDATE OF path ON files BEGIN
    DELETE FROM name_grams WHERE rowid=old.id;
    INSERT INTO name_grams(rowid, name) VALUES (new.id, {_basename("new.path")});
END;
CREATE TRIGGER IF NOT EXISTS name_grams_fd AFTER DELETE ON files BEGIN
    DELETE FROM name_grams WHERE rowid=old.id;
END;
CREATE TRIGGER IF NOT EXISTS name_grams_oi AFTER INSERT ON other_files BEGIN
    INSERT INTO name_grams(rowid, name) VALUES (-new.id, {_basename("new.path")});
END;
CREATE TRIGGER IF NOT EXISTS name_grams_ou AFTER UPDATE OF path ON other_files BEGIN
    DELETE FROM name_grams WHERE rowid=-old.id;
    INSERT INTO name_grams(rowid, name) VALUES (-new.id, {_basename("new.path")});
END;
CREATE TRIGGER IF NOT EXISTS name_grams_od AFTER DELETE ON other_files BEGIN
    DELETE FROM name_grams WHERE rowid=-old.id;
END;
"""


def ensure_name_grams(db: sqlite3.Connection) -> None:
    """Builds the trigram index of names in a catalog that has none (a home made before it),
    from the paths it holds. An SQLite without the trigram tokenizer (before 3.34) keeps
    finding names by scanning the paths."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE name='name_grams'").fetchone():
        return
    try:
        db.executescript(_GRAMS_SCHEMA)
    except sqlite3.OperationalError as e:
        if "trigram" in str(e):
            return
        raise
    db.execute(f"INSERT INTO name_grams(rowid, name) SELECT id, {_basename('path')} FROM files")
    db.execute(
        f"INSERT INTO name_grams(rowid, name) SELECT -id, {_basename('path')} FROM other_files"
    )


def ensure_ranking_schema(db: sqlite3.Connection) -> None:
    """Adds what ranking needs to an older catalog, inside the caller's transaction."""
    cols = {r[1] for r in db.execute("PRAGMA table_info(chunks)")}
    if "noise" not in cols:
        from .chunking import is_noise

        db.execute("ALTER TABLE chunks ADD COLUMN noise INTEGER NOT NULL DEFAULT 0")
        flagged = [
            (cid,)
            for cid, text, n in db.execute("SELECT id, text, n_tokens FROM chunks")
            if is_noise(text, n)
        ]
        db.executemany("UPDATE chunks SET noise=1 WHERE id=?", flagged)
    had_names = db.execute("SELECT 1 FROM sqlite_master WHERE name='names_fts'").fetchone()
    row = db.execute("SELECT value FROM meta WHERE key='names_version'").fetchone()
    if had_names and (row is None or row[0] != NAMES_VERSION):
        for t in ("names_ai", "names_au", "names_ad", "names_fts"):  # rebuilt: words changed
            db.execute(f"DROP {'TABLE' if t == 'names_fts' else 'TRIGGER'} IF EXISTS {t}")
        had_names = None
    db.executescript(_NAMES_SCHEMA)
    if not had_names:
        db.executemany(
            "INSERT INTO names_fts(rowid, name) VALUES (?, ?)",
            [
                (fid, name_words(path, root, title))
                for fid, path, root, title in db.execute(
                    "SELECT f.id, f.path, r.path, f.title FROM files f"
                    " LEFT JOIN roots r ON r.id=f.root_id"
                ).fetchall()
            ],
        )
        db.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('names_version', ?)", (NAMES_VERSION,)
        )


def put_file_name(db: sqlite3.Connection, file_id: int) -> None:
    """The file's row of names_fts, from its path, root and title (see name_words)."""
    row = db.execute(
        "SELECT f.path, r.path, f.title FROM files f LEFT JOIN roots r"
        " ON r.id=f.root_id WHERE f.id=?",
        (file_id,),
    ).fetchone()
    db.execute("DELETE FROM names_fts WHERE rowid=?", (file_id,))
    if row is not None:
        db.execute(
            "INSERT INTO names_fts(rowid, name) VALUES (?, ?)",
            (file_id, name_words(row[0], row[1], row[2])),
        )


def has_noise_flags(db: sqlite3.Connection) -> bool:
    return any(r[1] == "noise" for r in db.execute("PRAGMA table_info(chunks)"))


def has_names_index(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name='names_fts'").fetchone() is not None
