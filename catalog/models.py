"""Typed catalog records and the in-memory `Catalog` every other layer reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

ITEM_COLUMNS = ["title", "year", "genres", "tags", "description", "metadata"]
RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]


class Item(BaseModel):
    model_config = ConfigDict(frozen=True)

    item_id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    year: int | None = None
    genres: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # most frequent first
    description: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        """Title with the year, as people write it: "Heat (1995)"."""
        if self.year is None or self.title.endswith(f"({self.year})"):
            return self.title
        return f"{self.title} ({self.year})"


class Rating(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str = Field(min_length=1)
    item_id: str = Field(min_length=1)
    rating: float
    timestamp: int | None = None


class RatingScale(BaseModel):
    model_config = ConfigDict(frozen=True)

    low: float = 0.5
    high: float = 5.0

    @model_validator(mode="after")
    def _ordered(self) -> RatingScale:
        if not self.low < self.high:
            raise ValueError(f"rating scale low ({self.low}) must be below high ({self.high})")
        return self

    def clip(self, value: float) -> float:
        return min(self.high, max(self.low, value))

    @property
    def like_from(self) -> float:
        """The lowest rating that counts as a like: two thirds of the way up (3.5 on 0.5–5, 7 on 1–10)."""
        return self.low + (self.high - self.low) * 2 / 3

    def is_like(self, value: float) -> bool:
        return value >= self.like_from


@dataclass(frozen=True, eq=False)
class Catalog:
    """A validated catalog.

    `items`: indexed by `item_id` (str), columns ITEM_COLUMNS (`genres`/`tags` are lists, `year` nullable Int64).
    `ratings`: columns RATING_COLUMNS (ids str, rating float64, timestamp nullable Int64).
    `fingerprint`: sha256 of the content; indexes and CF models are keyed by it.
    """

    name: str
    items: pd.DataFrame
    ratings: pd.DataFrame
    scale: RatingScale
    fingerprint: str
    aliases: dict[str, str] = field(default_factory=dict, repr=False)  # other-language title → item_id (aliases.py)
    _cache: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.items.index

    def item(self, item_id: str) -> Item:
        row = self.items.loc[item_id]
        return Item(
            item_id=item_id,
            title=row["title"],
            year=None if pd.isna(row["year"]) else int(row["year"]),
            genres=tuple(row["genres"]),
            tags=tuple(row["tags"]),
            description=None if pd.isna(row["description"]) else row["description"],
            metadata=dict(row["metadata"] or {}),
        )

    @property
    def genres(self) -> list[str]:
        """Every genre used by the catalog, sorted."""
        if "genres" not in self._cache:
            self._cache["genres"] = sorted({g for gs in self.items["genres"] for g in gs})
        return self._cache["genres"]

    @property
    def genre_matrix(self) -> pd.DataFrame:
        """items × genres, True where the item has the genre: vectorized genre filters and scores."""
        if "genre_matrix" not in self._cache:
            exploded = self.items["genres"].explode().dropna()
            matrix = pd.crosstab(exploded.index, exploded).astype(bool)
            self._cache["genre_matrix"] = matrix.reindex(index=self.items.index, columns=self.genres,
                                                         fill_value=False)
        return self._cache["genre_matrix"]

    @property
    def year_range(self) -> tuple[int, int] | None:
        """The oldest and newest release years in the catalog; None when no item has a year."""
        if "year_range" not in self._cache:
            years = self.items["year"].dropna()
            self._cache["year_range"] = (int(years.min()), int(years.max())) if len(years) else None
        return self._cache["year_range"]

    @property
    def popularity(self) -> pd.Series:
        """Number of ratings per item, for every item (0 when unrated)."""
        if "popularity" not in self._cache:
            counts = self.ratings.groupby("item_id").size()
            self._cache["popularity"] = counts.reindex(self.items.index, fill_value=0).astype("int64")
        return self._cache["popularity"]
