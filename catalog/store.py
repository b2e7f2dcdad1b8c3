"""The catalog store: validated catalogs as Parquet, published atomically.

Layout under root: `versions/<fingerprint>/{items,ratings}.parquet + meta.json`, and `CURRENT` naming the active
version. An import validates everything first, builds a complete version in a temporary folder inside root, renames
it into `versions/`, then replaces `CURRENT` atomically; a failure at any point leaves the previous catalog active and
whole. After a switch, only the active and the previous versions are kept.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from convrec.catalog.aliases import read_aliases
from convrec.catalog.loaders import demo_aliases_path, load_catalog, load_demo_catalog
from convrec.catalog.models import Catalog, RatingScale
from convrec.core.errors import CatalogError
from convrec.core.settings import Settings

_ITEMS, _RATINGS, _META, _CURRENT, _STAGING = "items.parquet", "ratings.parquet", "meta.json", "CURRENT", ".import-"
_ALIASES = "aliases.json"
_STALE_STAGING_SECONDS = 3600  # younger staging folders may belong to an import still running in another process


@dataclass(frozen=True)
class StoredCatalog:
    """What `convrec info` shows about the active stored catalog."""

    name: str
    fingerprint: str
    items: int
    ratings: int
    users: int
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
    def from_settings(cls, settings: Settings | None = None) -> CatalogStore:
        settings = settings or Settings()
        return cls(settings.catalog_store_dir, override=settings.catalog)

    # -- reading ---------------------------------------------------------------------------------------------------
    def active(self) -> Catalog:
        """The catalog to serve: the override, else the active import, else the demo (imported on first use)."""
        if self.override is not None:
            return load_catalog(self.override)
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
                             ratings=meta["ratings"], users=meta["users"], source=meta["source"],
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
    def import_catalog(self, path: Path) -> Catalog:
        """Validate `path` completely, then publish it as the active catalog."""
        return self.publish(load_catalog(path), source=str(Path(path).expanduser().resolve()))

    def publish(self, catalog: Catalog, *, source: str) -> Catalog:
        """Make a validated catalog the active one (content already stored under its fingerprint is reused)."""
        target = self._versions / catalog.fingerprint
        if not (target / _META).is_file():
            self._write_version_atomically(catalog, target, source)
        elif catalog.aliases and not (target / _ALIASES).is_file():  # stored before aliases were kept
            _atomic_write_text(target / _ALIASES, json.dumps(catalog.aliases))
        previous = self._pointer()
        _atomic_write_text(self.root / _CURRENT, catalog.fingerprint)
        self._collect_garbage(keep={catalog.fingerprint, previous})
        return catalog

    def _write_version_atomically(self, catalog: Catalog, target: Path, source: str) -> None:
        self._versions.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=_STAGING, dir=self.root))
        try:
            _write_version(catalog, staging, source)
            try:
                os.replace(staging, target)
            except OSError:
                if not (target / _META).is_file():  # else a concurrent import published the same content first
                    raise
            _fsync(self._versions)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _collect_garbage(self, keep: set[str | None]) -> None:
        for version in self._versions.iterdir():
            if version.name not in keep:
                shutil.rmtree(version, ignore_errors=True)
        for staging in self.root.glob(f"{_STAGING}*"):
            if time.time() - staging.stat().st_mtime > _STALE_STAGING_SECONDS:
                shutil.rmtree(staging, ignore_errors=True)


def _write_version(catalog: Catalog, folder: Path, source: str) -> None:
    # Metadata dicts have varying keys: JSON text round-trips them exactly, where Arrow would infer a struct.
    items = catalog.items.assign(metadata=catalog.items["metadata"].map(lambda m: json.dumps(m, sort_keys=True)))
    items.to_parquet(folder / _ITEMS)
    catalog.ratings.to_parquet(folder / _RATINGS, index=False)
    meta = {"name": catalog.name, "fingerprint": catalog.fingerprint, "scale": catalog.scale.model_dump(),
            "items": len(catalog.items), "ratings": len(catalog.ratings),
            "users": int(catalog.ratings["user_id"].nunique()), "source": source,
            "imported_at": datetime.now(UTC).isoformat(timespec="seconds")}
    (folder / _META).write_text(json.dumps(meta, indent=2))
    (folder / _ALIASES).write_text(json.dumps(catalog.aliases))
    for written in [*folder.iterdir(), folder]:
        _fsync(written)


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
    """The stored aliases; a demo stored before aliases were kept gets the demo's."""
    if (version / _ALIASES).is_file():
        return json.loads((version / _ALIASES).read_text())
    return read_aliases(demo_aliases_path(), item_ids) if meta["source"] == "demo" else {}


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk."""
    flags = os.O_RDONLY
    if path.is_dir():
        if not hasattr(os, "O_DIRECTORY"):  # Windows cannot open a folder
            return
        flags |= os.O_DIRECTORY
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _atomic_write_text(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync(path.parent)
