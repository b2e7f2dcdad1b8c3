"""`convrec info`: configuration, where data lives, sizes, index freshness."""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.table import Table

from convrec.agent.local_model import read_self_test
from convrec.agent.weights import MODELS
from convrec.catalog.store import CatalogStore
from convrec.cli.indexing import freshness_file
from convrec.cli.progress import console
from convrec.core.settings import Settings, config_file_path


def _size(path: Path) -> str:
    if not path.exists():
        return "absent"
    total = path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return f"{total / 1e6:,.1f} MB"


def show_info() -> None:
    settings = Settings()
    table = Table(show_header=False, box=None)
    config = config_file_path()
    table.add_row("config file", f"{config} ({'found' if config.is_file() else 'not present'})")
    for name, value in settings.model_dump().items():
        if "key" in name and value:
            value = "***"
        table.add_row(f"  {name}", str(value))
    table.add_row("state db", f"{settings.state_db} ({_size(settings.state_db)})")

    store = CatalogStore(settings.catalog_store_dir, override=settings.catalog)
    stored = store.describe()
    if settings.catalog:
        table.add_row("catalog", f"{settings.catalog} (CONVREC_CATALOG, read directly)")
    elif stored is None:
        table.add_row("catalog", "demo (imported on first use)")
    else:
        table.add_row("catalog", f"{stored.name}: {stored.items:,} items, {stored.ratings:,} ratings, "
                                 f"{stored.users:,} users, {stored.bytes_on_disk / 1e6:.1f} MB, "
                                 f"fingerprint {stored.fingerprint[:12]}, from {stored.source}")
    table.add_row("indexes", _freshness(settings, stored.fingerprint if stored else None))
    _add_engine_rows(table, settings)

    spec = MODELS[settings.model]
    model_file = settings.model_path or settings.models_dir / spec.filename
    table.add_row("local model", f"{model_file} ({_size(model_file)})")
    table.add_row("  runs on this CPU", _self_test(settings, model_file))
    console.print(table)


def _self_test(settings: Settings, model_file: Path) -> str:
    record = read_self_test(model_file, settings.models_dir)
    if record is None:
        return "not tested yet: run `convrec model ensure`"
    return record.summary()


def _freshness(settings: Settings, fingerprint: str | None) -> str:
    state_path = freshness_file(settings.index_dir)
    if not state_path.is_file():
        return "not built: run `convrec index`"
    state = json.loads(state_path.read_text())
    age = time.strftime("%Y-%m-%d %H:%M", time.localtime(state["at"]))
    if fingerprint and state["fingerprint"] != fingerprint:
        return f"stale (built {age} for another catalog): run `convrec index`"
    return f"up to date for {state['items']:,} items (built {age})"


def _add_engine_rows(table: Table, settings: Settings) -> None:
    """Which CF engine, item–item model and vector store are active, and where their files or servers are."""
    engine = "Surprise SVD" if settings.cf == "svd" else f"Spark ALS on {settings.spark_master}"
    pattern = "svd-*.pkl" if settings.cf == "svd" else f"{settings.cf}-*.npz"
    saved = sorted((settings.index_dir / "cf").glob(pattern))
    table.add_row("  cf engine", f"{settings.cf}: {engine}, "
                                 + (f"{saved[-1].name} ({_size(saved[-1])})" if saved else "not trained yet"))
    itemsim = (f"auto: EASE up to {settings.ease_max_items:,} items, else sparse top-k item-kNN"
               if settings.itemsim == "auto" else settings.itemsim)
    table.add_row("  item–item", itemsim)
    chroma = settings.index_dir / "chroma"
    table.add_row("  vector store", f"Chroma server {settings.chroma_url}" if settings.chroma_url
                  else f"embedded Chroma {chroma} ({_size(chroma)})")
