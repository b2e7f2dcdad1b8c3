"""`convrec.toml`: how a generic catalog's files and columns map onto items and ratings.

    name = "books"                   # letters, digits, . _ - (it names the search index too)
    [items]
    path = "books.csv"               # .csv/.tsv, .jsonl or .parquet; or say `format = "csv"` (and `delimiter`)
    id = "book_id"                   # the defaults are the canonical names: item_id, title
    title = "name"
    year = "published"               # optional columns: year, genres, tags, description
    genres = "kinds"                 # a list column, or text split on genre_separator ("|")
    genre_separator = ";"
    metadata = ["author", "isbn"]    # any other columns to keep, as text
    [ratings]
    path = "ratings.jsonl"
    user_id = "reader"               # defaults: user_id, item_id, rating; timestamp is optional
    scale = [1, 5]                   # default [0.5, 5]
    [aliases]                        # optional: other names for items, e.g. Chinese titles
    path = "aliases.csv"             # columns item_id, alias
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from convrec.catalog.models import RatingScale
from convrec.catalog.tables import Format
from convrec.core.errors import CatalogError

MANIFEST_NAME = "convrec.toml"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


class _FileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path
    format: Format | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1,
                                  description="CSV only; default: tab for .tsv, else comma")


class ItemsSpec(_FileSpec):
    id: str = "item_id"
    title: str = "title"
    year: str | None = None
    genres: str | None = None
    genre_separator: str = Field(default="|", min_length=1)
    tags: str | None = None
    tag_separator: str = Field(default="|", min_length=1)
    description: str | None = None
    metadata: list[str] = Field(default_factory=list)


class RatingsSpec(_FileSpec):
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


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    items: ItemsSpec
    ratings: RatingsSpec
    aliases: _FileSpec | None = None


def read_manifest(path: Path) -> Manifest:
    """The manifest with its file paths resolved against its own folder, which they may not leave."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise CatalogError(f"invalid TOML: {error}", where=str(path), fix="fix the syntax") from error
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"'{'.'.join(map(str, e['loc']))}': {e['msg']}" for e in error.errors())
        raise CatalogError(f"bad manifest: {problems}", where=str(path),
                           fix="see the catalog manifest section of the README") from error
    folder = path.parent
    manifest.items.path = _inside(folder, manifest.items.path, "items.path", path)
    manifest.ratings.path = _inside(folder, manifest.ratings.path, "ratings.path", path)
    if manifest.aliases is not None:
        manifest.aliases.path = _inside(folder, manifest.aliases.path, "aliases.path", path)
    return manifest


def _inside(folder: Path, relative: Path, key: str, manifest_path: Path) -> Path:
    """`relative` under `folder`, refused if it (or a link on the way) leads outside the folder. The refusal
    names the path as written, never anything read from where it points."""
    root = folder.resolve()
    target = folder / relative
    if relative.is_absolute() or not target.resolve().is_relative_to(root):
        raise CatalogError(f"{key} '{relative}' is outside the catalog folder", where=str(manifest_path),
                           fix=f"put the file inside {root} (not behind a link to elsewhere) and name it relative "
                               "to the manifest")
    return target
