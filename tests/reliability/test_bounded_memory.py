"""No single file makes the extraction worker exceed its memory cap: a file that would is
recorded as too large to read safely, the worker lives on (or is restarted), the run goes on."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from desktop_search.errors import FileTooLarge
from desktop_search.extract import _common
from desktop_search.extract.worker import DEFAULT_MEMORY_MB, ExtractWorker


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the cap is an rlimit")
def test_a_file_that_needs_more_memory_than_the_cap_is_too_large_not_a_crash(
    tmp_path: Path,
) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes("wörd ".encode() * (16 << 20))  # 96 MB of text, decoded to 4-byte chars
    small = tmp_path / "small.txt"
    small.write_text("The quoll hunts at night.", encoding="utf-8")
    with ExtractWorker(timeout_s=60) as w:
        assert w.memory_mb == DEFAULT_MEMORY_MB <= 320
        with pytest.raises(FileTooLarge) as e:
            w.extract(big, max_bytes=128 << 20, max_chars=128 << 20)
        assert e.value.reason == "too-large"
        assert "too large to read safely" in str(e.value)
        assert "quoll" in w.extract(small).text  # the next file is fine
        assert w.crashes == 0


def test_normalising_a_text_of_control_characters_stays_small() -> None:
    """20 MB of NULs once cost a list entry per character in re.sub (a 3 GB sparse log read
    to its 20 MB cap peaked at 248 MB); newlines are still normalised across slices."""
    import tracemalloc

    text = "a\r\n" + "\x00" * (20 << 20) + "b\r" + "x" * (_common._NORMALISE_SLICE - 1) + "\r\nc"
    tracemalloc.start()
    out = _common.normalise(text)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out == "a\nb\n" + "x" * (_common._NORMALISE_SLICE - 1) + "\nc"
    assert peak < 40 << 20, f"{peak / 2**20:.0f} MB for a 21 MB text"
