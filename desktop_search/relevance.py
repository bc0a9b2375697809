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
# some query word in them and without ("meaning" only). Measured 2026-12 (8,089 results of 809
# queries; counts in docs/quality.md): with words 0/41, 2/79, 8/283, 23/997, 70/2460,
# 149/2385, 192/984, 139/327, 59/83 relevant per bin. Meaning only: 0 of 168 (all below 0.6);
# its bins from 0.6 on were never seen and borrow the with-words shares, an upper guess.
# SciFact judges about one document per query, so these shares understate how often a result
# is on topic; they do rank queries' best results by how often they were right.
SIM_EDGES: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
WITH_WORDS: tuple[int, ...] = (0, 3, 3, 3, 3, 6, 20, 43, 71)  # monotone: 2.5/2.8/2.3/2.8 -> 3
MEANING_ONLY: tuple[int, ...] = (0, 0, 0, 0, 0, 0, 20, 43, 71)
EXACT = 49  # found by the rare-term rule: 138 of 283 such results were relevant
# Below this similarity a passage is not close in meaning ("words" alone, if it has them).
MEANING_MIN = 0.3
# A result is a good match from this relevance on; none such: "no good match". On SciFact
# 6 of 809 queries fall below it (their best result was relevant in 1 of the 6); at 7 it
# would be 32 queries (7 relevant).
GOOD_MATCH = 5


def judge(similarity: float | None, words: bool, exact: bool, *, calibrated: bool
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
