#!/usr/bin/env python3
"""Compute reference embeddings of all-MiniLM-L6-v2 with the original PyTorch model.

Writes ``tests/data/minilm_reference_embeddings.json``: a fixed set of varied texts and their
L2-normalised sentence-transformers embeddings (6 decimals), which
``tests/integration/test_model_fidelity.py`` compares the bundled GGUF against. The test suite
itself never needs torch.

Run it in a throwaway virtual environment, never in the project's own:

    python -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 sentence-transformers
    HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python packaging/make_reference_embeddings.py \\
        [--model-dir UNPACKED_CHECKPOINT]

Without ``--model-dir`` the checkpoint is fetched and verified as build_default_model.py does.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_PATH = REPO_ROOT / "tests" / "data" / "minilm_reference_embeddings.json"

LONG_TEXT = (
    "The quarterly maintenance report for the water treatment plant covers the period from "
    "January to March. During this time the team replaced two of the four intake pumps, "
    "which had been running well beyond their rated service life and were showing signs of "
    "bearing wear. The new pumps draw roughly fifteen percent less power at the same flow "
    "rate, and early measurements suggest that the savings will cover their cost within "
    "three years. The sand filters were backwashed on schedule, but the operators noticed "
    "that filter number three clogged faster than the others, so a sample of the media was "
    "sent to the laboratory for analysis. The results showed a build-up of iron and "
    "manganese deposits, probably caused by the higher mineral content of the river after "
    "the autumn floods. Chlorine dosing remained within the permitted range throughout the "
    "quarter, and no sample exceeded the limits for turbidity or bacteria. Two minor "
    "incidents were recorded: a power cut that lasted forty minutes in February, during "
    "which the backup generator started as designed, and a leaking valve in the chemical "
    "store that was isolated and repaired the same day. Next quarter the plan is to "
    "replace the remaining pumps, renew the media in filter three, and train two new "
    "operators on the control system."
)

TEXTS: list[str] = [
    "hello",
    "How do I reset my password?",
    "The cat sat on the mat.",
    "A man is playing a guitar on stage in front of a large crowd.",
    "Quarterly revenue grew 12% year over year, driven by strong demand in Europe.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)",
    "SELECT name, COUNT(*) FROM files WHERE ext = '.pdf' GROUP BY name ORDER BY 2 DESC;",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Le contrat de location doit être signé avant le premier jour du mois.",
    "東京は日本の首都です。",
    "Wait... what?!?! (no way) -- really??? #wow @team $100 & 50% off!!!",
    "meeting notes 2024-03-15: budget, hiring plan; action items -> Alice, Bob",
    "   leading and trailing   whitespace\tand\ttabs\n\nand blank lines   ",
    "Café naïve résumé coöperate",
    LONG_TEXT,
]


def _load_builder() -> Any:
    path = Path(__file__).resolve().parent / "build_default_model.py"
    spec = importlib.util.spec_from_file_location("build_default_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def compute(model_dir: Path) -> dict[str, Any]:
    import numpy as np
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    model = SentenceTransformer(str(model_dir), device="cpu")
    model.eval()
    tokenizer = model.tokenizer
    max_len = int(model.max_seq_length)
    items = []
    vectors = model.encode(
        TEXTS, batch_size=1, normalize_embeddings=True, convert_to_numpy=True
    ).astype(np.float64)
    for text, vec in zip(TEXTS, vectors, strict=True):
        n_tokens = len(tokenizer(text)["input_ids"])
        if n_tokens > max_len:
            raise SystemExit(f"text exceeds max_seq_length {max_len} ({n_tokens} tokens)")
        items.append(
            {
                "text": text,
                "n_tokens": n_tokens,
                "embedding": [round(float(x), 6) for x in vec],
            }
        )
    return {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "safetensors_sha256": _load_builder().SAFETENSORS_SHA256,
        "produced_by": "packaging/make_reference_embeddings.py",
        "sentence_transformers_version": sentence_transformers.__version__,
        "torch_version": torch.__version__,
        "normalized": True,
        "dimension": int(vectors.shape[1]),
        "max_seq_length": max_len,
        "items": items,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=OUT_PATH)
    args = parser.parse_args(argv)
    builder = _load_builder()
    if args.model_dir is not None:
        builder.verify_checkpoint(args.model_dir)
        data = compute(args.model_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="minilm-ref-") as tmp:
            folder, _source = builder.fetch_checkpoint(Path(tmp))
            data = compute(folder)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(data['items'])} texts, dim {data['dimension']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
