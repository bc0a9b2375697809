"""Files whose names are not valid UTF-8 (an old Latin-1 disk, a zip from another locale) are
indexed and found by their content, shown with U+FFFD, and handed on by their exact bytes."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

import pytest
from conftest import cli

from desktop_search.engine import Engine
from desktop_search.scan import display_path, path_bytes, real_path, storable_path
from desktop_search.search import SearchOptions

pytestmark = pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses such names")

CAFE_E9 = b"caf\xe9 notes.txt"  # Latin-1 é
CAFE_E8 = b"caf\xe8 notes.txt"  # Latin-1 è: shown the same, a different file


def write_legacy(folder: Path) -> dict[bytes, str]:
    folder.mkdir(parents=True, exist_ok=True)
    texts = {
        CAFE_E9: "The quokka smiles at the camera.",
        CAFE_E8: "The kinkajou hangs by its tail.",
        b"sub-\xff/deep.txt": "The solenodon has a venomous bite.",
    }
    for name, text in texts.items():
        path = os.path.join(os.fsencode(folder), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(text.encode())
    return texts


def test_the_stored_form_round_trips_every_byte() -> None:
    for raw, escaped in (
        (CAFE_E9, True),
        (b"/a/\x80\xff/\xc3(x", True),
        (b"plain.txt", False),
        ("naïve.txt".encode(), False),
    ):
        stored, bad = storable_path(os.fsdecode(raw))
        stored.encode("utf-8")  # SQLite text
        assert os.fsencode(real_path(stored)) == raw
        assert bad == escaped and (path_bytes(stored) is not None) == escaped
    assert display_path(storable_path(os.fsdecode(CAFE_E9))[0]) == "caf\ufffd notes.txt"


def test_legacy_names_are_indexed_found_and_handed_on_by_their_bytes(tmp_path: Path) -> None:
    folder = tmp_path / "old-disk"
    texts = write_legacy(folder)
    home = tmp_path / "home"
    cli(home, "add", str(folder))
    rep = json.loads(cli(home, "index", "--json").stdout)
    assert rep["indexed"] == 3 and not rep["skipped"] and not rep["failed"], rep
    for word, raw in (("quokka", CAFE_E9), ("kinkajou", CAFE_E8), ("solenodon", b"deep.txt")):
        out = cli(home, "search", word, "--json").stdout
        hits = json.loads(out)  # valid JSON
        top = hits[0]
        got = base64.b64decode(top["path_bytes_b64"])
        assert got.endswith(raw), (word, top)
        assert "\ufffd" in top["path"]
        with open(got, "rb") as f:  # the exact bytes open the file
            assert word in f.read().decode()
    # both "café"s are there, each under its own name
    eng = Engine(home)
    try:
        paths = {path_bytes(r.path) for r in eng.search("animal", SearchOptions(k=10))}
        assert {
            os.path.join(os.fsencode(folder), CAFE_E9),
            os.path.join(os.fsencode(folder), CAFE_E8),
        } <= paths
        # deleted on disk: gone from the index; renamed: found under the new name, not re-read
        os.unlink(os.path.join(os.fsencode(folder), CAFE_E8))
        os.rename(
            os.path.join(os.fsencode(folder), CAFE_E9),
            os.path.join(os.fsencode(folder), b"caf\xe9 renamed.txt"),
        )
        rep2 = eng.index()
        assert (rep2.removed, rep2.renamed) == (1, 1), rep2
        hits = eng.search("quokka", SearchOptions(mode="keyword"))
        assert path_bytes(hits[0].path) == os.path.join(os.fsencode(folder), b"caf\xe9 renamed.txt")
        assert not eng.search("kinkajou", SearchOptions(mode="keyword"))
        assert eng.verify() == []
    finally:
        eng.close()
    assert len(texts) == 3


def test_the_window_opens_and_copies_the_real_bytes() -> None:
    pytest.importorskip("PySide6")
    from desktop_search.gui.launch import file_url

    real = os.fsdecode(b"/old/caf\xe9 notes.txt")
    url = file_url(real)
    assert bytes(url.toEncoded()) == b"file:///old/caf%E9%20notes.txt"
    assert file_url("/plain/na\u00efve.txt").toLocalFile() == "/plain/na\u00efve.txt"
