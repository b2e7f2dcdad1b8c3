"""All-items CF scoring, vectorized vs a `surprise` predict loop, and one ranking request's latency.

Run: .venv/bin/python bench/score.py   (writes bench/results/score.json)
Both scorings run on the same trained SVD, the same users, in this process.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from convrec.catalog.cfmodel import load_or_train
from convrec.catalog.loaders import load_demo_catalog
from convrec.tools.cf import SVDScorer
from convrec.tools.itemsim import EASE
from convrec.tools.models import Constraints, Profile
from convrec.tools.recommend import Recommender, RecommendRequest

USERS = 20
REQUESTS = 100


def per_user_ms(action, users) -> float:
    started = time.perf_counter()
    for user in users:
        action(user)
    return (time.perf_counter() - started) / len(users) * 1000


def main() -> None:
    catalog = load_demo_catalog()
    with tempfile.TemporaryDirectory() as folder:
        algo, _ = load_or_train(catalog, Path(folder))
        itemsim = EASE.load_or_fit(catalog, Path(folder))
    scorer = SVDScorer(algo, catalog)
    users = sorted(catalog.ratings["user_id"].unique(), key=int)[:USERS]
    item_ids = list(catalog.items.index)
    scorer.score_user(users[0])  # warm-up
    vectorized = per_user_ms(scorer.score_user, users)
    loop = per_user_ms(lambda u: [algo.predict(u, i).est for i in item_ids], users[:5])
    difference = max(float(np.abs(scorer.score_user(u).to_numpy()
                                  - np.array([algo.predict(u, i).est for i in item_ids])).max()) for u in users[:3])

    recommender = Recommender(catalog, itemsim=itemsim, cf=scorer)
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
    results = {
        "items": len(item_ids),
        "vectorized_ms_per_user": round(vectorized, 3),
        "predict_loop_ms_per_user": round(loop, 1),
        "speedup": round(loop / vectorized, 1),
        "max_abs_difference": difference,
        "rank_request_ms_p50": round(statistics.median(latencies), 1),
        "rank_request_ms_p95": round(latencies[int(0.95 * len(latencies)) - 1], 1),
    }
    for key, value in results.items():
        print(f"{key:>26}  {value}")
    out = Path(__file__).parent / "results" / "score.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
