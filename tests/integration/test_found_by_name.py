"""Every file the scan sees is findable by its name — also a scanned PDF, a damaged one, a
photo or an archive — through the real engine and the real CLI (model, SQLite, USearch)."""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pdf_maker import make_pdf
from test_cli import run  # the CLI run as a user runs it

from desktop_search.engine import Engine
from desktop_search.search import SearchOptions


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "Protocols").mkdir(parents=True)
    (docs / "Protocols" / "NCT06155240_Prot_SAP_000.pdf").write_bytes(make_pdf(["", ""]))
    (docs / "Protocols" / "NCT06147739_Prot_SAP_000.pdf").write_bytes(
        make_pdf(
            ["Statistical analysis plan: the primary outcome is the change in open bite depth."]
        )
    )
    (docs / "beach-holiday-2023.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(800))
    with zipfile.ZipFile(docs / "tax-archive-2022.zip", "w") as z:
        z.writestr("a.txt", "hello")
    (docs / "damaged-invoice.pdf").write_bytes(b"%PDF-1.4\n1 0 obj garbage")
    (docs / "notes.txt").write_text(
        "Remember to renew the passport before the trip to Lisbon.", encoding="utf-8"
    )
    return docs


def names(results: list[object]) -> list[str]:
    return [Path(r.path).name for r in results]  # type: ignore[attr-defined]


def test_files_with_no_text_are_found_by_name_with_their_reason(
    tmp_path: Path, folder: Path
) -> None:
    eng = Engine(tmp_path / "home")
    eng.add_root(folder)
    eng.index()
    try:
        got = eng.search("NCT06155240_Prot_SAP_000.pdf", SearchOptions(k=5))
        assert names(got)[0] == "NCT06155240_Prot_SAP_000.pdf"  # typed whole: first
        assert got[0].match == "name" and got[0].passages == []
        assert got[0].name_only is not None and "no text" in got[0].name_only
        # a part of a name finds both protocols, the one with text by its text too
        both = names(eng.search("Prot_SAP", SearchOptions(k=5)))
        assert {"NCT06155240_Prot_SAP_000.pdf", "NCT06147739_Prot_SAP_000.pdf"} <= set(both)
        photo = eng.search("beach-holi", SearchOptions(k=5))
        hit = next(r for r in photo if r.path.endswith(".jpg"))
        assert hit.name_only == "no text to read in .jpg files"
        archive = eng.search("tax archive", SearchOptions(k=5))
        assert "tax-archive-2022.zip" in names(archive)
        damaged = next(
            r
            for r in eng.search("damaged-invoice", SearchOptions(k=5))
            if r.path.endswith("damaged-invoice.pdf")
        )
        assert damaged.name_only is not None and "damaged PDF" in damaged.name_only
        # filters hold for names too: a photo is no PDF, and not modified in the future
        pdfs = eng.search("beach-holi", SearchOptions(k=5, kinds=["pdf"]))
        assert "beach-holiday-2023.jpg" not in names(pdfs)
        # scores never rise down the list, wherever a name was put in
        for q in ("Prot_SAP", "beach-holi", "NCT06155240_Prot_SAP_000.pdf"):
            scores = [r.score for r in eng.search(q, SearchOptions(k=5))]
            assert scores == sorted(scores, reverse=True), q

        # the photo deleted and a new one added, as the watcher reports them
        (folder / "beach-holiday-2023.jpg").unlink()
        new = folder / "mountain-hike-2024.png"
        new.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(500))
        eng.index(paths=[str(folder / "beach-holiday-2023.jpg"), str(new)])
        assert "beach-holiday-2023.jpg" not in names(eng.search("beach-holi", SearchOptions(k=5)))
        assert names(eng.search("mountain-hike", SearchOptions(k=5)))[0] == new.name
        assert str(folder / "Protocols") in eng.folders()
        eng.remove_root(folder)
        assert eng.search("mountain-hike", SearchOptions(k=5)) == []
    finally:
        eng.close()


def test_the_cli_lists_a_file_found_by_name_and_why(tmp_path: Path, folder: Path) -> None:
    home = tmp_path / "home"
    run(home, "add", str(folder))
    run(home, "index")
    out = json.loads(run(home, "search", "beach-holiday", "--json", "--k", "3").stdout)
    hit = next(r for r in out if r["path"].endswith("beach-holiday-2023.jpg"))
    assert hit["match"] == "name" and hit["name_only"] == "no text to read in .jpg files"
    text = run(home, "search", "beach-holiday", "--k", "3").stdout
    assert "found by its name; its text cannot be searched: no text to read in .jpg" in text


def test_a_renamed_file_takes_its_new_name_as_title(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "draft-letter.txt").write_text(
        "Dear landlord, the boiler has been broken since Monday.", encoding="utf-8"
    )
    (docs / "report.html").write_text(
        "<html><head><title>Quarterly boiler report</title></head><body>The boiler was "
        "serviced in May.</body></html>",
        encoding="utf-8",
    )
    eng = Engine(tmp_path / "home")
    eng.add_root(docs)
    eng.index()
    try:
        (docs / "draft-letter.txt").rename(docs / "letter-to-landlord.txt")
        (docs / "report.html").rename(docs / "r2.html")
        rep = eng.index()
        assert rep.renamed == 2
        titles = {Path(r.path).name: r.title for r in eng.search("boiler", SearchOptions(k=5))}
        assert titles["letter-to-landlord.txt"] == "letter-to-landlord"
        assert titles["r2.html"] == "Quarterly boiler report"  # a real title stays
    finally:
        eng.close()


def test_a_home_made_before_the_name_index_gains_it_on_open(tmp_path: Path, folder: Path) -> None:
    eng = Engine(tmp_path / "home")
    eng.add_root(folder)
    eng.index()
    db = eng.catalog.db
    for trigger in ("fi", "fu", "fd", "oi", "ou", "od"):
        db.execute(f"DROP TRIGGER name_grams_{trigger}")
    db.execute("DROP TABLE name_grams")
    db.commit()
    eng.close()
    with Engine(tmp_path / "home") as again:  # the writer builds it from the paths it holds
        assert again.catalog.db.execute("SELECT count(*) FROM name_grams").fetchone()[0] == 6
        assert names(again.search("beach-holi", SearchOptions(k=3)))[0] == (
            "beach-holiday-2023.jpg"
        )
        assert "NCT06155240_Prot_SAP_000.pdf" in names(again.search("Prot_SAP", SearchOptions(k=5)))
