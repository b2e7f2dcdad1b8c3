"""The text each item is searched by: title, year, genres, top user tags, description."""

from __future__ import annotations

import hashlib

import pandas as pd

from convrec.catalog.models import Catalog

MAX_DOCUMENT_TAGS = 8


def item_document(title: str, year: object, genres: list[str], tags: list[str], description: str | None) -> str:
    head = title if pd.isna(year) else f"{title} ({int(year)})"
    lines = [head]
    if genres:
        lines.append("Genres: " + ", ".join(genres))
    if tags:
        lines.append("Tags: " + ", ".join(tags[:MAX_DOCUMENT_TAGS]))
    if description:
        lines.append(description)
    return "\n".join(lines)


def documents(catalog: Catalog) -> dict[str, str]:
    items = catalog.items
    return {item_id: item_document(title, year, genres, tags, description)
            for item_id, title, year, genres, tags, description in zip(
                items.index, items["title"], items["year"], items["genres"], items["tags"], items["description"])}


def content_hash(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()[:16]
