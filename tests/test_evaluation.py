"""Offline evaluation: metric arithmetic, the splits' exact rows, the revealing order, and a `--quick` smoke run."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from convrec.evaluation import metrics
from convrec.evaluation.common import ItemSpace, liked_sentence, typed_title
from convrec.evaluation.splits import (kfold_indices, leave_latest_liked_out, liked_in_time_order, reveal,
                                       time_ordered, user_groups)


# --- metrics, by hand ---------------------------------------------------------------------------------------------
def test_single_relevant_item_at_rank_three():
    ranked, relevant = ["a", "b", "c", "d"], {"c"}
    assert metrics.hit_rate(ranked, relevant, 3) == 1.0
    assert metrics.ndcg(ranked, relevant, 3) == pytest.approx(1 / math.log2(4))  # = 0.5, ideal DCG is 1
    assert metrics.ndcg(ranked, relevant, 3) == pytest.approx(0.5)
    assert metrics.mrr(ranked, relevant, 3) == pytest.approx(1 / 3)
    assert metrics.precision(ranked, relevant, 3) == pytest.approx(1 / 3)
    assert metrics.recall(ranked, relevant, 3) == 1.0


def test_relevant_item_below_the_cut_off_scores_nothing():
    ranked, relevant = ["a", "b", "c", "d"], {"d"}
    assert metrics.all_metrics(ranked, relevant, 3) == {"hr": 0.0, "ndcg": 0.0, "mrr": 0.0, "precision": 0.0,
                                                         "recall": 0.0}
    assert metrics.all_metrics(ranked, {"x"}, 10)["hr"] == 0.0


def test_two_relevant_items_use_the_ideal_dcg():
    ranked, relevant = ["a", "b", "c", "d"], {"b", "d"}
    ideal = 1 + 1 / math.log2(3)  # both relevant items at ranks 1 and 2
    assert metrics.ndcg(ranked, relevant, 4) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)
    assert metrics.ndcg(ranked, relevant, 3) == pytest.approx((1 / math.log2(3)) / ideal)
    assert metrics.mrr(ranked, relevant, 4) == 0.5
    assert metrics.precision(ranked, relevant, 4) == 0.5
    assert metrics.precision(ranked, relevant, 3) == pytest.approx(1 / 3)
    assert metrics.recall(ranked, relevant, 3) == 0.5
    assert metrics.recall(ranked, relevant, 4) == 1.0
    assert metrics.ndcg(["b", "d", "a"], relevant, 3) == pytest.approx(1.0)


def test_short_list_precision_is_over_k_and_k_must_be_positive():
    assert metrics.precision(["a"], {"a"}, 10) == 0.1
    with pytest.raises(ValueError):
        metrics.hit_rate(["a"], {"a"}, 0)


# --- splits --------------------------------------------------------------------------------------------------------
def ratings_frame() -> pd.DataFrame:
    rows = [  # user, item, rating, timestamp
        ("u1", "a", 5.0, 100), ("u1", "b", 4.0, 300), ("u1", "c", 4.5, 300),  # b, c tie at 300: c (later row) wins
        ("u1", "d", 2.0, 400),  # a later rating that is no like stays in training
        ("u1", "e", 4.0, 200),
        ("u2", "a", 3.0, 50), ("u2", "b", 2.0, 60),  # no like: not evaluated
        ("u3", "d", 4.0, 10),  # a single like: held out, nothing left
        ("u4", "e", 4.0, 70), ("u4", "a", 5.0, 20), ("u4", "b", 3.5, 90),
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    frame["timestamp"] = frame["timestamp"].astype("Int64")
    return frame


def test_leave_latest_liked_out_holds_out_exact_rows():
    frame = ratings_frame()
    split = leave_latest_liked_out(frame)
    assert split.test.index.tolist() == [2, 7, 8]  # u1→c (tie, later row), u3→d, u4→e (not the 3.5 rated later)
    assert split.test[["user_id", "item_id"]].values.tolist() == [["u1", "c"], ["u3", "d"], ["u4", "e"]]
    assert sorted(split.train.index) == [0, 1, 3, 4, 5, 6, 9, 10]
    assert len(split.train) + len(split.test) == len(frame)


def test_time_order_and_likes_in_time_order():
    frame = ratings_frame()
    assert time_ordered(frame[frame["user_id"] == "u1"])["item_id"].tolist() == ["a", "e", "b", "c", "d"]
    assert liked_in_time_order(frame) == {"u1": ["a", "e", "b", "c"], "u3": ["d"], "u4": ["a", "e"]}


def test_missing_timestamps_count_as_oldest():
    frame = ratings_frame()
    frame.loc[2, "timestamp"] = pd.NA  # u1's c now has no time: b is the latest like
    assert leave_latest_liked_out(frame).test.loc[lambda t: t["user_id"] == "u1", "item_id"].tolist() == ["b"]


def test_revealing_most_recent_versus_earliest():
    liked = ["a", "b", "c", "d", "e", "f"]  # oldest first; f, the latest, is always the target
    assert reveal(liked, 1, "recent") == (["e"], "f")
    assert reveal(liked, 3, "recent") == (["e", "d", "c"], "f")
    assert reveal(liked, 3, "earliest") == (["a", "b", "c"], "f")
    assert reveal(liked, 5, "earliest") == (reveal(liked, 5, "recent")[0][::-1], "f")  # all but the target
    with pytest.raises(ValueError):
        reveal(liked, 6, "recent")  # the target cannot be revealed
    with pytest.raises(ValueError):
        reveal(liked, 2, "middle")


def test_user_groups_are_disjoint_cover_everyone_and_are_seeded():
    users = [f"u{i}" for i in range(23)]
    groups = user_groups(users, 0.2, seed=0)
    assert len(groups) == 5 and sorted(u for g in groups for u in g) == sorted(users)
    assert {len(g) for g in groups} <= {4, 5}
    assert groups == user_groups(list(reversed(users)), 0.2, seed=0)
    assert groups != user_groups(users, 0.2, seed=1)


def test_kfold_indices_are_surprise_kfold(tiny_ml_dir):
    from surprise import Dataset, Reader
    from surprise.model_selection import KFold

    ratings = pd.read_csv(tiny_ml_dir / "ratings.csv", dtype={"userId": str, "movieId": str})
    data = Dataset.load_from_df(ratings[["userId", "movieId", "rating"]], Reader(rating_scale=(0.5, 5)))
    ours = kfold_indices(len(ratings), 5, 42)
    for (train, test), (_, testset) in zip(ours, KFold(n_splits=5, random_state=42).split(data)):
        assert [data.raw_ratings[i][:3] for i in test] == testset
        assert sorted(np.concatenate([train, test])) == list(range(len(ratings)))


# --- helpers -------------------------------------------------------------------------------------------------------
def test_titles_are_typed_as_people_write_them():
    assert typed_title("Matrix, The") == "The Matrix"
    assert typed_title("Matrix, The (1999)") == "The Matrix"
    assert typed_title("Amelie (Fabuleux destin d'Amélie Poulain, Le)") == "Amelie"
    assert typed_title("Twelve Monkeys (a.k.a. 12 Monkeys)") == "Twelve Monkeys"
    assert typed_title("Dolce Vita, La") == "La Dolce Vita"
    assert typed_title("Good, the Bad and the Ugly, The") == "The Good, the Bad and the Ugly"
    assert liked_sentence(["Heat"]) == "I loved Heat"
    assert liked_sentence(["Heat", "Fargo"]) == "I loved Heat and Fargo"
    assert liked_sentence(["The Matrix", "Heat", "Fargo"]) == "I loved The Matrix, Heat and Fargo"


def test_top_excludes_known_items_and_breaks_ties_by_catalog_order():
    space = ItemSpace(pd.Index(["a", "b", "c", "d"]))
    assert space.top(np.array([1.0, 3.0, 3.0, 2.0]), ["b"], 2) == ["c", "d"]
    assert space.top(np.array([1.0, 1.0, -np.inf, 1.0]), [], 10) == ["a", "b", "d"]


def test_vectorized_knn_baseline_equals_surprise_predict(tiny_ml_dir):
    from surprise import Dataset, Reader

    from convrec.evaluation.rating import knn_baseline_predictions, surprise_algorithm

    ratings = pd.read_csv(tiny_ml_dir / "ratings.csv", dtype={"userId": str, "movieId": str})
    data = Dataset.load_from_df(ratings[["userId", "movieId", "rating"]], Reader(rating_scale=(0.5, 5)))
    train, test = kfold_indices(len(ratings), 3, 42)[0]
    algo = surprise_algorithm("knnbaseline", 42).fit(data.construct_trainset([data.raw_ratings[i] for i in train]))
    testset = data.construct_testset([data.raw_ratings[i] for i in test])
    testset.append(("no-such-user", testset[0][1], 4.0))  # unknown user: the baseline mu + bi
    expected = np.array([algo.predict(u, i).est for u, i, _ in testset])
    assert np.abs(knn_baseline_predictions(algo, testset) - expected).max() < 1e-9


# --- the command ---------------------------------------------------------------------------------------------------
def test_quick_offline_run_writes_json_and_png(tiny_ml_dir, tmp_path):
    report_dir = tmp_path / "report"
    environment = {**os.environ, "CONVREC_CATALOG": str(tiny_ml_dir), "COLUMNS": "160"}
    result = subprocess.run([sys.executable, "-c", "from convrec.cli.main import run; run()", "eval", "offline",
                             "--quick", "--report", str(report_dir)],
                            capture_output=True, text=True, timeout=600, env=environment)
    assert result.returncode == 0, result.stderr
    report = json.loads((report_dir / "offline.json").read_text())
    assert report["catalog"]["name"] == "tiny_ml" and report["config"]["quick"] is True
    assert set(report["rating_prediction"]) == {"svd", "baselineonly", "ours"}
    assert report["rating_prediction"]["ours"]["max_diff_vs_predict"] < 1e-6
    assert set(report["topn"]["models"]) == {"popularity", "svd", "itemknn", "ease", "hybrid"}
    assert report["topn"]["users"] > 0
    assert all(0 <= row["hr@10"] <= 1 for row in report["topn"]["models"].values())
    assert set(report["cold_start"]["results"]) == {"recent", "earliest"}
    assert set(report["cold_start"]["results"]["recent"]) == {"1", "3", "5", "10"}
    assert report["cold_start"]["linking"]["typed_titles"] > 0
    assert {"hybrid_vs_best_baseline", "cold_k3_vs_popularity", "rmse_vs_svd"} <= set(report["targets"])
    assert (report_dir / "offline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Targets" in result.stdout and "Top-N" in result.stdout
