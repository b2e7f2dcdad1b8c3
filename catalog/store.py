"""The catalog store: validated catalogs as Parquet, published atomically.

Layout under root: `versions/<fingerprint>/{items,ratings}.parquet + meta.json`, and `CURRENT` naming the active
version. An import builds a complete version in a temporary folder, renames it into `versions/`, then replaces
`CURRENT` atomically, so a failure at any point leaves the previous catalog active and whole.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from convrec.catalog.loaders import load_catalog, load_demo_catalog
from convrec.catalog.models import Catalog, RatingScale
from convrec.core.errors import CatalogError

_ITEMS, _RATINGS, _META, _CURRENT = "items.parquet", "ratings.parquet", "meta.json", "CURRENT"


@dataclass(frozen=True)
class StoredCatalog:
    name: str
    fingerprint: str
    items: int
    ratings: int
    users: int
    source: str
    imported_at: float
    path: Path
    bytes_on_disk: int


class CatalogStore:
    def __init__(self, root: Path, *, override: Path | None = None) -> None:
        """`override` (CONVREC_CATALOG) is a catalog folder used as-is instead of the store's active one."""
        self.root = Path(root)
        self.override = override

    # -- reading ---------------------------------------------------------------------------------------------------
    def active(self) -> Catalog:
        """The catalog to serve: the override, else the active import, else the demo (imported on first use)."""
        if self.override is not None:
            return load_catalog(self.override)
        version = self._current_version()
        if version is None:
            return self.publish(load_demo_catalog(), source="demo")
        return self._read_version(version)

    def describe(self) -> StoredCatalog | None:
        version = self._current_version()
        if version is None:
            return None
        meta = json.loads((version / _META).read_text())
        size = sum(f.stat().st_size for f in version.iterdir())
        return StoredCatalog(name=meta["name"], fingerprint=meta["fingerprint"], items=meta["items"],
                             ratings=meta["ratings"], users=meta["users"], source=meta["source"],
                             imported_at=meta["imported_at"], path=version, bytes_on_disk=size)

    def _current_version(self) -> Path | None:
        pointer = self.root / _CURRENT
        if not pointer.is_file():
            return None
        version = self.root / "versions" / pointer.read_text().strip()
        if not (version / _META).is_file():
            raise CatalogError("the active catalog version is missing", where=str(version),
                               fix=f"re-import a catalog with `convrec catalog import`, or delete {pointer}")
        return version

    def _read_version(self, version: Path) -> Catalog:
        meta = json.loads((version / _META).read_text())
        items = pd.read_parquet(version / _ITEMS)
        items["genres"] = items["genres"].map(list)
        items["tags"] = items["tags"].map(list)
        items["metadata"] = items["metadata"].map(json.loads)
        items["description"] = items["description"].astype(object).where(items["description"].notna(), None)
        return Catalog(name=meta["name"], items=items, ratings=pd.read_parquet(version / _RATINGS),
                       scale=RatingScale(**meta["scale"]), fingerprint=meta["fingerprint"])

    # -- writing ---------------------------------------------------------------------------------------------------
    def import_catalog(self, path: Path) -> Catalog:
        """Validate `path` completely, then publish it as the active catalog."""
        return self.publish(load_catalog(path), source=str(Path(path).resolve()))

    def publish(self, catalog: Catalog, *, source: str) -> Catalog:
        versions = self.root / "versions"
        versions.mkdir(parents=True, exist_ok=True)
        target = versions / catalog.fingerprint
        if not target.is_dir():
            staging = Path(tempfile.mkdtemp(prefix=".import-", dir=self.root))
            try:
                self._write_version(catalog, staging, source)
                os.replace(staging, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        previous = self._current_version()
        _atomic_write_text(self.root / _CURRENT, catalog.fingerprint)
        self._collect_garbage(keep={catalog.fingerprint, previous.name if previous else ""})
        return catalog

    def _write_version(self, catalog: Catalog, folder: Path, source: str) -> None:
        items = catalog.items.copy()
        items["metadata"] = items["metadata"].map(lambda m: json.dumps(m, sort_keys=True))
        items["year"] = items["year"].astype("Int64")
        items.to_parquet(folder / _ITEMS)
        catalog.ratings.to_parquet(folder / _RATINGS, index=False)
        meta = {"name": catalog.name, "fingerprint": catalog.fingerprint, "scale": catalog.scale.model_dump(),
                "items": len(catalog.items), "ratings": len(catalog.ratings),
                "users": int(catalog.ratings["user_id"].nunique()), "source": source, "imported_at": time.time()}
        (folder / _META).write_text(json.dumps(meta, indent=2))
        for written in folder.iterdir():
            _fsync(written)

    def _collect_garbage(self, keep: set[str]) -> None:
        for version in (self.root / "versions").iterdir():
            if version.name not in keep:
                shutil.rmtree(version, ignore_errors=True)
        for stale in self.root.glob(".import-*"):
            shutil.rmtree(stale, ignore_errors=True)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _atomic_write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    _fsync(temporary)
    os.replace(temporary, path)
