"""Test folders for ranking: near neighbours by the thousand, a rare token in one file, junk
text, files known only by their names. Real files on disk, written deterministically."""

from __future__ import annotations

import random
from pathlib import Path

LONG_TOPICS = ("inventory", "shipping", "meeting", "budget", "travel", "vendor", "support")


def rare_token_folder(root: Path, notes: int = 1500, long_files: int = 200) -> Path:
    """The issue's case: many tiny notes that look alike ("Tiny note 216: token216q ...") and
    longer files, one of which alone says newmark21w."""
    (root / "notes").mkdir(parents=True)
    (root / "files").mkdir()
    for i in range(notes):
        (root / "notes" / f"n{i:04d}.txt").write_text(
            f"Tiny note {i}: token{i}q and some words about item {i}.\n", encoding="utf-8"
        )
    rnd = random.Random(7)
    for i in range(long_files):
        topic = LONG_TOPICS[i % len(LONG_TOPICS)]
        lines = [f"Report {i} on {topic}."]
        for j in range(12):
            lines.append(
                f"Section {j}: the {topic} team reviewed item {rnd.randint(1, 999)} "
                f"and noted {rnd.choice(LONG_TOPICS)} follow-ups for next week."
            )
        if i == 137:
            lines.insert(6, "The part number newmark21w was ordered for the north depot.")
        (root / "files" / f"report_{i:03d}.txt").write_text("\n".join(lines), encoding="utf-8")
    return root


def junk_text(n_chars: int, seed: int = 3) -> str:
    """Random Unicode as a broken export leaves it: zero-width spaces, direction marks,
    combining accents, emoji, Hebrew and Arabic letters."""
    pool = [
        "\u200b",
        "\u200f",
        "\u200e",
        "\u0301",
        "\u0308",
        "\u0327",
        "😀",
        "🎉",
        "🔥",
        "א",
        "ש",
        "ל",
        "م",
        "ع",
        "ك",
        "a",
        "é",
        " ",
        " ",
        "\n",
    ]
    rnd = random.Random(seed)
    return "".join(rnd.choice(pool) for _ in range(n_chars))
