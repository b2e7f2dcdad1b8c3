"""Top-N, leave-latest-liked-out: each user's most recent rating ≥ 4 is held out, every model ranks all items.

Every model sees the same training ratings and excludes the same known items (the user's training items):
- popularity: number of training ratings;
- svd: the CF model we persist (`tools.cfmodel.train`), ranked by predicted rating (`tools.cf` scorer, vectorized);
- itemknn: cosine between items' binary co-rating vectors, summed over the user's liked (≥ 4) training items;
- ease: `tools.itemsim.EASE.fit` on the training ratings, the user's row = all their training items (binary);
- hybrid: our `Recommender` (EASE + folded-in SVD + genre + popularity, MMR), profile = the training ratings in
  time order (the order a profile keeps them in, which its recency weighting reads).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import scipy.sparse as sparse

from convrec.catalog.models import Catalog
from convrec.evaluation import metrics
from convrec.evaluation.common import Config, ItemSpace, training_catalog, user_item_matrix
from convrec.evaluation.splits import leave_latest_liked_out, time_ordered
from convrec.tools.cf import SVDScorer
from convrec.tools.cfmodel import train as train_cf
from convrec.tools.itemsim import EASE
from convrec.tools.models import Profile
from convrec.tools.recommend import Recommender, RecommendRequest

BASELINES = ("popularity", "svd", "itemknn", "ease")
MODELS = (*BASELINES, "hybrid")


def item_knn_scores(train: pd.DataFrame, users: pd.Index, space: ItemSpace, liked: float) -> np.ndarray:
    """users × items: Σ over each user's liked items j of cosine(j, i), cosines from who rated what (binary)."""
    rated = user_item_matrix(train, users, space)
    likes = user_item_matrix(train[train["rating"] >= liked], users, space)
    raters = np.asarray(rated.sum(axis=0)).ravel()
    normalized = rated @ sparse.diags(np.where(raters > 0, 1 / np.sqrt(np.maximum(raters, 1)), 0.0))
    return np.asarray(((likes @ normalized.T) @ normalized).todense())


def warm_topn(catalog: Catalog, config: Config) -> dict:
    """Per model, per evaluated user: the metrics at k; plus the hybrid's milliseconds per request."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    split = leave_latest_liked_out(catalog.ratings, config.liked)
    train = split.train
    train_users = pd.Index(sorted(train["user_id"].unique()))
    test = split.test[split.test["user_id"].isin(train_users)]  # a user with nothing left to learn from is skipped
    if config.warm_users is not None and len(test) > config.warm_users:
        chosen = np.random.default_rng(config.seed).choice(len(test), size=config.warm_users, replace=False)
        test = test.iloc[np.sort(chosen)]
    train_catalog = training_catalog(catalog, train, "warm")
    space = ItemSpace(catalog.items.index)
    known = {user: list(items) for user, items in train.groupby("user_id")["item_id"]}
    user_ratings = {user: dict(zip(group["item_id"], group["rating"]))  # oldest first, as a profile keeps them
                    for user, group in time_ordered(train).groupby("user_id")}

    popularity = np.asarray(user_item_matrix(train, train_users, space).sum(axis=0)).ravel()
    knn = item_knn_scores(train, train_users, space, config.liked)
    timings["fit_baselines"] = time.perf_counter() - started
    clock = time.perf_counter()
    scorer = SVDScorer(train_cf(train_catalog), train_catalog)
    timings["fit_svd"] = time.perf_counter() - clock
    clock = time.perf_counter()
    ease = EASE.fit(train_catalog)
    timings["fit_ease"] = time.perf_counter() - clock
    recommender = Recommender(train_catalog, itemsim=ease, cf=scorer)

    results: dict[str, list[dict[str, float]]] = {model: [] for model in MODELS}
    hybrid_ms: list[float] = []
    clock = time.perf_counter()
    for user, target in zip(test["user_id"], test["item_id"]):
        relevant = {target}
        seen = known[user]
        ranked = {
            "popularity": space.top(popularity, seen, config.k),
            "svd": space.top(scorer.score_all(user).to_numpy(), seen, config.k),
            "itemknn": space.top(knn[train_users.get_loc(user)], seen, config.k),
            "ease": space.top(space.expand(ease.scores_from_items(dict.fromkeys(seen, 1.0), {})), seen, config.k),
        }
        request = RecommendRequest(profile=Profile(ratings=user_ratings[user]), k=config.k)
        request_started = time.perf_counter()
        cards = recommender.recommend(request)
        hybrid_ms.append((time.perf_counter() - request_started) * 1000)
        ranked["hybrid"] = [card.item_id for card in cards]
        if set(ranked["hybrid"]) & set(seen):
            raise AssertionError(f"the recommender returned a known item for user {user}")
        for model, items in ranked.items():
            results[model].append(metrics.all_metrics(items, relevant, config.k))
    timings["rank"] = time.perf_counter() - clock
    timings["total"] = time.perf_counter() - started
    return {"users": len(test), "items": len(space), "per_user": results, "hybrid_ms": hybrid_ms,
            "timings": timings}


def summarize(part: dict, k: int) -> dict:
    models = {}
    for model, rows in part["per_user"].items():
        frame = pd.DataFrame(rows, columns=list(metrics.METRICS))
        n = len(frame)
        summary = {f"{metric}@{k}": float(frame[metric].mean()) if n else None for metric in metrics.METRICS}
        hr = summary[f"hr@{k}"]
        summary["hr_ci95"] = float(1.96 * np.sqrt(hr * (1 - hr) / n)) if n else None
        models[model] = summary
    ms = np.array(part["hybrid_ms"])
    return {"users": part["users"], "items": part["items"], "models": models,
            "hybrid_ms_per_user": {"mean": float(ms.mean()) if len(ms) else None,
                                   "p95": float(np.percentile(ms, 95)) if len(ms) else None},
            "timings_s": part["timings"]}
