"""Item–item models: they carry ranking and the "because you liked X" evidence.

EASE (Steck 2019) is closed form on the binary user × item matrix X (1 = the user rated the item, whatever the
rating): P = (XᵀX + λI)⁻¹, B = I − P·diagMat(1/diag(P)), i.e. B = −P / diag(P) off the diagonal and diag(B) = 0;
a user's scores are x·B. Only items with at least `min_ratings` ratings get a row and a column, which keeps P small.

Measured on ml-latest-small, leave-latest-liked-out (609 users, all 9,742 items ranked, HR@10 ±0.025), λ=500 on
all rated items: HR@10 0.110 whether items need ≥2 (6,263 items of the training split, 19 s fit), ≥3 (4,971, 11 s)
or ≥5 ratings (3,636, 4–6 s on an idle 2-core machine); 0.112 when the profile holds only the liked (≥3.5) items,
as in a conversation. Trained on ratings ≥3.5 only: 0.103–0.105. λ=250: 0.112, λ=1000: 0.102. Hence λ=500, all
rated items, ≥5 ratings (3,650 items on the full demo; B is 53 MB as float32).

EASE weights are not similarities (they are signed, unbounded, asymmetric), so the number shown to people,
"similarity 0.82", is the cosine of the two items' co-rating vectors: raters of both / √(raters of a · raters of b).
It is symmetric, in [0, 1], 1 for an item with itself, and 0 when an item is outside the model.
`ItemKNN` ranks with that same cosine, summed over the liked items: a baseline (HR@10 0.076 with liked items,
0.067 with all rated ones, same protocol).

EASE's inverse is dense items²: 15 GB at ml-25m's 62k items. Above `Settings.ease_max_items` modelled items,
`item_item_model` uses `SparseItemKNN` instead: the same cosine, only each item's 100 nearest kept, sparse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sparse

from convrec.catalog.models import Catalog
from convrec.core.files import atomic_write
from convrec.core.settings import Settings
from convrec.tools.errors import ToolError

LAMBDA = 500.0
MIN_RATINGS = 5
DISLIKE_WEIGHT = 0.5  # a dislike pushes its neighbours down half as hard as a like pushes them up
KNN_NEIGHBOURS = 100  # neighbours kept per item by SparseItemKNN
FIT_BLOCK = 512  # items per block while SparseItemKNN is fitted: a block × items dense cosine (127 MB at 62k)


class _ModelledItems:
    """What every item–item model shares: the modelled items (rated by at least `min_ratings` users), id checks,
    and a like/dislike profile turned into signed weights on model rows."""

    def __init__(self, catalog: Catalog, item_ids: pd.Index) -> None:
        self._catalog_ids = frozenset(catalog.items.index)
        self.item_ids = item_ids
        self._position = {item_id: i for i, item_id in enumerate(item_ids)}

    def __contains__(self, item_id: object) -> bool:
        """Whether the item is in the model: rated by at least `min_ratings` users."""
        return item_id in self._position

    def _signed_rows(self, liked: Mapping[str, float], disliked: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """(model rows, signed weights): likes count +w, dislikes −DISLIKE_WEIGHT·w; items outside the model drop out.

        Unknown ids, negative weights and an empty profile are errors."""
        if not liked and not disliked:
            raise ToolError("no liked or disliked items to score from; ask the user for a movie they liked")
        self._require_in_catalog([*liked, *disliked])
        _require_valid_weights({**liked, **disliked})
        signed = {item_id: -DISLIKE_WEIGHT * w for item_id, w in disliked.items()}
        for item_id, weight in liked.items():
            signed[item_id] = signed.get(item_id, 0.0) + weight
        modelled = {self._position[item_id]: w for item_id, w in signed.items() if item_id in self}
        return (np.fromiter(modelled, dtype=np.int64, count=len(modelled)),
                np.fromiter(modelled.values(), dtype=np.float32, count=len(modelled)))

    def _require_in_catalog(self, item_ids: list[str]) -> None:
        unknown = [item_id for item_id in item_ids if item_id not in self._catalog_ids]
        if unknown:
            raise ToolError(f"unknown item id(s) {sorted(map(str, unknown))[:5]}; use ids from the catalog")

    def _require_modelled(self, item_id: str, k: int) -> None:
        self._require_in_catalog([item_id])
        if k < 1:
            raise ToolError(f"k must be at least 1, got {k}")
        if item_id not in self:
            raise ToolError(f"item {item_id} has too few ratings for item–item similarity; try a better-known movie")


class ItemItemModel(_ModelledItems):
    """An item × item weight matrix over the well-rated items, and their co-rating counts for similarity."""

    def __init__(self, catalog: Catalog, item_ids: pd.Index, weights: np.ndarray, co_counts: np.ndarray) -> None:
        super().__init__(catalog, item_ids)
        self.weights = weights
        self._co_counts = co_counts
        self._norms = np.sqrt(np.diag(co_counts)).astype(np.float64)

    # -- ranking --------------------------------------------------------------------------------------------------
    def scores_from_items(self, liked: Mapping[str, float], disliked: Mapping[str, float]) -> pd.Series:
        """Σ like weight · B[liked] − DISLIKE_WEIGHT · Σ dislike weight · B[disliked], indexed by `item_ids`.

        Only the modelled items get a score (the model says nothing about the others), and liked or disliked items
        outside the model contribute nothing. Unknown ids, negative weights and an empty profile are errors.
        """
        rows, signed = self._signed_rows(liked, disliked)
        return pd.Series(signed @ self.weights[rows], index=self.item_ids)

    def contributions(self, candidate_id: str, liked: Mapping[str, float]) -> list[tuple[str, float]]:
        """How much each liked item pushes the candidate up (weight · B[liked, candidate]), largest first.

        Empty when the candidate is outside the model; liked items outside it, and the candidate itself, are left out.
        """
        self._require_in_catalog([candidate_id, *liked])
        if candidate_id not in self:
            return []
        column = self._position[candidate_id]
        pairs = [(item_id, float(weight * self.weights[self._position[item_id], column]))
                 for item_id, weight in liked.items() if item_id in self and item_id != candidate_id]
        return sorted(pairs, key=lambda pair: -pair[1])  # stable: ties keep the profile's order

    # -- similarity shown to people -------------------------------------------------------------------------------
    def similarity(self, a: str, b: str) -> float:
        """Cosine of the co-rating vectors, in [0, 1]; 1 for an item with itself, 0 if either is outside the model."""
        if a == b or a not in self or b not in self:
            self._require_in_catalog([a, b])
            return 1.0 if a == b else 0.0
        i, j = self._position[a], self._position[b]
        return min(1.0, float(self._co_counts[i, j]) / (self._norms[i] * self._norms[j]))

    def most_similar(self, item_id: str, k: int = 10) -> list[tuple[str, float]]:
        """The k items with the highest `similarity` to `item_id`, best first; ties in the model's (sorted id) order."""
        self._require_modelled(item_id, k)
        row = self._position[item_id]
        cosine = np.minimum(1.0, self._co_counts[row] / (self._norms[row] * self._norms))
        return _top_similar(self.item_ids, cosine, row, k)


class EASE(ItemItemModel):
    """Ranks with the EASE weights B."""

    @classmethod
    def fit(cls, catalog: Catalog, lam: float = LAMBDA, min_ratings: int = MIN_RATINGS) -> EASE:
        item_ids, co_counts = co_rating_counts(catalog, min_ratings)
        return cls(catalog, item_ids, ease_weights(co_counts, lam), co_counts)

    @classmethod
    def load_or_fit(cls, catalog: Catalog, index_dir: Path, lam: float = LAMBDA,
                    min_ratings: int = MIN_RATINGS) -> EASE:
        """The weights saved for this exact catalog (by fingerprint), λ and `min_ratings`; fitted and saved if absent.

        Only B is saved: the item list and co-rating counts are recomputed from the catalog (under a second).
        """
        path = weights_path(index_dir, catalog, lam, min_ratings)
        item_ids, co_counts = co_rating_counts(catalog, min_ratings)
        weights = _load_weights(path, len(item_ids))
        if weights is None:
            weights = ease_weights(co_counts, lam)
            _save_weights(weights, path)
        return cls(catalog, item_ids, weights, co_counts)


class ItemKNN(ItemItemModel):
    """Ranks with the summed cosine to the liked items (minus disliked): a baseline for EASE, cheap to fit."""

    @classmethod
    def fit(cls, catalog: Catalog, min_ratings: int = MIN_RATINGS) -> ItemKNN:
        item_ids, co_counts = co_rating_counts(catalog, min_ratings)
        norms = np.sqrt(np.diag(co_counts))
        cosine = co_counts / norms[:, None] / norms[None, :]
        np.fill_diagonal(cosine, 0.0)
        return cls(catalog, item_ids, cosine.astype(np.float32), co_counts)


class SparseItemKNN(_ModelledItems):
    """Item–item at scale: each item keeps only its `neighbours` most similar items by co-rating cosine, made
    symmetric (a pair is kept when either item keeps the other), in a sparse items × items matrix (62k × ≤ 200
    float32: tens of MB, where EASE's dense inverse would be 15 GB), fitted in blocks of items so that no dense
    items² matrix ever exists. Ranking sums the kept cosines to the liked items (minus half the disliked), as
    `ItemKNN`; the similarity shown is the same co-rating cosine EASE shows for every kept pair and 0 beyond (such
    pairs are not among either item's 100 nearest, so below the evidence threshold in practice). Chosen over cosine
    of CF item factors by measurement (README "Scale")."""

    def __init__(self, catalog: Catalog, item_ids: pd.Index, neighbours: sparse.csr_matrix) -> None:
        super().__init__(catalog, item_ids)
        self.neighbours = neighbours.tocsr()
        self.neighbours.sort_indices()  # `_kept` binary-searches a row's columns

    @classmethod
    def fit(cls, catalog: Catalog, neighbours: int = KNN_NEIGHBOURS, min_ratings: int = MIN_RATINGS,
            block: int = FIT_BLOCK) -> SparseItemKNN:
        item_ids, matrix = rating_matrix(catalog, min_ratings)
        by_item = matrix.T.tocsr()
        norms = np.sqrt(np.asarray(matrix.sum(axis=0)).ravel())
        keep = min(neighbours, len(item_ids) - 1)
        rows, columns, values = [], [], []
        for start in range(0, len(item_ids) if keep >= 1 else 0, block):
            stop = min(len(item_ids), start + block)
            cosine = (by_item[start:stop] @ matrix).toarray() / norms[start:stop, None] / norms[None, :]
            cosine[np.arange(stop - start), np.arange(start, stop)] = 0.0
            best = np.argpartition(-cosine, keep - 1, axis=1)[:, :keep]
            rows.append(np.repeat(np.arange(start, stop), keep))
            columns.append(best.ravel())
            values.append(np.minimum(1.0, np.take_along_axis(cosine, best, axis=1)).ravel())
        shape = (len(item_ids), len(item_ids))
        if not rows:
            return cls(catalog, item_ids, sparse.csr_matrix(shape, dtype=np.float32))
        kept = sparse.csr_matrix((np.concatenate(values).astype(np.float32),
                                  (np.concatenate(rows), np.concatenate(columns))), shape=shape)
        kept = kept.maximum(kept.T).tocsr()  # the cosine is symmetric: keep a pair either item kept
        kept.eliminate_zeros()
        return cls(catalog, item_ids, kept)

    def scores_from_items(self, liked: Mapping[str, float], disliked: Mapping[str, float]) -> pd.Series:
        """Σ signed weight · kept cosine(profile item, item), indexed by `item_ids`; an item's own term is 0."""
        rows, signed = self._signed_rows(liked, disliked)
        return pd.Series(self.neighbours[rows].T @ signed, index=self.item_ids)

    def contributions(self, candidate_id: str, liked: Mapping[str, float]) -> list[tuple[str, float]]:
        """weight · kept cosine(liked, candidate) per liked item, largest first (0 when the pair is not kept)."""
        self._require_in_catalog([candidate_id, *liked])
        if candidate_id not in self:
            return []
        column = self._position[candidate_id]
        pairs = [(item_id, weight * self._kept(self._position[item_id], column))
                 for item_id, weight in liked.items() if item_id in self and item_id != candidate_id]
        return sorted(pairs, key=lambda pair: -pair[1])

    def similarity(self, a: str, b: str) -> float:
        """Co-rating cosine of a kept pair, in [0, 1]; 1 for an item with itself, 0 for other pairs."""
        if a == b or a not in self or b not in self:
            self._require_in_catalog([a, b])
            return 1.0 if a == b else 0.0
        return self._kept(self._position[a], self._position[b])

    def most_similar(self, item_id: str, k: int = 10) -> list[tuple[str, float]]:
        """The k (or fewer) kept items with the highest `similarity` to `item_id`, best first; exact up to k =
        `neighbours`."""
        self._require_modelled(item_id, k)
        row = self._position[item_id]
        return [(other, similarity) for other, similarity
                in _top_similar(self.item_ids, self.neighbours[row].toarray().ravel(), row, k) if similarity > 0]

    def _kept(self, row: int, column: int) -> float:
        start, stop = self.neighbours.indptr[row], self.neighbours.indptr[row + 1]
        found = start + np.searchsorted(self.neighbours.indices[start:stop], column)
        return float(self.neighbours.data[found]) if found < stop and self.neighbours.indices[found] == column else 0.0


def item_item_model(catalog: Catalog, settings: Settings) -> EASE | SparseItemKNN:
    """The configured item–item model: `itemsim` "ease" or "item-knn", or "auto": EASE while the modelled items
    (≥ MIN_RATINGS ratings) are at most `ease_max_items`, the sparse top-k kNN above (EASE's inverse is items²)."""
    choice = settings.itemsim
    if choice == "auto":
        counts = catalog.ratings.groupby("item_id").size()
        choice = "ease" if int((counts >= MIN_RATINGS).sum()) <= settings.ease_max_items else "item-knn"
    if choice == "ease":
        return EASE.load_or_fit(catalog, settings.index_dir)
    return SparseItemKNN.fit(catalog)


def co_rating_counts(catalog: Catalog, min_ratings: int) -> tuple[pd.Index, np.ndarray]:
    """(item ids, XᵀX) for the items with ≥ `min_ratings` ratings, ids in sorted order; X is binary user × item."""
    item_ids, matrix = rating_matrix(catalog, min_ratings)
    return item_ids, (matrix.T @ matrix).toarray().astype(np.float32)


def rating_matrix(catalog: Catalog, min_ratings: int) -> tuple[pd.Index, sparse.csr_matrix]:
    """(item ids, X): X binary users × items (CSR, float32) over the items with ≥ `min_ratings` ratings, sorted."""
    if min_ratings < 1:
        raise ToolError(f"min_ratings must be at least 1, got {min_ratings}")
    ratings = catalog.ratings
    counts = ratings.groupby("item_id").size()
    item_ids = pd.Index(sorted(counts.index[counts >= min_ratings]), dtype="str", name="item_id")
    kept = ratings[ratings["item_id"].isin(item_ids)]
    users = pd.Index(kept["user_id"].unique())
    matrix = sparse.csr_matrix((np.ones(len(kept), dtype=np.float32),
                                (users.get_indexer(kept["user_id"]), item_ids.get_indexer(kept["item_id"]))),
                               shape=(len(users), len(item_ids)))
    matrix.data[:] = 1.0  # duplicates were summed into one entry: a user who rated an item twice counts once
    return item_ids, matrix


def ease_weights(co_counts: np.ndarray, lam: float) -> np.ndarray:
    """B = I − P·diagMat(1/diag(P)) with P = (G + λI)⁻¹, in float64, returned as float32."""
    if not (math.isfinite(lam) and lam > 0):
        raise ToolError(f"EASE needs λ > 0, got {lam}")
    regularized = co_counts.astype(np.float64)
    regularized[np.diag_indices_from(regularized)] += lam
    precision = np.linalg.inv(regularized)
    weights = precision / -np.diag(precision)
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


def weights_path(index_dir: Path, catalog: Catalog, lam: float, min_ratings: int) -> Path:
    return Path(index_dir) / "ease" / f"ease-{catalog.fingerprint[:16]}-l{lam:g}-m{min_ratings}.npy"


def _load_weights(path: Path, size: int) -> np.ndarray | None:
    """The saved B, or None when absent, unreadable or of the wrong shape (then it is fitted again)."""
    if not path.is_file():
        return None
    try:
        weights = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return weights if weights.shape == (size, size) and weights.dtype == np.float32 else None


def _save_weights(weights: np.ndarray, path: Path) -> None:
    """Atomically (write, fsync, rename). One EASE per index dir, as for the CF models: older files are removed."""
    atomic_write(path, lambda handle: np.save(handle, weights, allow_pickle=False))
    for stale in path.parent.glob("ease-*"):
        if stale != path:
            stale.unlink(missing_ok=True)


def _top_similar(item_ids: pd.Index, similarities: np.ndarray, row: int, k: int) -> list[tuple[str, float]]:
    """The k most similar items other than `row`, best first (ties in model order), similarity ≥ 0."""
    similarities = similarities.copy()
    similarities[row] = -1.0
    best = np.argsort(-similarities, kind="stable")[:k]
    return [(item_ids[i], float(similarities[i])) for i in best if similarities[i] >= 0]


def _require_valid_weights(weights: Mapping[str, float]) -> None:
    bad = {item_id: w for item_id, w in weights.items() if not (math.isfinite(w) and w >= 0)}
    if bad:
        raise ToolError(f"item weights must be finite and ≥ 0, got {bad}")
