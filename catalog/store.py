"""The catalog store: validated catalogs as Parquet, published atomically.

Layout under root: `versions/<fingerprint>/{items,ratings}.parquet + meta.json`, and `CURRENT` naming the active
version. An import validates everything first, builds a complete version in a temporary folder inside root, renames
it into `versions/`, then replaces `CURRENT` atomically; a failure at any point leaves the previous catalog active and
whole. After a switch, only the active and the previous versions are kept.

An import streams: the items are read whole (they are few), the ratings part by part straight into the version's
Parquet file, so memory follows the size of a part and of the compact Arrow columns the fingerprint sorts, not the
size of the file. The staging folder holds a lock while its import runs; one whose lock is free (its import was
killed) is removed the next time the store is used.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from convrec.catalog.aliases import read_aliases
from convrec.catalog.fingerprint import fingerprint
from convrec.catalog.loaders import CatalogSource, demo_aliases_path, load_catalog, load_demo_catalog, open_catalog
from convrec.catalog.models import Catalog, RatingScale
from convrec.core.errors import CatalogError
from convrec.core.files import atomic_write, fsync
from convrec.core.settings import Settings

try:
    import fcntl
except ImportError:  # Windows: staging folders are only removed by age
    fcntl = None

_ITEMS, _RATINGS, _META, _CURRENT, _STAGING = "items.parquet", "ratings.parquet", "meta.json", "CURRENT", ".import-"
_ALIASES = "aliases.json"
_LOCK = ".lock"  # held by the import writing the staging folder
_STALE_STAGING_SECONDS = 3600  # a staging folder without a lock (or without fcntl) is removed after this
_RATINGS_SCHEMA = pa.schema([("user_id", pa.string()), ("item_id", pa.string()), ("rating", pa.float64()),
                             ("timestamp", pa.int64())])


@dataclass(frozen=True)
class StoredCatalog:
    """What `convrec info` shows about the active stored catalog."""

    name: str
    fingerprint: str
    items: int
    ratings: int
    users: int
    scale: RatingScale
    source: str
    imported_at: str
    path: Path
    bytes_on_disk: int


class CatalogStore:
    def __init__(self, root: Path, *, override: Path | None = None) -> None:
        """`override` (CONVREC_CATALOG) is a catalog folder read as-is instead of the store's active catalog."""
        self.root = Path(root)
        self.override = override

    @classmethod
    def from_settings(cls, settings: Settings) -> CatalogStore:
        return cls(settings.catalog_store_dir, override=settings.catalog)

    # -- reading ---------------------------------------------------------------------------------------------------
    def active(self) -> Catalog:
        """The catalog to serve: the override, else the active import, else the demo (imported on first use)."""
        if self.override is not None:
            return load_catalog(self.override)
        self._remove_abandoned_staging()
        version = self._active_version()
        if version is None:
            return self.publish(load_demo_catalog(), source="demo")
        return _read_version(version)

    def describe(self) -> StoredCatalog | None:
        """The active stored catalog, or None when nothing was imported yet."""
        version = self._active_version()
        if version is None:
            return None
        meta = json.loads((version / _META).read_text())
        return StoredCatalog(name=meta["name"], fingerprint=meta["fingerprint"], items=meta["items"],
                             ratings=meta["ratings"], users=meta["users"], scale=RatingScale(**meta["scale"]),
                             source=meta["source"],
                             imported_at=meta["imported_at"], path=version,
                             bytes_on_disk=sum(f.stat().st_size for f in version.iterdir()))

    def _active_version(self) -> Path | None:
        fingerprint = self._pointer()
        if fingerprint is None:
            return None
        version = self._versions / fingerprint
        if not (version / _META).is_file():
            raise CatalogError("the active catalog version is missing", where=str(version),
                               fix="re-import a catalog with `convrec catalog import PATH`")
        return version

    def _pointer(self) -> str | None:
        pointer = self.root / _CURRENT
        return pointer.read_text().strip() if pointer.is_file() else None

    @property
    def _versions(self) -> Path:
        return self.root / "versions"

    # -- writing ---------------------------------------------------------------------------------------------------
    def import_catalog(self, path: Path) -> StoredCatalog:
        """Validate `path` completely, streaming its ratings to disk, then publish it as the active catalog."""
        source = open_catalog(path)
        self._remove_abandoned_staging()
        with self._staging() as staging:
            _write_streamed_version(source, staging, str(Path(path).expanduser().resolve()))
            self._publish_staged(staging, json.loads((staging / _META).read_text())["fingerprint"])
        return self.describe()

    def publish(self, catalog: Catalog, *, source: str) -> Catalog:
        """Make a validated catalog the active one (content already stored under its fingerprint is reused)."""
        self._remove_abandoned_staging()
        target = self._versions / catalog.fingerprint
        if (target / _META).is_file():
            _update_aliases(target, catalog.aliases)
            self._activate(catalog.fingerprint)
        else:
            with self._staging() as staging:
                _write_version(catalog, staging, source)
                self._publish_staged(staging, catalog.fingerprint)
        return catalog

    @contextmanager
    def _staging(self) -> Iterator[Path]:
        """A new staging folder inside root, locked while it is used, removed afterwards whatever happens."""
        self._versions.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=_STAGING, dir=self.root))
        lock = open(staging / _LOCK, "w")  # noqa: SIM115 - held until the folder goes
        try:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            lock.close()

    def _publish_staged(self, staging: Path, fingerprint: str) -> None:
        """Rename the written staging folder into versions/ (unless that content is there already), activate it."""
        target = self._versions / fingerprint
        if not (target / _META).is_file():
            (staging / _LOCK).unlink()
            try:
                os.replace(staging, target)
            except OSError:
                if not (target / _META).is_file():  # else a concurrent import published the same content first
                    raise
            fsync(self._versions)
        else:
            _update_aliases(target, json.loads((staging / _ALIASES).read_text()))
        self._activate(fingerprint)

    def _activate(self, fingerprint: str) -> None:
        previous = self._pointer()
        atomic_write(self.root / _CURRENT, fingerprint)
        self._collect_garbage(keep={fingerprint, previous})

    def _collect_garbage(self, keep: set[str | None]) -> None:
        for version in self._versions.iterdir():
            if version.name not in keep:
                shutil.rmtree(version, ignore_errors=True)

    def _remove_abandoned_staging(self) -> None:
        """Staging folders of imports that were killed: their lock is free (or, without one, they are old)."""
        for staging in self.root.glob(f"{_STAGING}*"):
            if _abandoned(staging):
                shutil.rmtree(staging, ignore_errors=True)


def _abandoned(staging: Path) -> bool:
    lock_path = staging / _LOCK
    if fcntl is None or not lock_path.is_file():
        try:
            return time.time() - staging.stat().st_mtime > _STALE_STAGING_SECONDS
        except FileNotFoundError:
            return False
    try:
        with open(lock_path) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # its import is running
    except FileNotFoundError:
        return False  # just published or removed
    return True


def _write_streamed_version(source: CatalogSource, folder: Path, origin: str) -> None:
    """items.parquet, then ratings.parquet a part at a time (each part checked first), then meta.json."""
    writer, parts = None, []
    try:
        for part in source.ratings():
            table = pa.Table.from_pandas(part, schema=_RATINGS_SCHEMA, preserve_index=False)
            # The first part's schema carries the pandas dtypes (nullable Int64 timestamps) for reading back.
            writer = writer or pq.ParquetWriter(folder / _RATINGS, table.schema)
            writer.write_table(table)
            parts.append(table)  # compact Arrow columns: what the fingerprint sorts, and the counts
    finally:
        if writer is not None:
            writer.close()
    ratings = pa.concat_tables(parts)
    items = source.items
    _write_items(items, folder)
    _write_aliases(source.aliases, folder)
    _write_meta(folder, name=source.name, fingerprint=fingerprint(items, ratings, source.scale), scale=source.scale,
                items=len(items), ratings=ratings.num_rows, users=pc.count_distinct(ratings["user_id"]).as_py(),
                source=origin)


def _write_version(catalog: Catalog, folder: Path, source: str) -> None:
    _write_items(catalog.items, folder)
    _write_aliases(catalog.aliases, folder)
    catalog.ratings.to_parquet(folder / _RATINGS, index=False)
    _write_meta(folder, name=catalog.name, fingerprint=catalog.fingerprint, scale=catalog.scale,
                items=len(catalog.items), ratings=len(catalog.ratings),
                users=int(catalog.ratings["user_id"].nunique()), source=source)


def _write_items(items: pd.DataFrame, folder: Path) -> None:
    # Metadata dicts have varying keys: JSON text round-trips them exactly, where Arrow would infer a struct.
    items.assign(metadata=items["metadata"].map(lambda m: json.dumps(m, sort_keys=True))).to_parquet(folder / _ITEMS)


def _write_aliases(aliases: dict[str, str], folder: Path) -> None:
    (folder / _ALIASES).write_text(json.dumps(aliases))


def _update_aliases(version: Path, aliases: dict[str, str]) -> None:
    """Aliases are not part of the fingerprint: the same items and ratings imported again with other aliases (or
    stored before aliases were kept) get the new ones."""
    path = version / _ALIASES
    if not path.is_file() or json.loads(path.read_text()) != aliases:
        atomic_write(path, json.dumps(aliases))


def _write_meta(folder: Path, *, name: str, fingerprint: str, scale: RatingScale, items: int, ratings: int,
                users: int, source: str) -> None:
    """meta.json, written last, then everything in the folder flushed to disk."""
    meta = {"name": name, "fingerprint": fingerprint, "scale": scale.model_dump(), "items": items,
            "ratings": ratings, "users": users, "source": source,
            "imported_at": datetime.now(UTC).isoformat(timespec="seconds")}
    (folder / _META).write_text(json.dumps(meta, indent=2))
    for written in [*folder.iterdir(), folder]:
        fsync(written)


def _read_version(version: Path) -> Catalog:
    meta = json.loads((version / _META).read_text())
    items = pd.read_parquet(version / _ITEMS)
    items["genres"] = items["genres"].map(list)
    items["tags"] = items["tags"].map(list)
    items["description"] = items["description"].astype(object).where(items["description"].notna(), None)
    items["metadata"] = items["metadata"].map(json.loads)
    return Catalog(name=meta["name"], items=items, ratings=pd.read_parquet(version / _RATINGS),
                   scale=RatingScale(**meta["scale"]), fingerprint=meta["fingerprint"],
                   aliases=_read_aliases(version, meta, items.index))


def _read_aliases(version: Path, meta: dict, item_ids: pd.Index) -> dict[str, str]:
    """The stored aliases; the demo's come from the package, whose table may be newer than the stored demo."""
    if meta["source"] == "demo":
        return read_aliases(demo_aliases_path(), item_ids)
    return json.loads((version / _ALIASES).read_text()) if (version / _ALIASES).is_file() else {}

