"""A content fingerprint: identical items, ratings and scale give the identical sha256, whatever the source layout.

Both tables are serialized column by column as canonical JSON (items sorted by id, ratings by every column), so the
row order of the files and the dtypes pandas happened to pick do not matter; any changed value does.

The ratings, the large table, are sorted as compact Arrow columns and serialized a slice at a time, so the work
never holds them as Python objects (an import passes them straight from its Parquet file).
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from convrec.catalog.models import ITEM_COLUMNS, RATING_COLUMNS, RatingScale


SLICE_ROWS = 100_000  # ratings serialized per step


def fingerprint(items: pd.DataFrame, ratings: pd.DataFrame | pa.Table, scale: RatingScale) -> str:
    digest = hashlib.sha256()
    digest.update(_canonical({"scale": [scale.low, scale.high]}))
    items = items.sort_index()
    digest.update(_canonical({"item_id": items.index.tolist()}))
    for column in ITEM_COLUMNS:
        digest.update(_canonical({column: _plain(items[column])}))
    if isinstance(ratings, pd.DataFrame):
        ratings = pa.Table.from_pandas(ratings[RATING_COLUMNS], preserve_index=False)
    order = _sorted_order(ratings)
    for column in RATING_COLUMNS:
        # The same bytes as _canonical({column: [every value, sorted]}), written a slice at a time.
        digest.update(b"{" + json.dumps(column).encode() + b":[")
        values = ratings[column]
        for start in range(0, len(order), SLICE_ROWS):
            chunk = values.take(order.slice(start, SLICE_ROWS)).to_pylist()
            digest.update((b"," if start else b"") + _canonical(chunk)[1:-1])
        digest.update(b"]}")
    return digest.hexdigest()


def _sorted_order(ratings: pa.Table) -> pa.Array:
    """Row order sorted by every column, nulls first. Text columns are sorted through their ranks among the
    column's distinct values: the same order (UTF-8 bytes sort as code points do), several times faster."""
    keys = {}
    for column in RATING_COLUMNS:
        values = ratings[column]
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            distinct = pc.unique(values)
            values = pc.index_in(values, value_set=distinct.take(pc.sort_indices(distinct)))
        keys[column] = values
    return pc.sort_indices(pa.table(keys), sort_keys=[(column, "ascending", "at_start") for column in RATING_COLUMNS])


def _plain(values: pd.Series) -> list:
    """JSON-ready values: nulls as None, list cells as lists, dict cells with sorted keys."""
    if values.dtype != object:
        return values.astype(object).where(values.notna(), None).tolist()
    return [_plain_cell(value) for value in values]


def _plain_cell(value: object) -> object:
    if isinstance(value, dict):
        return dict(sorted(value.items()))
    if isinstance(value, (list, tuple)):
        return list(value)
    return None if pd.isna(value) else value


def _canonical(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
