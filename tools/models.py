"""The typed contract every tool speaks: what we know about a user, and what we recommend with which evidence."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ReasonKind = Literal[
    "similar_to_liked", "cf_predicted", "matches_query", "genre_match", "popular_cold_start", "explore",
    "same_person", "same_collection", "similar_description",
]
EvidenceValue = str | int | float


class Constraints(BaseModel):
    """Hard constraints: a recommendation that violates one is never shown."""

    year_min: int | None = None
    year_max: int | None = None
    exclude_genres: set[str] = Field(default_factory=set)
    require_genres: set[str] = Field(default_factory=set)  # each shown item must have at least one of these
    exclude_items: set[str] = Field(default_factory=set)

    @model_validator(mode="after")
    def _year_range_ordered(self) -> Constraints:
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            raise ValueError(f"year_min {self.year_min} is after year_max {self.year_max}")
        return self


class Era(BaseModel):
    """A soft year preference ("classics", "something recent", "not too old"): items inside rank higher, none is
    ruled out, and the range stretches to the years of the films the user likes."""

    year_min: int | None = None
    year_max: int | None = None


class Profile(BaseModel):
    """What we believe about one user. Item ids are catalog ids; strengths are in (0, 1]."""

    liked: dict[str, float] = Field(default_factory=dict)
    disliked: dict[str, float] = Field(default_factory=dict)
    ratings: dict[str, float] = Field(default_factory=dict)  # explicit ratings on the catalog's scale
    genres_liked: set[str] = Field(default_factory=set)
    genres_disliked: set[str] = Field(default_factory=set)
    # People and collections from the knowledge tool, keyed "person:Leonardo DiCaprio" / "collection:Harry Potter"
    entities_liked: dict[str, float] = Field(default_factory=dict)
    entities_disliked: dict[str, float] = Field(default_factory=dict)
    constraints: Constraints = Field(default_factory=Constraints)
    era: Era | None = None
    query: str | None = None  # free text to match semantically ("mind-bending with a twist")
    seen: set[str] = Field(default_factory=set)  # mentioned, rated, liked or shown-and-dismissed: never recommended

    def known_items(self) -> set[str]:
        """Items never to recommend again: anything liked, disliked, rated, mentioned or dismissed."""
        return set(self.liked) | set(self.disliked) | set(self.ratings) | self.seen | self.constraints.exclude_items

    @property
    def signal_count(self) -> int:
        """How much we know: item opinions plus genre opinions."""
        items = set(self.liked) | set(self.disliked) | set(self.ratings)
        return len(items) + len(self.genres_liked) + len(self.genres_disliked)


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: ReasonKind
    text: str
    evidence: dict[str, EvidenceValue] = Field(default_factory=dict)


class Recommendation(BaseModel):
    item_id: str
    title: str
    year: int | None = None
    genres: list[str] = Field(default_factory=list)
    score: float
    reasons: list[Reason] = Field(default_factory=list)

    @property
    def label(self) -> str:
        """The catalog's title with the year, as in "Matrix, The (1999)"."""
        return f"{self.title} ({self.year})" if self.year is not None else self.title
