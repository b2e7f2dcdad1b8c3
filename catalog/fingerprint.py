"""A content fingerprint: identical items and ratings give the identical sha256, whatever the source layout."""

from __future__ import annotations

import hashlib
import json

import pandas as pd


def fingerprint(items: pd.DataFrame, ratings: pd.DataFrame, scale: tuple[float, float]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(scale).encode())
    for item_id, row in items.sort_index().iterrows():
        record = [item_id, row["title"], None if pd.isna(row["year"]) else int(row["year"]), list(row["genres"]),
                  list(row["tags"]), row["description"], dict(sorted((row["metadata"] or {}).items()))]
        digest.update(json.dumps(record, ensure_ascii=False).encode())
    ordered = ratings.sort_values(["user_id", "item_id", "timestamp"], kind="stable").reset_index(drop=True)
    digest.update(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes())
    return digest.hexdigest()
