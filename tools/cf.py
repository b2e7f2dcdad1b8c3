"""Collaborative filtering on a trained Surprise SVD: every item scored at once, and new users folded in.

`algo.predict` loops in Python (≈40 ms per user for 9.7k items here); the same estimate vectorized from the
learned parameters is mu + bu + bi + qi·pu, clipped to the rating scale exactly as `predict` clips.
Surprise gives an unknown user mu + bi silently; a user who told us ratings or likes instead gets bu and pu
solved by ridge regression on the known items' qi and bi (fold-in), and so a personal ranking.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from convrec.catalog.models import Catalog
from convrec.tools.errors import ToolError

FOLD_IN_REG = 5.0  # ridge strength: user 1 of the demo refolded from its 232 ratings ranks like the trained user (Spearman 0.96; 0.83 at 1.0)


class SVDScorer:
    def __init__(self, algo, catalog: Catalog) -> None:
        if not hasattr(algo, "qi"):
            raise ToolError(f"{type(algo).__name__} has no latent factors; vectorized scoring needs SVD")
        trainset = algo.trainset
        self.catalog = catalog
        self.item_ids = catalog.items.index
        self.mu = trainset.global_mean
        self.low, self.high = catalog.scale.low, catalog.scale.high
        inner = np.array([_inner(trainset.to_inner_iid, item_id) for item_id in self.item_ids])
        known = inner >= 0
        self.bi = np.zeros(len(inner))
        self.bi[known] = algo.bi[inner[known]]
        self.qi = np.zeros((len(inner), algo.qi.shape[1]))
        self.qi[known] = algo.qi[inner[known]]
        self._algo = algo
        self._trainset = trainset

    def score_user(self, user_id: str) -> pd.Series:
        """Predicted ratings of every catalog item for a trained user (mu + bi for an unknown one, as Surprise)."""
        inner = _inner(self._trainset.to_inner_uid, user_id)
        if inner < 0:
            return self._clipped(self.mu + self.bi)
        return self._clipped(self.mu + self._algo.bu[inner] + self.bi + self.qi @ self._algo.pu[inner])

    def fold_in(self, ratings: dict[str, float]) -> tuple[float, np.ndarray]:
        """(bu, pu) for a new user from {item_id: rating}: ridge on [1, qi] against r - mu - bi."""
        positions = self.item_ids.get_indexer(list(ratings))
        unknown = [item_id for item_id, p in zip(ratings, positions) if p < 0]
        if unknown:
            raise ToolError(f"unknown item id(s) {unknown[:5]}")
        features = np.hstack([np.ones((len(positions), 1)), self.qi[positions]])
        target = np.array(list(ratings.values())) - self.mu - self.bi[positions]
        penalty = FOLD_IN_REG * np.eye(features.shape[1])
        solution = np.linalg.solve(features.T @ features + penalty, features.T @ target)
        return float(solution[0]), solution[1:]

    def score_profile(self, ratings: dict[str, float]) -> pd.Series:
        """Predicted ratings of every catalog item for a user known only by `ratings`."""
        if not ratings:
            return self._clipped(self.mu + self.bi)
        bu, pu = self.fold_in(ratings)
        return self._clipped(self.mu + bu + self.bi + self.qi @ pu)

    def _clipped(self, estimates: np.ndarray) -> pd.Series:
        return pd.Series(np.clip(estimates, self.low, self.high), index=self.item_ids)


def _inner(lookup, raw_id: str) -> int:
    try:
        return lookup(raw_id)
    except ValueError:
        return -1
