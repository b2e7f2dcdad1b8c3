"""Pure metrics of a dialogue evaluation: ranking quality of the cards, what they contain, turns and latency.

The ranking metrics are those of `evaluation.metrics` (binary relevance), applied as the ReDial cases' README
defines them: the cards in order, duplicates removed, cut at 10. The rest is counting: the share of shown items the
user already mentioned or that are not in the catalog, Hit@k within N turns and the average turns AT@k of a
simulated conversation (a failure counts as N + 1, as in InteRecAgent), and percentiles of latencies.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence

from convrec.evaluation import metrics

CUT = 10
HIT_AT = (1, 5, 10)
RANKING_KEYS = (*(f"hit@{k}" for k in HIT_AT), f"recall@{CUT}", f"ndcg@{CUT}", f"mrr@{CUT}")


def dedupe(items: Iterable[str]) -> list[str]:
    """The items in order, each once (the first time it appears)."""
    return list(dict.fromkeys(items))


def ranking_metrics(shown: Sequence[str], targets: Collection[str], cut: int = CUT) -> dict[str, float]:
    """Hit@1/5/10, Recall@10, NDCG@10 and MRR@10 of one list of shown items against a case's targets."""
    ranked = dedupe(shown)[:cut]
    relevant = set(targets)
    result = {f"hit@{k}": metrics.hit_rate(ranked, relevant, k) for k in HIT_AT if k <= cut}
    result[f"recall@{cut}"] = metrics.recall(ranked, relevant, cut)
    result[f"ndcg@{cut}"] = metrics.ndcg(ranked, relevant, cut)
    result[f"mrr@{cut}"] = metrics.mrr(ranked, relevant, cut)
    return result


def first_hit_rank(shown: Sequence[str], targets: Collection[str]) -> int | None:
    """1-based rank of the first target among the (deduplicated) shown items, None if there is none."""
    relevant = set(targets)
    return next((rank for rank, item in enumerate(dedupe(shown), start=1) if item in relevant), None)


def mean_metrics(rows: Sequence[dict[str, float]]) -> dict[str, float | None]:
    """The average of each metric over cases (None when there are no cases)."""
    keys = dict.fromkeys(key for row in rows for key in row)
    return {key: (sum(row[key] for row in rows) / len(rows) if rows else None) for key in keys}


def share_of(lists: Iterable[Sequence[str]], wanted: Iterable[Collection[str]]) -> tuple[int, int]:
    """(how many shown items are in their list's `wanted` set, how many items were shown), over all lists.

    `wanted` pairs with `lists`, one set per list: e.g. the movies the user had mentioned when the list was shown.
    """
    found = total = 0
    for items, chosen in zip(lists, wanted, strict=True):
        unique = dedupe(items)
        total += len(unique)
        found += sum(1 for item in unique if item in chosen)
    return found, total


def outside_share(lists: Iterable[Sequence[str]], catalog_ids: Collection[str]) -> tuple[int, int]:
    """(how many shown items are not in the catalog, how many were shown): must be (0, n)."""
    found = total = 0
    for items in lists:
        unique = dedupe(items)
        total += len(unique)
        found += sum(1 for item in unique if item not in catalog_ids)
    return found, total


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between order statistics (numpy's default)."""
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0-100, got {q}")
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(values: Sequence[float]) -> dict[str, float | int | None]:
    return {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
            "mean": sum(values) / len(values) if values else None, "max": max(values) if values else None}


def hit_within(turns_to_hit: Sequence[int | None], turns: int) -> float | None:
    """Share of conversations whose target was shown within `turns` turns (None = never shown)."""
    if not turns_to_hit:
        return None
    return sum(1 for t in turns_to_hit if t is not None and t <= turns) / len(turns_to_hit)


def average_turns(turns_to_hit: Sequence[int | None], max_turns: int) -> float | None:
    """AT@k: the mean number of turns until the target was shown, a failure counting as max_turns + 1."""
    if not turns_to_hit:
        return None
    if any(t is not None and not 1 <= t <= max_turns for t in turns_to_hit):
        raise ValueError(f"a turn to hit must be within 1-{max_turns}")
    return sum(max_turns + 1 if t is None else t for t in turns_to_hit) / len(turns_to_hit)


def proportion_ci95(p: float | None, n: int) -> float | None:
    """Half-width of the normal-approximation 95% interval of a proportion over n cases."""
    if p is None or n <= 0:
        return None
    return 1.96 * math.sqrt(p * (1 - p) / n)


def paired_hits(ours: Sequence[float], other: Sequence[float]) -> dict[str, float | int]:
    """Cases hit by one model and missed by the other, and the exact two-sided McNemar (sign test) p-value."""
    if len(ours) != len(other):
        raise ValueError("the two models must be scored on the same cases")
    only_ours = sum(1 for a, b in zip(ours, other) if a and not b)
    only_other = sum(1 for a, b in zip(ours, other) if b and not a)
    return {"only_ours": only_ours, "only_other": only_other, "both": sum(1 for a, b in zip(ours, other) if a and b),
            "p_value": mcnemar_exact(only_ours, only_other)}


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact binomial test of b successes in b + c trials at p = 1/2 (1.0 when b + c = 0)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(0, min(b, c) + 1)) / 2 ** n
    return min(1.0, 2 * tail)
