"""`convrec index`: bring the vector index and the CF model up to date with the active catalog."""

from __future__ import annotations

import json
import time
from pathlib import Path

from convrec.catalog.cfmodel import load_or_train
from convrec.catalog.embeddings import embedding_function
from convrec.catalog.store import CatalogStore
from convrec.catalog.vectors import VectorIndex, open_client
from convrec.cli.progress import console, progress_bar
from convrec.core.settings import Settings


def build_indexes() -> None:
    settings = Settings()
    with console.status("loading the catalog"):
        catalog = CatalogStore(settings.catalog_store_dir, override=settings.catalog).active()
    started = time.perf_counter()
    with console.status("loading the embedding model"):
        index = VectorIndex(open_client(settings.index_dir, settings.chroma_url), catalog.name,
                            embedding_function(settings.embedding_model))
    with progress_bar() as report:
        sync = index.sync(catalog, report)
    console.print(f"index: {len(catalog):,} items, {sync.embedded:,} embedded, {sync.deleted:,} deleted, "
                  f"{sync.unchanged:,} unchanged ({time.perf_counter() - started:.1f} s)")
    with console.status("training the CF model"):
        _, trained = load_or_train(catalog, settings.index_dir)
    console.print(f"cf: svd {'trained' if trained else 'up to date'} (catalog {catalog.fingerprint[:12]})")
    freshness_file(settings.index_dir).write_text(json.dumps({"fingerprint": catalog.fingerprint,
                                                               "items": len(catalog), "at": time.time()}))


def freshness_file(index_dir: Path) -> Path:
    """Which catalog the indexes were last brought up to date with, for `convrec info`."""
    return index_dir / "freshness.json"
