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

# Lower edges of the similarity bins and the share relevant (0-100) in each, for results
# with some query word in them ("words") and without ("meaning" only). Placeholder until
# calibrated; see the module docstring.
SIM_EDGES: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
WITH_WORDS: tuple[int, ...] = (0, 0, 2, 5, 10, 20, 40, 60, 80)
MEANING_ONLY: tuple[int, ...] = (0, 0, 1, 3, 6, 12, 25, 45, 70)
EXACT = 90  # found by the rare-term rule: every word, a phrase or an identifier, rarely
# Below this similarity a passage is not close in meaning ("words" alone, if it has them).
MEANING_MIN = 0.25
# A result is a good match from this relevance on; none such: "no good match".
GOOD_MATCH = 10


def judge(similarity: float | None, words: bool, exact: bool, *, calibrated: bool
          ) -> tuple[str, int | None, bool]:
    """(match tag, relevance 0-100 or None, good match) for one result."""
    meaning = similarity is not None and similarity >= MEANING_MIN
    match = "words+meaning" if words and meaning else "meaning" if meaning else "words"
    if not calibrated or similarity is None:
        return match, (EXACT if exact and calibrated else None), True
    table = WITH_WORDS if words else MEANING_ONLY
    i = max(0, bisect.bisect_right(SIM_EDGES, similarity) - 1)
    rel = max(table[i], EXACT if exact else 0)
    return match, rel, rel >= GOOD_MATCH
