"""Merge what one message says into what we know: a pure function, the newest statement wins."""

from __future__ import annotations

from convrec.tools.models import Constraints, Profile
from convrec.tools.reader import Reading


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
