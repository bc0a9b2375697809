"""What the query lane asks of the keyword index beyond MATCH: how common each query word is
(FTS5 keeps no per-word counts a query could read for free, but `fts5vocab` counts one word's
postings in a few milliseconds) and marking the matched words in the passages shown.

Why it matters: ranking by BM25 scores every passage any query word occurs in. A claim such as
"cells increase the risk" names words found in a third of all passages, and scoring those costs
40-60 ms at 100,000 passages and 400 ms at a million. Their weight in BM25 is small (the
inverse document frequency of a word in 5 % of passages is a third of that of a rare word), so
the candidates come from the rarer words and the common words only add to the score of those
candidates (see Searcher._keyword).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from .store import FTS_TOKENIZE

_CACHE_LIMIT = 20_000  # words whose counts are kept (a few MB at most)
_DRIFT = 0.1  # counts are kept while the index grows or shrinks by less than this share


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    """SQLite's variable-length integer (FTS5 stores its counters in it): value, next index."""
    v = 0
    for n in range(8):
        b = buf[i + n]
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            return v, i + n + 1
    return (v << 8) | buf[i + 8], i + 9


class KeywordStats:
    """Stems and document frequencies of query words, on the query lane's own connection.
    Works on a read-only connection: the helper tables live in the in-memory temp schema."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._ready = False
        self._stems: dict[str, tuple[str, ...]] = {}
        self._df: dict[str, int] = {}
        self._df_rows = 0  # total rows when the cached counts were taken

    def _setup(self) -> None:
        if self._ready:
            return
        db = self.db
        db.execute("PRAGMA temp_store=MEMORY")  # query words and passages never touch the disk
        db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.ds_vocab"
            " USING fts5vocab(main, chunks_fts, 'row')"
        )
        # a scratch index with the keyword index's tokenizer: stems words, marks passages
        db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.ds_scratch"
            f" USING fts5(text, tokenize='{FTS_TOKENIZE}')"
        )
        db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.ds_scratch_words"
            " USING fts5vocab(temp, ds_scratch, 'instance')"
        )
        self._commit()
        self._ready = True

    def _commit(self) -> None:
        # writes to temp tables open a transaction that would also pin the reader's snapshot
        # of the catalog: end it at once so the next query sees new commits
        if self.db.in_transaction:
            self.db.commit()

    def total_rows(self) -> int:
        """Passages in the keyword index, from FTS5's own counter (no scan)."""
        row = self.db.execute("SELECT block FROM chunks_fts_data WHERE id=1").fetchone()
        if row is None or not row[0]:
            return 0
        return _varint(bytes(row[0]), 0)[0]

    def stems(self, words: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Each word as the index stores it ("increases" -> ("increas",)); a word the
        tokenizer splits ("covid_19") gives several."""
        words = list(dict.fromkeys(words))
        if len(self._stems) > _CACHE_LIMIT:  # typing as you search makes many half words
            self._stems.clear()
        todo = [w for w in words if w not in self._stems]
        if todo:
            self._setup()
            db = self.db
            try:
                db.executemany(
                    "INSERT INTO temp.ds_scratch(rowid, text) VALUES (?, ?)",
                    list(enumerate(todo, start=1)),
                )
                found: dict[int, list[tuple[int, str]]] = {}
                for term, doc, offset in db.execute(
                    "SELECT term, doc, offset FROM temp.ds_scratch_words"
                ):
                    found.setdefault(int(doc), []).append((int(offset), str(term)))
                for i, w in enumerate(todo, start=1):
                    self._stems[w] = tuple(t for _, t in sorted(found.get(i, [])))
            finally:
                db.execute("DELETE FROM temp.ds_scratch")
                self._commit()
        return {w: self._stems[w] for w in words}

    def doc_freq(self, words: Iterable[str]) -> dict[str, int]:
        """Passages each word occurs in (for a word of several tokens: its rarest token, an
        upper bound of the phrase's count). Kept between queries while the index is about
        the same size; a stale count only changes which words are called common."""
        rows = self.total_rows()
        if (
            not self._df_rows
            or abs(rows - self._df_rows) > _DRIFT * self._df_rows
            or len(self._df) > _CACHE_LIMIT
        ):
            self._df.clear()
            self._df_rows = rows
        self._setup()
        out: dict[str, int] = {}
        for w, stems in self.stems(words).items():
            counts = []
            for s in stems:
                if s not in self._df:
                    row = self.db.execute(
                        "SELECT doc FROM temp.ds_vocab WHERE term=?", (s,)
                    ).fetchone()
                    self._df[s] = int(row[0]) if row else 0
                counts.append(self._df[s])
            out[w] = min(counts) if counts else 0
        return out

    def highlight(self, texts: dict[int, str], expr: str, start: str, end: str) -> dict[int, str]:
        """The texts with the words `expr` matches marked, by FTS5's highlight() on a scratch
        copy of just these passages: the same tokenizer and stemmer that matched them, without
        walking the big index's posting lists again."""
        if not texts or not expr:
            return {}
        self._setup()
        db = self.db
        try:
            db.executemany(
                "INSERT INTO temp.ds_scratch(rowid, text) VALUES (?, ?)", list(texts.items())
            )
            rows = db.execute(
                "SELECT rowid, highlight(ds_scratch, 0, ?, ?) FROM temp.ds_scratch"
                " WHERE ds_scratch MATCH ?",
                (start, end, expr),
            ).fetchall()
            return {int(r[0]): str(r[1]) for r in rows}
        except sqlite3.OperationalError:
            return {}
        finally:
            db.execute("DELETE FROM temp.ds_scratch")
            self._commit()
