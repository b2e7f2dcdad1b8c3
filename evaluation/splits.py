"""Seeded splits, shared by every model in a run.

- `kfold_indices`: the exact folds of `surprise.model_selection.KFold(n_splits, random_state, shuffle=True)`, as row
  positions, so Surprise's algorithms and our own CF path see the same train and test rows.
- `leave_latest_liked_out`: per user, the most recent rating ≥ 4 is the test item; everything else is training.
- `user_groups` and `reveal`: cold start: users absent from training, who told us only k of their liked items.

"Most recent" is the largest timestamp; ties (MovieLens stores batches of ratings under one timestamp) go to the row
that comes later in the ratings file, so the splits are deterministic. Ratings without a timestamp count as oldest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

LIKED = 4.0  # a rating at or above this is a like
Protocol = Literal["recent", "earliest"]
PROTOCOLS: tuple[Protocol, ...] = ("recent", "earliest")


def kfold_indices(n_rows: int, n_splits: int = 5, random_state: int = 42) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) row positions per fold, identical to Surprise's KFold on a Dataset of these rows in order."""
    from surprise.utils import get_rng

    if not 2 <= n_splits <= n_rows:
        raise ValueError(f"n_splits must be between 2 and the number of ratings ({n_rows}), got {n_splits}")
    indices = np.arange(n_rows)
    get_rng(random_state).shuffle(indices)
    folds, stop = [], 0
    for fold in range(n_splits):
        start = stop
        stop += n_rows // n_splits + (1 if fold < n_rows % n_splits else 0)
        folds.append((np.concatenate([indices[:start], indices[stop:]]), indices[start:stop]))
    return folds


def time_ordered(ratings: pd.DataFrame) -> pd.DataFrame:
    """The ratings sorted by user, then time (oldest first), ties in file order. The index is kept."""
    timestamps = pd.to_numeric(ratings["timestamp"], errors="coerce").astype("float64").fillna(-np.inf)
    keys = pd.DataFrame({"user": ratings["user_id"].to_numpy(), "time": timestamps.to_numpy(),
                         "row": np.arange(len(ratings))})
    order = keys.sort_values(["user", "time", "row"], kind="stable").index.to_numpy()
    return ratings.iloc[order]


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    test: pd.DataFrame  # one row per evaluated user: the held-out rating


def leave_latest_liked_out(ratings: pd.DataFrame, liked: float = LIKED) -> Split:
    """Hold out each user's most recent liked rating; users without a liked rating are not evaluated."""
    likes = time_ordered(ratings)
    likes = likes[likes["rating"] >= liked]
    test = likes.groupby("user_id", sort=False).tail(1)
    test = test.loc[test["user_id"].sort_values(kind="stable").index]
    return Split(train=ratings.drop(index=test.index), test=test)


def liked_in_time_order(ratings: pd.DataFrame, liked: float = LIKED) -> dict[str, list[str]]:
    """Each user's liked item ids, oldest first."""
    likes = time_ordered(ratings)
    likes = likes[likes["rating"] >= liked]
    return {user: list(items) for user, items in likes.groupby("user_id", sort=True)["item_id"]}


def user_groups(users, fraction: float = 0.2, seed: int = 0) -> list[list[str]]:
    """Disjoint groups of about `fraction` of the users each (round(1/fraction) groups covering everyone), seeded.

    Each group in turn is treated as new users: absent from training, evaluated against the others' data.
    """
    everyone = sorted(set(users))
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    if len(everyone) < 2:
        raise ValueError("need at least two users to hold some out")
    count = min(len(everyone), max(2, round(1 / fraction)))
    permuted = np.random.default_rng(seed).permutation(len(everyone))
    return [sorted(everyone[i] for i in permuted[group::count]) for group in range(count)]


def reveal(liked: list[str], k: int, protocol: Protocol) -> tuple[list[str], str]:
    """(revealed, target) from a user's liked items, oldest first.

    The target is always the latest liked item, so it is the same for every k and protocol. `recent` reveals the k
    liked items just before it, most recent first; `earliest` reveals the user's k first liked items, in order.
    """
    if k < 1 or len(liked) < k + 1:
        raise ValueError(f"revealing {k} items needs at least {k + 1} liked items, got {len(liked)}")
    history, target = liked[:-1], liked[-1]
    if protocol == "recent":
        return history[::-1][:k], target
    if protocol == "earliest":
        return history[:k], target
    raise ValueError(f"unknown protocol {protocol!r}; use one of {PROTOCOLS}")
