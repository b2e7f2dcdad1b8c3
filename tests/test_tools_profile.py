"""tools/profile.py: every change to a profile, as pure functions (the merge of a reading is in test_tools_reader)."""

from __future__ import annotations

import pytest

from convrec.catalog.models import RatingScale
from convrec.tools.models import Constraints, Profile
from convrec.tools.profile import apply_feedback, is_positive_feedback, only_additions, remove_entry
from convrec.tools.reader import Reading

SCALE = RatingScale()


def test_a_like_moves_the_item_to_the_newest_like_and_drops_a_dislike():
    profile = Profile(liked={"a": 1.0, "b": 0.8}, disliked={"c": 1.0})
    assert list(apply_feedback(profile, "a", "like", None, SCALE).liked) == ["b", "a"]
    after = apply_feedback(profile, "c", "more_like_this", None, SCALE)
    assert "c" in after.liked and "c" not in after.disliked
    assert profile.disliked == {"c": 1.0}  # the old profile is untouched


def test_a_dislike_a_rating_and_a_dismissal():
    profile = Profile(liked={"a": 1.0})
    assert apply_feedback(profile, "a", "dislike", None, SCALE).liked == {}
    assert apply_feedback(profile, "b", "rate", 4.0, SCALE).ratings == {"b": 4.0}
    assert apply_feedback(profile, "b", "not_interested", None, SCALE).seen == {"b"}


@pytest.mark.parametrize("value", [None, 0.0, 5.5])
def test_a_rating_off_the_scale_is_refused(value):
    with pytest.raises(ValueError, match="0.5–5"):
        apply_feedback(Profile(), "a", "rate", value, SCALE)


def test_the_scale_says_what_rating_is_a_like():
    assert SCALE.like_from == 3.5 and SCALE.is_like(3.5) and not SCALE.is_like(3.0)
    assert RatingScale(low=1, high=10).like_from == 7
    assert is_positive_feedback("rate", 4.0, SCALE) and not is_positive_feedback("rate", 3.0, SCALE)
    assert is_positive_feedback("more_like_this", None, SCALE) and not is_positive_feedback("dislike", None, SCALE)


def test_the_llm_may_add_but_not_overturn():
    profile = Profile(liked={"a": 1.0}, disliked={"b": 1.0}, genres_liked={"Comedy"}, genres_disliked={"Horror"},
                      query="heists")
    reading = Reading(liked={"b": 1.0, "c": 1.0}, disliked={"a": 1.0}, genres_liked={"Horror", "Drama"},
                      genres_disliked={"Comedy"}, query="space")
    kept = only_additions(reading, profile)
    assert kept.liked == {"c": 1.0} and kept.disliked == {}
    assert kept.genres_liked == {"Drama"} and kept.genres_disliked == set() and kept.query is None


def test_removing_an_entry():
    profile = Profile(liked={"a": 1.0}, ratings={"b": 4.0}, genres_liked={"Comedy"}, query="heists",
                      constraints=Constraints(year_min=1990, exclude_genres={"Horror"}))
    without_a = remove_entry(profile, "liked", "a")
    assert without_a.liked == {} and "a" in without_a.seen  # a removed item is not recommended again
    assert remove_entry(profile, "rated", "b").ratings == {}
    assert remove_entry(profile, "genres_liked", "Comedy").genres_liked == set()
    assert remove_entry(profile, "query", "query").query is None
    assert remove_entry(profile, "constraint", "year_min").constraints.year_min is None
    assert remove_entry(profile, "constraint", "exclude_genre:Horror").constraints.exclude_genres == set()
    with pytest.raises(ValueError, match="unknown constraint"):
        remove_entry(profile, "constraint", "mood:happy")
    with pytest.raises(ValueError, match="unknown profile section"):
        remove_entry(profile, "moods", "happy")
