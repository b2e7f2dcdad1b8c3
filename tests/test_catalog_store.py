"""The store publishes whole catalogs atomically; a failed import leaves the previous one active and intact."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from convrec.catalog.store import CatalogStore
from convrec.core.errors import CatalogError


def test_import_then_reload_from_parquet_is_identical(tmp_path, tiny_ml_dir):
    store = CatalogStore(tmp_path / "store")
    imported = store.import_catalog(tiny_ml_dir)
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


def test_crash_midway_through_writing_keeps_previous_catalog(tmp_path, tiny_ml_dir, monkeypatch):
    store = CatalogStore(tmp_path / "store")
    good = store.import_catalog(tiny_ml_dir)
    changed = tmp_path / "changed"
    shutil.copytree(tiny_ml_dir, changed)
    with open(changed / "tags.csv", "a") as tags:
        tags.write("1,2571,red pill,1500000000\n")

    real_to_parquet = pd.DataFrame.to_parquet

    def crash_on_ratings(frame, path, *args, **kwargs):
        if str(path).endswith("ratings.parquet"):
            raise OSError("disk full")
        return real_to_parquet(frame, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", crash_on_ratings)
    with pytest.raises(OSError, match="disk full"):
        store.import_catalog(changed)
    monkeypatch.undo()
    assert store.active().fingerprint == good.fingerprint
    versions = [p.name for p in (tmp_path / "store" / "versions").iterdir()]
    assert versions == [good.fingerprint]
    assert not list((tmp_path / "store").glob(".import-*"))


def test_switching_catalogs_keeps_one_previous_version(tmp_path, tiny_ml_dir):
    store = CatalogStore(tmp_path / "store")
    first = store.import_catalog(tiny_ml_dir)
    changed = tmp_path / "changed"
    shutil.copytree(tiny_ml_dir, changed)
    with open(changed / "tags.csv", "a") as tags:
        tags.write("1,2571,red pill,1500000000\n")
    second = store.import_catalog(changed)
    assert store.active().fingerprint == second.fingerprint != first.fingerprint
    assert {p.name for p in (tmp_path / "store" / "versions").iterdir()} == {first.fingerprint, second.fingerprint}


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
