"""The engine end to end: real files, the real bundled GGUF, real SQLite and real USearch."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from desktop_search.engine import Engine
from desktop_search.extract import extract
from desktop_search.search import SearchOptions

DOCS = {
    "baking.txt": (
        "How to bake sourdough bread at home\n\n"
        "Feed the starter the night before. Mix flour, water and salt, then let the dough rest. "
        "Fold it every half hour, shape a loaf, proof it overnight in the fridge and bake it in "
        "a very hot Dutch oven until the crust is dark and crackling."
    ),
    "car.md": (
        "# Replacing brake pads\n\n"
        "Loosen the wheel nuts, jack up the car and remove the wheel. Unbolt the caliper, slide "
        "out the worn pads, push the piston back and fit the new pads. Torque the bolts and pump "
        "the pedal before driving."
    ),
    "garden.txt": (
        "Tomatoes in containers\n\n"
        "Tomato plants need at least six hours of sun, deep pots and regular watering. Pinch out "
        "side shoots and feed weekly with a high-potassium fertiliser once the flowers appear."
    ),
    "taxes.txt": (
        "Filing the annual return\n\n"
        "Gather payslips, bank interest statements and receipts for deductible expenses. The "
        "deadline for the online return is the end of January; late filing incurs a penalty."
    ),
}


def write_docs(root: Path) -> None:
    for name, text in DOCS.items():
        (root / name).write_text(text, encoding="utf-8")


def chunk_rows(eng: Engine) -> list[tuple[int, str]]:
    return list(
        eng.catalog.db.execute("SELECT c.id, f.path FROM chunks c JOIN files f ON f.id=c.file_id")
    )


@pytest.fixture
def indexed(engine: Engine, docs: Path) -> Engine:
    write_docs(docs)
    engine.add_root(docs)
    rep = engine.index()
    assert rep.indexed == len(DOCS) and not rep.failed
    return engine


def names(results: list) -> list[str]:  # type: ignore[type-arg]
    return [Path(r.path).name for r in results]


def test_finds_by_meaning_without_shared_words(indexed: Engine) -> None:
    # No query word occurs in baking.txt: only the embedding can connect them.
    for mode in ("dense", "hybrid"):
        res = indexed.search("making a homemade loaf", SearchOptions(mode=mode, k=3))
        assert names(res)[0] == "baking.txt", mode
    res = indexed.search(
        "what does my vehicle need when stopping gets worse", SearchOptions(mode="dense", k=3)
    )
    assert names(res)[0] == "car.md"


def test_keyword_mode_and_highlights(indexed: Engine) -> None:
    res = indexed.search("penalty deadline", SearchOptions(mode="keyword"))
    assert names(res) == ["taxes.txt"]
    r = res[0]
    marked = {r.snippet[a:b].lower() for a, b in r.highlights}
    assert marked == {"penalty", "deadline"}


def test_stemmed_words_are_highlighted(indexed: Engine) -> None:
    res = indexed.search("watering tomato", SearchOptions(mode="hybrid", k=1))
    r = res[0]
    assert names(res) == ["garden.txt"]
    assert {r.snippet[a:b].lower() for a, b in r.highlights} >= {"tomato", "watering"}


def test_chunk_offsets_point_at_the_extracted_text(indexed: Engine) -> None:
    res = indexed.search("brake caliper pistons", SearchOptions(k=4))
    assert res
    for r in res:
        text = extract(Path(r.path)).text
        passage = text[r.chunk_start : r.chunk_end]
        assert passage
        stored = indexed.catalog.db.execute(
            "SELECT text FROM chunks WHERE char_start=? AND char_end=? AND file_id="
            "(SELECT id FROM files WHERE path=?)",
            (r.chunk_start, r.chunk_end, r.path),
        ).fetchone()[0]
        assert stored == passage
        core = r.snippet.strip("…").split()[:5]
        assert " ".join(core) in " ".join(passage.split())


def test_unchanged_reindex_embeds_nothing(indexed: Engine, docs: Path) -> None:
    rep = indexed.index()
    assert rep.chunks_embedded == 0 and rep.indexed == 0 and rep.unchanged == len(DOCS)
    # a re-save with the same bytes (new mtime) re-embeds nothing either
    p = docs / "garden.txt"
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 5_000_000_000))
    rep = indexed.index()
    assert rep.chunks_embedded == 0 and rep.unchanged == len(DOCS)


def test_modify_reindexes_only_that_file(indexed: Engine, docs: Path) -> None:
    p = docs / "garden.txt"
    p.write_text(
        "Pruning apple trees\n\nCut out crossing branches in late winter.", encoding="utf-8"
    )
    rep = indexed.index()
    assert rep.changed == 1 and rep.indexed == 1 and rep.chunks_embedded == 1
    assert names(indexed.search("apple tree pruning", SearchOptions(k=1))) == ["garden.txt"]
    assert not indexed.search("tomato", SearchOptions(mode="keyword"))


def test_rename_and_move_reembed_nothing(indexed: Engine, docs: Path) -> None:
    before = indexed.status().vectors
    sub = docs / "kitchen"
    sub.mkdir()
    shutil.move(docs / "baking.txt", sub / "bread.txt")
    rep = indexed.index()
    assert rep.renamed == 1 and rep.chunks_embedded == 0 and rep.removed == 0
    res = indexed.search("sourdough starter", SearchOptions(k=1))
    assert res[0].path == str(sub / "bread.txt")
    assert indexed.status().vectors == before


def test_delete_leaves_no_chunk_vector_or_keyword_row(indexed: Engine, docs: Path) -> None:
    (docs / "taxes.txt").unlink()
    rep = indexed.index()
    assert rep.removed == 1
    db = indexed.catalog.db
    assert all(Path(p).name != "taxes.txt" for _, p in chunk_rows(indexed))
    assert (
        db.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'penalty'").fetchone()[0]
        == 0
    )
    n_chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
    n_vec = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
    assert n_vec == n_chunks  # no orphan vector (each doc here is a single chunk)
    assert len(indexed.vector_index()) == n_chunks
    assert "taxes.txt" not in names(indexed.search("annual tax return deadline"))


def test_bad_files_are_recorded_and_skipped(engine: Engine, docs: Path) -> None:
    write_docs(docs)
    (docs / "broken.pdf").write_bytes(b"this is not a pdf at all")
    (docs / "blob.txt").write_bytes(bytes(range(256)) * 40)
    (docs / "empty.txt").write_bytes(b"")
    engine.add_root(docs)
    rep = engine.index()
    assert rep.indexed == len(DOCS) + 1  # the empty file is indexed, with no chunks
    st = engine.status()
    reasons = {Path(p["path"]).name: p["reason"] for p in st.problems}
    assert set(reasons) == {"broken.pdf", "blob.txt"}
    assert all(reasons.values())
    assert names(engine.search("sourdough", SearchOptions(k=1))) == ["baking.txt"]


def test_default_excludes_skip_hidden_and_dependency_folders(engine: Engine, docs: Path) -> None:
    write_docs(docs)
    for d in (".git", "node_modules", ".ssh", "venv"):
        (docs / d).mkdir()
        (docs / d / "secret.txt").write_text("sourdough secret recipe", encoding="utf-8")
    (docs / "venv" / "pyvenv.cfg").write_text("home = /usr\n", encoding="utf-8")
    engine.add_root(docs)
    engine.index()
    assert all("secret" not in p for _, p in chunk_rows(engine))


def test_stale_vector_cache_is_rebuilt_without_reembedding(indexed: Engine, tmp_path: Path) -> None:
    home = indexed.paths.home
    indexed.close()
    files = list((home / "index").glob("*.usearch"))
    assert len(files) == 1
    files[0].unlink()  # as if the process died before its first save
    assert_reopens_rebuilt_without_reembedding(home)


def assert_reopens_rebuilt_without_reembedding(home: Path) -> None:
    """Opened again, the home finds by meaning, embeds nothing and says it rebuilt the
    vector index from the stored vectors."""
    eng = Engine(home)
    try:
        assert names(eng.search("homemade loaf", SearchOptions(mode="dense", k=1))) == [
            "baking.txt"
        ]
        assert eng.index().chunks_embedded == 0
        assert eng.open_notice == "vector index rebuilt from stored vectors"
    finally:
        eng.close()


def test_an_index_saved_in_the_older_f16_storage_is_rebuilt_as_i8(indexed: Engine) -> None:
    """An index file from before i8 storage is not searched as if it were i8: it is rebuilt
    from the stored vectors (nothing re-embedded) and saved in the new storage."""
    from usearch.index import Index

    home = indexed.paths.home
    indexed.close()
    (saved,) = (home / "index").glob("*.usearch")
    old = Index.restore(str(saved))
    f16 = Index(ndim=old.ndim, metric="cos", dtype="f16")
    keys = np.asarray(old.keys, dtype=np.uint64)
    f16.add(keys, np.asarray(old.get(keys, dtype="f32"), dtype=np.float32))
    f16.save(str(saved))
    del old
    assert_reopens_rebuilt_without_reembedding(home)
    (saved,) = (home / "index").glob("*.usearch")
    assert str(Index.restore(str(saved), view=True).dtype).endswith("I8")


def test_dense_scores_are_the_exact_cosine_of_the_stored_vectors(indexed: Engine) -> None:
    """The index keeps coarse i8 copies to find candidates; the scores people see (and the
    order) come from the vectors the catalog stores."""
    results = indexed.search("tomato plants on a sunny balcony", SearchOptions(mode="dense", k=4))
    assert names(results)[0] == "garden.txt"
    emb = indexed.searcher().embedder()
    assert emb is not None
    qv = emb.embed_query("tomato plants on a sunny balcony")
    model = indexed.catalog.get_meta("model_key")
    assert model
    passages = [p for r in results for p in r.passages]
    keys, mat = indexed.catalog.vectors_for_chunks(model, [p.chunk_id for p in passages])
    exact = dict(zip(keys.tolist(), (mat @ qv).tolist(), strict=True))
    assert [p.score for p in passages] == pytest.approx(
        [exact[p.chunk_id] for p in passages], abs=1e-6
    )
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_crash_between_phases_resumes(indexed: Engine, docs: Path) -> None:
    # Simulate a crash after phase 1: the file has chunks and keyword rows but no vectors.
    db = indexed.catalog.db
    db.execute("UPDATE files SET state='chunked' WHERE path LIKE '%car.md'")
    db.execute(
        "DELETE FROM vectors WHERE embed_hash IN (SELECT embed_hash FROM chunks c JOIN "
        "files f ON f.id=c.file_id WHERE f.path LIKE '%car.md')"
    )
    db.commit()
    # still findable by words meanwhile
    assert names(indexed.search("caliper", SearchOptions(mode="keyword"))) == ["car.md"]
    rep = indexed.index()
    assert rep.indexed == 1 and rep.chunks_embedded == 1
    assert indexed.status().files["indexed"] == len(DOCS)


def test_cancel_leaves_a_consistent_index(engine: Engine, docs: Path) -> None:
    for i in range(12):
        (docs / f"note{i}.txt").write_text(
            f"Note {i}: " + DOCS["garden.txt"] * (i + 1), encoding="utf-8"
        )
    engine.add_root(docs)
    rep = engine.index(progress=lambda done, total: done < 3)
    assert rep.cancelled
    st = engine.status()
    assert st.files["indexed"] < 12
    rep = engine.index()
    assert engine.status().files["indexed"] == 12


def test_index_files_are_private(indexed: Engine) -> None:
    home = indexed.paths.home
    assert home.stat().st_mode & 0o077 == 0
    # the F32 working copy of the model lives in the user's cache, as privately
    weights = list(indexed.paths.weights_dir.glob("*.f32.gguf"))
    assert len(weights) == 1
    for p in [
        indexed.paths.catalog,
        *(home / "index").glob("*"),
        indexed.paths.weights_dir,
        *weights,
    ]:
        assert p.stat().st_mode & 0o077 == 0, p


def test_embeddings_are_normalised_and_long_input_never_aborts(embedder) -> None:  # type: ignore[no-untyped-def]
    v = embedder.embed_documents(["word " * 5000, "", "short"])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3)


def test_catalog_is_the_source_of_truth(indexed: Engine) -> None:
    """Counts agree across SQLite, FTS5 and USearch."""
    db = sqlite3.connect(indexed.paths.catalog)
    n_chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
    n_fts = db.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
    db.close()
    assert n_chunks == n_fts == len(indexed.vector_index())


def test_vector_lookups_go_by_chunk_never_through_every_vector(indexed: Engine) -> None:
    """Looking up the vectors of a few hundred chunks (every embedded file group, every
    query's rescoring) reads those chunks' vectors: a plan that walks all vectors of the model
    took 98 s per lookup at a million passages. The plan does not depend on table sizes, so a
    small catalog shows it."""
    cat = indexed.catalog
    model = cat.get_meta("model_key")
    assert model
    ids = [row[0] for row in cat.db.execute("SELECT id FROM chunks")]
    wanted = ids + list(range(max(ids) + 1, max(ids) + 400))  # a long IN list, as in use
    statements: list[str] = []
    cat.db.set_trace_callback(statements.append)
    try:
        keys, mat = cat.vectors_for_chunks(model, wanted)
    finally:
        cat.db.set_trace_callback(None)
    assert sorted(keys.tolist()) == sorted(ids) and mat.shape == (len(ids), 384)
    lookup = [s for s in statements if "vectors" in s and s.lstrip().upper().startswith("SELECT")]
    assert lookup
    for sql in lookup:
        plan = [row[3] for row in cat.db.execute("EXPLAIN QUERY PLAN " + sql)]
        assert not any(step.startswith("SCAN") or "(model=?)" in step for step in plan), plan


def test_files_embedded_together_each_get_their_own_vectors(
    engine: Engine, docs: Path, embedder
) -> None:  # type: ignore[no-untyped-def]
    """Passages of several files go through the parallel lanes in one call; every stored vector
    must still be its own passage's embedding, as one context embeds it alone."""
    from desktop_search.chunking import embed_input

    for i in range(11):  # more than one group of files, groups of uneven passage counts
        parts = [f"Note {i}, part {j}: {DOCS['garden.txt']} {i * j}" for j in range(1 + i % 3)]
        (docs / f"n{i:02d}.txt").write_text("\n\n".join(parts), encoding="utf-8")
    engine.settings.chunk_tokens = 40
    engine.settings.chunk_overlap = 0
    engine.add_root(docs)
    rep = engine.index()
    assert rep.indexed == 11 and engine.embedder().lanes == engine.embedder().n_threads
    rows = engine.catalog.db.execute(
        "SELECT c.title, c.text, v.vec FROM chunks c JOIN vectors v ON v.embed_hash=c.embed_hash"
    ).fetchall()
    assert len(rows) == rep.chunks_embedded > 11
    want = embedder.embed_documents([embed_input(t, x) for t, x, _ in rows])
    got = np.stack([np.frombuffer(v, dtype=np.float16).astype(np.float32) for *_, v in rows])
    assert np.allclose(got, want, atol=2e-3)


def test_what_the_window_asks_of_the_engine(indexed: Engine, docs: Path) -> None:
    """Counts per folder and per state (read beside the writer), and new settings that reach
    searches without the caller's object being shared; an engine closes as a context."""
    assert indexed.root_file_counts() == {str(docs.resolve()): len(DOCS)}
    files, passages = indexed.counts()
    assert files["indexed"] == len(DOCS) and passages == indexed.status().chunks
    new = dataclasses.replace(indexed.settings, rerank_top_n=7)
    applied = indexed.update_settings(new)
    assert applied is not new and indexed.settings is applied
    assert indexed.searcher().settings.rerank_top_n == 7
    new.rerank_top_n = 99  # the caller's copy changes nothing
    assert indexed.settings.rerank_top_n == 7
    with Engine(indexed.paths.home) as again:
        assert again.settings.rerank_top_n == 7  # saved in config.toml
        assert again.search("sourdough starter")
    with pytest.raises(sqlite3.ProgrammingError):
        again.catalog.db.execute("SELECT 1")  # closed on leaving the block
