"""Generic catalogs described by convrec.toml (CSV, JSONL, Parquet), the demo catalog, and fingerprints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from convrec.catalog.loaders import load_catalog, load_demo_catalog
from convrec.core.errors import CatalogError

BOOKS = [
    {"book": 7, "name": "Dune", "published": 1965, "kinds": "Sci-Fi;Adventure", "author": "Herbert",
     "blurb": "Spice, sand and politics."},
    {"book": 8, "name": "Emma", "published": 1815, "kinds": "Romance", "author": "Austen", "blurb": None},
]
STARS = [{"reader": "a", "book": 7, "stars": 5}, {"reader": "a", "book": 8, "stars": 2},
         {"reader": "b", "book": 7, "stars": 4}]
MANIFEST = """
name = "books"
[items]
path = "books.{ext}"
id = "book"
title = "name"
year = "published"
genres = "kinds"
genre_separator = ";"
description = "blurb"
metadata = ["author"]
[ratings]
path = "stars.{ext}"
user_id = "reader"
item_id = "book"
rating = "stars"
scale = [1, 5]
"""


def write(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(row) for row in frame.to_dict("records")))
    else:
        frame.to_parquet(path, index=False)


@pytest.mark.parametrize("ext", ["csv", "jsonl", "parquet"])
def test_generic_layout(tmp_path, ext):
    write(pd.DataFrame(BOOKS), tmp_path / f"books.{ext}")
    write(pd.DataFrame(STARS), tmp_path / f"stars.{ext}")
    (tmp_path / "convrec.toml").write_text(MANIFEST.format(ext=ext))
    catalog = load_catalog(tmp_path)
    dune = catalog.item("7")
    assert (dune.title, dune.year, dune.genres, dune.metadata) == ("Dune", 1965, ("Sci-Fi", "Adventure"),
                                                                   {"author": "Herbert"})
    assert dune.description == "Spice, sand and politics." and catalog.item("8").description is None
    assert catalog.scale.low == 1 and catalog.scale.high == 5
    assert sorted(catalog.ratings["item_id"]) == ["7", "7", "8"]


def test_same_content_same_fingerprint_across_formats(tmp_path):
    fingerprints = set()
    for ext in ("csv", "parquet"):
        folder = tmp_path / ext
        folder.mkdir()
        write(pd.DataFrame(BOOKS), folder / f"books.{ext}")
        write(pd.DataFrame(STARS), folder / f"stars.{ext}")
        (folder / "convrec.toml").write_text(MANIFEST.format(ext=ext))
        fingerprints.add(load_catalog(folder).fingerprint)
    assert len(fingerprints) == 1


@pytest.mark.parametrize(("manifest", "expected"), [
    ('name = "x"\n[items]\npath = "a.csv"\n', "'ratings'"),
    ('name = "x"\ncolour = "red"\n[items]\npath = "a.csv"\n[ratings]\npath = "b.csv"\n', "'colour'"),
    ('name = "x"\n[items]\npath = "a.csv"\n[ratings]\npath = "b.csv"\nscale = [5, 1]\n', "'ratings'"),
    ('name = "x"\n[items\n', "invalid TOML"),
])
def test_bad_manifest(tmp_path, manifest, expected):
    (tmp_path / "convrec.toml").write_text(manifest)
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    assert expected in caught.value.render() and "convrec.toml" in caught.value.render()


SECRET = "root:x:0:0:secret line\n" * 23


@pytest.mark.parametrize("where", ["parent", "absolute", "link", "linked folder"])
def test_manifest_paths_stay_inside_the_catalog_folder(tmp_path, where):
    outside, folder = tmp_path / "private", tmp_path / "catalog"
    outside.mkdir()
    folder.mkdir()
    (outside / "passwd").write_text(SECRET)
    (folder / "stars.csv").write_text("user_id,item_id,rating\nu,a,4\n")
    if where == "link":
        (folder / "books.csv").symlink_to(outside / "passwd")
    if where == "linked folder":
        (folder / "data").symlink_to(outside)
    items = {"parent": "../private/passwd", "absolute": str(outside / "passwd"), "link": "books.csv",
             "linked folder": "data/passwd"}[where]
    (folder / "convrec.toml").write_text(f'name = "x"\n[items]\npath = "{items}"\nformat = "csv"\n'
                                         '[ratings]\npath = "stars.csv"\n')
    message = pytest.raises(CatalogError, load_catalog, folder).value.render()
    assert message.startswith(f"items.path '{items}' is outside the catalog folder") and "root:" not in message


def test_links_inside_the_catalog_folder_are_followed(tmp_path):
    (tmp_path / "real.csv").write_text("item_id,title\na,Alpha\n")
    (tmp_path / "books.csv").symlink_to(tmp_path / "real.csv")
    (tmp_path / "stars.csv").write_text("user_id,item_id,rating\nu,a,4\n")
    (tmp_path / "convrec.toml").write_text('name = "x"\n[items]\npath = "./books.csv"\n[ratings]\npath = "stars.csv"\n')
    assert load_catalog(tmp_path).item("a").title == "Alpha"


def test_unsupported_format(tmp_path):
    (tmp_path / "books.xlsx").write_text("x")
    (tmp_path / "convrec.toml").write_text('name = "x"\n[items]\npath = "books.xlsx"\n[ratings]\npath = "b.csv"\n')
    with pytest.raises(CatalogError, match="unsupported file format '.xlsx'"):
        load_catalog(tmp_path)


def test_generic_list_columns_datetimes_and_numeric_metadata(tmp_path):
    books = pd.DataFrame({"item_id": [1, 2], "title": ["Dune", "Emma"], "genres": [["Sci-Fi", " "], []],
                          "isbn": [9780441013593, None]})
    stars = pd.DataFrame({"user_id": [10, 11], "item_id": [1, 2], "rating": [4, 5],
                          "at": pd.to_datetime(["2020-01-01T00:00:10Z", None], utc=True)})
    books.to_parquet(tmp_path / "books.parquet")
    stars.to_parquet(tmp_path / "stars.parquet")
    (tmp_path / "convrec.toml").write_text('name = "b"\n[items]\npath = "books.parquet"\ngenres = "genres"\n'
                                           'metadata = ["isbn"]\n[ratings]\npath = "stars.parquet"\n'
                                           'timestamp = "at"\nscale = [1, 5]\n')
    catalog = load_catalog(tmp_path)
    assert catalog.item("1").genres == ("Sci-Fi",) and catalog.item("2").genres == ()
    assert catalog.item("1").metadata == {"isbn": "9780441013593"} and catalog.item("2").metadata == {}
    assert catalog.ratings["user_id"].tolist() == ["10", "11"]
    assert catalog.ratings["timestamp"].tolist() == [1577836810, pd.NA]


def test_jsonl_timestamps_stay_epoch_seconds(tmp_path):
    (tmp_path / "items.jsonl").write_text('{"item_id": "a", "title": "Alpha"}\n')
    (tmp_path / "ratings.jsonl").write_text('{"user_id": "u", "item_id": "a", "rating": 4, "timestamp": 1500000000}\n')
    (tmp_path / "convrec.toml").write_text('name = "j"\n[items]\npath = "items.jsonl"\n[ratings]\n'
                                           'path = "ratings.jsonl"\ntimestamp = "timestamp"\n')
    assert load_catalog(tmp_path).ratings["timestamp"].tolist() == [1500000000]


def test_tab_separated_and_declared_delimiter(tmp_path):
    (tmp_path / "items.tsv").write_text("item_id\ttitle\na\tAlpha, the first\n")
    (tmp_path / "ratings.txt").write_text("user_id;item_id;rating\nu;a;4\n")
    (tmp_path / "convrec.toml").write_text('name = "t"\n[items]\npath = "items.tsv"\n[ratings]\n'
                                           'path = "ratings.txt"\nformat = "csv"\ndelimiter = ";"\n')
    catalog = load_catalog(tmp_path)
    assert catalog.item("a").title == "Alpha, the first" and catalog.ratings["rating"].tolist() == [4.0]


def test_manifest_problems_are_reported_together(tmp_path):
    (tmp_path / "convrec.toml").write_text('name = "has space"\ncolour = 1\n[items]\npath = "a.csv"\n'
                                           'format = "xls"\n')
    message = pytest.raises(CatalogError, load_catalog, tmp_path).value.render()
    for problem in ("'name'", "'items.format'", "'ratings': Field required", "'colour': Extra inputs"):
        assert problem in message


def test_tiny_fixture_loads_with_types(tiny_ml_dir):
    catalog = load_catalog(tiny_ml_dir)
    items, ratings = catalog.items, catalog.ratings
    assert catalog.name == "tiny_ml" and len(items) == 60 and items.index.name == "item_id"
    assert all(isinstance(i, str) for i in items.index) and str(items["year"].dtype) == "Int64"
    assert all(isinstance(g, list) for g in items["genres"]) and all(isinstance(t, list) for t in items["tags"])
    assert max(map(len, items["tags"])) <= 10 and all(isinstance(m, dict) for m in items["metadata"])
    assert ratings.columns.tolist() == ["user_id", "item_id", "rating", "timestamp"]
    assert ratings["rating"].dtype == "float64" and str(ratings["timestamp"].dtype) == "Int64"
    assert all(isinstance(u, str) for u in ratings["user_id"]) and all(isinstance(i, str) for i in ratings["item_id"])


def test_movielens_folder_name_becomes_a_safe_catalog_name(tmp_path, tiny_ml_dir):
    copy = tmp_path / "My Movies (2024)"
    shutil.copytree(tiny_ml_dir, copy)
    assert load_catalog(copy).name == "My-Movies-2024"


def test_tiny_fixture_tags_and_links(tiny_ml_dir):
    catalog = load_catalog(tiny_ml_dir)
    matrix = catalog.item("2571")
    assert matrix.label == "Matrix, The (1999)"
    assert "sci-fi" in matrix.tags and matrix.metadata["imdbId"] == "0133093"
    assert catalog.popularity["2571"] == (catalog.ratings["item_id"] == "2571").sum()


def test_fingerprint_changes_when_one_tag_changes(tmp_path, tiny_ml_dir):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_ml_dir, copy)
    before = load_catalog(copy).fingerprint
    assert load_catalog(copy).fingerprint == before
    with open(copy / "tags.csv", "a") as tags:
        tags.write("1,2571,red pill,1500000000\n")
    assert load_catalog(copy).fingerprint != before


def test_fingerprint_ignores_row_order(tmp_path, tiny_ml_dir):
    shuffled = tmp_path / "shuffled"
    shutil.copytree(tiny_ml_dir, shuffled)
    for name in ("movies.csv", "ratings.csv", "tags.csv"):
        frame = pd.read_csv(shuffled / name, dtype=str)
        frame.sample(frac=1, random_state=1).to_csv(shuffled / name, index=False)
    assert load_catalog(shuffled).fingerprint == load_catalog(tiny_ml_dir).fingerprint


def test_demo_catalog():
    catalog = load_demo_catalog()
    assert len(catalog) == 9742 and len(catalog.ratings) == 100836
    assert catalog.ratings["user_id"].nunique() == 610
    assert catalog.items["description"].notna().sum() == 6706
    assert catalog.items["tags"].map(bool).sum() == 1572
    assert catalog.item("1").title == "Toy Story" and "pixar" in catalog.item("1").tags
    assert "Sci-Fi" in catalog.genres and "(no genres listed)" not in catalog.genres
