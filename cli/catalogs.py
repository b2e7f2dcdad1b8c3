"""`convrec catalog check|import`."""

from __future__ import annotations

from pathlib import Path

from convrec.catalog.loaders import load_catalog
from convrec.catalog.models import Catalog
from convrec.catalog.store import CatalogStore
from convrec.cli.progress import console
from convrec.core.settings import Settings


def summary(catalog: Catalog) -> str:
    return (f"{catalog.name}: {len(catalog):,} items, {len(catalog.ratings):,} ratings from "
            f"{catalog.ratings['user_id'].nunique():,} users, {len(catalog.genres)} genres, "
            f"scale {catalog.scale.low:g}–{catalog.scale.high:g}, fingerprint {catalog.fingerprint[:12]}")


def check_catalog(path: Path) -> None:
    with console.status(f"checking {path}"):
        catalog = load_catalog(path)
    console.print(f"ok: {summary(catalog)}")


def import_catalog(path: Path) -> None:
    settings = Settings()
    with console.status(f"validating and importing {path}"):
        catalog = CatalogStore(settings.catalog_store_dir).import_catalog(path)
    console.print(f"active catalog: {summary(catalog)}")
    console.print("next: `convrec index` builds its search index and CF model")
