"""How the meaning and the words rankings become one: the tuned parameters (Tuning), score and
rank fusion, a file's score from its passages, and exact rare matches first. Pure functions over
{id: score} maps; the searcher (search.py) feeds them its candidates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import QueryError

FUSIONS = ("rrf", "score")
LEVELS = ("file", "chunk")
RRF_K = 60


@dataclass(frozen=True)
class Tuning:
    """How the two rankings are fused. Measured, not guessed: the defaults are the best of the
    table in docs/quality.md (SciFact train, 809 queries)."""

    # "score": weighted sum of scores min-max normalised per ranking (0.735 nDCG@10);
    # "rrf": reciprocal rank fusion (0.724 at its best k)
    fusion: str = "score"
    rrf_k: int = 10  # only for rrf; 10 beat the customary 60 (0.724 vs 0.720)
    dense_weight: float = 1.0  # weight of the meaning ranking
    keyword_weight: float = 1.0  # weight of the BM25 ranking
    level: str = "file"  # fuse file rankings (a file ranks by its best chunk) or chunk rankings
    title_weight: float = 1.0  # BM25 weight of the title column (the text column weighs 1)
    stop_words: bool = True  # drop stop words from the keyword query
    # A query word in more than this share of passages is "common": it adds to the BM25 score
    # of the passages the rarer words find, but finds none itself (1 = every word finds).
    common_share: float = 0.05
    # At most this many passages (their words' counts summed) are scored to find keyword
    # candidates; past it the more common words only add to scores (0 = no limit). SciFact
    # (12,112 passages) loses no nDCG@10 down to a budget of 10 % of the passages, 0.002 at
    # 3 %, 0.018 at 1 %: 10,000 is free up to 100,000 passages, and at a million it holds
    # hybrid queries near 40 ms (20,000: 55 ms) at the price the 1 % row suggests.
    keyword_budget: int = 10_000
    # Candidates per ranking; 0 = max(CANDIDATES, 4 k). Fixed rather than growing with k, so a
    # 10-result query in the window ranks exactly as the 100-result evaluation measured.
    depth: int = 0
    # The rare-term rule: when every word of the query (or a quoted phrase, or an identifier
    # such as "token216q" or "0001045810-23-000175") occurs in at most this many passages, the
    # files holding them rank above every other (0 = off). Tuned in docs/quality.md.
    rare_max: int = 5
    # BM25 weight of file and folder names (a small keyword index of files, names_fts)
    name_weight: float = 0.5
    # A file's score: its best passage's plus this share of its second's, its square of the
    # third's... (0 = the best passage alone)
    doc_damping: float = 0.0

    def validate(self) -> Tuning:
        if self.fusion not in FUSIONS:
            raise QueryError(f"unknown fusion {self.fusion!r}: use one of {', '.join(FUSIONS)}")
        if self.level not in LEVELS:
            raise QueryError(f"unknown fusion level {self.level!r}: use file or chunk")
        if (
            self.rrf_k < 0
            or self.dense_weight < 0
            or self.keyword_weight < 0
            or self.title_weight < 0
            or self.depth < 0
            or self.keyword_budget < 0
            or self.rare_max < 0
            or self.name_weight < 0
            or self.doc_damping < 0
        ):
            raise QueryError("fusion weights, rrf_k and depth must not be negative")
        if not 0 < self.common_share <= 1:
            raise QueryError("common_share must be above 0 and at most 1")
        return self


DEFAULT_TUNING = Tuning()


@dataclass
class Ranking:
    """The fused order of passages, their scores, and each file's when files were fused."""

    order: list[int]
    scores: dict[int, float]
    file_scores: dict[int, float] | None = None


def fuse(
    mode: str,
    tuning: Tuning,
    dense: list[int],
    dense_sim: dict[int, float],
    keyword: list[int],
    kw_score: dict[int, float],
    names: dict[int, float] | None,
    file_of: Callable[[int], int],
) -> Ranking:
    """One ranking from the meaning and words candidates (and the file names, by file id;
    None: names were not searched). Dense or keyword mode keeps its own ranking."""
    if mode == "dense":
        return Ranking(dense, dense_sim)
    if mode == "keyword":
        return Ranking(keyword, kw_score)
    weights = [tuning.dense_weight, tuning.keyword_weight]
    # weights normalised to sum 1: a score fusion result reads as 0..1 on screen
    total = sum(weights) or 1.0
    weights = [w / total for w in weights]
    if tuning.fusion == "rrf":
        scores = rrf([dense, keyword], tuning.rrf_k, weights)
    else:
        scores = score_fusion([dense_sim, kw_score], weights)
    if tuning.level != "file":
        return Ranking(sorted(scores, key=lambda c: -scores[c]), scores)
    fs = _file_scores(tuning, weights, dense, dense_sim, keyword, kw_score, names, file_of)
    return Ranking(sorted(scores, key=lambda c: (-fs[file_of(c)], -scores[c])), scores, fs)


def _file_scores(
    tuning: Tuning,
    weights: list[float],
    dense: list[int],
    dense_sim: dict[int, float],
    keyword: list[int],
    kw_score: dict[int, float],
    names: dict[int, float] | None,
    file_of: Callable[[int], int],
) -> dict[int, float]:
    """Files fused, each ranked by its best passage (or its damped sum) in each ranking."""
    if tuning.fusion == "rrf":
        return rrf(
            [best_per_group(dense, file_of), best_per_group(keyword, file_of)],
            tuning.rrf_k,
            weights,
        )
    d = tuning.doc_damping
    maps = [damped_per_group(dense_sim, file_of, d), damped_per_group(kw_score, file_of, d)]
    raw = [tuning.dense_weight, tuning.keyword_weight]
    if names is not None:
        maps.append(names)
        raw.append(tuning.name_weight)
    return score_fusion(maps, [w / (sum(raw) or 1.0) for w in raw])


def rrf(
    rankings: list[list[int]], k: int = RRF_K, weights: list[float] | None = None
) -> dict[int, float]:
    """Reciprocal rank fusion: sum over lists of w / (k + rank), rank from 1."""
    scores: dict[int, float] = {}
    for i, ranking in enumerate(rankings):
        w = weights[i] if weights else 1.0
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + w / (k + rank)
    return scores


def score_fusion(
    score_maps: list[dict[int, float]], weights: list[float] | None = None
) -> dict[int, float]:
    """Weighted sum of scores min-max normalised per list (absent = 0): keeps how much better
    the first hit is than the tenth, which rank fusion throws away."""
    out: dict[int, float] = {}
    for i, scores in enumerate(score_maps):
        if not scores:
            continue
        w = weights[i] if weights else 1.0
        lo, hi = min(scores.values()), max(scores.values())
        span = hi - lo
        for key, v in scores.items():
            out[key] = out.get(key, 0.0) + w * ((v - lo) / span if span > 0 else 1.0)
    return out


def best_per_group(order: Sequence[int], group: Callable[[int], int]) -> list[int]:
    """Groups in order of their first (best) member: a file ranks by its best chunk."""
    seen: dict[int, None] = {}
    for key in order:
        seen.setdefault(group(key), None)
    return list(seen)


def max_per_group(scores: dict[int, float], group: Callable[[int], int]) -> dict[int, float]:
    out: dict[int, float] = {}
    for key, v in scores.items():
        g = group(key)
        if g not in out or v > out[g]:
            out[g] = v
    return out


def damped_per_group(
    scores: dict[int, float], group: Callable[[int], int], damping: float
) -> dict[int, float]:
    """A group's best score plus damping times its second, damping squared times its third...
    (0 = the best alone, as max_per_group): a long document whose answer spans several
    passages counts them all, a little."""
    if not damping:
        return max_per_group(scores, group)
    members: dict[int, list[float]] = {}
    for key, v in scores.items():
        members.setdefault(group(key), []).append(v)
    out: dict[int, float] = {}
    for g, vs in members.items():
        vs.sort(reverse=True)
        out[g] = sum(v * damping**i for i, v in enumerate(vs[:4]))
    return out


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def exact_first(
    order: list[int],
    scores: dict[int, float],
    file_scores: dict[int, float] | None,
    exact: set[int],
    file_of: Callable[[int], int],
) -> tuple[list[int], dict[int, float], dict[int, float] | None]:
    """Files with an exact rare match first (their order among themselves kept), each with
    its exact passages first. Their scores are raised by 1 (fused scores are at most 1), so
    scores still fall down the list."""
    files = {file_of(c) for c in exact}
    scores = {c: v + 1.0 if c in exact else v for c, v in scores.items()}
    if file_scores is not None:
        file_scores = {f: v + 1.0 if f in files else v for f, v in file_scores.items()}
        fs = file_scores
        order = sorted(order, key=lambda c: (-fs[file_of(c)], -scores[c]))
    else:
        top = [c for c in order if file_of(c) in files]
        best: dict[int, float] = {}
        for c in top:
            best[file_of(c)] = max(best.get(file_of(c), 0.0), scores[c])
        top.sort(key=lambda c: (-best[file_of(c)], -scores[c]))
        order = top + [c for c in order if file_of(c) not in files]
    return order, scores, file_scores
