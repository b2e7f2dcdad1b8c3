"""Load and validate catalogs: the MovieLens CSV layout, or CSV/JSONL/Parquet files mapped by `convrec.toml`.

Everything is read and checked before a `Catalog` exists, so a returned catalog is always whole. MovieLens titles
carry the year ("Matrix, The (1999)"): items keep `title` "Matrix, The" and `year` 1999, and `Item.label` puts the
year back for display.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from convrec.catalog.aliases import read_aliases
from convrec.catalog.fingerprint import fingerprint
from convrec.catalog.manifest import MANIFEST_NAME, NAME_PATTERN, ItemsSpec, RatingsSpec, read_manifest
from convrec.catalog.models import ITEM_COLUMNS, Catalog, RatingScale
from convrec.catalog.tables import Table, read_table, read_table_parts
from convrec.catalog.validation import (MAX_DESCRIPTION_CHARS, MAX_TAG_CHARS, MAX_TITLE_CHARS, check_known,
                                        check_lengths, check_scale, check_unique, numbers, require_columns,
                                        require_rows, require_values)
from convrec.core.errors import CatalogError

DEMO_NAME = "demo-ml-latest-small"
MAX_TAGS_PER_ITEM = 10
_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-–]\s*\d{0,4})?\)\s*$")
_NO_GENRES = "(no genres listed)"


def demo_catalog_path() -> Path:
    """The vendored demo: `ml-latest-small/` (MovieLens) and `descriptions/descriptions.csv`."""
    return Path(str(resources.files("convrec.catalog") / "demo"))


def demo_aliases_path() -> Path:
    """The demo's hand-curated Chinese titles (its README says how they were made)."""
    return demo_catalog_path() / "aliases" / "zh.csv"


def load_demo_catalog() -> Catalog:
    demo = demo_catalog_path()
    return load_movielens(demo / "ml-latest-small", name=DEMO_NAME,
                          descriptions=demo / "descriptions" / "descriptions.csv", aliases=demo_aliases_path())


@dataclass(frozen=True)
class CatalogSource:
    """A catalog's validated items and where its ratings are: the ratings are read (and checked) part by part, so
    an import can stream them to disk without holding them all in memory."""

    name: str
    items: pd.DataFrame  # ITEM_COLUMNS (in that order), indexed by item id
    ratings_spec: RatingsSpec
    aliases: dict[str, str] = field(default_factory=dict)  # other-language title → item_id (aliases.py)

    @property
    def scale(self) -> RatingScale:
        return self.ratings_spec.rating_scale

    def ratings(self) -> Iterator[pd.DataFrame]:
        """Checked ratings (RATING_COLUMNS), one part of the file at a time, in file order."""
        known = pa.array(self.items.index, type=pa.string())
        for table in read_table_parts(self.ratings_spec.path, self.ratings_spec.format,
                                      delimiter=self.ratings_spec.delimiter):
            yield _ratings(table, self.ratings_spec, known)

    def load(self) -> Catalog:
        ratings = pd.concat(list(self.ratings()), ignore_index=True)
        return Catalog(name=self.name, items=self.items, ratings=ratings, scale=self.scale,
                       fingerprint=fingerprint(self.items, ratings, self.scale), aliases=self.aliases)


def load_catalog(path: Path) -> Catalog:
    """A folder with convrec.toml (or the manifest file itself), or a MovieLens folder with movies.csv."""
    return open_catalog(path).load()


def open_catalog(path: Path) -> CatalogSource:
    """The catalog at `path` with its items read and checked; see `load_catalog` for the layouts."""
    path = Path(path).expanduser()
    if path.is_file() and path.name == MANIFEST_NAME:
        return _open_generic(path)
    if not path.is_dir():
        raise CatalogError("catalog folder not found", where=str(path),
                           fix="pass a folder with convrec.toml or movies.csv")
    if (path / MANIFEST_NAME).is_file():
        return _open_generic(path / MANIFEST_NAME)
    if (path / "movies.csv").is_file():
        return _open_movielens(path)
    raise CatalogError("not a catalog: no convrec.toml and no movies.csv", where=str(path),
                       fix="add a convrec.toml manifest (see README) or use the MovieLens layout")


def _open_generic(manifest_path: Path) -> CatalogSource:
    manifest = read_manifest(manifest_path)
    items = _read_items(manifest.items)[ITEM_COLUMNS]
    aliases = read_aliases(manifest.aliases.path, items.index) if manifest.aliases else {}
    return CatalogSource(manifest.name, items, manifest.ratings, aliases)


def load_movielens(folder: Path, *, name: str | None = None, descriptions: Path | None = None,
                   aliases: Path | None = None) -> Catalog:
    """movies.csv + ratings.csv, with tags.csv, links.csv and descriptions.csv (movieId,plot) when present."""
    return _open_movielens(folder, name=name, descriptions=descriptions, aliases=aliases).load()


def _open_movielens(folder: Path, *, name: str | None = None, descriptions: Path | None = None,
                    aliases: Path | None = None) -> CatalogSource:
    items = _read_items(ItemsSpec(path=folder / "movies.csv", id="movieId", title="title", genres="genres"))
    titles = items["title"].map(_split_title_year)
    items["title"] = titles.str[0].astype("str")
    items["year"] = pd.array(titles.str[1], dtype="Int64")
    items["genres"] = items["genres"].map(lambda genres: [g for g in genres if g != _NO_GENRES])
    items["tags"] = _movielens_tags(folder / "tags.csv", items.index)
    descriptions = descriptions or folder / "descriptions.csv"
    if descriptions.is_file():
        items["description"] = _movielens_descriptions(descriptions, items.index)
    items["metadata"] = _movielens_links(folder / "links.csv", items.index)
    spec = RatingsSpec(path=folder / "ratings.csv", user_id="userId", item_id="movieId", rating="rating",
                       timestamp="timestamp", scale=(0.5, 5.0))
    return CatalogSource(name or _safe_name(folder.name), items[ITEM_COLUMNS], spec,
                         read_aliases(aliases, items.index) if aliases else {})


def _read_items(spec: ItemsSpec) -> pd.DataFrame:
    """The items file as ITEM_COLUMNS indexed by item id; unmapped columns come out empty."""
    table = read_table(spec.path, spec.format, delimiter=spec.delimiter)
    optional = [c for c in (spec.year, spec.genres, spec.tags, spec.description) if c]
    require_columns(table, [spec.id, spec.title, *optional, *spec.metadata])
    require_rows(table, "items")
    require_values(table, [spec.id, spec.title])
    ids = _text(table.frame[spec.id])
    check_unique(table, spec.id, ids)
    limits = {spec.title: MAX_TITLE_CHARS} | ({spec.description: MAX_DESCRIPTION_CHARS} if spec.description else {})
    check_lengths(table, limits)
    frame = table.frame
    items = pd.DataFrame({
        "title": _text(frame[spec.title]).astype("str"),
        "year": _integers(table, spec.year),
        "genres": _lists(frame, spec.genres, spec.genre_separator),
        "tags": _lists(frame, spec.tags, spec.tag_separator),
        "description": _optional_text(frame[spec.description]) if spec.description else None,
        "metadata": _metadata(frame, spec.metadata),
    }, index=frame.index)
    items.index = pd.Index(ids.tolist(), dtype="str", name="item_id")
    return items


def _ratings(table: Table, spec: RatingsSpec, known_items: pa.Array) -> pd.DataFrame:
    """One part of a ratings file, checked, as RATING_COLUMNS; its row labels are the file's."""
    required = [spec.user_id, spec.item_id, spec.rating]
    require_columns(table, [*required, *([spec.timestamp] if spec.timestamp else [])])
    require_values(table, required)
    values = numbers(table, spec.rating)
    check_scale(table, spec.rating, values, spec.rating_scale)
    item_ids = _text(table.frame[spec.item_id])
    check_known(table, spec.item_id, item_ids, known_items)
    ratings = pd.DataFrame({"user_id": _text(table.frame[spec.user_id]).astype("str"),
                            "item_id": item_ids.astype("str"), "rating": values,
                            "timestamp": _timestamps(table, spec.timestamp)})
    return ratings


def _text(values: pd.Series) -> pd.Series:
    """Ids and labels as stripped text (nulls stay null): JSONL and Parquet may give 7 or 7.0 where CSV gives "7"."""
    if pd.api.types.is_float_dtype(values) and values.dropna().mod(1).eq(0).all():
        values = values.astype("Int64")
    return values.astype("string").str.strip()


def _optional_text(values: pd.Series) -> pd.Series:
    """Free text with blanks as None."""
    text = values.astype("string").str.strip()
    return text.astype(object).where(text.fillna("").ne(""), None)


def _lists(frame: pd.DataFrame, column: str | None, separator: str) -> list[list[str]]:
    """A list column as given (JSONL, Parquet), or text split on `separator`; blanks dropped."""
    if column is None:
        return [[] for _ in range(len(frame))]
    return [_split(value, separator) for value in frame[column]]


def _split(value: object, separator: str) -> list[str]:
    if isinstance(value, (list, tuple, np.ndarray)):
        parts = [str(part) for part in value]
    elif pd.isna(value):
        return []
    else:
        parts = str(value).split(separator)
    return [part.strip() for part in parts if part.strip()]


def _metadata(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, str]]:
    texts = pd.DataFrame({column: _optional_text(_text(frame[column])) for column in columns}, index=frame.index)
    return [{key: value for key, value in row.items() if value is not None} for row in texts.to_dict("records")]


def _integers(table: Table, column: str | None) -> pd.Series:
    """A number column as nullable Int64 (rounded); all null when the column is not mapped."""
    if column is None:
        return pd.Series(pd.NA, index=table.frame.index, dtype="Int64")
    return numbers(table, column).round().astype("Int64")


def _timestamps(table: Table, column: str | None) -> pd.Series:
    """Epoch seconds; Parquet datetimes are converted."""
    if column is not None and pd.api.types.is_datetime64_any_dtype(table.frame[column]):
        since_epoch = pd.to_datetime(table.frame[column], utc=True) - pd.Timestamp(0, tz="UTC")
        return (since_epoch // pd.Timedelta(seconds=1)).astype("Int64")
    return _integers(table, column)


def _split_title_year(raw: str) -> tuple[str, int | None]:
    match = _TITLE_YEAR.match(raw)
    if not match or not match["title"]:
        return raw, None
    return match["title"], int(match["year"])


def _safe_name(folder_name: str) -> str:
    """The folder's name made fit to name a search index (the manifest enforces the same pattern)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", folder_name).strip("-_.")[:63] or "catalog"
    return name if re.match(NAME_PATTERN, name) else "catalog"


def _movielens_tags(path: Path, item_ids: pd.Index) -> pd.Series:
    """The most frequent user tags per item, lower-cased, most frequent first (ties alphabetical)."""
    if not path.is_file():
        return _per_item(pd.Series(dtype=object), item_ids, default=list)
    table = read_table(path)
    require_columns(table, ["movieId", "tag"])
    check_lengths(table, {"tag": MAX_TAG_CHARS})
    tags = pd.DataFrame({"item_id": _text(table.frame["movieId"]),
                         "tag": table.frame["tag"].str.strip().str.lower()}).dropna()
    counts = tags[tags["tag"] != ""].value_counts().reset_index(name="n")
    counts = counts.sort_values(["item_id", "n", "tag"], ascending=[True, False, True])
    top = counts.groupby("item_id").head(MAX_TAGS_PER_ITEM).groupby("item_id")["tag"].agg(list)
    return _per_item(top, item_ids, default=list)


def _movielens_descriptions(path: Path, item_ids: pd.Index) -> pd.Series:
    table = read_table(path)
    require_columns(table, ["movieId", "plot"])
    ids = _text(table.frame["movieId"])
    check_unique(table, "movieId", ids)
    check_lengths(table, {"plot": MAX_DESCRIPTION_CHARS})
    plots = pd.Series(_optional_text(table.frame["plot"]).to_numpy(), index=ids.to_numpy(), dtype=object)
    return plots.reindex(item_ids).where(lambda s: s.notna(), None)


def _movielens_links(path: Path, item_ids: pd.Index) -> pd.Series:
    """imdbId and tmdbId, as text, in each item's metadata."""
    if not path.is_file():
        return _per_item(pd.Series(dtype=object), item_ids, default=dict)
    table = read_table(path)
    require_columns(table, ["movieId"])
    columns = [c for c in ("imdbId", "tmdbId") if c in table.frame.columns]
    links = pd.Series(_metadata(table.frame, columns), index=_text(table.frame["movieId"]).to_numpy(), dtype=object)
    return _per_item(links[~links.index.duplicated()], item_ids, default=dict)


def _per_item(values: pd.Series, item_ids: pd.Index, *, default: Callable[[], object]) -> pd.Series:
    aligned = values.reindex(item_ids)
    return pd.Series([v if isinstance(v, (list, dict)) else default() for v in aligned], index=item_ids, dtype=object)
