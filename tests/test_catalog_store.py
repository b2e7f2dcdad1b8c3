"""The store publishes whole catalogs atomically; a failed import leaves the previous one active and intact."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest

from convrec.catalog.loaders import load_catalog, load_demo_catalog
from convrec.catalog.store import CatalogStore
from convrec.core.errors import CatalogError
from convrec.core.settings import Settings


def test_import_then_reload_from_parquet_is_identical(tmp_path, tiny_ml_dir):
    store = CatalogStore(tmp_path / "store")
    store.import_catalog(tiny_ml_dir)
    imported = load_catalog(tiny_ml_dir)
    reloaded = CatalogStore(tmp_path / "store").active()
    assert reloaded.fingerprint == imported.fingerprint
    assert reloaded.item("2571") == imported.item("2571")
    pd.testing.assert_frame_equal(reloaded.ratings, imported.ratings)
    assert store.describe().items == 60


def test_failed_validation_keeps_previous_catalog(tmp_path, tiny_ml_dir):
    store = CatalogStore(tmp_path / "store")
    good = store.import_catalog(tiny_ml_dir)
    broken = tmp_path / "broken"
    shutil.copytree(tiny_ml_dir, broken)
    (broken / "ratings.csv").write_text("userId,movieId,rating\n1,2571,9\n")
    with pytest.raises(CatalogError):
        store.import_catalog(broken)
    assert store.active().fingerprint == good.fingerprint


def changed_copy(tmp_path, tiny_ml_dir, tag="red pill"):
    """The tiny catalog with one more tag: different content, different fingerprint."""
    changed = tmp_path / tag
    shutil.copytree(tiny_ml_dir, changed)
    with open(changed / "tags.csv", "a") as tags:
        tags.write(f"1,2571,{tag},1500000000\n")
    return changed


def crash_when(real, matches):
    def crashing(*args, **kwargs):
        if matches(*args):
            raise OSError("disk full")
        return real(*args, **kwargs)
    return crashing


@pytest.mark.parametrize("crash", ["items.parquet", "ratings.parquet", "CURRENT"])
def test_crash_midway_keeps_previous_catalog(tmp_path, tiny_ml_dir, monkeypatch, crash):
    store = CatalogStore(tmp_path / "store")
    good = store.import_catalog(tiny_ml_dir)
    changed = changed_copy(tmp_path, tiny_ml_dir)
    with monkeypatch.context() as patch:
        if crash == "CURRENT":
            patch.setattr(os, "replace", crash_when(os.replace, lambda source, target: str(target).endswith(crash)))
        elif crash == "ratings.parquet":  # streamed into the file a part at a time
            patch.setattr(pq.ParquetWriter, "write_table",
                          crash_when(pq.ParquetWriter.write_table, lambda writer, *rest: True))
        else:
            patch.setattr(pd.DataFrame, "to_parquet",
                          crash_when(pd.DataFrame.to_parquet, lambda frame, path, *rest: str(path).endswith(crash)))
        with pytest.raises(OSError, match="disk full"):
            store.import_catalog(changed)
    reopened = CatalogStore(tmp_path / "store")
    assert reopened.active().fingerprint == good.fingerprint and reopened.describe().items == 60
    assert reopened.active().item("2571") == load_catalog(tiny_ml_dir).item("2571")
    assert not list((tmp_path / "store").glob(".import-*"))
    if crash != "CURRENT":
        assert [p.name for p in (tmp_path / "store" / "versions").iterdir()] == [good.fingerprint]


KILLED_IMPORT = """
import os, signal, sys
from pathlib import Path
import pyarrow.parquet as pq
from convrec.catalog.store import CatalogStore
pq.ParquetWriter.write_table = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
CatalogStore(Path(sys.argv[1])).import_catalog(Path(sys.argv[2]))
"""


def test_a_killed_imports_staging_folder_is_removed_at_the_next_start(tmp_path, tiny_ml_dir):
    root = tmp_path / "store"
    CatalogStore(root).import_catalog(tiny_ml_dir)
    killed = subprocess.run([sys.executable, "-c", KILLED_IMPORT, str(root), str(changed_copy(tmp_path, tiny_ml_dir))],
                            timeout=120)
    assert killed.returncode == -signal.SIGKILL and len(list(root.glob(".import-*"))) == 1
    with CatalogStore(root)._staging() as running:  # another import, still writing: its folder stays
        assert CatalogStore(root).active().name == "tiny_ml"
        assert [folder.name for folder in root.glob(".import-*")] == [running.name]
    assert not list(root.glob(".import-*"))


def test_switching_catalogs_keeps_one_previous_version(tmp_path, tiny_ml_dir):
    store = CatalogStore(tmp_path / "store")
    first = store.import_catalog(tiny_ml_dir)
    second = store.import_catalog(changed_copy(tmp_path, tiny_ml_dir))
    assert store.active().fingerprint == second.fingerprint != first.fingerprint
    assert {p.name for p in (tmp_path / "store" / "versions").iterdir()} == {first.fingerprint, second.fingerprint}
    third = store.import_catalog(changed_copy(tmp_path, tiny_ml_dir, tag="blue pill"))
    assert {p.name for p in (tmp_path / "store" / "versions").iterdir()} == {second.fingerprint, third.fingerprint}


def test_override_reads_the_folder_directly(tmp_path, tiny_ml_dir):
    store = CatalogStore(tmp_path / "store", override=tiny_ml_dir)
    assert len(store.active()) == 60
    assert store.describe() is None


def test_missing_active_version_is_a_clear_error(tmp_path, tiny_ml_dir):
    store = CatalogStore(tmp_path / "store")
    catalog = store.import_catalog(tiny_ml_dir)
    shutil.rmtree(tmp_path / "store" / "versions" / catalog.fingerprint)
    with pytest.raises(CatalogError, match="active catalog version is missing"):
        store.active()
    assert store.import_catalog(tiny_ml_dir).fingerprint == store.active().fingerprint


def test_meta_json_describes_the_version(tmp_path, tiny_ml_dir):
    store = CatalogStore(tmp_path / "store")
    catalog = store.import_catalog(tiny_ml_dir)
    meta = json.loads((tmp_path / "store" / "versions" / catalog.fingerprint / "meta.json").read_text())
    assert meta["name"] == "tiny_ml" and meta["fingerprint"] == catalog.fingerprint
    assert meta["scale"] == {"low": 0.5, "high": 5.0} and meta["source"] == str(tiny_ml_dir.resolve())
    assert (meta["items"], meta["ratings"], meta["users"]) == (60, 1548, 78) and meta["imported_at"]
    assert (tmp_path / "store" / "CURRENT").read_text() == catalog.fingerprint


def test_demo_is_imported_on_first_use_then_read_from_parquet():
    store = CatalogStore.from_settings(Settings())
    assert store.root == Settings().catalog_store_dir and store.describe() is None
    first = store.active()
    assert first.fingerprint == load_demo_catalog().fingerprint
    again = CatalogStore.from_settings(Settings()).active()
    assert again.fingerprint == first.fingerprint and len(again) == 9742
    assert again.item("2571") == first.item("2571")
    assert store.describe().source == "demo" and store.describe().bytes_on_disk > 0


def test_convrec_catalog_setting_overrides_the_store(tiny_ml_dir, monkeypatch):
    monkeypatch.setenv("CONVREC_CATALOG", str(tiny_ml_dir))
    assert CatalogStore.from_settings(Settings()).active().name == "tiny_ml"
