"""Scores a person can read: a calibrated 0-100 relevance, a match tag and "no good match".

The fused score orders results but means nothing by itself (min-max normalised per query, so
the best hit of any query is near 1). What does carry meaning across queries is the cosine
similarity of the best passage to the query, and whether the words of the query are in it.
The table below maps them to the share of results that were relevant, measured on the SciFact
training split (809 queries, the top 10 results of each, hybrid search, bundled
all-MiniLM-L6-v2): `python tests/ranking/calibrate_relevance.py` rebuilds it. A table holds
for the model it was measured with only; other models get a tag but no number.
"""

from __future__ import annotations

import bisect

# Content keys (Embedder.info.key) of the models the table was measured with.
CALIBRATED_MODELS = frozenset({"02f6fc16e7030819"})  # bundled all-MiniLM-L6-v2 F16

# Lower edges of the similarity bins and the share relevant (0-100) in each, for results with
# some query word in them and without ("meaning" only). Measured on the SciFact training split
# (809 queries, 8,090 results; docs/quality.md): with words 0/18, 3/60, 8/251, 22/997,
# 66/2454, 143/2370, 185/967, 133/318, 54/78 relevant per bin (0.1-0.5 pooled: 99/3762, so
# the shares rise with similarity). Meaning only: 0 of 162, all below 0.6; its bins from 0.6
# on were never seen and borrow the with-words shares, an upper guess. SciFact judges about
# one document per query, so these shares understate how often a result is on topic; they do
# order results by how often they were right.
SIM_EDGES: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
WITH_WORDS: tuple[int, ...] = (0, 3, 3, 3, 3, 6, 19, 42, 69)
MEANING_ONLY: tuple[int, ...] = (0, 0, 0, 0, 0, 0, 19, 42, 69)
EXACT = 40  # found by the rare-term rule: 166 of 415 such results were relevant
# Below this similarity a passage is not close in meaning ("words" alone, if it has them).
MEANING_MIN = 0.3
# A result is a good match from this relevance on; none such: "no good match". On SciFact
# 100 of 809 queries fall below it, and their first result was relevant 28 % of the time,
# against 67 % for the other 709 queries.
GOOD_MATCH = 5


def judge(
    similarity: float | None, words: bool, exact: bool, *, calibrated: bool
) -> tuple[str, int | None, bool]:
    """(match tag, relevance 0-100 or None, good match) for one result."""
    meaning = similarity is not None and similarity >= MEANING_MIN
    # without query words a result was found by meaning alone, however weakly
    match = ("words+meaning" if meaning else "words") if words else "meaning"
    if not calibrated or similarity is None:
        return match, (EXACT if exact and calibrated else None), True
    table = WITH_WORDS if words else MEANING_ONLY
    i = max(0, bisect.bisect_right(SIM_EDGES, similarity) - 1)
    rel = max(table[i], EXACT if exact else 0)
    return match, rel, rel >= GOOD_MATCH
