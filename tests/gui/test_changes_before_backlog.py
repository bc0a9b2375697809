"""A file saved while the window is still adding meaning to a large folder does not wait for
the backlog: it is read, given meaning, and the backlog then resumes where it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from desktop_search.engine import Engine
from desktop_search.index_progress import EMBEDDING


def test_a_saved_file_gets_meaning_before_the_backlog_finishes(
    tmp_path: Path, open_window: Any, qtbot: Any
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for j in range(6):  # ~400 passages of meaning to add: tens of seconds here
        (docs / f"manual{j}.md").write_text(
            "\n\n".join(
                f"Part {j}.{k}. "
                + " ".join(
                    f"Setting {k}.{i} of the boiler controls the flow "
                    "of water through the second valve."
                    for i in range(12)
                )
                for k in range(45)
            ),
            encoding="utf-8",
        )
    home = tmp_path / "home"
    eng = Engine(home)
    eng.add_root(docs)
    eng.close()
    w = open_window(home, watch_debounce_s=0.3)
    backend = w.backend

    def embedding() -> bool:
        p = backend.state.progress
        return (
            backend.state.running and p is not None and p.phase == EMBEDDING and p.passages_done > 0
        )

    qtbot.waitUntil(embedding, timeout=60000)
    (docs / "axolotl.txt").write_text(
        "The axolotl regrows lost limbs, its heart and parts of its brain.", encoding="utf-8"
    )

    def states() -> dict[str, str]:
        db = sqlite3.connect(f"file:{home / 'catalog.sqlite3'}?mode=ro", uri=True, timeout=5)
        try:
            return {Path(p).name: st for p, st in db.execute("SELECT path, state FROM files")}
        finally:
            db.close()

    qtbot.waitUntil(lambda: states().get("axolotl.txt") == "indexed", timeout=60000)
    # ... while the backlog still has manuals without meaning
    assert "chunked" in states().values()
    # and the backlog resumes to the end
    qtbot.waitUntil(
        lambda: not backend.state.running and set(states().values()) == {"indexed"}, timeout=240000
    )
    assert len(states()) == 7
