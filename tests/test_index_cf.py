"""The persisted Surprise model: trained once per catalog fingerprint, retrained when the catalog or the file changes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from convrec.catalog.fingerprint import fingerprint
from convrec.catalog.models import ITEM_COLUMNS, Catalog, RatingScale
from convrec.core.errors import InputError
from convrec.tools.cfmodel import load_or_train, model_path, train


def rated_catalog(extra_ratings: int = 0, scale: RatingScale = RatingScale()) -> Catalog:
    """30 items rated by 40 users (12 ratings each, seeded) on `scale`, plus `extra_ratings` by a newcomer."""
    rng = np.random.default_rng(7)
    item_ids = [str(n) for n in range(100, 130)]
    rows = [(f"u{user}", item_id, float(rng.integers(1, 6)))
            for user in range(40) for item_id in rng.choice(item_ids, 12, replace=False)]
    rows += [("newcomer", item_ids[n], 5.0) for n in range(extra_ratings)]
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"]).astype({"user_id": "str", "item_id": "str"})
    ratings["rating"] = ratings["rating"].map(scale.clip)
    ratings["timestamp"] = pd.array([None] * len(ratings), dtype="Int64")
    items = pd.DataFrame({"title": [f"Movie {i}" for i in item_ids], "year": pd.array([2000] * 30, dtype="Int64"),
                          "genres": [["Drama"]] * 30, "tags": [[]] * 30, "description": [None] * 30,
                          "metadata": [{}] * 30}, index=pd.Index(item_ids, dtype="str", name="item_id"))[ITEM_COLUMNS]
    return Catalog(name="cf-test", items=items, ratings=ratings, scale=scale,
                   fingerprint=fingerprint(items, ratings, scale))


def test_trains_once_then_loads_the_same_model(tmp_path):
    catalog = rated_catalog()
    model, trained = load_or_train(catalog, tmp_path)
    again, retrained = load_or_train(catalog, tmp_path)
    assert (trained, retrained) == (True, False)
    assert model_path(tmp_path, catalog, "svd").is_file()
    pairs = [(f"u{user}", str(item)) for user in range(5) for item in range(100, 130)]
    assert [again.predict(u, i).est for u, i in pairs] == [model.predict(u, i).est for u, i in pairs]
    assert not any(again.predict(u, i).details["was_impossible"] for u, i in pairs)  # raw ids are strings


def test_training_is_seeded():
    first, second = train(rated_catalog()), train(rated_catalog())
    assert first.predict("u1", "105").est == second.predict("u1", "105").est


def test_a_changed_catalog_retrains_and_replaces_the_stale_model(tmp_path):
    catalog, changed = rated_catalog(), rated_catalog(extra_ratings=3)
    load_or_train(catalog, tmp_path)
    assert load_or_train(changed, tmp_path)[1] is True
    assert load_or_train(changed, tmp_path)[1] is False
    assert not model_path(tmp_path, catalog).exists()
    assert [p.name for p in (tmp_path / "cf").iterdir()] == [model_path(tmp_path, changed).name]  # no temp files


@pytest.mark.parametrize("damage", [b"garbage", b"", "truncated"])
def test_a_corrupt_model_file_is_retrained(tmp_path, damage):
    catalog = rated_catalog()
    model, _ = load_or_train(catalog, tmp_path)
    path = model_path(tmp_path, catalog)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2] if damage == "truncated" else damage)
    retrained, trained = load_or_train(catalog, tmp_path)
    assert trained is True and retrained.predict("u1", "105").est == model.predict("u1", "105").est
    assert load_or_train(catalog, tmp_path)[1] is False


def test_knnbaseline_on_the_catalog_scale(tmp_path):
    scale = RatingScale(low=1, high=10)
    catalog = rated_catalog(scale=scale)
    model, trained = load_or_train(catalog, tmp_path, algo="knnbaseline")
    assert trained and type(model).__name__ == "KNNBaseline"
    assert model.trainset.rating_scale == (1, 10)
    assert model_path(tmp_path, catalog, "knnbaseline").is_file() and not model_path(tmp_path, catalog).exists()
    assert load_or_train(catalog, tmp_path, algo="knnbaseline")[1] is False


def test_unknown_algorithm_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="unknown CF algorithm"):
        load_or_train(rated_catalog(), tmp_path, algo="nmf")
