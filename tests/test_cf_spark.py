"""Spark ALS as a CF engine: local mode on the tiny MovieLens fixture, scored by the same SVDScorer as Surprise SVD.

Tolerance: both engines fit mu + bu + bi + pu·qi to the same 1.5k ratings with different optimizers and
regularizers, so their factor terms differ; what must hold is that they predict alike. On this fixture the mean
absolute gap between the two engines' all-items predictions measured 0.26 stars with a per-user rank correlation of
0.73 (median); the bounds (under 0.4 stars, a rating step of 0.5 minus margin, and 0.5) leave room for Spark's
partition-dependent ALS while still failing for unbiased, unaligned or shuffled factors (shuffled item rows give a
rank correlation near 0).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from convrec.catalog.loaders import load_catalog
from convrec.core.errors import InputError
from convrec.tools.cf import SVDScorer
from convrec.tools.cfmodel import LatentFactors, factors_path, load_or_train_factors, train


MAX_MEAN_GAP = 0.4
MIN_RANK_CORRELATION = 0.5


@pytest.fixture(scope="module")
def tiny():
    return load_catalog(Path(__file__).parent / "fixtures" / "tiny_ml")


@pytest.fixture(scope="module")
def engines(tiny, tmp_path_factory):
    """(index dir, ALS factors, ALS scorer, SVD scorer): Spark runs once for the module, in local[2]."""
    index_dir = tmp_path_factory.mktemp("spark-index")
    factors, trained = load_or_train_factors(tiny, index_dir, "spark-als", "local[2]", "1g")
    assert trained
    yield index_dir, factors, SVDScorer(factors, tiny), SVDScorer(train(tiny), tiny)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


def _all_scores(scorer: SVDScorer, users: list[str]) -> np.ndarray:
    return np.array([scorer.score_all(user).to_numpy() for user in users])


def test_als_factors_score_like_the_surprise_path(tiny, engines):
    _, factors, als, svd = engines
    users = sorted(tiny.ratings["user_id"].unique())
    assert set(factors.user_ids) == set(users) and set(factors.item_ids) <= set(tiny.items.index)
    ours, surprise = _all_scores(als, users), _all_scores(svd, users)
    assert ((ours >= tiny.scale.low) & (ours <= tiny.scale.high)).all()
    assert np.abs(ours - surprise).mean() < MAX_MEAN_GAP
    assert np.median([spearmanr(a, s).statistic for a, s in zip(ours, surprise)]) > MIN_RANK_CORRELATION


def test_a_shuffled_model_fails_the_same_check(tiny, engines):
    """The tolerance discriminates: ALS item factors and biases moved to the wrong items do not pass."""
    _, factors, _, svd = engines
    order = np.random.default_rng(0).permutation(len(factors.item_ids))
    shuffled = SVDScorer(LatentFactors(**{**vars(factors), "bi": factors.bi[order], "qi": factors.qi[order]}), tiny)
    users = sorted(tiny.ratings["user_id"].unique())
    ours, surprise = _all_scores(shuffled, users), _all_scores(svd, users)
    assert np.median([spearmanr(a, s).statistic for a, s in zip(ours, surprise)]) < MIN_RANK_CORRELATION


def test_fold_in_works_on_als_factors_as_on_svd(tiny, engines):
    _, _, als, svd = engines
    liked = dict.fromkeys(tiny.ratings.groupby("item_id").size().nlargest(3).index, 5.0)
    ours, surprise = als.score_profile(liked), svd.score_profile(liked)
    assert ours.index.equals(tiny.items.index)
    assert np.abs(ours.to_numpy() - surprise.to_numpy()).mean() < MAX_MEAN_GAP


def test_the_factors_persist_under_the_catalog_fingerprint(tiny, engines):
    index_dir, factors, _, _ = engines
    assert factors_path(index_dir, tiny, "spark-als").is_file()
    again, trained = load_or_train_factors(tiny, index_dir, "spark-als")  # loads: no Spark session needed
    assert not trained
    np.testing.assert_array_equal(again.qi, factors.qi)
    assert list(again.user_ids) == list(factors.user_ids)


def test_missing_pyspark_is_a_clear_error_with_the_install_command(tiny, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now raises ImportError
    with pytest.raises(InputError, match=r"convrec\[spark\]"):
        load_or_train_factors(tiny, tmp_path, "spark-als")
