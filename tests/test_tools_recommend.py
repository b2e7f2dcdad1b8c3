"""The recommend tool on the tiny catalog: hard constraints, exclusions, evidence, exploration, bad arguments."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from convrec.catalog.loaders import load_catalog
from convrec.tools.cf import SVDScorer
from convrec.tools.cfmodel import load_or_train
from convrec.tools.errors import ToolError
from convrec.tools.itemsim import EASE
from convrec.tools.models import Constraints, Profile
from convrec.tools.recommend import TITLE_ONLY_MATCH, Recommender, RecommendRequest

GENRES = ["Action", "Adventure", "Comedy", "Crime", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller", "War"]


@pytest.fixture(scope="module")
def tiny_recommender(tmp_path_factory, request):
    from pathlib import Path

    catalog = load_catalog(Path(request.config.rootpath) / "tests" / "fixtures" / "tiny_ml")
    folder = tmp_path_factory.mktemp("tiny-index")
    algo, _ = load_or_train(catalog, folder)
    return Recommender(catalog, itemsim=EASE.load_or_fit(catalog, folder, min_ratings=2),
                       cf=SVDScorer(algo, catalog))


@settings(max_examples=40, deadline=None)
@given(liked=st.sets(st.sampled_from(["1", "260", "296", "318", "356", "2571", "593"]), max_size=3),
       excluded=st.sets(st.sampled_from(GENRES), max_size=3), year_min=st.none() | st.integers(1970, 2000),
       explore=st.booleans(), k=st.integers(1, 10))
def test_constraints_and_exclusions_hold(tiny_recommender, liked, excluded, year_min, explore, k):
    profile = Profile(liked=dict.fromkeys(liked, 1.0), constraints=Constraints(exclude_genres=excluded,
                                                                               year_min=year_min))
    cards = tiny_recommender.recommend(RecommendRequest(profile=profile, k=k, explore=explore))
    assert len(cards) <= k and len({c.item_id for c in cards}) == len(cards)
    for card in cards:
        assert card.item_id in tiny_recommender.catalog and card.item_id not in liked
        assert not excluded.intersection(card.genres)
        assert year_min is None or card.year >= year_min
        assert card.reasons


def test_cold_start_is_popularity_with_its_evidence(tiny_recommender):
    cards = tiny_recommender.recommend(RecommendRequest(k=3))
    assert [r.kind for c in cards for r in c.reasons] == ["popular_cold_start"] * 3
    assert cards[0].reasons[0].evidence["ratings"] > 0


def test_liked_items_give_similar_to_liked_evidence(tiny_recommender):
    cards = tiny_recommender.recommend(RecommendRequest(profile=Profile(liked={"2571": 1.0}), k=5))
    evidence = [r.evidence for c in cards for r in c.reasons if r.kind == "similar_to_liked"]
    assert evidence and all(e["liked_item_id"] == "2571" and 0 <= e["similarity"] <= 1 for e in evidence)


def test_description_neighbours_of_liked_items_rise_with_their_evidence(tiny_recommender):
    catalog = tiny_recommender.catalog
    liked = Profile(liked={"2571": 1.0})  # The Matrix
    ranked = [c.item_id for c in tiny_recommender.recommend(RecommendRequest(profile=liked, k=12))]
    outsider = ranked[-1]  # twelfth without the content signal

    def neighbours(item_id: str, k: int) -> list[tuple[str, float]]:
        return [(outsider, 0.9)] if item_id == "2571" else []

    content = Recommender(catalog, itemsim=tiny_recommender.itemsim, cf=tiny_recommender.cf,
                          content_neighbours=neighbours)
    cards = content.recommend(RecommendRequest(profile=liked, k=5))
    card = next(c for c in cards if c.item_id == outsider)  # now in the top five
    reason = next(r for r in card.reasons if r.kind == "similar_description")
    assert reason.evidence == {"liked_item_id": "2571", "liked_title": catalog.item("2571").label, "similarity": 0.9}
    assert "Matrix" in reason.text
    cold = content.recommend(RecommendRequest(k=5))  # nothing liked: no content signal, no such reason
    assert all(r.kind != "similar_description" for c in cold for r in c.reasons)


def test_two_films_of_one_series_are_redundant_for_diversity(tiny_recommender):
    from convrec.tools.knowledge import Knowledge

    catalog = tiny_recommender.catalog
    a, b, c = list(catalog.items.index[:3])
    knowledge = Knowledge.of({}, {"Saga": [a, b]})
    series = Recommender(catalog, itemsim=tiny_recommender.itemsim, knowledge=knowledge)
    assert series._diversity_similarity(a, b) == 1.0
    assert series._diversity_similarity(a, c) == tiny_recommender._diversity_similarity(a, c)


def test_a_card_lifted_only_by_a_faint_description_match_says_so(tiny_recommender):
    catalog = tiny_recommender.catalog
    liked = Profile(liked={"2571": 1.0})
    ranked = [c.item_id for c in tiny_recommender.recommend(RecommendRequest(profile=liked, k=12))]
    outsider = ranked[-1]
    content = Recommender(catalog, itemsim=None, content_neighbours=lambda item_id, k: [(outsider, 0.3)])
    card = next(c for c in content.recommend(RecommendRequest(profile=liked, k=5)) if c.item_id == outsider)
    assert [r.kind for r in card.reasons] == ["similar_description"]  # not "Widely loved" for an obscure film
    assert card.reasons[0].evidence["similarity"] == 0.3


def test_exploration_slot_is_labelled(tiny_recommender):
    cards = tiny_recommender.recommend(RecommendRequest(profile=Profile(liked={"2571": 1.0}), k=5, explore=True))
    assert cards[-1].reasons[0].kind == "explore"
    assert sum(r.kind == "explore" for c in cards for r in c.reasons) == 1


def test_nothing_fits_gives_no_cards(tiny_recommender):
    impossible = Profile(constraints=Constraints(year_min=2100))
    assert tiny_recommender.recommend(RecommendRequest(profile=impossible)) == []


@pytest.mark.parametrize("k", [0, -1, 10_000])
def test_bad_k_is_a_validation_error(k):
    with pytest.raises(ValidationError):
        RecommendRequest(k=k)


def test_unknown_ids_are_a_tool_error(tiny_recommender):
    with pytest.raises(ToolError, match="unknown item id"):
        tiny_recommender.recommend(RecommendRequest(profile=Profile(liked={"999999": 1.0})))


def test_reasons_spread_across_the_liked_films_that_explain_the_cards(demo_tools):
    _, recommender = demo_tools
    liked = {"1214": 1.0, "541": 1.0}  # Alien, Blade Runner
    cards = recommender.recommend(RecommendRequest(profile=Profile(liked=liked), k=5))
    cited = [r.evidence["liked_item_id"] for c in cards for r in c.reasons if r.kind == "similar_to_liked"]
    assert set(cited) == set(liked)


def test_an_item_found_by_its_title_alone_counts_less_for_the_query(demo_tools):
    catalog, recommender = demo_tools
    items = catalog.items
    title_only = next(i for i, text, tags in zip(items.index, items["description"], items["tags"])
                      if not isinstance(text, str) and not len(tags))
    described = "296"  # Pulp Fiction: a description and tags
    searching = Recommender(catalog, query_search=lambda query, k: [(title_only, 0.6), (described, 0.6)])
    signal = searching._query_signal("tearjerker")
    assert signal[items.index.get_loc(described)] == 0.6
    assert signal[items.index.get_loc(title_only)] == pytest.approx(0.6 * TITLE_ONLY_MATCH)
