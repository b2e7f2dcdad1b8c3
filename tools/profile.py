"""Every change to a profile, as pure functions: a new profile back, the old one unchanged.

- `apply_reading`: what one message says (the deterministic reader's, or the LLM's after `only_additions`);
- `with_guesses`: the profile to rank with while an ambiguous title is being asked about (never saved);
- `apply_feedback`: a like, dislike, rating or dismissal of one item;
- `remove_entry`: one belief the user took out of their profile.

The newest statement wins. Storing the result is the caller's business (agent.memory).
"""

from __future__ import annotations

from typing import Literal

from convrec.catalog.models import RatingScale
from convrec.tools.models import Constraints, Profile
from convrec.tools.reader import Reading

FeedbackAction = Literal["like", "dislike", "rate", "not_interested", "more_like_this"]


def apply_reading(profile: Profile, reading: Reading) -> Profile:
    """A new profile with `reading` merged in; `profile` is left unchanged.

    - A like overrides an earlier dislike of the same item, and the other way round.
    - Genres move between liked and disliked; a newly liked genre is no longer excluded.
    - Year limits stated now replace earlier ones; excluded genres and items accumulate.
    - A new query replaces the old one. Ambiguous titles change nothing until the user says which one.
    """
    liked, disliked = dict(profile.liked), dict(profile.disliked)
    for item, strength in reading.liked.items():
        disliked.pop(item, None)
        liked.pop(item, None)  # re-insert: a profile keeps opinions oldest first, and ranking favours recent ones
        liked[item] = strength
    for item, strength in reading.disliked.items():
        liked.pop(item, None)
        disliked[item] = strength
    genres_liked = (profile.genres_liked - reading.genres_disliked) | reading.genres_liked
    genres_disliked = (profile.genres_disliked - reading.genres_liked) | reading.genres_disliked
    entities_liked = {key: s for key, s in profile.entities_liked.items() if key not in reading.entities_disliked}
    entities_disliked = {key: s for key, s in profile.entities_disliked.items() if key not in reading.entities_liked}
    return profile.model_copy(update={
        "liked": liked,
        "disliked": disliked,
        "genres_liked": genres_liked,
        "genres_disliked": genres_disliked,
        "entities_liked": {**entities_liked, **reading.entities_liked},
        "entities_disliked": {**entities_disliked, **reading.entities_disliked},
        "constraints": merge_constraints(profile.constraints, reading.constraints, reading.genres_liked),
        "query": reading.query if reading.query is not None else profile.query,
        "era": reading.era if reading.era is not None else (None if _has_years(reading.constraints) else profile.era),
    })


def _has_years(constraints: Constraints) -> bool:
    return constraints.year_min is not None or constraints.year_max is not None


PROVISIONAL_STRENGTH = 0.5


def with_guesses(profile: Profile, reading: Reading) -> Profile:
    """The profile to rank with while an ambiguous title is being asked about ("assume and ask"): a liked
    ambiguous title counts as its likeliest candidate at half strength, and no candidate is shown as a card.
    Not to be saved: the user's answer decides what the profile keeps."""
    if not reading.ambiguous:
        return profile
    liked = dict(profile.liked)
    seen = set(profile.seen)
    for mention in reading.ambiguous:
        seen.update(candidate.item_id for candidate in mention.candidates)
        if mention.polarity == "liked" and mention.candidates and mention.candidates[0].item_id not in liked:
            liked[mention.candidates[0].item_id] = PROVISIONAL_STRENGTH * mention.strength
    return profile.model_copy(update={"liked": liked, "seen": seen})


def merge_constraints(old: Constraints, new: Constraints, genres_now_liked: set[str] = frozenset()) -> Constraints:
    """New year limits replace old ones (an old limit that contradicts a new one is dropped); sets accumulate."""
    year_min = new.year_min if new.year_min is not None else old.year_min
    year_max = new.year_max if new.year_max is not None else old.year_max
    if year_min is not None and year_max is not None and year_min > year_max:
        if new.year_min is not None:
            year_max = new.year_max
        else:
            year_min = new.year_min
    return Constraints(
        year_min=year_min,
        year_max=year_max,
        exclude_genres=(old.exclude_genres - genres_now_liked) | new.exclude_genres,
        require_genres=old.require_genres | new.require_genres,
        exclude_items=old.exclude_items | new.exclude_items,
    )


def only_additions(reading: Reading, profile: Profile) -> Reading:
    """The LLM may add what the deterministic pass missed; it may not overturn what the user's words said
    (measured: the 0.5B model read "No horror please" as wanting horror)."""
    against = profile.genres_disliked | profile.constraints.exclude_genres
    return reading.model_copy(update={
        "liked": {i: s for i, s in reading.liked.items() if i not in profile.disliked},
        "disliked": {i: s for i, s in reading.disliked.items() if i not in profile.liked},
        "genres_liked": reading.genres_liked - against,
        "genres_disliked": reading.genres_disliked - profile.genres_liked,
        "query": reading.query if not profile.query else None,
    })


def apply_feedback(profile: Profile, item_id: str, action: FeedbackAction, value: float | None,
                   scale: RatingScale) -> Profile:
    """The profile after feedback on one card; ValueError for a rating off the catalog's `scale`."""
    liked, disliked, ratings = dict(profile.liked), dict(profile.disliked), dict(profile.ratings)
    seen = set(profile.seen)
    if action in ("like", "more_like_this"):
        liked.pop(item_id, None)  # newest last: ranking weighs recent opinions more (rank.by_recency)
        liked[item_id] = 1.0
        disliked.pop(item_id, None)
    elif action == "dislike":
        disliked[item_id] = 1.0
        liked.pop(item_id, None)
    elif action == "rate":
        if value is None or not scale.low <= value <= scale.high:
            raise ValueError(f"rating must be within {scale.low:g}–{scale.high:g}")
        ratings.pop(item_id, None)
        ratings[item_id] = value
    elif action == "not_interested":
        seen.add(item_id)
    return profile.model_copy(update={"liked": liked, "disliked": disliked, "ratings": ratings, "seen": seen})


def is_positive_feedback(action: FeedbackAction, value: float | None, scale: RatingScale) -> bool:
    """A like, a "more like this", or a rating the catalog's `scale` counts as a like."""
    return action in ("like", "more_like_this") or (action == "rate" and scale.is_like(value or 0))


ITEM_SECTIONS = ("liked", "disliked", "rated")  # entries about one item: removing one also forgets its feedback


def remove_entry(profile: Profile, section: str, key: str) -> Profile:
    """The profile without one belief. `section`: liked, disliked, rated, genres_liked, genres_disliked, constraint
    or query; `key`: the item id, genre or constraint ("year_min", "exclude_genre:Horror", …). A removed item stays
    out of the recommendations: the user has seen it."""
    liked, disliked, ratings = dict(profile.liked), dict(profile.disliked), dict(profile.ratings)
    genres_liked, genres_disliked = set(profile.genres_liked), set(profile.genres_disliked)
    seen, limits, query = set(profile.seen), profile.constraints.model_copy(deep=True), profile.query
    if section in ITEM_SECTIONS:
        {"liked": liked, "disliked": disliked, "rated": ratings}[section].pop(key, None)
        seen.add(key)
    elif section == "genres_liked":
        genres_liked.discard(key)
    elif section == "genres_disliked":
        genres_disliked.discard(key)
    elif section == "query":
        query = None
    elif section == "constraint":
        limits = _without_constraint(limits, key)
    else:
        raise ValueError(f"unknown profile section {section!r}")
    return profile.model_copy(update={"liked": liked, "disliked": disliked, "ratings": ratings,
                                      "genres_liked": genres_liked, "genres_disliked": genres_disliked,
                                      "seen": seen, "constraints": limits, "query": query})


def _without_constraint(limits: Constraints, key: str) -> Constraints:
    kind, _, value = key.partition(":")
    if kind in ("year_min", "year_max"):
        return limits.model_copy(update={kind: None})
    field = {"exclude_genre": "exclude_genres", "require_genre": "require_genres", "exclude_item": "exclude_items"}
    if kind not in field:
        raise ValueError(f"unknown constraint {key!r}")
    return limits.model_copy(update={field[kind]: getattr(limits, field[kind]) - {value}})
