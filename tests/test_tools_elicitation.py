"""Cold-start questions: well-known, informative, spread over genres, adapted to what the user already said."""

from __future__ import annotations

import pytest

from convrec.catalog.loaders import load_catalog, load_demo_catalog
from convrec.tools.elicitation import NOT_A_TASTE, genre_choices, informativeness, next_questions
from convrec.tools.models import Constraints, Profile

WELL_KNOWN = 50  # ratings: the top 300 of ml-latest-small all have more


@pytest.fixture(scope="module")
def demo():
    return load_demo_catalog()


def _genres(catalog, items: list[str]) -> set[str]:
    return {genre for item in items for genre in catalog.item(item).genres}


def test_new_user_gets_distinct_well_known_items_across_genres(demo):
    questions = next_questions(demo, Profile(), k=5)
    assert len(questions) == len(set(questions)) == 5
    assert all(demo.popularity[item] >= WELL_KNOWN for item in questions)
    assert len(_genres(demo, questions)) >= 3
    primary = {demo.item(item).genres[0] for item in questions}
    assert len(primary) >= 3, "not five takes on one genre"


def test_questions_are_informative(demo):
    table = informativeness(demo)
    questions = next_questions(demo, Profile(), k=5)
    assert table.loc[questions, "entropy"].min() > table["entropy"].median()
    assert (table["score"] >= 0).all() and (table["entropy"] <= 1 + 1e-9).all()


def test_known_items_are_never_asked(demo):
    first = next_questions(demo, Profile(), k=5)
    profile = Profile(liked={first[0]: 1.0}, disliked={first[1]: 1.0}, seen={first[2]})
    assert not set(next_questions(demo, profile, k=5)) & set(first[:3])


def test_questions_change_with_the_profile(demo):
    before = next_questions(demo, Profile(), k=5)
    sci_fi_fan = Profile(liked={"2571": 1.0, "260": 1.0, "1196": 1.0}, genres_liked={"Sci-Fi"})
    after = next_questions(demo, sci_fi_fan, k=5)
    assert after != before
    count = lambda items: sum("Sci-Fi" in demo.item(item).genres for item in items)  # noqa: E731
    assert count(after) <= count(before)


def test_constraints_and_disliked_genres_shape_the_questions(demo):
    profile = Profile(genres_disliked={"Comedy"},
                      constraints=Constraints(year_min=1990, exclude_genres={"Horror"}))
    questions = next_questions(demo, profile, k=8)
    assert all(demo.item(item).year >= 1990 for item in questions)
    assert "Horror" not in _genres(demo, questions)
    assert "Comedy" not in demo.item(questions[0]).genres


def test_deterministic_across_calls_and_catalog_copies(demo):
    assert next_questions(demo, Profile(), k=6) == next_questions(demo, Profile(), k=6)
    assert next_questions(load_demo_catalog(), Profile(), k=6) == next_questions(demo, Profile(), k=6)


def test_small_catalogs_and_large_k(request):
    tiny = load_catalog(request.config.rootpath / "tests" / "fixtures" / "tiny_ml")
    questions = next_questions(tiny, Profile(), k=100)
    assert len(questions) == len(set(questions)) == len(tiny)
    assert next_questions(tiny, Profile(), k=0) == []


def test_genre_choices_skip_what_we_know(demo):
    fresh = genre_choices(demo, Profile(), k=8)
    assert len(fresh) == 8 and not set(fresh) & NOT_A_TASTE
    assert fresh[:3] == ["Drama", "Comedy", "Action"]  # the most rated genres first
    told = Profile(genres_liked={"Drama"}, genres_disliked={"Comedy"}, constraints=Constraints(exclude_genres={"War"}))
    assert not {"Drama", "Comedy", "War"} & set(genre_choices(demo, told, k=20))
