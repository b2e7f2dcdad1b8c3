"""`convrec.toml`: how a generic catalog's files and columns map onto items and ratings."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from convrec.catalog.models import RatingScale
from convrec.core.errors import CatalogError

MANIFEST_NAME = "convrec.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemsSpec(_Strict):
    path: Path
    format: str | None = None
    id: str = "item_id"
    title: str = "title"
    year: str | None = None
    genres: str | None = None
    genre_separator: str = "|"
    tags: str | None = None
    tag_separator: str = "|"
    description: str | None = None
    metadata: list[str] = Field(default_factory=list)


class RatingsSpec(_Strict):
    path: Path
    format: str | None = None
    user_id: str = "user_id"
    item_id: str = "item_id"
    rating: str = "rating"
    timestamp: str | None = None
    scale: tuple[float, float] = (0.5, 5.0)

    @model_validator(mode="after")
    def _scale_ordered(self) -> RatingsSpec:
        self.rating_scale  # noqa: B018 - RatingScale raises if low >= high
        return self

    @property
    def rating_scale(self) -> RatingScale:
        return RatingScale(low=self.scale[0], high=self.scale[1])


class Manifest(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    items: ItemsSpec
    ratings: RatingsSpec


def read_manifest(path: Path) -> Manifest:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise CatalogError(f"invalid TOML: {error}", where=str(path), fix="fix the syntax") from error
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise CatalogError(f"bad manifest entry '{key}': {first['msg']}", where=str(path),
                           fix="see the README's catalog manifest section") from error
    base = path.parent
    manifest.items.path = base / manifest.items.path
    manifest.ratings.path = base / manifest.ratings.path
    return manifest
