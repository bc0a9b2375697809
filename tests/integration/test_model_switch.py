"""Choosing, switching, installing and pruning embedding models, with two real GGUFs: the bundled
F16 all-MiniLM-L6-v2 and a Q8_0 quantised from it here by llama.cpp (another file, so another
model key). Real llama.cpp, SQLite and USearch on a tiny folder of three files."""

from __future__ import annotations

import ctypes
import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from desktop_search.cli import main
from desktop_search.engine import Engine
from desktop_search.models import bundled_model_path, model_fingerprint

DOCS = {
    "glaciers.txt": "Glaciers carve U-shaped valleys and leave moraines when they retreat.",
    "sourdough.md": "# Sourdough\n\nFeed the starter, fold the dough, bake in a Dutch oven.",
    "brakes.txt": "Unbolt the caliper, slide out the worn brake pads and fit new ones.",
}


@pytest.fixture(scope="module")
def q8(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import llama_cpp

    out = tmp_path_factory.mktemp("q8") / "all-MiniLM-L6-v2.q8_0.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    params.nthread = 1
    rc = llama_cpp.llama_model_quantize(
        str(bundled_model_path()).encode(), str(out).encode(), ctypes.byref(params)
    )
    assert rc == 0 and out.stat().st_size < bundled_model_path().stat().st_size * 0.7
    return out


@pytest.fixture
def home(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    h = tmp_path / "home"
    assert main(["--home", str(h), "add", str(docs)]) == 0
    return h


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def index_json(
    capsys: pytest.CaptureFixture[str], home: Path, model: Path | None = None, *, yes: bool = False
) -> dict[str, Any]:
    first = ["--model", str(model)] if model else []
    rc, out, err = cli(
        capsys, "--home", str(home), *first, "index", "--json", *(["--yes"] if yes else [])
    )
    assert rc == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def model_state(capsys: pytest.CaptureFixture[str], home: Path) -> dict[str, Any]:
    rc, out, err = cli(capsys, "--home", str(home), "models", "list", "--json")
    assert rc == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def configured(home: Path) -> str:
    cfg = home / "config.toml"
    return str(tomllib.loads(cfg.read_text())["model_path"]) if cfg.exists() else ""


def test_a_chosen_model_sticks_and_switching_back_costs_nothing(
    home: Path, q8: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f16_key, q8_key = model_fingerprint(bundled_model_path()), model_fingerprint(q8)
    assert f16_key != q8_key
    assert index_json(capsys, home)["chunks_embedded"] == 3

    # no terminal, no --yes: refused in one line that says the cost; nothing changes
    rc, _out, err = cli(capsys, "--home", str(home), "--model", str(q8), "index")
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("desktop-search: not switched")
    assert "re-embeds 3 passages" in err and "keeps answering" in err and "--yes" in err
    assert configured(home) == "" and model_state(capsys, home)["active"] == f16_key

    # confirmed: re-embedded with the Q8 model, and the choice saved in config.toml
    assert index_json(capsys, home, q8, yes=True)["chunks_embedded"] == 3
    assert configured(home) == str(q8.resolve())
    state = model_state(capsys, home)
    assert state["active"] == q8_key and state["stored"] == {f16_key: 3, q8_key: 3}

    # the trap of issue 16: a plain index keeps the chosen model, re-embeds nothing
    assert index_json(capsys, home)["chunks_embedded"] == 0
    assert model_state(capsys, home)["active"] == q8_key
    rc, out, _err = cli(
        capsys, "--home", str(home), "search", "valleys carved by ice", "--mode", "dense", "--json"
    )
    assert rc == 0 and Path(json.loads(out)[0]["path"]).name == "glaciers.txt"

    # back to the bundled model: its vectors were kept, so it switches at once
    rc, out, err = cli(capsys, "--home", str(home), "models", "use", "bundled")
    assert rc == 0 and "re-embeds nothing" in err and "switched at once" in out
    assert configured(home) == ""
    state = model_state(capsys, home)
    assert state["active"] == f16_key and state["stored"] == {f16_key: 3, q8_key: 3}
    rows = {r["key"]: r for r in state["models"]}
    assert rows[f16_key]["active"] and rows[f16_key]["configured"] and rows[f16_key]["bundled"]
    assert not rows[q8_key]["active"] and rows[q8_key]["vectors"] == 3
    assert index_json(capsys, home)["chunks_embedded"] == 0

    # prune: the Q8 vectors and vector index files go, and the space comes back
    files = home / "index"
    assert any(p.name.startswith(f"vectors-{q8_key}-") for p in files.glob("*.usearch"))
    rc, out, err = cli(capsys, "--home", str(home), "models", "prune", "--json")
    assert rc == 0, err
    pruned = json.loads(out)
    assert pruned["removed"] == {q8_key: 3} and pruned["freed_bytes"] > 0
    assert model_state(capsys, home)["stored"] == {f16_key: 3}
    assert not any(p.name.startswith(f"vectors-{q8_key}-") for p in files.glob("*.usearch"))
    rc, out, _err = cli(capsys, "--home", str(home), "search", "worn brake pads", "--json")
    assert rc == 0 and Path(json.loads(out)[0]["path"]).name == "brakes.txt"


def test_a_configured_model_nobody_confirmed_never_reembeds(
    home: Path, q8: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the window's watcher runs on its own: Engine.index() on the home's settings."""
    assert index_json(capsys, home)["chunks_embedded"] == 3
    cfg = home / "config.toml"
    cfg.write_text(f'model_path = "{q8}"\n', encoding="utf-8")  # edited by hand
    eng = Engine(home)
    try:
        before = eng.catalog.get_meta("model_key")
        rep = eng.index()
        assert rep.chunks_embedded == 0 and eng.catalog.get_meta("model_key") == before
        st = eng.status()
        assert st.model["configured_key"] == model_fingerprint(q8) and not st.model["switching"]
        assert any(
            f"models use {q8.name}" in n and "re-embeds 3 passages" in n for n in st.notices
        ), st.notices
        # a new file is still indexed, with the model the index uses
        docs = Path(eng.roots()[0].path)
        (docs / "taxes.txt").write_text("File the tax return by January.", encoding="utf-8")
        rep = eng.index()
        assert rep.new == 1 and rep.chunks_embedded == 1
        assert eng.catalog.vector_counts() == {before: 4}
    finally:
        eng.close()
    # a plain CLI index without a terminal says so and goes on with the active model
    rc, _out, err = cli(capsys, "--home", str(home), "index")
    assert rc == 0 and "indexing keeps using" in err and f"models use {q8.name}" in err


def test_models_install_checks_the_gguf_then_copies_it(
    home: Path, q8: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gguf import GGUFReader

    rc, out, err = cli(capsys, "--home", str(home), "models", "install", str(q8))
    assert rc == 0, err
    dest = home / "models" / q8.name
    assert dest.read_bytes() == q8.read_bytes() and f"models use {q8.name}" in out
    rc, out, _err = cli(capsys, "--home", str(home), "models", "install", str(q8))
    assert rc == 0 and "already installed" in out

    text = tmp_path / "notes.gguf"
    text.write_text("not a model", encoding="utf-8")
    no_pooling = tmp_path / "chat-model.gguf"
    shutil.copyfile(q8, no_pooling)
    reader = GGUFReader(no_pooling, "r+")
    reader.fields["bert.pooling_type"].parts[-1][0] = 0  # what an LLM's GGUF declares
    del reader
    for bad, words in (
        (text, "not a GGUF"),
        (no_pooling, "not an embedding model"),
        (tmp_path / "missing.gguf", "not found"),
    ):
        rc, _out, err = cli(capsys, "--home", str(home), "models", "install", str(bad))
        assert rc == 1 and len(err.strip().splitlines()) == 1 and words in err, err
        assert not (home / "models" / bad.name).exists()

    # two installed models of one family: a name that fits both is refused, the file name works
    rc, _out, err = cli(capsys, "--home", str(home), "models", "use", "all-MiniLM-L6-v2")
    assert rc == 1 and "several installed models" in err
    assert index_json(capsys, home)["chunks_embedded"] == 3
    rc, out, err = cli(capsys, "--home", str(home), "models", "use", q8.name)
    assert rc == 0 and "re-embeds 3 passages" in err and f"using {q8.name}" in out
    assert configured(home) == str(dest.resolve())
    assert model_state(capsys, home)["active"] == model_fingerprint(q8)
