"""`convrec index`: bring the vector index and the CF model up to date with the active catalog."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text

from convrec.catalog.store import CatalogStore
from convrec.catalog.vectors import VectorIndex
from convrec.cli.progress import console
from convrec.core.files import atomic_write
from convrec.core.progress import Progress as ProgressFn
from convrec.core.settings import Settings
from convrec.tools.cfmodel import configured_factors
from convrec.tools.sparkals import require_pyspark


def build_indexes(settings: Settings | None = None) -> None:
    settings = settings or Settings()
    if settings.cf == "spark-als":
        require_pyspark()  # fail before the embedding pass, not after it
    with console.status("loading the catalog"):
        catalog = CatalogStore.from_settings(settings).active()
    index = VectorIndex.from_settings(catalog.name, settings)
    started = time.perf_counter()
    with embedding_bar() as report:
        sync = index.sync(catalog, report)
    index_seconds = time.perf_counter() - started
    with console.status(f"training the CF model ({settings.cf})"):
        _, trained = configured_factors(catalog, settings)
    console.print(f"index: {len(catalog):,} items, {sync.embedded:,} embedded, {sync.deleted:,} deleted, "
                  f"{sync.unchanged:,} unchanged ({index_seconds:.1f} s); "
                  f"cf: {settings.cf} {'trained' if trained else 'loaded'} (fingerprint {catalog.fingerprint[:12]}…)")
    _write_freshness(settings.index_dir, {"fingerprint": catalog.fingerprint, "items": len(catalog),
                                          "at": time.time()})


def freshness_file(index_dir: Path) -> Path:
    """Which catalog the indexes were last brought up to date with, for `convrec info`."""
    return index_dir / "freshness.json"


class ItemsPerSecond(ProgressColumn):
    def render(self, task) -> Text:
        return Text(f"{task.speed:,.1f} items/s" if task.speed else "", style="progress.data.speed")


@contextmanager
def embedding_bar() -> Iterator[ProgressFn]:
    """A transient rich bar on stderr: embedded/total, items/s, time left."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), ItemsPerSecond(),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
        tasks = {}

        def report(task: str, done: float, total: float | None = None) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(task, total=total)
            bar.update(tasks[task], completed=done, total=total)

        yield report


def _write_freshness(index_dir: Path, state: dict) -> None:
    atomic_write(freshness_file(index_dir), json.dumps(state))
