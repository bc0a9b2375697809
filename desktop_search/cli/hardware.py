"""`hardware`: what this machine can run, and how fast (hardware.py measures)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_hardware(sub: Any) -> None:
    h = sub.add_parser("hardware", help="what this machine can run, and how fast")
    h.add_argument("--json", action="store_true")
    h.add_argument(
        "--no-measure",
        action="store_true",
        help="do not time the models (instant; speeds are then 0)",
    )
    h.set_defaults(handler=cmd_hardware)


def cmd_hardware(args: argparse.Namespace) -> int:
    from ..hardware import detect, render
    from ..paths import resolve_home

    rep = detect(measure=not args.no_measure, models_dir=resolve_home(args.home).models_dir)
    if args.json:
        print(json.dumps(rep.to_json(), indent=2))
    else:
        print(render(rep))
    return 0
