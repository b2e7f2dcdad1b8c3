"""`convrec catalog check|import`. Catalog errors propagate as CatalogError; `run()` prints them as one line."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from convrec.catalog.loaders import load_catalog
from convrec.catalog.models import Catalog
from convrec.catalog.store import CatalogStore, StoredCatalog
from convrec.cli.progress import console
from convrec.core.settings import Settings


def summary(catalog: Catalog | StoredCatalog) -> str:
    """A loaded catalog (which also counts its genres) or the stored one an import just published."""
    if isinstance(catalog, Catalog):
        items, ratings, users = len(catalog), len(catalog.ratings), catalog.ratings["user_id"].nunique()
        genres = f"{len(catalog.genres)} genres, "
    else:
        items, ratings, users, genres = catalog.items, catalog.ratings, catalog.users, ""
    return (f"{catalog.name}: {items:,} items, {ratings:,} ratings from {users:,} users, {genres}"
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
        stored = store.import_catalog(path)
    console.print(f"active catalog: {summary(stored)}", highlight=False)
    if settings.catalog:
        console.print(f"[yellow]note[/yellow]: CONVREC_CATALOG={escape(str(settings.catalog))} is set, "
                      "so that folder is served instead", highlight=False)
    console.print("next: `convrec index` builds its search index and CF model", highlight=False)
