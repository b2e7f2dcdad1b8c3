"""Rating prediction, k-fold: RMSE and MAE for Surprise SVD, KNNBaseline, BaselineOnly and our CF, same folds.

"ours" is the production path: `tools.cfmodel.train` on the fold's training ratings (the SVD configuration we
persist) and predictions from `tools.cf.SVDScorer` (vectorized mu + bu + bi + qi·pu, clipped).
Surprise's own `algo.test` loops in Python; for KNNBaseline that is ~4 ms a rating, minutes per fold, so its
predictions are computed vectorized from the fitted model (same baselines, similarities, k neighbours with sim > 0)
and checked against `algo.predict` on a sample of the fold, the largest difference reported.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from convrec.catalog.models import Catalog
from convrec.evaluation.common import Config, training_catalog
from convrec.evaluation.splits import kfold_indices
from convrec.tools.cf import SVDScorer
from convrec.tools.cfmodel import train as train_ours

CHECK_SAMPLE = 300  # test ratings per fold whose vectorized prediction is checked against algo.predict


def surprise_algorithm(name: str, seed: int):
    from surprise import SVD, BaselineOnly, KNNBaseline

    if name == "svd":
        return SVD(random_state=seed)
    if name == "knnbaseline":
        return KNNBaseline(sim_options={"name": "pearson_baseline", "user_based": False}, verbose=False)
    if name == "baselineonly":
        return BaselineOnly(verbose=False)
    raise ValueError(f"unknown Surprise model {name!r}")


def rating_fold(catalog: Catalog, config: Config, fold: int) -> dict:
    """One fold: per model the squared and absolute error sums, counts and timings."""
    from surprise import Dataset, Reader

    ratings = catalog.ratings
    train_rows, test_rows = kfold_indices(len(ratings), config.folds, config.split_seed)[fold]
    data = Dataset.load_from_df(ratings[["user_id", "item_id", "rating"]],
                                Reader(rating_scale=(catalog.scale.low, catalog.scale.high)))
    trainset = data.construct_trainset([data.raw_ratings[i] for i in train_rows])
    testset = data.construct_testset([data.raw_ratings[i] for i in test_rows])
    truth = np.array([rating for _, _, rating in testset])
    results = {}
    for name in config.rating_models:
        started = time.perf_counter()
        if name == "ours":
            fold_catalog = training_catalog(catalog, ratings.iloc[train_rows], f"fold{fold}")
            algo = train_ours(fold_catalog)
            fitted = time.perf_counter()
            estimates = ours_predictions(SVDScorer(algo, fold_catalog), testset)
        else:
            algo = surprise_algorithm(name, config.split_seed).fit(trainset)
            fitted = time.perf_counter()
            if name == "knnbaseline":
                estimates = knn_baseline_predictions(algo, testset)
            else:
                estimates = np.array([prediction.est for prediction in algo.test(testset)])
        predicted = time.perf_counter()
        check = _check_against_predict(algo, testset, estimates, config.seed + fold) if name in (
            "ours", "knnbaseline") else None
        errors = estimates - truth
        results[name] = {"sse": float(np.sum(errors ** 2)), "sae": float(np.sum(np.abs(errors))), "n": len(truth),
                         "fit_s": fitted - started, "predict_s": predicted - fitted, "max_diff_vs_predict": check}
    return results


def ours_predictions(scorer: SVDScorer, testset: list[tuple[str, str, float]]) -> np.ndarray:
    """Each test rating's estimate from the user's all-items score vector (one vector per user)."""
    frame = pd.DataFrame(testset, columns=["user_id", "item_id", "rating"])
    estimates = np.empty(len(frame))
    for user_id, rows in frame.groupby("user_id", sort=False).indices.items():
        scores = scorer.score_all(user_id)
        estimates[rows] = scores.reindex(frame["item_id"].to_numpy()[rows]).fillna(
            scorer.mu).to_numpy()  # an item outside the catalog cannot occur: the folds come from its ratings
    return estimates


def knn_baseline_predictions(algo, testset: list[tuple[str, str, float]]) -> np.ndarray:
    """`KNNBaseline.predict` (item-based) for many ratings at once.

    est = mu + bu + bi + Σ_j sim(i, j)·(r_uj − mu − bu − bj) / Σ_j sim(i, j) over the k items j the user rated that are
    most similar to i, counting only sim > 0; the baseline alone when none is left or the user or item is unknown;
    clipped to the rating scale as `predict` does.
    """
    if algo.sim_options.get("user_based", True):
        raise ValueError("vectorized KNNBaseline predictions are item-based only")
    trainset = algo.trainset
    low, high = trainset.rating_scale
    mu = trainset.global_mean
    estimates = np.empty(len(testset))
    by_user: dict[str, list[int]] = {}
    for row, (user, _, _) in enumerate(testset):
        by_user.setdefault(user, []).append(row)
    for user, rows in by_user.items():
        user_inner = _inner(trainset.to_inner_uid, user)
        items_inner = np.array([_inner(trainset.to_inner_iid, testset[row][1]) for row in rows])
        known_item = items_inner >= 0
        bu = algo.bu[user_inner] if user_inner >= 0 else 0.0
        baseline = mu + bu + np.where(known_item, algo.bi[np.maximum(items_inner, 0)], 0.0)
        correction = np.zeros(len(rows))
        if user_inner >= 0 and known_item.any():
            rated = np.array(trainset.ur[user_inner])  # (item, rating) pairs of the user
            neighbours, values = rated[:, 0].astype(np.int64), rated[:, 1]
            residuals = values - (mu + bu + algo.bi[neighbours])
            similarity = algo.sim[np.ix_(items_inner[known_item], neighbours)]
            if similarity.shape[1] > algo.k:
                keep = np.argpartition(-similarity, algo.k - 1, axis=1)[:, :algo.k]
                similarity = np.take_along_axis(similarity, keep, axis=1)
                residuals_k = residuals[keep]
            else:
                residuals_k = np.broadcast_to(residuals, similarity.shape)
            positive = np.where(similarity > 0, similarity, 0.0)
            total = positive.sum(axis=1)
            count = (similarity > 0).sum(axis=1)
            weighted = (positive * residuals_k).sum(axis=1)
            usable = (total > 0) & (count >= algo.min_k)
            correction[known_item] = np.where(usable, weighted / np.where(total > 0, total, 1.0), 0.0)
        estimates[rows] = np.clip(baseline + correction, low, high)
    return estimates


def _check_against_predict(algo, testset, estimates: np.ndarray, seed: int) -> float:
    """Largest |vectorized − algo.predict| over a seeded sample of the fold's test ratings."""
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(testset), size=min(CHECK_SAMPLE, len(testset)), replace=False)
    return float(max(abs(estimates[i] - algo.predict(testset[i][0], testset[i][1]).est) for i in sample))


def _inner(lookup, raw_id: str) -> int:
    try:
        return lookup(raw_id)
    except ValueError:
        return -1


def summarize(folds: list[dict], config: Config) -> dict:
    """Per model: RMSE and MAE as the mean over folds (as Surprise's `cross_validate` reports them), timings."""
    summary = {}
    for name in config.rating_models:
        parts = [fold[name] for fold in folds]
        rmse = [float(np.sqrt(part["sse"] / part["n"])) for part in parts]
        checks = [part["max_diff_vs_predict"] for part in parts if part["max_diff_vs_predict"] is not None]
        summary[name] = {
            "rmse": float(np.mean(rmse)),
            "mae": float(np.mean([part["sae"] / part["n"] for part in parts])),
            "rmse_per_fold": rmse,
            "fit_s": sum(part["fit_s"] for part in parts),
            "predict_s": sum(part["predict_s"] for part in parts),
            "max_diff_vs_predict": max(checks) if checks else None,
        }
    return summary
