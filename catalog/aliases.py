"""Title aliases: other names for catalog items, such as the Chinese release titles ("黑客帝国" → Matrix, The).

A catalog's titles are in one language; people name films in theirs. An alias table maps names to item ids and
never adds an item: every alias must name an item the catalog has. The demo catalog ships a small hand-curated
Chinese table (`demo/aliases/zh.csv`, its README says how it was made); a user catalog brings its own through the
manifest (`[aliases] path = "aliases.csv"`, columns `item_id`, `alias`).
An alias written inside title marks ("《英雄》") is a film whose title is an everyday word ("英雄" is also "hero"): it
links where the user writes the marks too, or where the sentence shows a film (`tools.chinese.cued_spans`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from convrec.catalog.tables import read_table
from convrec.core.errors import CatalogError

MAX_ALIAS_CHARS = 120


def read_aliases(path: Path, item_ids: pd.Index) -> dict[str, str]:
    """alias → item_id from a table with columns item_id and alias; a clear error for a bad file."""
    table = read_table(path)
    missing = {"item_id", "alias"} - set(table.frame.columns)
    if missing:
        raise CatalogError(f"alias table lacks columns {sorted(missing)}", where=str(path),
                           fix="give it the columns item_id and alias")
    frame = table.frame.astype({"item_id": "string", "alias": "string"}).dropna()
    aliases: dict[str, str] = {}
    for row, (item_id, alias) in enumerate(zip(frame["item_id"].str.strip(), frame["alias"].str.strip()), start=2):
        if item_id not in item_ids:
            raise CatalogError(f"alias '{alias}' names item {item_id}, which the catalog lacks",
                               where=f"{path}:{row}", fix="remove the row or fix the item_id")
        if not alias or len(alias) > MAX_ALIAS_CHARS:
            raise CatalogError(f"alias must have 1–{MAX_ALIAS_CHARS} characters", where=f"{path}:{row}",
                               fix="shorten or remove it")
        aliases[alias] = item_id
    return aliases


def aliases_by_item(aliases: dict[str, str]) -> dict[str, str]:
    """item_id → its first alias (the name to show and to give the model), without title marks."""
    first: dict[str, str] = {}
    for alias, item_id in aliases.items():
        first.setdefault(item_id, alias.removeprefix("《").removesuffix("》"))
    return first
