"""Top-N metrics for one user: a ranked list of item ids against the set of relevant (held-out) items.

With one held-out item per user, as in leave-latest-liked-out, recall@k equals the hit rate, precision@k is
hit/k, and the ideal DCG is 1, so NDCG@k is 1/log2(1 + rank).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

METRICS = ("hr", "ndcg", "mrr", "precision", "recall")


def _hits(ranked: Sequence[str], relevant: Collection[str], k: int) -> list[int]:
    """1-based ranks within the top k of the items that are relevant."""
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    return [rank for rank, item in enumerate(ranked[:k], start=1) if item in relevant]


def hit_rate(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1 if any relevant item is in the top k, else 0."""
    return 1.0 if _hits(ranked, relevant, k) else 0.0


def ndcg(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """DCG of the top k (binary gains, 1/log2(1 + rank)) over the ideal DCG: all relevant items first."""
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(1 + rank) for rank in _hits(ranked, relevant, k))
    ideal = sum(1.0 / math.log2(1 + rank) for rank in range(1, min(k, len(relevant)) + 1))
    return dcg / ideal


def mrr(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1/rank of the first relevant item in the top k, 0 if none."""
    hits = _hits(ranked, relevant, k)
    return 1.0 / hits[0] if hits else 0.0


def precision(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Relevant items in the top k, over k (not over the list's length: a short list is not rewarded)."""
    return len(_hits(ranked, relevant, k)) / k


def recall(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Relevant items in the top k, over all relevant items."""
    return len(_hits(ranked, relevant, k)) / len(relevant) if relevant else 0.0


def all_metrics(ranked: Sequence[str], relevant: Collection[str], k: int) -> dict[str, float]:
    return {"hr": hit_rate(ranked, relevant, k), "ndcg": ndcg(ranked, relevant, k), "mrr": mrr(ranked, relevant, k),
            "precision": precision(ranked, relevant, k), "recall": recall(ranked, relevant, k)}
