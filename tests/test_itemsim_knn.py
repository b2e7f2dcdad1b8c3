"""Item–item at scale: the sparse top-k item-kNN equals the dense ItemKNN when it keeps every neighbour, keeps only
the k best otherwise, shows the exact co-rating cosine, and is what `auto` picks above `ease_max_items`."""

from __future__ import annotations

import numpy as np
import pytest

from convrec.core.settings import Settings
from convrec.tools.errors import ToolError
from convrec.tools.itemsim import EASE, ItemKNN, SparseItemKNN, item_item_model
from test_tools_itemsim import TOY, TOY_ITEMS, make_catalog


def test_keeping_every_neighbour_is_the_dense_item_knn():
    catalog = make_catalog(TOY)
    dense, top = ItemKNN.fit(catalog, min_ratings=2), SparseItemKNN.fit(catalog, neighbours=10, min_ratings=2, block=2)
    assert list(top.item_ids) == TOY_ITEMS
    profile = ({"a": 1.0, "e": 0.5}, {"d": 1.0})
    np.testing.assert_allclose(top.scores_from_items(*profile).to_numpy(), dense.scores_from_items(*profile).to_numpy(),
                               rtol=1e-6)
    for a in TOY_ITEMS:
        assert top.most_similar(a, k=4) == [(i, pytest.approx(s)) for i, s in dense.most_similar(a, k=4) if s > 0]
        for b in TOY_ITEMS:
            assert top.similarity(a, b) == pytest.approx(dense.similarity(a, b))


def test_only_the_k_nearest_neighbours_are_kept_in_either_direction():
    catalog = make_catalog(TOY)
    top = SparseItemKNN.fit(catalog, neighbours=1, min_ratings=2)
    scores = top.scores_from_items({"a": 1.0}, {})
    assert scores["b"] == pytest.approx(3 / np.sqrt(12))  # raters of a: u1-u4, of b: u1, u2, u4
    assert scores.drop("b").eq(0).all()  # c and e share a rater with a, but neither keeps a nor a them
    assert top.similarity("c", "e") == top.similarity("e", "c") == pytest.approx(0.5)  # c's nearest is e
    assert top.similarity("a", "c") == 0.0  # cosine 1/√8, but not kept
    contributions = top.contributions("b", {"e": 0.5, "a": 1.0})
    assert contributions == [("a", pytest.approx(3 / np.sqrt(12))), ("e", 0.0)]
    assert top.most_similar("a", k=3) == [("b", pytest.approx(3 / np.sqrt(12)))]


def test_unknown_ids_and_empty_profiles_are_tool_errors():
    top = SparseItemKNN.fit(make_catalog(TOY), min_ratings=2)
    with pytest.raises(ToolError, match="unknown item"):
        top.similarity("a", "zz")
    with pytest.raises(ToolError, match="no liked"):
        top.scores_from_items({}, {})
    with pytest.raises(ToolError, match="too few ratings"):
        top.most_similar("f")


def test_auto_picks_ease_for_small_catalogs_and_item_knn_above_the_limit(tmp_path):
    catalog = make_catalog({f"u{n}": "abcde" for n in range(5)})  # 5 items with 5 ratings each: all modelled
    assert isinstance(item_item_model(catalog, Settings(data_dir=tmp_path, ease_max_items=5)), EASE)
    assert isinstance(item_item_model(catalog, Settings(data_dir=tmp_path, ease_max_items=4)), SparseItemKNN)
    forced = Settings(data_dir=tmp_path, itemsim="ease", ease_max_items=1)
    assert isinstance(item_item_model(catalog, forced), EASE)
