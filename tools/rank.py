"""Blending, hard constraints, diversity and exploration: the pure parts of ranking.

Signals are numpy arrays aligned with `catalog.items.index` (NaN where a signal has nothing to say), so a
request never re-indexes strings. Each signal is scaled to [0, 1] over the allowed candidates, then blended
with weights that follow how much we know about the user.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from convrec.catalog.models import Catalog
from convrec.tools.models import Era, Profile

SIGNALS = ("itemsim", "cf", "query", "genre", "implied_genre", "popularity", "knowledge", "era", "related", "content")
# Shares a director, a star or a series with a liked item. ReDial tune split, weights 0 / 0.2 / 0.4 / 0.6 / 0.9:
# Hit@10 0.118 / 0.135 / 0.148 / 0.143 / 0.130 (150 cases, before the content signal); with the content signal
# beside it (400 cases): 0 / 0.2 / 0.4 / 0.6: 0.180 / 0.193 / 0.185 / 0.175.
RELATED_WEIGHT = 0.2
# With no liked item: stated genres against popularity. ReDial tune split, 0.7 / 0.5 / 0.4 / 0.3: Hit@10 0.182 /
# 0.193 / 0.198 / 0.198; at 0.3 "a documentary" or "a musical" already shows popular films of other genres.
COLD_GENRE_WEIGHT = 0.4
ERA_WEIGHT = 0.3  # "classics", "something recent": a nudge, never a wall
ERA_SCALE = 10  # years outside the era: the preference halves every ~7 years out
# Description similarity to liked items (items beyond the 300 nearest score 0). ReDial tune split, weights
# 0 / 0.3 / 0.45 / 0.6 / 0.8 / 1.0: Hit@10 0.163 / 0.168 / 0.177 / 0.185 / 0.172 / 0.165.
CONTENT_WEIGHT = 0.6
KNOWLEDGE_WEIGHT = 0.8  # a named person or series: their items lead, ordered by the rest of the blend
# How much a genre counts for an item, when someone asks for it. Both the catalog's listing and the opening of the
# item's description ("a 2003 American comedy film") say it: 1. Only one says it: SAID_ONLY when only the opening does
# (Solo is "a space Western", Hell or High Water "a neo-Western"), UNDESCRIBED when the item has no described genre
# at all. The catalog lists it but the opening names other genres: less, by how often openings name that genre when
# it applies (Pulp Fiction is listed as a comedy but is "a crime film", and openings name Comedy 0.91 of the time:
# 1 - (1 - LISTED_ONLY) * 0.91; Children 0.09, as leads say "animated comedy", rarely "children's film").
# ReDial tune split, Hit@10 0.198 with every listed genre counting 1 and descriptions unread; listed only 0 / 0.25 /
# 0.5 (undescribed 0.75, said only 1): 0.210 / 0.210 / 0.207; undescribed 0.6 / 0.75 / 0.9: 0.212 / 0.210 / 0.210;
# said only 1 / 0.75 / 0.5 / 0.25: 0.210 / 0.215 / 0.217 / 0.217. With one weight for every genre (no naming
# rates), listed only 0 / 0.25 / 0.5 / 0.75 / 1: 0.207 / 0.210 / 0.207 / 0.200 / 0.193.
LISTED_ONLY = 0.25
UNDESCRIBED = 0.75
SAID_ONLY = 0.75
RECENCY_HALF_LIFE = 10  # an opinion counts half as much once ten newer ones have been given
GENRE_WEIGHT = 0.30  # stated genres, once someone liked an item; the genres liked items imply start there (below)
# What we assume while we know little of someone: that they want well-known films, in the genres of the films they
# liked. Both count most with one liked film and fade by PRIOR_ITEMS liked or rated items, where item–item knows
# better: popularity to POPULARITY_FLOOR, implied genres to nothing. ReDial tune split, Hit@10 0.220 without them;
# popularity 0.05 for everyone / faded from 0.25: 0.220 / 0.225; faded, with implied genres at 0.1 / 0.2 / 0.3 × the
# fade: 0.230 / 0.237 / 0.242; fading by 6 / 10 / 15 items: 0.242 each. Offline (MovieLens): warm HR@10 unchanged
# (every profile there holds 19 or more ratings); cold start from 1 / 3 recent items 0.070 / 0.083 → 0.077 / 0.090,
# from 1 / 3 earliest 0.023 / 0.025 → 0.033 / 0.030. Without the fade (genre weight 0.3 for any rating history) warm
# HR@10 fell from 0.128 to 0.115.
PRIOR_ITEMS = 10
PRIOR_POPULARITY = 0.20
POPULARITY_FLOOR = 0.05


def blend_weights(profile: Profile, *, has_query: bool, has_knowledge: bool = False, has_era: bool = False,
                  has_related: bool = False, has_content: bool = False,
                  has_implied_genre: bool = False) -> dict[str, float]:
    """Zero knowledge: popularity and genres. Any liked item: item–item (EASE) carries the ranking; CF earns a
    little weight with evidence. Offline (README), SVD ranks below popularity on its own and every step of CF
    weight above ~0.1 cost hit rate, so CF mostly speaks through its predicted-rating evidence."""
    items = len(set(profile.liked) | set(profile.ratings))
    if items == 0:
        weights = {"itemsim": 0.0, "cf": 0.0, "genre": COLD_GENRE_WEIGHT, "popularity": 1.0 - COLD_GENRE_WEIGHT}
    else:
        cf = min(0.10, 0.01 * items)
        fade = max(0.0, 1.0 - items / PRIOR_ITEMS)
        # Stated genres only score when the user named some ("a comedy, like Superbad"); in the ReDial replay, 0.3
        # kept them from being drowned by a named film's neighbours.
        weights = {"itemsim": 0.75 - cf, "cf": cf, "genre": GENRE_WEIGHT,
                   "implied_genre": GENRE_WEIGHT * fade if has_implied_genre else 0.0,
                   "popularity": POPULARITY_FLOOR + PRIOR_POPULARITY * fade}
    weights["query"] = 0.6 if has_query else 0.0
    weights["knowledge"] = KNOWLEDGE_WEIGHT if has_knowledge else 0.0
    weights["era"] = ERA_WEIGHT if has_era else 0.0
    weights["related"] = RELATED_WEIGHT if has_related else 0.0
    weights["content"] = CONTENT_WEIGHT if has_content else 0.0
    return weights


def era_affinity(catalog: Catalog, era: Era, liked: Mapping[str, float]) -> np.ndarray:
    """1 inside the era, decaying with the years outside it; the era first stretches to the liked items' years
    (someone who asks for "classics" and loves Back to the Future means the 1980s too)."""
    years = catalog.items["year"].to_numpy(dtype=float, na_value=np.nan)
    liked_years = [years[catalog.items.index.get_loc(i)] for i in liked if i in catalog.items.index]
    liked_years = [year for year in liked_years if np.isfinite(year)]
    low = era.year_min if era.year_min is not None else -np.inf
    high = era.year_max if era.year_max is not None else np.inf
    if liked_years:
        low, high = min(low, min(liked_years)), max(high, max(liked_years))
    outside = np.where(years < low, low - years, np.where(years > high, years - high, 0.0))
    return np.exp(-np.nan_to_num(outside, nan=3 * ERA_SCALE) / ERA_SCALE)


def by_recency(opinions: Mapping[str, float], half_life: float = RECENCY_HALF_LIFE) -> dict[str, float]:
    """Strengths decayed by age, oldest first in `opinions` (profiles keep the order things were said or rated):
    what someone liked lately says more about what they want next (offline HR@10 0.092 → 0.097 on its own)."""
    newest = len(opinions) - 1
    return {item_id: strength * 0.5 ** ((newest - age) / half_life)
            for age, (item_id, strength) in enumerate(opinions.items())}


def scaled(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Min–max to [0, 1] over the masked candidates; missing values score as the minimum; a flat signal is 0."""
    chosen = values[mask]
    finite = chosen[np.isfinite(chosen)]
    if finite.size == 0 or finite.max() - finite.min() <= 1e-12:
        return np.zeros(chosen.shape)
    low, high = finite.min(), finite.max()
    return (np.nan_to_num(chosen, nan=low) - low) / (high - low)


def blend(signals: Mapping[str, np.ndarray | None], weights: Mapping[str, float], mask: np.ndarray) -> np.ndarray:
    """The weighted sum of the scaled signals, for the masked candidates (in catalog order)."""
    total = np.zeros(int(mask.sum()))
    for name, weight in weights.items():
        signal = signals.get(name)
        if weight and signal is not None:
            total += weight * scaled(signal, mask)
    return total


def allowed(catalog: Catalog, profile: Profile) -> np.ndarray:
    """Mask of items that satisfy every hard constraint and that the user has not already told us about."""
    items = catalog.items
    keep = ~items.index.isin(list(profile.known_items()))
    constraints = profile.constraints
    years = items["year"].to_numpy(dtype=float, na_value=np.nan)
    if constraints.year_min is not None:
        keep &= years >= constraints.year_min
    if constraints.year_max is not None:
        keep &= years <= constraints.year_max
    genres = catalog.genre_matrix
    if constraints.exclude_genres:
        keep &= ~genres[[g for g in constraints.exclude_genres if g in genres.columns]].any(axis=1).to_numpy()
    if constraints.require_genres:
        keep &= genres[[g for g in constraints.require_genres if g in genres.columns]].any(axis=1).to_numpy()
    return keep


def genre_weights(catalog: Catalog, described: Mapping[str, list[str]]) -> pd.DataFrame:
    """Items × genres: how much each genre counts for each item (see LISTED_ONLY), given the genres each item's
    description names (`Knowledge.genres`)."""
    listed = catalog.genre_matrix.to_numpy(dtype=bool)
    says = np.zeros_like(listed)
    column = {genre: j for j, genre in enumerate(catalog.genre_matrix.columns)}
    rows = catalog.items.index.get_indexer(list(described))
    for row, genres in zip(rows, described.values()):
        if row >= 0:
            says[row, [column[genre] for genre in genres if genre in column]] = True
    described_rows = says.any(axis=1, keepdims=True)
    listed_described = listed & described_rows
    said_rate = (says & listed_described).sum(axis=0) / np.maximum(1, listed_described.sum(axis=0))
    listed_only = 1.0 - (1.0 - LISTED_ONLY) * said_rate
    weights = np.where(says, np.where(listed, 1.0, SAID_ONLY),
                       np.where(listed, np.where(described_rows, listed_only, UNDESCRIBED), 0.0))
    return pd.DataFrame(weights, index=catalog.genre_matrix.index, columns=catalog.genre_matrix.columns)


def genre_affinity(genres: pd.DataFrame, profile: Profile) -> np.ndarray:
    """The weights (`genre_weights`) of the genres liked, less those of the genres disliked (soft: hard exclusions
    are constraints)."""
    liked = genres[[g for g in profile.genres_liked if g in genres.columns]].sum(axis=1)
    disliked = genres[[g for g in profile.genres_disliked if g in genres.columns]].sum(axis=1)
    return (liked - disliked).to_numpy(dtype=float)


def implied_genre_affinity(genres: pd.DataFrame, liked: Mapping[str, float]) -> np.ndarray:
    """The genres liked items imply, for someone who stated none: per item, the cosine of its genre weights
    (`genre_weights`) with the liked items' strength-weighted mean (0 with none)."""
    rows = genres.index.get_indexer(list(liked))
    strengths = np.array([strength for strength, row in zip(liked.values(), rows) if row >= 0], dtype=float)
    weights = genres.to_numpy(dtype=float)
    if strengths.size == 0 or strengths.sum() <= 0:
        return np.zeros(len(genres))
    taste = strengths @ weights[rows[rows >= 0]] / strengths.sum()
    norms = np.linalg.norm(weights, axis=1) * np.linalg.norm(taste)
    return np.divide(weights @ taste, norms, out=np.zeros(len(genres)), where=norms > 0)


def popularity_prior(catalog: Catalog) -> np.ndarray:
    """log(1 + rating velocity) × a shrunk mean rating: famous and well-liked beats merely famous, and an item
    counts by its ratings per year in the log, so a 2017 hit rated 40 times in its first year is not outranked by
    a 1994 film that gathered 300 ratings over 22 years. Without timestamps, velocity is the plain count.
    ReDial tune split (people ask for what is current): cold-start-heavy Hit@10 0.142 with the count, 0.165."""
    ratings = catalog.ratings
    stats = ratings.groupby("item_id")["rating"].agg(["count", "mean"]).reindex(catalog.items.index)
    count = stats["count"].fillna(0).to_numpy(dtype=float)
    global_mean = ratings["rating"].mean() if len(ratings) else 0.0
    mean = stats["mean"].fillna(global_mean).to_numpy(dtype=float)
    return np.log1p(count / years_in_log(catalog)) * (mean * count + global_mean * 10) / (count + 10)


def years_in_log(catalog: Catalog) -> np.ndarray:
    """Years from each item's first rating to the log's last one (at least 1); all 1 without timestamps."""
    stamps = catalog.ratings["timestamp"].astype("Float64")
    if stamps.isna().all():
        return np.ones(len(catalog))
    first = catalog.ratings.assign(stamp=stamps).groupby("item_id")["stamp"].min().reindex(catalog.items.index)
    years = (float(stamps.max()) - first.to_numpy(dtype=float, na_value=np.nan)) / (365.25 * 86400)
    return np.maximum(np.nan_to_num(years, nan=1.0), 1.0)


def mmr(relevance: pd.Series, similarity: Callable[[str, str], float], k: int, diversity: float = 0.3) -> list[str]:
    """Maximal marginal relevance: trade a little relevance for items unlike those already chosen."""
    pool = list(relevance.nlargest(max(k * 5, 20)).index)
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
