"""Cold start: new users (absent from training) who told us only k liked items, typed as titles.

The users are split into round(1/fraction) seeded groups; each group in turn is new, the CF model, EASE and the
popularity counts are trained on everyone else. A new user's liked items (rating ≥ 4) in time order give the target,
their latest like, and the revealed items: `recent` = the k likes just before it, `earliest` = their first k likes.
Only users with at least max(k) + 1 likes are evaluated, so every k and protocol has the same users and targets.

The revealed items reach our recommender the way a person would give them: as titles in one sentence ("I loved The
Matrix, Toy Story and Heat"), read by `tools.reader.read_message` and merged by `tools.profile.apply_reading`.
Popularity and EASE get the revealed ids directly; the linking accuracy says how much typing them costs.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from convrec.catalog.models import Catalog
from convrec.evaluation import metrics
from convrec.evaluation.common import Config, ItemSpace, liked_sentence, training_catalog, typed_title
from convrec.evaluation.splits import PROTOCOLS, liked_in_time_order, reveal, user_groups
from convrec.tools.cf import SVDScorer
from convrec.tools.cfmodel import train as train_cf
from convrec.tools.itemsim import EASE
from convrec.tools.models import Profile
from convrec.tools.profile import apply_reading
from convrec.tools.reader import read_message
from convrec.tools.recommend import Recommender, RecommendRequest

MODELS = ("popularity", "ease", "ours")
SCORED = ("hr", "ndcg")


def cold_group(catalog: Catalog, config: Config, group: int) -> dict:
    """One group of new users: a row per (user, protocol, k) with each model's metrics and the linking outcome."""
    started = time.perf_counter()
    new_users = user_groups(catalog.ratings["user_id"], config.cold_fraction, config.seed)[group]
    is_new = catalog.ratings["user_id"].isin(new_users)
    train_catalog = training_catalog(catalog, catalog.ratings[~is_new], f"cold{group}")
    space = ItemSpace(catalog.items.index)
    popularity = train_catalog.popularity.reindex(space.item_ids).to_numpy(dtype=float)
    ease = EASE.fit(train_catalog)
    recommender = Recommender(train_catalog, itemsim=ease, cf=SVDScorer(train_cf(train_catalog), train_catalog))
    fitted = time.perf_counter()
    likes = liked_in_time_order(catalog.ratings[is_new], config.liked)
    needed = max(config.reveal) + 1
    eligible = sorted(user for user, items in likes.items() if len(items) >= needed)
    titles = {item_id: typed_title(str(title)) for item_id, title in catalog.items["title"].items()}
    rows, ours_ms = [], []
    for user in eligible:
        for protocol in PROTOCOLS:
            for k in config.reveal:
                revealed, target = reveal(likes[user], k, protocol)
                typed = [titles[item_id] for item_id in revealed]
                reading = read_message(liked_sentence(typed), train_catalog)
                profile = apply_reading(Profile(), reading)
                clock = time.perf_counter()
                cards = recommender.recommend(RecommendRequest(profile=profile, k=config.k))
                ours_ms.append((time.perf_counter() - clock) * 1000)
                ease_scores = space.expand(ease.scores_from_items(dict.fromkeys(revealed, 1.0), {}))
                ranked = {"popularity": space.top(popularity, revealed, config.k),
                          "ease": space.top(ease_scores, revealed, config.k),
                          "ours": [card.item_id for card in cards]}
                linked = set(profile.liked)
                row = {"group": group, "user": user, "protocol": protocol, "k": k, "target": target,
                       "typed": k, "linked": len(linked & set(revealed)), "wrong": len(linked - set(revealed)),
                       "ambiguous": len(reading.ambiguous),
                       "missed": [typed[i] for i, item_id in enumerate(revealed) if item_id not in linked]}
                for model, items in ranked.items():
                    row[f"{model}_hr"] = metrics.hit_rate(items, {target}, config.k)
                    row[f"{model}_ndcg"] = metrics.ndcg(items, {target}, config.k)
                rows.append(row)
    return {"rows": rows, "ours_ms": ours_ms, "new_users": len(new_users), "eligible": len(eligible),
            "timings": {"fit": fitted - started, "total": time.perf_counter() - started}}


def summarize(parts: list[dict], config: Config) -> dict:
    rows = pd.DataFrame([row for part in parts for row in part["rows"]])
    k = config.k
    results: dict[str, dict] = {}
    for protocol in PROTOCOLS:
        results[protocol] = {}
        for reveal_k in config.reveal:
            chosen = rows[(rows["protocol"] == protocol) & (rows["k"] == reveal_k)] if len(rows) else rows
            results[protocol][str(reveal_k)] = {
                model: {f"{metric}@{k}": (float(chosen[f"{model}_{metric}"].mean()) if len(chosen) else None)
                        for metric in SCORED} for model in MODELS}
    typed = int(rows["typed"].sum()) if len(rows) else 0
    missed = rows.explode("missed")["missed"].dropna() if len(rows) else pd.Series(dtype=object)
    ms = np.array([ms for part in parts for ms in part["ours_ms"]])
    return {
        "groups": len(parts), "new_users": sum(part["new_users"] for part in parts),
        "users": sum(part["eligible"] for part in parts), "min_liked": max(config.reveal) + 1,
        "results": results,
        "linking": {"typed_titles": typed,
                    "accuracy": (int(rows["linked"].sum()) / typed) if typed else None,
                    "wrong_links": int(rows["wrong"].sum()) if len(rows) else 0,
                    "ambiguous": int(rows["ambiguous"].sum()) if len(rows) else 0,
                    "most_missed": missed.value_counts().head(12).to_dict()},
        "ours_ms_per_request": {"mean": float(ms.mean()) if len(ms) else None,
                                "p95": float(np.percentile(ms, 95)) if len(ms) else None},
        "timings_s": {"fit": sum(part["timings"]["fit"] for part in parts),
                      "total": sum(part["timings"]["total"] for part in parts)},
    }
