"""Checks on a read `Table`. Each raises one CatalogError naming the file, the first bad place, and how many."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process, utils

from convrec.catalog.models import RatingScale
from convrec.catalog.tables import Table
from convrec.core.errors import CatalogError

MAX_TITLE_CHARS = 500
MAX_DESCRIPTION_CHARS = 10_000
MAX_TAG_CHARS = 500


def require_columns(table: Table, columns: Collection[str]) -> None:
    found = [str(c) for c in table.frame.columns]
    missing = [c for c in columns if c not in found]
    if not missing:
        return
    close = process.extractOne(missing[0], found, scorer=fuzz.ratio, processor=utils.default_process,
                               score_cutoff=60)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise CatalogError(f"missing column '{missing[0]}' (found: {', '.join(found) or 'none'})",
                       where=str(table.path), fix=f"{hint}rename the column, or map it in convrec.toml")


def require_rows(table: Table, what: str) -> None:
    if table.frame.empty:
        raise CatalogError(f"no {what}: the file has a header but no rows", where=str(table.path),
                           fix=f"add at least one {what.rstrip('s')}")


def require_values(table: Table, columns: Collection[str]) -> None:
    for column in columns:
        values = table.frame[column]
        blank = values.isna() | values.astype("str").str.strip().eq("")
        if blank.any():
            raise CatalogError(f"empty value; {int(blank.sum())} such row(s)",
                               where=table.where(blank.idxmax(), column), fix="fill it in or remove the row")


def check_unique(table: Table, column: str, ids: pd.Series) -> None:
    """`ids` are the column's values as normalized ids, so "7" and 7.0 count as the same."""
    repeated = ids[ids.duplicated(keep=False)]
    if repeated.empty:
        return
    value = repeated.iloc[0]
    first, second = repeated.index[repeated == value][:2]
    raise CatalogError(f"duplicate id '{value}' at {table.place(first)} and {table.place(second)}; "
                       f"{int(ids.duplicated().sum())} duplicate(s) in all",
                       where=table.where(column=column), fix="ids must be unique: remove or renumber")


def check_lengths(table: Table, limits: Mapping[str, int]) -> None:
    for column, limit in limits.items():
        lengths = table.frame[column].astype("str").str.len().where(table.frame[column].notna(), 0)
        too_long = lengths > limit
        if too_long.any():
            row = too_long.idxmax()
            raise CatalogError(f"field too long ({int(lengths[row]):,} characters, limit {limit:,}); "
                               f"{int(too_long.sum())} such row(s)", where=table.where(row, column),
                               fix="shorten it; is a delimiter or a closing quote missing?")


def numbers(table: Table, column: str) -> pd.Series:
    """The column as float64 (nulls stay NaN); any value that is not a number is an error."""
    values = pd.to_numeric(table.frame[column], errors="coerce").astype("float64")
    bad = values.isna() & table.frame[column].notna()
    if bad.any():
        row = bad.idxmax()
        raise CatalogError(f"not a number: '{table.frame.at[row, column]}'; {int(bad.sum())} such row(s)",
                           where=table.where(row, column), fix="use numbers like 4 or 3.5")
    return values


def check_scale(table: Table, column: str, ratings: pd.Series, scale: RatingScale) -> None:
    outside = (ratings < scale.low) | (ratings > scale.high)
    if outside.any():
        row = outside.idxmax()
        raise CatalogError(f"rating {ratings[row]:g} outside the scale {scale.low:g}–{scale.high:g}; "
                           f"{int(outside.sum())} such row(s)", where=table.where(row, column),
                           fix="fix the value, or declare the scale in convrec.toml ([ratings] scale = [low, high])")


def check_known(table: Table, column: str, ids: pd.Series, known: pa.Array) -> None:
    """`known`: the catalog's item ids as one Arrow array, built once for all the parts of a ratings file."""
    found = pc.is_in(pa.array(ids, from_pandas=True).cast(known.type), value_set=known)
    unknown = pd.Series(~found.to_numpy(zero_copy_only=False), index=ids.index)
    if unknown.any():
        examples = ", ".join(ids[unknown].drop_duplicates().head(3))
        raise CatalogError(f"{int(unknown.sum())} rating(s) refer to items not in the catalog (e.g. {examples})",
                           where=table.where(unknown.idxmax(), column), fix="add those items, or remove their ratings")

