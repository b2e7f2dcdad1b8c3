"""Evidence → reasons: every recommendation says why, in a template sentence built only from its evidence."""

from __future__ import annotations

import re

from convrec.tools.models import EvidenceValue, Reason, ReasonKind
from convrec.tools.textnorm import spoken_title


def similar_to_liked(liked_item_id: str, liked_title: str, similarity: float) -> Reason:
    return _reason("similar_to_liked", f"Because you liked {spoken_title(liked_title)} (similarity {similarity:.2f})",
                   liked_item_id=liked_item_id, liked_title=liked_title, similarity=round(similarity, 2))


def similar_description(liked_item_id: str, liked_title: str, similarity: float) -> Reason:
    return _reason("similar_description",
                   f"Its description is close to {spoken_title(liked_title)}'s (similarity {similarity:.2f})",
                   liked_item_id=liked_item_id, liked_title=liked_title, similarity=round(similarity, 2))


def cf_predicted(predicted_rating: float, scale_high: float) -> Reason:
    return _reason("cf_predicted", f"People with tastes like yours rate it highly: "
                                   f"we predict {predicted_rating:.1f}/{scale_high:g} for you",
                   predicted_rating=round(predicted_rating, 1), scale_high=scale_high)


def matches_query(query: str, similarity: float) -> Reason:
    return _reason("matches_query", f"Matches \u201c{query}\u201d (similarity {similarity:.2f})",
                   query=query, similarity=round(similarity, 2))


def genre_match(genres: list[str]) -> Reason:
    return _reason("genre_match", f"In genres you like: {', '.join(genres)}", genres=", ".join(genres))


def popular_cold_start(ratings: int, mean_rating: float) -> Reason:
    return _reason("popular_cold_start", f"Widely loved: {ratings} ratings averaging {mean_rating:.1f}",
                   ratings=ratings, mean_rating=round(mean_rating, 1))


def same_person(person: str, role: str, liked_item_id: str | None = None, liked_title: str | None = None,
                liked_role: str | None = None) -> Reason:
    """ "Stars Leonardo DiCaprio" (a person the user named), or "Directed by X, who also made Y" (shared with a
    liked item)."""
    verb = {"directed": "Directed by", "stars": "Stars"}.get(role, "With")
    text = f"{verb} {person}"
    if liked_item_id is None:
        return _reason("same_person", text, person=person, role=role)
    link = "who also made" if liked_role == "directed" else "who is also in"
    return _reason("same_person", f"{text}, {link} {spoken_title(liked_title)}", person=person, role=role,
                   liked_item_id=liked_item_id, liked_title=liked_title)


def same_collection(collection: str, liked_item_id: str | None = None, liked_title: str | None = None) -> Reason:
    if liked_item_id is None:
        return _reason("same_collection", f"Part of {collection}", collection=collection)
    return _reason("same_collection", f"Part of {collection}, like {spoken_title(liked_title)}",
                   collection=collection, liked_item_id=liked_item_id, liked_title=liked_title)


def explore(genre: str) -> Reason:
    return _reason("explore", f"Something to explore beyond your usual picks: {genre}", genre=genre)


# Each reason kind in a few words (the rest keep their text): `brief`
_BRIEFS: dict[str, str] = {
    "similar_to_liked": "because you liked {liked}", "similar_description": "described like {liked}",
    "cf_predicted": "predicted {predicted_rating}/{scale_high:g} for you", "same_person": "{verb} {person}",
    "genre_match": "you like {genres}", "explore": "something to explore: {genre}",
    "matches_query": "matches \u201c{query}\u201d",
}


def brief(reason: Reason) -> str:
    """The reason in a few words, to follow what the film is ("… — because you liked Heat"): few fixed words, so two
    cards with the same kind of evidence do not read as one template (six shared words in a row do)."""
    evidence = reason.evidence
    if reason.kind not in _BRIEFS:
        return reason.text[:1].lower() + reason.text[1:]
    return _BRIEFS[reason.kind].format(**{
        **evidence, "liked": re.sub(r"\s*\(\d{4}\)$", "", spoken_title(str(evidence.get("liked_title", "")))),
        "verb": "directed by" if evidence.get("role") == "directed" else "with",
        "genres": str(evidence.get("genres", "")).lower()})


def _reason(kind: ReasonKind, text: str, **evidence: EvidenceValue) -> Reason:
    return Reason(kind=kind, text=text, evidence=evidence)
