"""Pure ranking parts: constraints are never violated, blends follow knowledge, MMR diversifies, Thompson explores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convrec.catalog.loaders import load_catalog
from convrec.tools import explain
from convrec.tools.models import Constraints, Profile
from convrec.tools.rank import (GENRE_WEIGHT, LISTED_ONLY, POPULARITY_FLOOR, PRIOR_ITEMS, SAID_ONLY, UNDESCRIBED,
                                allowed, blend, blend_weights, by_recency, genre_affinity, genre_weights,
                                implied_genre_affinity, mmr, popularity_prior, scaled, thompson_genre)


@pytest.fixture(scope="module")
def tiny(request):
    from pathlib import Path

    return load_catalog(Path(request.config.rootpath) / "tests" / "fixtures" / "tiny_ml")


GENRES = ["Action", "Adventure", "Animation", "Comedy", "Crime", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller"]


@settings(max_examples=60, deadline=None)
@given(year_min=st.none() | st.integers(1930, 2010), span=st.none() | st.integers(0, 40),
       excluded=st.sets(st.sampled_from(GENRES), max_size=3), required=st.sets(st.sampled_from(GENRES), max_size=2),
       known=st.sets(st.sampled_from(["1", "2571", "260", "296", "318", "356"]), max_size=4))
def test_allowed_never_violates_a_constraint(tiny, year_min, span, excluded, required, known):
    year_max = None if year_min is None or span is None else year_min + span
    profile = Profile(liked=dict.fromkeys(known, 1.0),
                      constraints=Constraints(year_min=year_min, year_max=year_max, exclude_genres=excluded,
                                              require_genres=required))
    for item_id in tiny.items.index[allowed(tiny, profile)]:
        item = tiny.item(item_id)
        assert item_id not in known
        assert not excluded.intersection(item.genres)
        assert not required or required.intersection(item.genres)
        assert year_min is None or (item.year is not None and item.year >= year_min)
        assert year_max is None or (item.year is not None and item.year <= year_max)


def test_weights_follow_knowledge():
    cold = blend_weights(Profile(), has_query=False)
    assert cold["itemsim"] == cold["cf"] == 0 and cold["popularity"] > 0 and cold["genre"] > 0
    few = blend_weights(Profile(liked={"1": 1.0}), has_query=False)
    many = blend_weights(Profile(ratings={str(i): 4.0 for i in range(20)}), has_query=True)
    assert few["itemsim"] > few["cf"] and many["cf"] > few["cf"] and many["query"] > 0


def test_what_we_assume_of_a_new_person_fades_as_they_tell_us_more():
    def weights(profile):
        return blend_weights(profile, has_query=False, has_implied_genre=True)

    one = weights(Profile(liked={"1": 1.0}))
    five = weights(Profile(liked={str(i): 1.0 for i in range(5)}))
    history = weights(Profile(ratings={str(i): 4.0 for i in range(PRIOR_ITEMS)}))
    assert one["popularity"] > five["popularity"] > history["popularity"] == POPULARITY_FLOOR
    assert one["implied_genre"] > five["implied_genre"] > history["implied_genre"] == 0.0
    # genres someone states keep their weight, however much else we know
    assert one["genre"] == history["genre"] == GENRE_WEIGHT
    assert blend_weights(Profile(liked={"1": 1.0}), has_query=False)["implied_genre"] == 0.0


def test_liked_films_imply_genres(tiny):
    weights = genre_weights(tiny, {})
    position = tiny.items.index.get_loc
    implied = implied_genre_affinity(weights, {"6377": 1.0, "588": 1.0})  # Finding Nemo, Aladdin
    assert implied[position("1")] > implied[position("2571")]  # Toy Story over The Matrix
    assert implied.max() <= 1.0 + 1e-9
    assert implied_genre_affinity(weights, {}).tolist() == [0.0] * len(tiny)
    assert implied_genre_affinity(weights, {"not-an-item": 1.0}).tolist() == [0.0] * len(tiny)
    # the stronger like weighs more: Alien, liked more than Toy Story, pulls towards horror
    horror_first = implied_genre_affinity(weights, {"1214": 1.0, "1": 0.2})
    assert horror_first[position("593")] > implied_genre_affinity(weights, {"1214": 0.2, "1": 1.0})[position("593")]


def test_scaled_and_blend():
    everything = np.array([True, True, True])
    assert scaled(np.array([2.0, 4.0, 3.0]), everything).tolist() == [0.0, 1.0, 0.5]
    assert scaled(np.array([1.0, 1.0, 1.0]), everything).tolist() == [0.0, 0.0, 0.0]
    assert scaled(np.array([np.nan, 4.0, 2.0]), everything).tolist() == [0.0, 1.0, 0.0]  # missing = the minimum
    assert scaled(np.array([9.0, 4.0, 2.0]), np.array([False, True, True])).tolist() == [1.0, 0.0]
    total = blend({"x": np.array([0.0, 1.0, 0.5]), "y": None}, {"x": 2.0, "y": 1.0}, everything)
    assert total.tolist() == [0.0, 2.0, 1.0]


def test_genre_affinity_and_popularity(tiny):
    affinity = genre_affinity(genre_weights(tiny, {}), Profile(genres_liked={"Sci-Fi"}, genres_disliked={"Romance"}))
    assert affinity[tiny.items.index.get_loc("2571")] == UNDESCRIBED  # Matrix: Sci-Fi, as listed
    prior = popularity_prior(tiny)
    assert len(prior) == len(tiny) and prior.min() >= 0
    # Inception: rated by fewer people than Forrest Gump, but in a far shorter time in the log
    assert tiny.items.index[prior.argmax()] == "79132"


def test_a_genre_counts_most_where_the_description_says_it(tiny):
    weights = genre_weights(tiny, {"2571": ["Sci-Fi", "Mystery"], "165": ["Action"]})  # The Matrix, Die Hard 3
    assert weights.at["2571", "Sci-Fi"] == 1.0  # said and listed
    assert weights.at["2571", "Mystery"] == SAID_ONLY  # said, though not listed
    # Thriller, listed for both and said for neither: openings never name it here, so leaving it out says little
    assert weights.at["2571", "Thriller"] == weights.at["165", "Thriller"] == 1.0
    # Action, listed for both and said for one: half the openings name it, so an unsaid Action counts less
    assert weights.at["2571", "Action"] == 1.0 - (1.0 - LISTED_ONLY) * 0.5
    assert weights.loc["2571"].drop(["Action", "Sci-Fi", "Thriller", "Mystery"]).eq(0).all()
    undescribed = weights.drop(index=["2571", "165"])
    assert undescribed.eq(tiny.genre_matrix.drop(index=["2571", "165"]) * UNDESCRIBED).all().all()


def test_mmr_prefers_a_different_item_over_a_near_duplicate():
    relevance = pd.Series({"a1": 1.0, "a2": 0.95, "b": 0.8})
    same_group = lambda x, y: 1.0 if x[0] == y[0] else 0.0  # noqa: E731
    assert mmr(relevance, same_group, 2, diversity=0.3) == ["a1", "b"]
    assert mmr(relevance, same_group, 2, diversity=0.0) == ["a1", "a2"]


def test_thompson_follows_feedback():
    rng = np.random.default_rng(0)
    picks = [thompson_genre({"Horror": (0, 20), "Comedy": (20, 0)}, ["Horror", "Comedy"], rng) for _ in range(50)]
    assert picks.count("Comedy") > 45


def test_templates_render_only_their_evidence():
    reason = explain.similar_to_liked("79132", "Inception", 0.8234)
    assert reason.text == "Because you liked Inception (similarity 0.82)"
    assert reason.evidence == {"liked_item_id": "79132", "liked_title": "Inception", "similarity": 0.82}
    assert explain.cf_predicted(4.26, 5.0).text.endswith("we predict 4.3/5 for you")
    assert explain.popular_cold_start(329, 4.16).kind == "popular_cold_start"


def test_by_recency_halves_an_opinion_per_half_life_of_newer_ones():
    opinions = {str(i): 1.0 for i in range(21)}  # "0" is the oldest, "20" the newest
    decayed = by_recency(opinions, half_life=10)
    assert decayed["20"] == 1.0 and decayed["10"] == pytest.approx(0.5) and decayed["0"] == pytest.approx(0.25)
    assert list(decayed) == list(opinions)
    assert by_recency({"a": 0.4, "b": 0.8}, half_life=1) == {"a": 0.2, "b": 0.8}
    assert by_recency({}) == {}


def test_popularity_counts_ratings_per_year_in_the_log():
    from convrec.catalog.models import ITEM_COLUMNS, Catalog, RatingScale

    ids = ["old", "new"]
    items = pd.DataFrame({"title": ["Old", "New"], "year": pd.array([1994, 2017], dtype="Int64"),
                          "genres": [["Drama"], ["Drama"]], "tags": [[], []], "description": None,
                          "metadata": [{}, {}]}, index=pd.Index(ids, dtype="str", name="item_id"))[ITEM_COLUMNS]
    year = 365.25 * 86400
    rows = ([(f"u{i}", "old", int(i * year / 10)) for i in range(200)]  # 200 ratings over 20 years
            + [(f"v{i}", "new", int(20 * year - i * 1000)) for i in range(40)])  # 40 in its first months

    def catalog(stamps: list[int | None]) -> Catalog:
        ratings = pd.DataFrame({"user_id": [u for u, _, _ in rows], "item_id": [i for _, i, _ in rows],
                                "rating": 4.0, "timestamp": pd.array(stamps, dtype="Int64")})
        return Catalog(name="t", items=items, ratings=ratings, scale=RatingScale(), fingerprint="t")

    dated = catalog([t for _, _, t in rows])
    prior = popularity_prior(dated)
    assert prior[dated.items.index.get_loc("new")] > prior[dated.items.index.get_loc("old")]
    undated = catalog([None] * len(rows))
    prior = popularity_prior(undated)  # no timestamps: the count decides
    assert prior[undated.items.index.get_loc("old")] > prior[undated.items.index.get_loc("new")]
