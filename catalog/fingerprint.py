"""A content fingerprint: identical items, ratings and scale give the identical sha256, whatever the source layout.

Both tables are serialized column by column as canonical JSON (items sorted by id, ratings by every column), so the
row order of the files and the dtypes pandas happened to pick do not matter; any changed value does.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from convrec.catalog.models import ITEM_COLUMNS, RATING_COLUMNS, RatingScale


def fingerprint(items: pd.DataFrame, ratings: pd.DataFrame, scale: RatingScale) -> str:
    digest = hashlib.sha256()
    digest.update(_canonical({"scale": [scale.low, scale.high]}))
    items = items.sort_index()
    digest.update(_canonical({"item_id": items.index.tolist()}))
    for column in ITEM_COLUMNS:
        digest.update(_canonical({column: _plain(items[column])}))
    ratings = ratings.sort_values(RATING_COLUMNS, kind="stable", na_position="first")
    for column in RATING_COLUMNS:
        digest.update(_canonical({column: _plain(ratings[column])}))
    return digest.hexdigest()


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
