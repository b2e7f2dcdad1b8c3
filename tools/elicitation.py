"""Cold-start questions: which well-known movies to ask a new user about, and which genres to offer as chips.

`next_questions` scores items by log(popularity) × rating entropy (Rashid et al. 2002, "Getting to know you":
people can answer about popular items, and items people disagree on tell us the most), then picks greedily
so the questions spread over genres. It adapts to what we know:
- every item the user already liked counts as half a question already asked about its genres (a liked genre
  counts as one), so after "I love sci-fi" the next questions go to genres we know less about;
- items in disliked genres are asked about last (score × 0.25); items the constraints rule out, and items the
  user already named, rated or dismissed, never.
Everything is deterministic: ties go to the smaller item id.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from convrec.catalog.models import Catalog
from convrec.tools.models import Profile

POOL_SIZE = 300  # only the most rated items count as "well known"
RATING_BINS = 5
KNOWN_LIKE_WEIGHT = 0.5
DISLIKED_GENRE_FACTOR = 0.25
NOT_A_TASTE = frozenset({"IMAX", "(no genres listed)"})  # a screen format, not something people like


def next_questions(catalog: Catalog, profile: Profile, k: int = 5) -> list[str]:
    """Up to `k` item ids to ask the user about, most useful first."""
    pool = _pool(catalog)
    pool = pool[_allowed(catalog, pool.index, profile)]
    genres = {item: _genres(catalog, item) for item in pool.index}
    coverage = _known_coverage(catalog, profile)
    chosen: list[str] = []
    candidates = dict(sorted(zip(pool.index, pool["score"]), key=lambda pair: _id_order(pair[0])))
    while candidates and len(chosen) < k:
        # max() keeps the first of equals, and candidates are in id order: ties go to the smaller id
        best = max(candidates, key=lambda item: _adjusted(genres[item], candidates[item], coverage, profile))
        chosen.append(best)
        del candidates[best]
        coverage.update(genres[best])
    return chosen


def genre_choices(catalog: Catalog, profile: Profile, k: int = 8) -> list[str]:
    """Up to `k` genres for quick-pick chips: the most watched genres the user has not told us about."""
    known = profile.genres_liked | profile.genres_disliked | profile.constraints.exclude_genres
    ratings_per_genre = Counter()
    for genres, count in zip(catalog.items["genres"], catalog.popularity.reindex(catalog.items.index)):
        ratings_per_genre.update({genre: int(count) for genre in genres})
    ranked = sorted((genre for genre in catalog.genres if genre not in known | NOT_A_TASTE),
                    key=lambda genre: (-ratings_per_genre[genre], genre))
    return ranked[:k]


def informativeness(catalog: Catalog) -> pd.DataFrame:
    """Per rated item: `popularity`, `entropy` of its ratings in 5 bins (0–1), `score` = log(1 + pop) × entropy."""
    if "informativeness" not in catalog._cache:
        ratings = catalog.ratings
        scale = catalog.scale
        bins = np.minimum(((ratings["rating"] - scale.low) / (scale.high - scale.low) * RATING_BINS).astype(int),
                          RATING_BINS - 1)
        counts = pd.crosstab(ratings["item_id"], bins)
        shares = counts.div(counts.sum(axis=1), axis=0)
        entropy = -(shares * np.log(shares.where(shares > 0, 1))).sum(axis=1) / math.log(RATING_BINS)
        popularity = catalog.popularity.reindex(entropy.index)
        catalog._cache["informativeness"] = pd.DataFrame(
            {"popularity": popularity, "entropy": entropy, "score": np.log1p(popularity) * entropy})
    return catalog._cache["informativeness"]


def _pool(catalog: Catalog) -> pd.DataFrame:
    table = informativeness(catalog)
    return table.sort_values("popularity", ascending=False, kind="stable").head(POOL_SIZE)


def _allowed(catalog: Catalog, items: pd.Index, profile: Profile) -> np.ndarray:
    constraints = profile.constraints
    known = profile.known_items()
    years = catalog.items.loc[items, "year"]
    genres = catalog.items.loc[items, "genres"]
    allowed = ~items.isin(list(known))
    allowed &= ~genres.map(lambda gs: bool(constraints.exclude_genres.intersection(gs))).to_numpy()
    if constraints.require_genres:
        allowed &= genres.map(lambda gs: bool(constraints.require_genres.intersection(gs))).to_numpy()
    if constraints.year_min is not None:
        allowed &= (years >= constraints.year_min).fillna(False).to_numpy(dtype=bool)
    if constraints.year_max is not None:
        allowed &= (years <= constraints.year_max).fillna(False).to_numpy(dtype=bool)
    return allowed


def _known_coverage(catalog: Catalog, profile: Profile) -> Counter:
    coverage: Counter = Counter()
    for item in profile.liked:
        if item in catalog:
            for genre in _genres(catalog, item):
                coverage[genre] += KNOWN_LIKE_WEIGHT
    coverage.update(profile.genres_liked)
    return coverage


def _adjusted(genres: list[str], score: float, coverage: Counter, profile: Profile) -> float:
    novelty = sum(1 / (1 + coverage[genre]) for genre in genres) / len(genres) if genres else 0.5
    disliked = DISLIKED_GENRE_FACTOR if profile.genres_disliked.intersection(genres) else 1.0
    return score * novelty * disliked


def _genres(catalog: Catalog, item: str) -> list[str]:
    return [genre for genre in catalog.items.at[item, "genres"] if genre not in NOT_A_TASTE]


def _id_order(item: str) -> tuple[int, str]:
    return (int(item), item) if item.isdigit() else (0, item)
