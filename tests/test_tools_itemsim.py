"""Item–item: EASE equals its closed form, ranks a determined toy case exactly, persists by fingerprint, and shows a
symmetric [0, 1] similarity; bad arguments are tool errors."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from convrec.catalog.fingerprint import fingerprint
from convrec.catalog.loaders import load_catalog, load_demo_catalog
from convrec.catalog.models import ITEM_COLUMNS, Catalog, RatingScale
from convrec.core.settings import Settings
from convrec.tools import itemsim
from convrec.tools.errors import ToolError
from convrec.tools.itemsim import DISLIKE_WEIGHT, EASE, ItemKNN, weights_path

# Who rated what. a and b go together (u1, u2, u4), a and c once (u3), c and e once (u5), d alone (u6); f has one
# rating, so it falls outside a model that needs two.
TOY = {"u1": "ab", "u2": "ab", "u3": "ac", "u4": "abe", "u5": "ce", "u6": "d", "u7": "d", "u8": "f"}
TOY_ITEMS = list("abcde")


def make_catalog(rated: dict[str, str], rating: float = 4.0) -> Catalog:
    pairs = [(user, item) for user, items in rated.items() for item in items]
    ids = sorted({item for _, item in pairs})
    items = pd.DataFrame({"title": ids, "year": pd.array([None] * len(ids), dtype="Int64"),
                          "genres": [[] for _ in ids], "tags": [[] for _ in ids], "description": None,
                          "metadata": [{} for _ in ids]},
                         index=pd.Index(ids, dtype="str", name="item_id"))[ITEM_COLUMNS]
    ratings = pd.DataFrame({"user_id": [u for u, _ in pairs], "item_id": [i for _, i in pairs],
                            "rating": rating, "timestamp": pd.array([None] * len(pairs), dtype="Int64")})
    scale = RatingScale()
    return Catalog(name="toy", items=items, ratings=ratings, scale=scale,
                   fingerprint=fingerprint(items, ratings, scale))


def closed_form(rated: dict[str, str], items: list[str], lam: float) -> np.ndarray:
    """B = I − P·diagMat(1/diag(P)), P = (XᵀX + λI)⁻¹, straight from the paper, in float64."""
    x = np.array([[float(item in rated.get(user, "")) for item in items] for user in sorted(rated)])
    p = np.linalg.inv(x.T @ x + lam * np.eye(len(items)))
    return np.eye(len(items)) - p @ np.diag(1 / np.diag(p))


@pytest.fixture(scope="module")
def toy() -> tuple[Catalog, EASE]:
    catalog = make_catalog(TOY)
    return catalog, EASE.fit(catalog, lam=1.0, min_ratings=2)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Catalog, EASE]:
    catalog = load_demo_catalog()
    return catalog, EASE.load_or_fit(catalog, tmp_path_factory.mktemp("ease"))


# -- the closed form -------------------------------------------------------------------------------------------------
def test_weights_equal_the_closed_form_with_a_zero_diagonal(toy):
    _, model = toy
    assert list(model.item_ids) == TOY_ITEMS
    np.testing.assert_allclose(model.weights, closed_form(TOY, TOY_ITEMS, lam=1.0), rtol=0, atol=1e-6)
    assert model.weights.dtype == np.float32 and not np.diag(model.weights).any()


def test_liking_a_ranks_its_co_raters_by_how_often_they_go_together(toy):
    catalog, model = toy
    scores = model.scores_from_items({"a": 1.0}, {})
    assert scores["b"] > scores["c"] > scores["d"] > scores["e"]
    assert scores["d"] == 0.0  # nobody who rated a rated d: no path between them
    assert scores["e"] < 0  # e's one co-rating with a (u4) is explained by b, which u4 rated too
    assert list(scores.index) == TOY_ITEMS  # f is outside the model: no score


def test_dislikes_subtract_at_their_weight(toy):
    _, model = toy
    scores = model.scores_from_items({"a": 1.0, "e": 0.5}, {"c": 0.8})
    weights = pd.DataFrame(model.weights, index=model.item_ids, columns=model.item_ids)
    expected = weights.loc["a"] + 0.5 * weights.loc["e"] - DISLIKE_WEIGHT * 0.8 * weights.loc["c"]
    np.testing.assert_allclose(scores[TOY_ITEMS].to_numpy(), expected.to_numpy(), rtol=1e-6)


def test_contributions_split_a_score_by_liked_item(toy):
    _, model = toy
    liked = {"a": 1.0, "c": 0.5, "e": 1.0, "f": 1.0, "b": 1.0}
    contributions = model.contributions("b", liked)
    weights = pd.DataFrame(model.weights, index=model.item_ids, columns=model.item_ids)
    assert [item for item, _ in contributions] == ["a", "e", "c"]  # largest first; f is outside, b the candidate
    for item, value in contributions:
        assert value == pytest.approx(liked[item] * weights.at[item, "b"])
    assert model.contributions("f", liked) == []


# -- similarity ------------------------------------------------------------------------------------------------------
def test_similarity_is_the_co_rating_cosine(toy):
    _, model = toy
    assert model.similarity("a", "b") == pytest.approx(3 / np.sqrt(4 * 3))
    assert model.similarity("a", "d") == 0.0
    assert model.similarity("f", "f") == 1.0 and model.similarity("a", "f") == 0.0


def test_similarity_is_symmetric_bounded_and_one_with_itself(demo):
    catalog, model = demo
    rng = np.random.default_rng(0)
    popular = list(catalog.popularity.sort_values(ascending=False).index[:400])
    for a, b in rng.choice(popular, size=(300, 2)):
        assert model.similarity(a, b) == model.similarity(b, a)
        assert 0.0 <= model.similarity(a, b) <= 1.0
    assert all(model.similarity(item, item) == 1.0 for item in popular[:50])


def test_most_similar_is_ordered_deterministic_and_agrees_with_similarity(demo):
    catalog, model = demo
    neighbours = model.most_similar("1196", k=10)  # The Empire Strikes Back
    assert len(neighbours) == 10 and "1196" not in dict(neighbours)
    assert [s for _, s in neighbours] == sorted((s for _, s in neighbours), reverse=True)
    assert {"260", "1210"} <= set(dict(neighbours))  # A New Hope, Return of the Jedi
    assert all(model.similarity("1196", item) == pytest.approx(s) for item, s in neighbours)
    assert model.most_similar("1196", k=10) == neighbours


def test_most_similar_breaks_ties_in_id_order_and_stops_at_the_model(toy):
    _, model = toy
    neighbours = model.most_similar("a", k=99)
    assert [item for item, _ in neighbours] == ["b", "c", "e", "d"]
    assert [s for _, s in neighbours] == pytest.approx([3 / np.sqrt(12), 1 / np.sqrt(8), 1 / np.sqrt(8), 0.0])


def test_star_wars_fans_get_star_wars(demo):
    _, model = demo
    scores = model.scores_from_items({"260": 1.0, "1196": 1.0}, {})
    assert "1210" in scores.drop(["260", "1196"]).nlargest(5).index


def test_item_knn_scores_by_summed_cosine(toy):
    catalog, _ = toy
    knn = ItemKNN.fit(catalog, min_ratings=2)
    scores = knn.scores_from_items({"a": 1.0, "c": 1.0}, {})
    for item in "bde":
        assert scores[item] == pytest.approx(knn.similarity("a", item) + knn.similarity("c", item), abs=1e-6)


# -- persistence -----------------------------------------------------------------------------------------------------
def test_weights_are_saved_by_fingerprint_and_reloaded_without_refitting(monkeypatch):
    catalog = make_catalog(TOY)
    fits = []
    original = itemsim.ease_weights
    monkeypatch.setattr(itemsim, "ease_weights", lambda *args: fits.append(args) or original(*args))
    first = EASE.load_or_fit(catalog, Settings().index_dir, lam=1.0, min_ratings=2)
    path = weights_path(Settings().index_dir, catalog, 1.0, 2)
    assert path.is_file() and path.name == f"ease-{catalog.fingerprint[:16]}-l1-m2.npy"
    saved_at = path.stat().st_mtime_ns
    time.sleep(0.01)
    again = EASE.load_or_fit(catalog, Settings().index_dir, lam=1.0, min_ratings=2)
    assert len(fits) == 1 and path.stat().st_mtime_ns == saved_at
    np.testing.assert_array_equal(again.weights, first.weights)
    assert list(path.parent.iterdir()) == [path]  # no temporary left behind


def test_a_changed_catalog_refits_and_replaces_the_old_weights(tmp_path):
    old, new = make_catalog(TOY), make_catalog({**TOY, "u9": "bd"})
    EASE.load_or_fit(old, tmp_path, lam=1.0, min_ratings=2)
    model = EASE.load_or_fit(new, tmp_path, lam=1.0, min_ratings=2)
    np.testing.assert_allclose(model.weights, closed_form({**TOY, "u9": "bd"}, TOY_ITEMS, 1.0), atol=1e-6)
    assert [p.name for p in (tmp_path / "ease").iterdir()] == [weights_path(tmp_path, new, 1.0, 2).name]


@pytest.mark.parametrize("damage", [b"", b"not an npy file", None])
def test_a_damaged_file_is_refitted(tmp_path, damage):
    catalog = make_catalog(TOY)
    path = weights_path(tmp_path, catalog, 1.0, 2)
    path.parent.mkdir(parents=True)
    if damage is None:
        np.save(path, np.zeros((2, 2), dtype=np.float32))  # readable, wrong shape
    else:
        path.write_bytes(damage)
    model = EASE.load_or_fit(catalog, tmp_path, lam=1.0, min_ratings=2)
    np.testing.assert_allclose(model.weights, closed_form(TOY, TOY_ITEMS, 1.0), atol=1e-6)
    assert np.load(path).shape == (5, 5)


# -- bad arguments ----------------------------------------------------------------------------------------------------
def test_unknown_ids_bad_weights_and_empty_profiles_are_tool_errors(toy):
    _, model = toy
    calls = [lambda: model.scores_from_items({"zz": 1.0}, {}), lambda: model.scores_from_items({}, {"zz": 1.0}),
             lambda: model.contributions("zz", {"a": 1.0}), lambda: model.contributions("b", {"zz": 1.0}),
             lambda: model.similarity("a", "zz"), lambda: model.most_similar("zz")]
    for call in calls:
        with pytest.raises(ToolError, match="unknown item"):
            call()
    with pytest.raises(ToolError, match="no liked or disliked"):
        model.scores_from_items({}, {})
    for weight in (-1.0, float("nan")):
        with pytest.raises(ToolError, match="weights"):
            model.scores_from_items({"a": weight}, {})
    with pytest.raises(ToolError, match="too few ratings"):
        model.most_similar("f")
    with pytest.raises(ToolError, match="k must"):
        model.most_similar("a", k=0)
    with pytest.raises(ToolError, match="λ"):
        EASE.fit(make_catalog(TOY), lam=0.0)


def test_a_profile_of_unmodelled_items_scores_flat(toy):
    _, model = toy
    scores = model.scores_from_items({"f": 1.0}, {})
    assert list(scores.index) == TOY_ITEMS and (scores == 0.0).all()


def test_the_tiny_fixture_fits_at_the_default_settings(request):
    catalog = load_catalog(request.config.rootpath / "tests" / "fixtures" / "tiny_ml")
    model = EASE.fit(catalog)
    assert len(model.item_ids) > 0 and model.weights.shape == (len(model.item_ids),) * 2
