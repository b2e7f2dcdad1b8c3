"""Blending, hard constraints, diversity and exploration: the pure parts of ranking.

Scores are pandas Series indexed by catalog item id. Each signal is scaled to [0, 1] over the allowed
candidates, then blended with weights that follow how much we know about the user.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from convrec.catalog.models import Catalog
from convrec.tools.models import Profile

SIGNALS = ("itemsim", "cf", "query", "genre", "popularity")


def blend_weights(profile: Profile, *, has_query: bool) -> dict[str, float]:
    """Zero knowledge: popularity and genres. A few liked items: item–item carries it. Many: CF grows."""
    items = len(set(profile.liked) | set(profile.ratings))
    if items == 0:
        weights = {"itemsim": 0.0, "cf": 0.0, "genre": 0.5, "popularity": 0.5}
    else:
        cf = min(0.35, 0.04 * items)  # CF from a fold-in of 1-2 items is noise; it earns weight with evidence
        weights = {"itemsim": 0.75 - cf, "cf": cf, "genre": 0.15, "popularity": 0.10}
    weights["query"] = 0.6 if has_query else 0.0
    return weights


def scaled(scores: pd.Series, candidates: pd.Index) -> pd.Series:
    """Min–max to [0, 1] over the candidates; a flat or missing signal becomes 0."""
    values = scores.reindex(candidates).fillna(scores.min() if len(scores) else 0.0)
    low, high = values.min(), values.max()
    if not math.isfinite(high - low) or high - low <= 1e-12:
        return pd.Series(0.0, index=candidates)
    return (values - low) / (high - low)


def blend(signals: Mapping[str, pd.Series | None], weights: Mapping[str, float], candidates: pd.Index) -> pd.Series:
    total = pd.Series(0.0, index=candidates)
    for name, weight in weights.items():
        signal = signals.get(name)
        if weight and signal is not None and len(signal):
            total += weight * scaled(signal, candidates)
    return total


def allowed(catalog: Catalog, profile: Profile) -> pd.Index:
    """Items that satisfy every hard constraint and that the user has not already told us about."""
    items = catalog.items
    keep = ~items.index.isin(list(profile.known_items()))
    constraints = profile.constraints
    if constraints.year_min is not None:
        keep &= items["year"].ge(constraints.year_min).fillna(False).to_numpy(dtype=bool)
    if constraints.year_max is not None:
        keep &= items["year"].le(constraints.year_max).fillna(False).to_numpy(dtype=bool)
    if constraints.exclude_genres:
        banned = set(constraints.exclude_genres)
        keep &= ~items["genres"].map(lambda genres: bool(banned.intersection(genres))).to_numpy(dtype=bool)
    if constraints.require_genres:
        wanted = set(constraints.require_genres)
        keep &= items["genres"].map(lambda genres: bool(wanted.intersection(genres))).to_numpy(dtype=bool)
    return items.index[keep]


def genre_affinity(catalog: Catalog, profile: Profile) -> pd.Series:
    """+1 per liked genre an item has, -1 per disliked genre (soft: hard exclusions are constraints)."""
    liked, disliked = profile.genres_liked, profile.genres_disliked
    return catalog.items["genres"].map(lambda genres: len(liked.intersection(genres)) - len(disliked.intersection(genres))
                                       ).astype(float)


def popularity_prior(catalog: Catalog) -> pd.Series:
    """log(1 + ratings) × a shrunk mean rating, so famous and well-liked beats merely famous."""
    stats = catalog.ratings.groupby("item_id")["rating"].agg(["count", "mean"]).reindex(catalog.items.index)
    count = stats["count"].fillna(0)
    global_mean = catalog.ratings["rating"].mean() if len(catalog.ratings) else 0.0
    shrunk = (stats["mean"].fillna(global_mean) * count + global_mean * 10) / (count + 10)
    return np.log1p(count) * shrunk


def mmr(relevance: pd.Series, similarity: Callable[[str, str], float], k: int, diversity: float = 0.3) -> list[str]:
    """Maximal marginal relevance: trade a little relevance for items unlike those already chosen."""
    pool = list(relevance.sort_values(ascending=False).index[: max(k * 5, 20)])
    chosen: list[str] = []
    while pool and len(chosen) < k:
        def marginal(item_id: str) -> float:
            redundancy = max((similarity(item_id, other) for other in chosen), default=0.0)
            return (1 - diversity) * relevance[item_id] - diversity * redundancy

        best = max(pool, key=marginal)
        chosen.append(best)
        pool.remove(best)
    return chosen


def thompson_genre(feedback: Mapping[str, tuple[int, int]], genres: list[str], rng: np.random.Generator) -> str:
    """Sample each genre's like-rate from Beta(1 + likes, 1 + dislikes); explore the genre that wins the draw."""
    draws = {genre: rng.beta(1 + feedback.get(genre, (0, 0))[0], 1 + feedback.get(genre, (0, 0))[1])
             for genre in genres}
    return max(draws, key=draws.get)
