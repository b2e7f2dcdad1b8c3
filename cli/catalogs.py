"""`convrec catalog check|import`. Catalog errors propagate as CatalogError; `run()` prints them as one line."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from convrec.catalog.loaders import load_catalog
from convrec.catalog.models import Catalog
from convrec.catalog.store import CatalogStore
from convrec.cli.progress import console
from convrec.core.settings import Settings


def summary(catalog: Catalog) -> str:
    return (f"{catalog.name}: {len(catalog):,} items, {len(catalog.ratings):,} ratings from "
            f"{catalog.ratings['user_id'].nunique():,} users, {len(catalog.genres)} genres, "
            f"scale {catalog.scale.low:g}–{catalog.scale.high:g}, fingerprint {catalog.fingerprint[:12]}")


def coverage(catalog: Catalog) -> str:
    items = catalog.items
    return (f"with a year: {items['year'].notna().sum():,}, genres: {items['genres'].map(bool).sum():,}, "
            f"tags: {items['tags'].map(bool).sum():,}, a description: {items['description'].notna().sum():,}")


def check_catalog(path: Path) -> None:
    with console.status(f"checking {escape(str(path))}"):
        catalog = load_catalog(path)
    console.print(f"[green]ok[/green] {summary(catalog)}", highlight=False)
    console.print(f"   {coverage(catalog)}", highlight=False)


def import_catalog(path: Path) -> None:
    settings = Settings()
    store = CatalogStore(settings.catalog_store_dir)
    with console.status(f"validating and importing {escape(str(path))}"):
        catalog = store.import_catalog(path)
    console.print(f"active catalog: {summary(catalog)}", highlight=False)
    if settings.catalog:
        console.print(f"[yellow]note[/yellow]: CONVREC_CATALOG={escape(str(settings.catalog))} is set, "
                      "so that folder is served instead", highlight=False)
    console.print("next: `convrec index` builds its search index and CF model", highlight=False)
