"""The model catalog, `models` / `models download`, and prefixes applied from the catalog.

Never touches the real network: downloads go to a local HTTP server on 127.0.0.1 (serving a
tiny GGUF the test builds) or to a closed local port (the offline case)."""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from tiny_models import packaging_module

from desktop_search.cli import main
from desktop_search.errors import ModelError
from desktop_search.models import CATALOG, KnownModel, download, find_model, known_model_for

REPO = Path(__file__).resolve().parents[2]


def _module(name: str) -> ModuleType:
    return packaging_module(name)


def test_catalog_entries_are_complete_and_consistent() -> None:
    names = [m.name for m in CATALOG]
    assert len(names) == len(set(names))
    assert {m.kind for m in CATALOG} == {"embedding", "reranker"}
    for m in CATALOG:
        assert known_model_for(m.name) is m, m.name  # its pattern finds itself first
        assert m.licence and m.quality and m.url and m.context > 0 and m.size_mb > 0
        if m.kind == "reranker":
            assert m.pooling == "rank" and m.dims == 0 and not m.query_prefix
        else:
            assert m.pooling in ("mean", "cls", "last") and m.dims > 0
        if m.downloadable:
            assert m.file.endswith(".gguf") and re.fullmatch(r"[\w.-]+/[\w.-]+", m.repo)
            assert m.download_url().startswith("https://huggingface.co/" + m.repo + "/resolve/")
        else:
            assert m.note, f"{m.name}: say how to get it"
        assert not m.sha256 or re.fullmatch(r"[0-9a-f]{64}", m.sha256)
        assert not m.sha256 or m.revision != "main"  # a checksum needs a pinned revision


def test_names_that_look_alike_resolve_to_the_right_model() -> None:
    def name(s: str) -> str | None:
        m = known_model_for(s)
        return m.name if m else None

    assert name("bge-reranker-v2-m3-Q8_0.gguf") == "bge-reranker-v2-m3"
    assert name("bge-small-en-v1.5-q8_0.gguf") == "bge-small-en-v1.5"
    assert name("ms-marco-MiniLM-L-6-v2.f16.gguf") == "ms-marco-MiniLM-L-6-v2"
    assert name("all-MiniLM-L6-v2.f16.gguf") == "all-MiniLM-L6-v2"
    assert name("nomic-embed-text-v1.5.Q8_0.gguf") == "nomic-embed-text-v1.5"
    assert name("my-own-model.gguf") is None
    assert find_model("BGE-Reranker-v2-M3") is find_model("bge-reranker-v2-m3")


def test_download_url_follows_hf_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    m = find_model("bge-small-en-v1.5")
    assert m is not None
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.example/")
    assert m.download_url() == (
        "http://mirror.example/CompendiumLabs/bge-small-en-v1.5-gguf/"
        "resolve/main/bge-small-en-v1.5-q8_0.gguf"
    )


# --- a tiny embedding GGUF named like a catalog model with prefixes ----------------------------


@pytest.fixture(scope="module")
def tiny_nomic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny BERT embedder whose GGUF name says nomic-embed-text (prefixed model)."""
    from safetensors.numpy import load_file, save_file

    cross = _module("convert_cross_encoder_gguf")
    bert = _module("convert_bert_gguf")
    d = tmp_path_factory.mktemp("emb")
    cross.make_random_checkpoint(d / "ck")
    w = load_file(str(d / "ck" / "model.safetensors"))
    for k in ("classifier.weight", "classifier.bias"):
        del w[k]
    save_file(w, str(d / "ck" / "model.safetensors"))
    (d / "ck" / "1_Pooling").mkdir()
    (d / "ck" / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_mean_tokens": True})
    )
    out = d / "nomic-embed-text-v1.5-tiny.f32.gguf"
    bert.convert(d / "ck", out, "f32", name="nomic-embed-text-v1.5-tiny")
    return out


def test_embedder_applies_catalog_prefixes(tiny_nomic: Path) -> None:
    import llama_cpp

    from desktop_search.embed import Embedder

    emb = Embedder(tiny_nomic, n_threads=1)
    assert emb.info.known is not None and emb.info.known.name == "nomic-embed-text-v1.5"
    assert emb.info.query_prefix == "search_query: "
    assert emb.info.document_prefix == "search_document: "
    q = emb.embed_query("kidney stones")
    d = emb.embed_documents(["kidney stones"])[0]
    raw = llama_cpp.Llama(
        str(tiny_nomic),
        embedding=True,
        n_ctx=512,
        n_batch=512,
        n_ubatch=512,
        n_threads=1,
        verbose=False,
    )
    try:

        def unit(text: str) -> Any:
            v = np.asarray(raw.embed(text), dtype=np.float64)
            return v / np.linalg.norm(v)

        assert float(q @ unit("search_query: kidney stones")) > 0.999
        assert float(d @ unit("search_document: kidney stones")) > 0.999
        assert float(q @ unit("kidney stones")) < 0.999  # the prefix really changed the input
    finally:
        raw.close()


# --- models / models download -------------------------------------------------------------------


def test_models_lists_catalog_bundled_and_installed(
    tmp_path: Path, tiny_nomic: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "bge-small-en-v1.5-q8_0.gguf").write_bytes(tiny_nomic.read_bytes())
    (home / "models" / "something-else.gguf").write_bytes(tiny_nomic.read_bytes())
    assert main(["--home", str(home), "models", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in out["catalog"]}
    assert set(rows) == {m.name for m in CATALOG}
    assert rows["all-MiniLM-L6-v2"]["bundled"] and rows["all-MiniLM-L6-v2"]["in_use"]
    assert rows["bge-small-en-v1.5"]["installed"] == [
        str(home / "models" / "bge-small-en-v1.5-q8_0.gguf")
    ]
    assert not rows["bge-small-en-v1.5"]["in_use"]
    assert rows["bge-reranker-v2-m3"]["kind"] == "reranker"
    assert rows["nomic-embed-text-v1.5"]["query_prefix"] == "search_query: "
    assert out["other_installed"] == [str(home / "models" / "something-else.gguf")]
    assert main(["--home", str(home), "models"]) == 0
    text = capsys.readouterr().out
    assert "bge-small-en-v1.5" in text and "installed" in text and "bundled, in use" in text


def test_download_offline_fails_with_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: refused
    home = tmp_path / "home"
    assert main(["--home", str(home), "models", "download", "bge-small-en-v1.5"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("desktop-search: cannot download bge-small-en-v1.5:")
    assert "offline?" in err
    assert list((home / "models").iterdir()) == []
    assert main(["--home", str(home), "models", "download", "ms-marco-MiniLM-L-6-v2"]) == 1
    assert "convert_cross_encoder_gguf.py" in capsys.readouterr().err
    assert main(["--home", str(home), "models", "download", "no-such-model"]) == 1
    assert "no model called" in capsys.readouterr().err


@pytest.fixture
def hub(tiny_nomic: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """A local stand-in for the hub: serves whatever bytes are put in `files` by URL path."""
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", files
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_download_verifies_and_installs_atomically(
    tmp_path: Path, tiny_nomic: Path, hub: tuple[str, dict[str, bytes]]
) -> None:
    endpoint, files = hub
    body = tiny_nomic.read_bytes()
    good = KnownModel(
        "tiny",
        r"tiny",
        repo="org/tiny-GGUF",
        file="tiny.gguf",
        revision="abc",
        sha256=hashlib.sha256(body).hexdigest(),
    )
    files["/org/tiny-GGUF/resolve/abc/tiny.gguf"] = body
    seen: list[tuple[int, int]] = []
    path = download(
        good, tmp_path / "models", lambda d, t: seen.append((d, t)) or True, endpoint=endpoint
    )
    assert path == tmp_path / "models" / "tiny.gguf" and path.read_bytes() == body
    assert seen[-1] == (len(body), len(body))
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["tiny.gguf"]

    bad_sum = KnownModel(
        "tiny2", r"tiny2", repo="org/tiny-GGUF", file="tiny2.gguf", revision="abc", sha256="0" * 64
    )
    files["/org/tiny-GGUF/resolve/abc/tiny2.gguf"] = body
    with pytest.raises(ModelError, match="failed its checksum"):
        download(bad_sum, tmp_path / "models", endpoint=endpoint)
    not_gguf = KnownModel("page", r"page", repo="org/tiny-GGUF", file="page.gguf")
    files["/org/tiny-GGUF/resolve/main/page.gguf"] = b"<html>sign in</html>"
    with pytest.raises(ModelError, match="not a GGUF"):
        download(not_gguf, tmp_path / "models", endpoint=endpoint)
    missing = KnownModel("gone", r"gone", repo="org/tiny-GGUF", file="gone.gguf")
    with pytest.raises(ModelError, match="HTTP 404"):
        download(missing, tmp_path / "models", endpoint=endpoint)
    cancel = KnownModel("c", r"c", repo="org/tiny-GGUF", file="tiny.gguf", revision="abc")
    with pytest.raises(ModelError, match="cancelled"):
        download(cancel, tmp_path / "other", lambda d, t: False, endpoint=endpoint)
    # nothing half-written anywhere under a real name, no temporary files left
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["tiny.gguf"]
    assert list((tmp_path / "other").iterdir()) == []


def test_cli_download_then_listed(
    tmp_path: Path,
    tiny_nomic: Path,
    hub: tuple[str, dict[str, bytes]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint, files = hub
    m = find_model("jina-reranker-v1-tiny-en")
    assert m is not None
    files[f"/{m.repo}/resolve/{m.revision}/{m.file}"] = tiny_nomic.read_bytes()
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    home = tmp_path / "home"
    assert main(["--home", str(home), "models", "download", "jina-reranker-v1-tiny-en"]) == 0
    out = capsys.readouterr().out
    assert f"installed {home / 'models' / m.file}" in out and "--rerank" in out
    assert main(["--home", str(home), "models", "download", "jina-reranker-v1-tiny-en"]) == 0
    assert "already installed" in capsys.readouterr().out
    assert main(["--home", str(home), "models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["catalog"]}
    assert rows["jina-reranker-v1-tiny-en"]["installed"]
