"""Load and validate catalogs: the MovieLens CSV layout, or any CSV/JSONL/Parquet files mapped by convrec.toml."""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pandas as pd

from convrec.catalog import tables
from convrec.catalog.fingerprint import fingerprint
from convrec.catalog.manifest import MANIFEST_NAME, ItemsSpec, RatingsSpec, read_manifest
from convrec.catalog.models import ITEM_COLUMNS, Catalog, RatingScale
from convrec.core.errors import CatalogError

MOVIELENS_SCALE = RatingScale(low=0.5, high=5.0)
MAX_TAGS_PER_ITEM = 10
_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-–]\s*\d{0,4})?\)\s*$")
_NO_GENRES = "(no genres listed)"


def demo_catalog_dir() -> Path:
    return Path(str(resources.files("convrec.catalog") / "demo"))


def load_demo_catalog() -> Catalog:
    demo = demo_catalog_dir()
    return load_movielens(demo / "ml-latest-small", name="demo-ml-latest-small",
                          descriptions=demo / "descriptions" / "descriptions.csv")


def load_catalog(path: Path) -> Catalog:
    """A folder with convrec.toml (or the manifest file itself), or a MovieLens folder with movies.csv."""
    path = Path(path).expanduser()
    if path.is_file() and path.name == MANIFEST_NAME:
        return load_generic(path)
    if not path.is_dir():
        raise CatalogError("catalog folder not found", where=str(path), fix="pass a folder with convrec.toml or movies.csv")
    if (path / MANIFEST_NAME).is_file():
        return load_generic(path / MANIFEST_NAME)
    if (path / "movies.csv").is_file():
        return load_movielens(path)
    raise CatalogError("not a catalog: no convrec.toml and no movies.csv", where=str(path),
                       fix="add a convrec.toml manifest (see README) or use the MovieLens layout")


def load_movielens(folder: Path, *, name: str | None = None, descriptions: Path | None = None) -> Catalog:
    movies_path, ratings_path = folder / "movies.csv", folder / "ratings.csv"
    movies = tables.read_table(movies_path)
    tables.require_columns(movies, movies_path, ["movieId", "title", "genres"])
    tables.require_rows(movies, movies_path, "items")
    items = pd.DataFrame({"item_id": movies["movieId"], "title": movies["title"], "genres": movies["genres"]})
    _validate_items(items, movies_path, id_column="movieId")
    titles = items["title"].map(_split_title_year)
    items["title"] = titles.map(lambda parts: parts[0])
    items["year"] = pd.array(titles.map(lambda parts: parts[1]).tolist(), dtype="Int64")
    items["genres"] = items["genres"].map(lambda g: [] if not g or g == _NO_GENRES else g.split("|"))
    items = items.set_index("item_id")
    items["tags"] = _movielens_tags(folder / "tags.csv", items.index)
    descriptions = descriptions or (folder / "descriptions.csv")
    items["description"] = _descriptions(descriptions, items.index) if descriptions.is_file() else None
    items["metadata"] = _movielens_links(folder / "links.csv", items.index)
    ratings = _read_ratings(ratings_path, RatingsSpec(path=ratings_path, user_id="userId", item_id="movieId",
                                                      rating="rating", timestamp="timestamp"),
                            MOVIELENS_SCALE, items.index)
    return _assemble(name or folder.name, items, ratings, MOVIELENS_SCALE)


def load_generic(manifest_path: Path) -> Catalog:
    manifest = read_manifest(manifest_path)
    items = _read_generic_items(manifest.items)
    scale = manifest.ratings.rating_scale
    ratings = _read_ratings(manifest.ratings.path, manifest.ratings, scale, items.index)
    return _assemble(manifest.name, items, ratings, scale)


def _read_generic_items(spec: ItemsSpec) -> pd.DataFrame:
    frame = tables.read_table(spec.path, spec.format)
    optional = [spec.year, spec.genres, spec.tags, spec.description]
    tables.require_columns(frame, spec.path, [spec.id, spec.title, *filter(None, optional), *spec.metadata])
    tables.require_rows(frame, spec.path, "items")
    items = pd.DataFrame({"item_id": frame[spec.id].map(_as_id), "title": frame[spec.title]})
    _validate_items(items, spec.path, id_column=spec.id)
    items["year"] = _years(frame, spec)
    items["genres"] = _split_list(frame, spec.genres, spec.genre_separator)
    items["tags"] = _split_list(frame, spec.tags, spec.tag_separator)
    items["description"] = frame[spec.description] if spec.description else None
    if spec.description:
        tables.check_lengths(items, spec.path, ["description"])
    items["metadata"] = [{k: str(v) for k, v in zip(spec.metadata, values) if v is not None}
                         for values in frame[spec.metadata].itertuples(index=False)] if spec.metadata \
        else [{} for _ in range(len(frame))]
    return items.set_index("item_id")


def _validate_items(items: pd.DataFrame, path: Path, *, id_column: str) -> None:
    tables.require_values(items.rename(columns={"item_id": id_column}), path, [id_column, "title"])
    tables.check_lengths(items, path, ["title"])
    tables.check_unique(items.rename(columns={"item_id": id_column}), path, id_column)


def _read_ratings(path: Path, spec: RatingsSpec, scale: RatingScale, item_ids: pd.Index) -> pd.DataFrame:
    frame = tables.read_table(path, spec.format)
    tables.require_columns(frame, path, [spec.user_id, spec.item_id, spec.rating, *filter(None, [spec.timestamp])])
    tables.require_values(frame, path, [spec.user_id, spec.item_id, spec.rating])
    values = tables.numeric(frame, path, spec.rating)
    outside = (values < scale.low) | (values > scale.high)
    if outside.any():
        row = int(outside[outside].index[0])
        raise CatalogError(f"rating {values[row]:g} outside the scale {scale.low:g}–{scale.high:g}; "
                           f"{int(outside.sum())} such row(s)", where=tables.where(path, row, spec.rating),
                           fix="fix the value, or declare the scale in convrec.toml ([ratings] scale = [low, high])")
    ratings = pd.DataFrame({"user_id": frame[spec.user_id].map(_as_id), "item_id": frame[spec.item_id].map(_as_id),
                            "rating": values.astype("float64")})
    ratings["timestamp"] = (tables.numeric(frame, path, spec.timestamp).astype("Int64") if spec.timestamp
                            else pd.array([pd.NA] * len(frame), dtype="Int64"))
    _check_known_items(ratings, path, spec.item_id, item_ids)
    return ratings


def _check_known_items(ratings: pd.DataFrame, path: Path, column: str, item_ids: pd.Index) -> None:
    unknown = ~ratings["item_id"].isin(item_ids)
    if unknown.any():
        row = int(unknown[unknown].index[0])
        examples = ", ".join(ratings.loc[unknown, "item_id"].drop_duplicates().head(3))
        raise CatalogError(f"{int(unknown.sum())} rating(s) refer to items not in the catalog (e.g. {examples})",
                           where=tables.where(path, row, column),
                           fix="add those items, or remove their ratings")


def _assemble(name: str, items: pd.DataFrame, ratings: pd.DataFrame, scale: RatingScale) -> Catalog:
    items = items[ITEM_COLUMNS]
    items.index.name = "item_id"
    return Catalog(name=name, items=items, ratings=ratings.reset_index(drop=True), scale=scale,
                   fingerprint=fingerprint(items, ratings, (scale.low, scale.high)))


def _split_title_year(raw: str) -> tuple[str, int | None]:
    match = _TITLE_YEAR.match(raw)
    if not match or not match["title"]:
        return raw.strip(), None
    return match["title"].strip(), int(match["year"])


def _movielens_tags(path: Path, item_ids: pd.Index) -> pd.Series:
    """The most frequent user tags per item, lower-cased, most frequent first."""
    if not path.is_file():
        return pd.Series([[] for _ in item_ids], index=item_ids, dtype=object)
    frame = tables.read_table(path)
    tables.require_columns(frame, path, ["movieId", "tag"])
    tables.check_lengths(frame, path, ["tag"])
    frame = frame.dropna(subset=["movieId", "tag"])
    frame = frame.assign(tag=frame["tag"].str.strip().str.lower())
    counts = frame.groupby(["movieId", "tag"]).size().reset_index(name="n")
    counts = counts.sort_values(["movieId", "n", "tag"], ascending=[True, False, True])
    top = counts.groupby("movieId")["tag"].agg(lambda tags: list(tags[:MAX_TAGS_PER_ITEM]))
    return _per_item(top, item_ids, default=list)


def _descriptions(path: Path, item_ids: pd.Index) -> pd.Series:
    frame = tables.read_table(path)
    tables.require_columns(frame, path, ["movieId", "plot"])
    tables.check_lengths(frame.rename(columns={"plot": "description"}), path, ["description"])
    plots = frame.drop_duplicates("movieId").set_index("movieId")["plot"]
    return plots.reindex(item_ids).astype(object).where(lambda s: s.notna(), None)


def _movielens_links(path: Path, item_ids: pd.Index) -> pd.Series:
    if not path.is_file():
        return pd.Series([{} for _ in item_ids], index=item_ids, dtype=object)
    frame = tables.read_table(path)
    tables.require_columns(frame, path, ["movieId"])
    link_columns = [c for c in ("imdbId", "tmdbId") if c in frame.columns]
    links = frame.drop_duplicates("movieId").set_index("movieId")[link_columns]
    records = {item: {k: v for k, v in row.items() if v} for item, row in links.to_dict("index").items()}
    return _per_item(pd.Series(records, dtype=object), item_ids, default=dict)


def _per_item(values: pd.Series, item_ids: pd.Index, *, default: Callable[[], object]) -> pd.Series:
    aligned = values.reindex(item_ids)
    return pd.Series([v if isinstance(v, (list, dict)) else default() for v in aligned], index=item_ids,
                     dtype=object)


def _years(frame: pd.DataFrame, spec: ItemsSpec) -> pd.array:
    if not spec.year:
        return pd.array([pd.NA] * len(frame), dtype="Int64")
    return tables.numeric(frame, spec.path, spec.year).round().astype("Int64")


def _split_list(frame: pd.DataFrame, column: str | None, separator: str) -> list[list[str]]:
    if not column:
        return [[] for _ in range(len(frame))]
    return [[part.strip() for part in str(v).split(separator) if part.strip()] if v is not None else []
            for v in frame[column]]


def _as_id(value: object) -> str | None:
    """Ids as text: JSONL/Parquet may give 7 or 7.0 where CSV gives '7'."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
