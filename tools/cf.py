"""Collaborative filtering on a trained Surprise model: every catalog item scored at once, and new users folded in.

Scores are predicted ratings in a pandas Series indexed like `catalog.items`, clipped to the trainset's rating
scale exactly as `algo.predict` clips them, and equal to `algo.predict(uid, iid).est` (to float rounding) for every
user the model was trained on. Like Surprise, a user the trainset does not know gets mu + bi, and a catalog item it
does not know (no ratings) gets no item bias and no factors (SVD) or neighbours (KNN).

- SVD (the default, `SVDScorer`; Spark ALS's `LatentFactors` too): mu + bu + bi + qi·pu as one matrix product; `algo.predict` in a loop takes ≈40 ms
  per user for the demo's 9.7k items. A new user is folded in: bu and pu solved in closed form by ridge regression
  of r − mu − bi on [1, qi] over the items they rated.
- KNNBaseline, item-based as `tools.cfmodel` trains it (`KNNBaselineScorer`): mu + bu + bi plus the
  similarity-weighted mean residual r_j − (mu + bu + b_j) over the k rated items j most similar to i (sim > 0),
  from `algo.sim`. A new user needs no fitting beyond bu: the ALS step Σ(r − mu − bi) / (reg_u + n). Note that
  `algo.sim` is items × items float64: 760 MB for the demo's 9.7k items.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from convrec.catalog.models import Catalog, RatingScale
from convrec.tools.cfmodel import LatentFactors
from convrec.tools.errors import ToolError

# Ridge strength of the SVD fold-in, on bu and pu alike. Measured on the demo with 20% of users held out of training
# and folded in from k random ratings, RMSE on the rest (mu + bi alone: 0.959):
#   λ = 3 / 5 / 10:  k=3 0.925 / 0.926 / 0.933,  k=10 0.888 / 0.889 / 0.896,  half their ratings 0.878 / 0.869 / 0.865.
# Three likes move the factors little (the rating model explains most of a famous movie's high rating by its bias);
# ranking from a few liked items is the item–item model's job.
FOLD_IN_REG = 5.0
LIKE_POSITION = 0.9  # a full-strength like is rated 90% up the scale (4.55 on 0.5–5)
DISLIKE_POSITION = 0.2  # a full-strength dislike 20% up (1.4 on 0.5–5)
KNN_BLOCK = 1024  # catalog items per block of the KNN similarity lookup, to bound memory for heavy raters


def opinion_ratings(scale: RatingScale, liked: Mapping[str, float], disliked: Mapping[str, float]) -> dict[str, float]:
    """Likes and dislikes as ratings for fold-in. Strength 1 sits at LIKE_POSITION / DISLIKE_POSITION of the scale,
    weaker opinions proportionally nearer its middle (a like of strength 0.5 is 3.65 on 0.5–5). A dislike of an item
    also liked wins."""
    strengths = [*liked.values(), *disliked.values()]
    if not all(math.isfinite(s) and 0 <= s <= 1 for s in strengths):
        raise ToolError(f"opinion strengths must be in [0, 1], got {strengths}")
    span = scale.high - scale.low
    ratings = {item_id: scale.low + span * (0.5 + s * (LIKE_POSITION - 0.5)) for item_id, s in liked.items()}
    ratings.update({item_id: scale.low + span * (0.5 - s * (0.5 - DISLIKE_POSITION))
                    for item_id, s in disliked.items()})
    return ratings


class _SurpriseScorer(ABC):
    """What both scorers share: catalog alignment, item biases, clipping, and the public scoring calls."""

    def __init__(self, catalog: Catalog, *, mu: float, scale: tuple[float, float], to_inner_iid,
                 item_biases: np.ndarray) -> None:
        self.item_ids = catalog.items.index
        self._position = {item_id: position for position, item_id in enumerate(self.item_ids)}
        self.mu = float(mu)
        self.low, self.high = scale
        self.inner = _inner_ids(to_inner_iid, self.item_ids)  # -1: the model never saw the item
        known = self.inner >= 0
        self.bi = np.zeros(len(self.item_ids))
        self.bi[known] = item_biases[self.inner[known]]

    def score_all(self, user_id: str) -> pd.Series:
        """Predicted ratings of every catalog item for a trained user (mu + bi for an unknown one, as Surprise)."""
        return self.scores(self.user(user_id))

    def score_profile(self, ratings: Mapping[str, float]) -> pd.Series:
        """Predicted ratings of every catalog item for a user known only by `ratings` (none: mu + bi)."""
        return self.scores(self.fold_in(ratings))

    def scores(self, user) -> pd.Series:
        """Predicted ratings of every catalog item for a user from `user` or `fold_in`."""
        return pd.Series(self._clip(self._estimates(user, slice(None))), index=self.item_ids)

    def predicted_rating(self, user, item_id: str) -> float:
        """One item's predicted rating for a user from `user` or `fold_in`, for evidence ("you'd rate it 4.3")."""
        return float(self._clip(self._estimates(user, self._positions([item_id])))[0])

    @abstractmethod
    def user(self, user_id: str):
        """A trained user's parameters, or neutral ones (giving mu + bi) for a user the trainset does not know."""

    @abstractmethod
    def fold_in(self, ratings: Mapping[str, float]):
        """A new user's parameters from {item_id: rating on the scale}; neutral for no ratings."""

    @abstractmethod
    def _estimates(self, user, positions: np.ndarray | slice) -> np.ndarray:
        """Unclipped estimates for the catalog items at `positions` (a slice for all: indexing by one would copy)."""

    def _clip(self, estimates: np.ndarray) -> np.ndarray:
        return np.clip(estimates, self.low, self.high)

    def _positions(self, item_ids: list[str]) -> np.ndarray:
        unknown = [item_id for item_id in item_ids if item_id not in self._position]
        if unknown:
            raise ToolError(f"unknown item id(s) {unknown[:5]}; use ids from the catalog")
        return np.array([self._position[item_id] for item_id in item_ids], dtype=np.int64)

    def _validated(self, ratings: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """(catalog positions, ratings) after checking that every id is in the catalog and every rating on the scale."""
        positions = self._positions(list(ratings))
        off_scale = {i: r for i, r in ratings.items() if not (math.isfinite(r) and self.low <= r <= self.high)}
        if off_scale:
            raise ToolError(f"ratings must be on the scale {self.low:g}–{self.high:g}, got {off_scale}")
        return positions, np.array(list(ratings.values()), dtype=np.float64)


@dataclass(frozen=True)
class LatentUser:
    bias: float
    factors: np.ndarray


class SVDScorer(_SurpriseScorer):
    """Any biased latent-factor model: a Surprise SVD, or `LatentFactors` from either engine (Spark ALS too)."""

    def __init__(self, model, catalog: Catalog) -> None:
        if not isinstance(model, LatentFactors):
            from surprise import SVD

            if not isinstance(model, SVD) or not model.biased:
                raise ToolError(f"{type(model).__name__} is not a biased SVD; use scorer_for() to pick a scorer")
            model = LatentFactors.from_surprise(model)
        self.factors = model
        item_inner = {item_id: inner for inner, item_id in enumerate(model.item_ids)}
        super().__init__(catalog, mu=model.mu, scale=(model.low, model.high), to_inner_iid=item_inner.__getitem__,
                         item_biases=model.bi)
        self._user_inner = {user_id: inner for inner, user_id in enumerate(model.user_ids)}
        known = self.inner >= 0
        self.qi = np.zeros((len(self.item_ids), model.qi.shape[1]))
        self.qi[known] = model.qi[self.inner[known]]

    def user(self, user_id: str) -> LatentUser:
        """The trained user's bu and pu; zeros for a user the model does not know."""
        inner = self._user_inner.get(user_id, -1)
        if inner < 0:
            return self._neutral()
        return LatentUser(float(self.factors.bu[inner]), self.factors.pu[inner])

    def fold_in(self, ratings: Mapping[str, float]) -> LatentUser:
        """bu and pu for a new user from {item_id: rating}: ridge (FOLD_IN_REG) of r − mu − bi on [1, qi]."""
        positions, values = self._validated(ratings)
        if not len(positions):
            return self._neutral()
        features = np.hstack([np.ones((len(positions), 1)), self.qi[positions]])
        target = values - self.mu - self.bi[positions]
        gram = features.T @ features + FOLD_IN_REG * np.eye(features.shape[1])
        solution = np.linalg.solve(gram, features.T @ target)
        return LatentUser(float(solution[0]), solution[1:])

    def _neutral(self) -> LatentUser:
        return LatentUser(0.0, np.zeros(self.qi.shape[1]))

    def _estimates(self, user: LatentUser, positions: np.ndarray | slice) -> np.ndarray:
        return self.mu + user.bias + self.bi[positions] + self.qi[positions] @ user.factors


@dataclass(frozen=True)
class NeighbourUser:
    bias: float
    rated: np.ndarray  # inner ids of the rated items the trainset knows, in the order given
    residuals: np.ndarray  # r − (mu + bias + bi) for each of them


class KNNBaselineScorer(_SurpriseScorer):
    def __init__(self, algo, catalog: Catalog) -> None:
        from surprise import KNNBaseline

        if not isinstance(algo, KNNBaseline) or algo.sim_options.get("user_based", True):
            raise ToolError(f"{type(algo).__name__} is not an item-based KNNBaseline; use scorer_for()")
        trainset = algo.trainset
        super().__init__(catalog, mu=trainset.global_mean, scale=trainset.rating_scale,
                         to_inner_iid=trainset.to_inner_iid, item_biases=algo.bi)
        self._algo = algo
        self.reg_u = float(algo.bsl_options.get("reg_u", 15))

    def user(self, user_id: str) -> NeighbourUser:
        """The trained user's bu and ratings; no ratings for a user the trainset does not know."""
        inner = _inner_id(self._algo.trainset.to_inner_uid, user_id)
        if inner < 0:
            return NeighbourUser(0.0, np.zeros(0, dtype=np.int64), np.zeros(0))
        rated, values = (np.array(column) for column in zip(*self._algo.trainset.ur[inner]))
        bias = float(self._algo.bu[inner])
        return NeighbourUser(bias, rated.astype(np.int64), values - self.mu - bias - self._algo.bi[rated])

    def fold_in(self, ratings: Mapping[str, float]) -> NeighbourUser:
        """bu by one ALS step over the rated items the trainset knows; those items become the neighbours.

        Ratings of items the trainset never saw carry no similarity and no item bias, so they are left out."""
        positions, values = self._validated(ratings)
        known = self.inner[positions] >= 0
        rated, values = self.inner[positions][known], values[known]
        offsets = values - self.mu - self._algo.bi[rated]
        bias = float(offsets.sum() / (self.reg_u + len(rated))) if len(rated) else 0.0
        return NeighbourUser(bias, rated, offsets - bias)

    def _estimates(self, user: NeighbourUser, positions: np.ndarray | slice) -> np.ndarray:
        positions = np.arange(len(self.item_ids))[positions]
        estimates = self.mu + user.bias + self.bi[positions]
        if not len(user.rated):
            return estimates
        known = np.flatnonzero(self.inner[positions] >= 0)
        for start in range(0, len(known), KNN_BLOCK):
            block = known[start:start + KNN_BLOCK]
            estimates[block] += self._neighbour_adjustment(user, self.inner[positions[block]])
        return estimates

    def _neighbour_adjustment(self, user: NeighbourUser, items: np.ndarray) -> np.ndarray:
        """Σ sim·residual / Σ sim over each item's k most similar rated items with sim > 0 (0 below min_k).

        A stable sort keeps ties in the rated order, as `heapq.nlargest` in Surprise does.
        """
        similarities = self._algo.sim[np.ix_(items, user.rated)]
        nearest = np.argsort(-similarities, axis=1, kind="stable")[:, :self._algo.k]
        top = np.take_along_axis(similarities, nearest, axis=1)
        positive = top > 0
        weights = np.where(positive, top, 0.0)
        weighted = (weights * user.residuals[nearest]).sum(axis=1)
        total = weights.sum(axis=1)
        enough = (positive.sum(axis=1) >= self._algo.min_k) & (total > 0)
        return np.divide(weighted, total, out=np.zeros(len(items)), where=enough)


def scorer_for(algo, catalog: Catalog) -> SVDScorer | KNNBaselineScorer:
    """The vectorized scorer for a model from `tools.cfmodel.load_or_train` or `load_or_train_factors`."""
    from surprise import SVD, KNNBaseline

    if isinstance(algo, (SVD, LatentFactors)):
        return SVDScorer(algo, catalog)
    if isinstance(algo, KNNBaseline):
        return KNNBaselineScorer(algo, catalog)
    raise ToolError(f"no vectorized scorer for {type(algo).__name__}; train 'svd' or 'knnbaseline'")


def _inner_ids(lookup, raw_ids: pd.Index) -> np.ndarray:
    return np.array([_inner_id(lookup, raw_id) for raw_id in raw_ids], dtype=np.int64)


def _inner_id(lookup, raw_id: str) -> int:
    try:
        return lookup(raw_id)
    except (ValueError, KeyError):  # Surprise raises ValueError, a dict lookup KeyError
        return -1
