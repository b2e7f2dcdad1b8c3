"""The text each item is searched by: title (year), genres, its most frequent tags, description."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from convrec.catalog.models import ITEM_COLUMNS, Catalog

MAX_DOCUMENT_TAGS = 8


def item_document(item_row: Mapping[str, Any]) -> str:
    """One row of `catalog.items` (a Series or a dict with ITEM_COLUMNS) as its search document.

    Lines: "Title (year)", "Genres: …", "Tags: …" (most frequent first, case-insensitive duplicates dropped),
    then the description with its whitespace collapsed. Empty parts are left out.
    """
    title, year = item_row["title"], item_row["year"]
    lines = [title if pd.isna(year) or title.endswith(f"({int(year)})") else f"{title} ({int(year)})"]
    if len(item_row["genres"]):
        lines.append("Genres: " + ", ".join(item_row["genres"]))
    tags = _distinct(item_row["tags"])[:MAX_DOCUMENT_TAGS]
    if tags:
        lines.append("Tags: " + ", ".join(tags))
    description = item_row["description"]
    if not pd.isna(description) and description.strip():
        lines.append(" ".join(description.split()))
    return "\n".join(lines)


def documents(catalog: Catalog) -> dict[str, str]:
    """item_id -> search document, in catalog order."""
    rows = catalog.items[ITEM_COLUMNS].to_dict("index")
    return {item_id: item_document(row) for item_id, row in rows.items()}


def title_only(catalog: Catalog) -> np.ndarray:
    """Per item, in catalog order: whether its search document has nothing but the title and genres lines (no tags,
    no description), so that search can only find it by its title."""
    items = catalog.items
    described = items["description"].map(lambda text: not pd.isna(text) and bool(text.strip()))
    tagged = items["tags"].map(lambda tags: bool(_distinct(tags)))
    return (~described & ~tagged).to_numpy(dtype=bool)


def content_hash(document: str) -> str:
    """A short sha256 of a document: the index re-embeds an item only when this changes."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()[:16]


def _distinct(tags: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for tag in tags:
        key = tag.strip().casefold()
        if key and key not in seen:
            seen.add(key)
            kept.append(tag.strip())
    return kept
