"""Item–item at scale: cosine between latent item factors ranks and explains like EASE does, and the configured
model is EASE for small catalogs and factor cosine above `ease_max_items`."""

from __future__ import annotations

import numpy as np
import pytest

from convrec.catalog.cfmodel import LatentFactors
from convrec.core.settings import Settings
from convrec.tools.errors import ToolError
from convrec.tools.itemsim import EASE, FactorCosine, item_item_model
from test_tools_itemsim import make_catalog

# Every item rated by five users, so all are modelled (MIN_RATINGS 5). Factors: b is a scaled copy of a (cosine 1),
# c is orthogonal to a (0), d is a's opposite (−1, shown as 0), e is halfway between a and c (1/√2).
RATED = {f"u{n}": "abcde" for n in range(5)}
VECTORS = {"a": [1.0, 0.0], "b": [3.0, 0.0], "c": [0.0, 2.0], "d": [-1.0, 0.0], "e": [1.0, 1.0]}


def factor_model() -> tuple[object, FactorCosine]:
    catalog = make_catalog(RATED)
    ids = np.array(list(VECTORS), dtype=str)
    factors = LatentFactors(mu=3.0, low=0.5, high=5.0, user_ids=np.array(list(RATED), dtype=str), item_ids=ids,
                            bu=np.zeros(len(RATED)), bi=np.zeros(len(ids)), pu=np.zeros((len(RATED), 2)),
                            qi=np.array(list(VECTORS.values())))
    return catalog, FactorCosine(catalog, factors)


def test_similarity_is_the_clipped_cosine_of_the_factors():
    _, model = factor_model()
    assert model.similarity("a", "b") == pytest.approx(1.0)
    assert model.similarity("a", "c") == pytest.approx(0.0)
    assert model.similarity("a", "d") == 0.0
    assert model.similarity("a", "e") == pytest.approx(1 / np.sqrt(2))
    assert model.similarity("e", "a") == model.similarity("a", "e")
    assert model.similarity("c", "c") == 1.0


def test_scores_sum_the_cosines_to_liked_items_minus_half_the_disliked():
    _, model = factor_model()
    scores = model.scores_from_items({"a": 1.0}, {"c": 1.0})
    assert list(scores.index) == list("abcde")
    assert scores["b"] == pytest.approx(1.0)  # cos(a, b) − ½·cos(c, b) = 1 − 0
    assert scores["e"] == pytest.approx((1 - 0.5) / np.sqrt(2))
    assert scores["a"] == pytest.approx(0.0)  # its own term is left out; cos(c, a) = 0
    assert scores["d"] == pytest.approx(0.0)


def test_evidence_names_the_liked_item_that_pushes_hardest():
    _, model = factor_model()
    contributions = model.contributions("b", {"c": 1.0, "a": 0.5})
    assert [item for item, _ in contributions] == ["a", "c"]
    assert contributions[0][1] == pytest.approx(0.5)
    assert model.most_similar("a", k=2) == [("b", pytest.approx(1.0)), ("e", pytest.approx(1 / np.sqrt(2)))]


def test_unknown_ids_and_empty_profiles_are_tool_errors():
    _, model = factor_model()
    with pytest.raises(ToolError, match="unknown item"):
        model.similarity("a", "zz")
    with pytest.raises(ToolError, match="no liked"):
        model.scores_from_items({}, {})


def test_auto_picks_ease_for_small_catalogs_and_factor_cosine_above_the_limit(tmp_path):
    catalog, _ = factor_model()
    factors = LatentFactors(mu=3.0, low=0.5, high=5.0, user_ids=np.array([], dtype=str),
                            item_ids=np.array(list(VECTORS), dtype=str), bu=np.zeros(0), bi=np.zeros(5),
                            pu=np.zeros((0, 2)), qi=np.array(list(VECTORS.values())))
    small = Settings(data_dir=tmp_path, ease_max_items=5)
    assert isinstance(item_item_model(catalog, factors, small), EASE)
    assert isinstance(item_item_model(catalog, factors, Settings(data_dir=tmp_path, ease_max_items=4)), FactorCosine)
    forced = Settings(data_dir=tmp_path, itemsim="ease", ease_max_items=1)
    assert isinstance(item_item_model(catalog, factors, forced), EASE)
