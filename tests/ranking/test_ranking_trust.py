"""Ranking a person can trust (issue 11), end to end: real files, the bundled model, real
SQLite and USearch. Exact rare words first, junk kept out of the meaning ranking, file names
searched, and scores that say plainly when nothing matches."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

from folders import junk_text, rare_token_folder

from desktop_search.engine import Engine
from desktop_search.search import SearchOptions


def _index(home: Path, folder: Path) -> Engine:
    eng = Engine(home)
    eng.add_root(folder)
    t = time.perf_counter()
    eng.index()
    print(f"indexed {folder.name} in {time.perf_counter() - t:.1f}s")
    return eng


def test_a_rare_token_in_one_file_among_1700_ranks_it_first(tmp_path: Path) -> None:
    folder = rare_token_folder(tmp_path / "docs")
    eng = _index(tmp_path / "home", folder)
    try:
        results = eng.search("newmark21w", SearchOptions(k=5))
        assert Path(results[0].path).name == "report_137.txt"
        assert results[0].exact and results[0].good_match
        assert "words" in results[0].match
        # each tiny note's own code finds that note first, not one of its 1,499 look-alikes
        results = eng.search("token216q", SearchOptions(k=5))
        assert Path(results[0].path).name == "n0216.txt"
        assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
        # a plain query of common words is ranked as before: no exact tier
        results = eng.search("notes about items", SearchOptions(k=5))
        assert not any(r.exact for r in results)
    finally:
        eng.close()


def test_an_unrelated_query_says_no_good_match_and_still_lists_the_nearest(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "garden.txt").write_text(
        "Tomatoes in containers\n\nTomato plants need six hours of sun, deep pots and regular "
        "watering. Pinch out side shoots and feed weekly once the flowers appear.\n"
    )
    eng = _index(tmp_path / "home", docs)
    try:
        off = eng.search("axolotl regrows limbs")
        assert [Path(r.path).name for r in off] == ["garden.txt"]  # still listed
        assert not off[0].good_match and off[0].relevance is not None
        on = eng.search("how often to water tomato plants in pots")
        assert on[0].good_match and on[0].relevance is not None
        assert on[0].relevance > off[0].relevance
        assert on[0].match == "words+meaning"
    finally:
        eng.close()


def test_junk_text_stays_out_of_the_meaning_ranking(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    rnd = random.Random(5)
    words = [
        "budget",
        "office",
        "repairs",
        "building",
        "schedule",
        "committee",
        "staff",
        "report",
        "tender",
        "roof",
        "heating",
        "contract",
        "supplier",
        "invoice",
        "vote",
        "delay",
        "estimate",
        "audit",
        "parking",
        "lease",
        "cleaning",
        "window",
        "boiler",
    ]
    pages = [
        f"Page {i}. " + " ".join(rnd.choice(words) for _ in range(40)) + "." for i in range(300)
    ]
    pages[240] = "Page 240. The okapi hides in the Ituri rainforest, seldom seen by visitors."
    (docs / "minutes.txt").write_text("\n\n".join(pages), encoding="utf-8")
    (docs / "broken-export.md").write_text(junk_text(60_000), encoding="utf-8")
    eng = _index(tmp_path / "home", docs)
    try:
        db = sqlite3.connect(tmp_path / "home" / "catalog.sqlite3")
        flagged, total = db.execute(
            "SELECT sum(noise), count(*) FROM chunks c JOIN files f"
            " ON f.id=c.file_id WHERE f.path LIKE '%broken-export%'"
        ).fetchone()
        print(f"noise: {flagged} of {total} junk passages flagged")
        assert flagged == total > 0
        assert (
            db.execute(
                "SELECT sum(noise) FROM chunks c JOIN files f ON f.id=c.file_id"
                " WHERE f.path LIKE '%minutes%'"
            ).fetchone()[0]
            == 0
        )
        db.close()
        for mode in ("hybrid", "dense"):
            results = eng.search("rare forest animal of the Congo", SearchOptions(k=3, mode=mode))
            assert Path(results[0].path).name == "minutes.txt", mode
    finally:
        eng.close()


def test_file_and_folder_names_are_searched(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    for company in ("Intel", "Nvidia", "Amd"):
        (docs / company).mkdir(parents=True)
        for year in (2022, 2023):
            for q in (1, 2, 3):
                (docs / company / f"filing_{year}_q{q}.txt").write_text(
                    "Quarterly report\n\nNet cash provided by operating activities rose on "
                    "higher receipts from customers; capital expenditures were flat.\n"
                )
    eng = _index(tmp_path / "home", docs)
    try:
        results = eng.search("Intel 2022 q3 cash flow from operations")
        assert Path(results[0].path).parts[-2:] == ("Intel", "filing_2022_q3.txt")
    finally:
        eng.close()


def test_a_home_from_before_opens_and_searches_without_re_embedding(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "part-list.txt").write_text("Ordered part XK-2207 for the pump.\n")
    (docs / "junk.md").write_text(junk_text(5_000))
    home = tmp_path / "home"
    _index(home, docs).close()
    db = sqlite3.connect(home / "catalog.sqlite3")  # as the release before this one left it
    db.execute("DROP TRIGGER names_ad")
    db.execute("DROP TABLE names_fts")
    db.execute("DELETE FROM meta WHERE key='names_version'")
    db.execute("ALTER TABLE chunks DROP COLUMN noise")
    db.commit()
    db.close()
    eng = Engine(home)
    try:
        report = eng.index()
        assert report.chunks_embedded == 0
        assert Path(eng.search("XK-2207")[0].path).name == "part-list.txt"
        assert Path(eng.search("part list")[0].path).name == "part-list.txt"
        db = sqlite3.connect(home / "catalog.sqlite3")
        assert db.execute("SELECT sum(noise) FROM chunks").fetchone()[0] >= 1
        assert db.execute("SELECT count(*) FROM names_fts").fetchone()[0] == 2
        db.close()
        eng.remove_root(docs)  # a folder removed takes its file names with it
        db = sqlite3.connect(home / "catalog.sqlite3")
        assert db.execute("SELECT count(*) FROM names_fts").fetchone()[0] == 0
        db.close()
    finally:
        eng.close()
