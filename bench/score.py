"""All-items CF scoring, vectorized vs a `surprise` predict loop; EASE scoring; one ranking request's latency.

Run: .venv/bin/python bench/score.py   (prints a table, writes bench/results/score.json)
Both CF scorings run on the same trained SVD, for the same users, in this process; medians over repeats. The
vectorized scoring is timed with one BLAS thread, as the recommender runs it (on a busy machine extra BLAS threads only
contend: a 9.7k × 100 matrix–vector product is too small to share), and once with the default threads for comparison.
"""

from __future__ import annotations

import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from convrec.catalog.loaders import load_demo_catalog
from convrec.tools.cf import SVDScorer
from convrec.tools.cfmodel import load_or_train
from convrec.tools.itemsim import EASE
from convrec.tools.models import Constraints, Profile
from convrec.tools.recommend import Recommender, RecommendRequest

USERS = 20  # every 30th user: light and heavy raters alike
REPEATS = 50
REQUESTS = 100
# Star Wars IV and V, The Matrix, The Shawshank Redemption, Toy Story
EASE_PROFILE = {"260": 1.0, "1196": 1.0, "2571": 1.0, "318": 1.0, "1": 1.0}


def median_ms(action, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def compare_cf(algo, scorer: SVDScorer, users: list[str], item_ids: list[str]) -> dict:
    loop_ms, vectorized_ms, default_threads_ms, differences = [], [], [], []
    for user in users:
        loop_started = time.perf_counter()
        looped = np.array([algo.predict(user, item_id).est for item_id in item_ids])
        loop_ms.append((time.perf_counter() - loop_started) * 1000)
        default_threads_ms.append(median_ms(lambda: scorer.score_all(user), REPEATS))
        with threadpool_limits(limits=1, user_api="blas"):
            vectorized_ms.append(median_ms(lambda: scorer.score_all(user), REPEATS))
        differences.append(float(np.abs(scorer.score_all(user).to_numpy() - looped).max()))
    with threadpool_limits(limits=1, user_api="blas"):
        fold_in_ms = median_ms(lambda: scorer.score_profile({"260": 4.5, "2571": 4.5, "1": 3.0}), REPEATS)
    loop, vectorized = statistics.median(loop_ms), statistics.median(vectorized_ms)
    return {"users": len(users), "predict_loop_ms_per_user": round(loop, 2),
            "vectorized_ms_per_user": round(vectorized, 3), "speedup": round(loop / vectorized, 1),
            "vectorized_ms_default_blas_threads": round(statistics.median(default_threads_ms), 3),
            "max_abs_difference": max(differences), "fold_in_and_score_ms": round(fold_in_ms, 3)}


def ease_profile_ms(ease: EASE) -> float:
    with threadpool_limits(limits=1, user_api="blas"):
        return round(median_ms(lambda: ease.scores_from_items(EASE_PROFILE, {}), REPEATS), 3)


def rank_latencies(recommender: Recommender, catalog) -> dict:
    rng = np.random.default_rng(0)
    popular = list(catalog.popularity.sort_values(ascending=False).index[:300])
    latencies = []
    for n in range(REQUESTS):
        liked = {str(i): 1.0 for i in rng.choice(popular, size=1 + n % 6, replace=False)}
        profile = Profile(liked=liked, genres_disliked={"Horror"} if n % 2 else set(),
                          constraints=Constraints(year_min=1990 if n % 3 == 0 else None))
        started = time.perf_counter()
        recommender.recommend(RecommendRequest(profile=profile, k=5, explore=n % 4 == 0))
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return {"rank_request_ms_p50": round(statistics.median(latencies), 1),
            "rank_request_ms_p95": round(latencies[int(0.95 * len(latencies)) - 1], 1)}


def main() -> None:
    catalog = load_demo_catalog()
    with tempfile.TemporaryDirectory() as folder:
        algo, _ = load_or_train(catalog, Path(folder))
        fit_started = time.perf_counter()
        ease = EASE.load_or_fit(catalog, Path(folder))
        ease_fit_s = time.perf_counter() - fit_started
        reload_started = time.perf_counter()
        EASE.load_or_fit(catalog, Path(folder))
        ease_reload_s = time.perf_counter() - reload_started
    scorer = SVDScorer(algo, catalog)
    users = sorted(catalog.ratings["user_id"].unique(), key=int)[::30][:USERS]
    results = {"machine": f"{platform.machine()}, {platform.python_version()}", "items": len(catalog),
               **compare_cf(algo, scorer, users, list(catalog.items.index)),
               "ease_items": len(ease.item_ids), "ease_fit_s": round(ease_fit_s, 2),
               "ease_reload_s": round(ease_reload_s, 2),
               "ease_5_item_profile_ms": ease_profile_ms(ease),
               **rank_latencies(Recommender(catalog, itemsim=ease, cf=scorer), catalog)}
    for key, value in results.items():
        print(f"{key:>26}  {value}")
    out = Path(__file__).parent / "results" / "score.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
