"""Drives the Engine in a fresh process, for tests that need one (file permissions as a lesser
process, peak memory, no network): `python engine_run.py '<json spec>'` prints a JSON result.

spec: home, roots (added before indexing), timeout (extraction budget, seconds), words (each
searched by keyword afterwards).
"""

from __future__ import annotations

import json
import resource
import sys
from dataclasses import asdict

from desktop_search.engine import Engine
from desktop_search.search import SearchOptions


def peak_rss_mb() -> float:
    """This process image's own peak (VmHWM). Not ru_maxrss: Linux carries that over fork+exec,
    so a child of a big pytest process would report the parent's peak as its own."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    spec = json.loads(sys.argv[1])
    eng = Engine(spec["home"])
    eng.extract_timeout_s = float(spec.get("timeout", 60))
    for root in spec.get("roots", []):
        eng.add_root(root)
    rep = eng.index()
    worker = eng.extract_worker()
    hits = {
        w: [r.path for r in eng.search(w, SearchOptions(mode="keyword", k=50))]
        for w in spec.get("words", [])
    }
    dense = [r.path for r in eng.search(spec.get("query", "animals"), SearchOptions(k=5))]
    out = {
        "report": {
            "indexed": rep.indexed,
            "failed": rep.failed,
            "skipped": rep.skipped,
            "new": rep.new,
            "seconds": rep.seconds,
        },
        "status": asdict(eng.status()),
        "verify": eng.verify(),
        "hits": hits,
        "dense": dense,
        "worker": {
            "starts": worker.starts,
            "kills": worker.kills,
            "crashes": worker.crashes,
            "files": worker.files,
        },
        "maxrss_mb": peak_rss_mb(),
    }
    eng.close()
    out["worker_maxrss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
