"""Catalog (SQLite, the source of truth) and VectorIndex (USearch, a derived, rebuildable cache).

SQLite holds roots, files, chunks, chunk vectors (keyed by model and content hash, so a rename or
an unchanged re-save never re-embeds) and the FTS5 keyword index. The USearch file is saved
atomically under a name that carries the catalog generation it reflects; on open, a file whose
generation does not match is rebuilt from the stored vectors, never by re-embedding.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from .errors import IndexError_

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
    n_tokens INTEGER NOT NULL
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
class NewChunk:
    ord: int
    page: int | None
    char_start: int
    char_end: int
    title: str
    text: str
    embed_hash: str
    n_tokens: int


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection, also for a home the user cannot write (a read-only mount, a
    locked-down copy): there SQLite cannot create the WAL index, so when no WAL is pending the
    database file alone is the whole truth and is opened as immutable."""
    if not path.exists():
        raise IndexError_(f"no index at {path.parent}: add a folder and run `index`")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=30)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        db.close()
    wal = Path(str(path) + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise IndexError_(
            f"cannot read the index at {path.parent}: it was not closed cleanly and the folder "
            "is read-only; open it once with write access to recover it"
        )
    return sqlite3.connect(
        f"file:{path}?immutable=1", uri=True, check_same_thread=False, timeout=30
    )


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
                self._migrate()
                for suffix in ("", "-wal", "-shm"):
                    _private_file(Path(str(path) + suffix))
        except sqlite3.DatabaseError as e:
            raise IndexError_(f"cannot open the catalog {path}: {e}") from e

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        with self.db:
            self.db.executescript(_SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                self.db.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            elif int(row[0]) > SCHEMA_VERSION:
                raise IndexError_(
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

    # files ---------------------------------------------------------------------------------
    _FILE_COLS = "id, root_id, path, size, mtime_ns, content_hash, state, error, kind, title"

    def files_under(self, root_id: int) -> dict[str, FileRow]:
        rows = self.db.execute(f"SELECT {self._FILE_COLS} FROM files WHERE root_id=?", (root_id,))
        return {r[2]: FileRow(*r) for r in rows}

    def file_by_path(self, path: str) -> FileRow | None:
        r = self.db.execute(f"SELECT {self._FILE_COLS} FROM files WHERE path=?", (path,)).fetchone()
        return None if r is None else FileRow(*r)

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
                root_id, path, size, mtime_ns, content_hash, state, error, kind, title, n_chars,
                time.time(),
            ),
        )
        return int(cur.fetchone()[0])

    def touch_file(self, file_id: int, size: int, mtime_ns: int) -> None:
        self.db.execute(
            "UPDATE files SET size=?, mtime_ns=?, updated_at=? WHERE id=?",
            (size, mtime_ns, time.time(), file_id),
        )

    def move_file(
        self, file_id: int, root_id: int, new_path: str, size: int, mtime_ns: int
    ) -> None:
        self.db.execute(
            "UPDATE files SET root_id=?, path=?, size=?, mtime_ns=?, updated_at=? WHERE id=?",
            (root_id, new_path, size, mtime_ns, time.time(), file_id),
        )

    def mark_indexed(self, file_id: int) -> None:
        """Phase 2 done; keeps the reason a file was indexed only in part, if any."""
        self.db.execute(
            "UPDATE files SET state=?, updated_at=? WHERE id=?", (INDEXED, time.time(), file_id)
        )

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
                for r in self.db.execute(
                    f"SELECT id FROM chunks WHERE file_id IN ({marks})", part
                )
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
            out.update(r[0] for r in self.db.execute(
                f"SELECT embed_hash FROM chunks WHERE file_id IN ({marks})", part))
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
        self._insert_chunks(file_id, chunks)
        self._drop_unreferenced_vectors(old - {c.embed_hash for c in chunks})

    def _insert_chunks(self, file_id: int, chunks: Sequence[NewChunk]) -> None:
        self.db.executemany(
            "INSERT INTO chunks(file_id, ord, page, char_start, char_end, title, text,"
            " embed_hash, n_tokens) VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (
                    file_id, c.ord, c.page, c.char_start, c.char_end, c.title, c.text,
                    c.embed_hash, c.n_tokens,
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
        return {str(m): int(n) for m, n in self.db.execute(
            "SELECT model, count(*) FROM vectors GROUP BY model ORDER BY model")}

    def missing_for_model(self, model: str) -> tuple[int, int]:
        """(passages, tokens) a model still has to embed for every chunk in the catalog."""
        row = self.db.execute(
            "SELECT count(*), coalesce(sum(n), 0) FROM (SELECT max(c.n_tokens) AS n"
            " FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.model=?"
            " AND v.embed_hash=c.embed_hash) GROUP BY c.embed_hash)", (model,)).fetchone()
        return int(row[0]), int(row[1])

    def drop_vectors_except(self, keep: Iterable[str]) -> int:
        """Deletes the vectors of every model not in keep (in the caller's transaction)."""
        kept = sorted(set(keep))
        marks = ",".join("?" * len(kept)) or "''"
        return self.db.execute(f"DELETE FROM vectors WHERE model NOT IN ({marks})",
                               kept).rowcount

    def vacuum(self) -> None:
        """Gives freed pages back to the file system (after a prune), then empties the WAL."""
        self.db.execute("VACUUM")
        self.checkpoint(truncate=True)

    # stats ---------------------------------------------------------------------------------
    def counts_by_state(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for state, n in self.db.execute("SELECT state, count(*) FROM files GROUP BY state"):
            counts[state] = n
        return counts

    def chunk_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM chunks").fetchone()[0])

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
        ("chunks without a file", count(
            "SELECT count(*) FROM chunks WHERE file_id NOT IN (SELECT id FROM files)")),
        ("chunks of files that are not chunked or indexed", count(
            "SELECT count(*) FROM chunks c JOIN files f ON f.id=c.file_id"
            " WHERE f.state NOT IN (?, ?)", CHUNKED, INDEXED)),
        ("chunk positions taken twice", count(
            "SELECT count(*) FROM (SELECT 1 FROM chunks GROUP BY file_id, ord"
            " HAVING count(*) > 1)")),
        ("keyword rows that differ in number from chunks", abs(
            count("SELECT count(*) FROM chunks_fts_docsize") - count(
                "SELECT count(*) FROM chunks"))),
        ("files without a root", count(
            "SELECT count(*) FROM files WHERE root_id NOT IN (SELECT id FROM roots)")),
        ("files outside their root", count(
            "SELECT count(*) FROM files f JOIN roots r ON r.id=f.root_id"
            " WHERE substr(f.path, 1, length(r.path) + 1) <> r.path || ?", os.sep)),
        ("files in an unknown state", count(
            f"SELECT count(*) FROM files WHERE state NOT IN ({','.join('?' * len(STATES))})",
            *STATES)),
        ("vectors no chunk refers to", count(
            "SELECT count(*) FROM vectors WHERE embed_hash NOT IN"
            " (SELECT embed_hash FROM chunks)")),
    ]
    if model:
        checks.append(("chunks of indexed files without a vector", count(
            "SELECT count(*) FROM chunks c JOIN files f ON f.id=c.file_id WHERE f.state=?"
            " AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.model=? AND"
            " v.embed_hash=c.embed_hash)", INDEXED, model)))
    out += [f"{what}: {n}" for what, n in checks if n]
    if vindex is not None:
        wanted = {int(r[0]) for r in db.execute(
            "SELECT c.id FROM chunks c JOIN files f ON f.id=c.file_id WHERE f.state=?",
            (INDEXED,))}
        have = vector_keys(vindex)
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


def vector_keys(vindex: VectorIndex) -> set[int]:
    """The chunk ids a vector index holds (VectorIndex has no public listing yet)."""
    with vindex._lock:
        return {int(k) for k in np.asarray(vindex._index.keys).tolist()}


# The derived cache lives in its own module; re-exported here, where the design places it.
from .vector_index import VectorIndex  # noqa: E402

__all__ = ["Catalog", "FileRow", "NewChunk", "Root", "VectorIndex", "consistency_problems"]
