"""Every malformed-catalog case gives one clear error naming the file, the place and the problem."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from convrec.catalog import tables
from convrec.catalog.loaders import load_catalog
from convrec.core.errors import CatalogError

MOVIES = "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n2,Heat (1995),Action|Crime\n"
RATINGS = "userId,movieId,rating,timestamp\n1,1,4.0,100\n1,2,3.5,101\n2,1,5.0,102\n"


def movielens(tmp_path: Path, movies: str | bytes = MOVIES, ratings: str | bytes = RATINGS, **extra: str) -> Path:
    """A MovieLens folder; `extra` adds files such as descriptions="movieId,plot\\n..."."""
    folder = tmp_path / "ml"
    folder.mkdir(exist_ok=True)
    files = {"movies": movies, "ratings": ratings, **extra}
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        (folder / f"{name}.csv").write_bytes(data)
    return folder


def generic(tmp_path: Path, items: pd.DataFrame, ratings: pd.DataFrame, ext: str) -> Path:
    """A convrec.toml catalog with canonical column names, in CSV, JSONL or Parquet."""
    for name, frame in (("items", items), ("ratings", ratings)):
        path = tmp_path / f"{name}.{ext}"
        if ext == "jsonl":
            path.write_text("".join(json.dumps(row) + "\n" for row in frame.to_dict("records")))
        elif ext == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
    (tmp_path / "convrec.toml").write_text(
        f'name = "g"\n[items]\npath = "items.{ext}"\n[ratings]\npath = "ratings.{ext}"\nscale = [1, 5]\n')
    return tmp_path


ITEMS = pd.DataFrame({"item_id": ["a", "b"], "title": ["Alpha", "Beta"]})


def load_error(folder: Path) -> str:
    with pytest.raises(CatalogError) as caught:
        load_catalog(folder)
    return caught.value.render()


def test_valid_catalog_loads_with_types(tmp_path):
    catalog = load_catalog(movielens(tmp_path))
    assert list(catalog.items.index) == ["1", "2"]
    assert catalog.item("1").title == "Toy Story" and catalog.item("1").year == 1995
    assert catalog.item("2").genres == ("Action", "Crime")
    assert catalog.ratings["rating"].tolist() == [4.0, 3.5, 5.0]
    assert catalog.ratings["user_id"].tolist() == ["1", "1", "2"]


def test_missing_ratings_file(tmp_path):
    folder = movielens(tmp_path)
    (folder / "ratings.csv").unlink()
    message = load_error(folder)
    assert "file not found" in message and "ratings.csv" in message


def test_not_a_catalog_folder(tmp_path):
    message = load_error(tmp_path)
    assert "not a catalog" in message and str(tmp_path) in message


def test_renamed_column_suggests_the_closest(tmp_path):
    message = load_error(movielens(tmp_path, movies=MOVIES.replace("title", "titel")))
    assert "missing column 'title' (found: movieId, titel, genres)" in message
    assert "movies.csv" in message and "did you mean 'titel'" in message


def test_renamed_ratings_column_suggests_the_closest(tmp_path):
    message = load_error(movielens(tmp_path, ratings=RATINGS.replace("userId", "user")))
    assert "missing column 'userId'" in message and "ratings.csv" in message and "did you mean 'user'" in message


def test_empty_file(tmp_path):
    message = load_error(movielens(tmp_path, ratings=""))
    assert "empty file" in message and "ratings.csv" in message


def test_header_only_is_an_empty_catalog(tmp_path):
    message = load_error(movielens(tmp_path, movies="movieId,title,genres\n"))
    assert "no items" in message and "movies.csv" in message


def test_duplicate_item_ids_name_both_lines(tmp_path):
    movies = MOVIES + "2,Heat again (1995),Action\n"
    message = load_error(movielens(tmp_path, movies=movies))
    assert "duplicate id '2' at line 3 and line 4" in message and "movies.csv, column 'movieId'" in message


def test_ratings_for_unknown_items(tmp_path):
    message = load_error(movielens(tmp_path, ratings=RATINGS + "3,99,4.0,103\n3,98,4.0,104\n"))
    assert "2 rating(s) refer to items not in the catalog (e.g. 99, 98)" in message
    assert "ratings.csv, line 5, column 'movieId'" in message


def test_ratings_outside_scale_are_counted(tmp_path):
    message = load_error(movielens(tmp_path, ratings=RATINGS + "3,1,7.5,103\n3,2,0,104\n"))
    assert "rating 7.5 outside the scale 0.5–5; 2 such row(s)" in message
    assert "ratings.csv, line 5, column 'rating'" in message


def test_non_numeric_rating(tmp_path):
    message = load_error(movielens(tmp_path, ratings=RATINGS.replace("3.5", "great")))
    assert "not a number: 'great'" in message and "ratings.csv, line 3, column 'rating'" in message


def test_non_utf8_bytes_name_the_line_and_offset(tmp_path):
    movies = MOVIES.encode() + "3,Amélie (2001),Comedy\n".encode("latin-1")
    message = load_error(movielens(tmp_path, movies=movies))
    offset = len(MOVIES.encode()) + len("3,Am")
    assert f"not valid UTF-8 (byte 0xe9 at byte offset {offset})" in message and "movies.csv, line 4" in message


def test_absurdly_long_title(tmp_path):
    movies = MOVIES + f"3,{'A' * 5000} (2001),Comedy\n"
    message = load_error(movielens(tmp_path, movies=movies))
    assert "field too long (5,007 characters, limit 500)" in message
    assert "movies.csv, line 4, column 'title'" in message


def test_absurdly_long_description(tmp_path):
    descriptions = f"movieId,plot\n1,Toys.\n2,{'x' * 10_001}\n"
    message = load_error(movielens(tmp_path, descriptions=descriptions))
    assert "field too long (10,001 characters, limit 10,000)" in message
    assert "descriptions.csv, line 3, column 'plot'" in message


def test_empty_title(tmp_path):
    message = load_error(movielens(tmp_path, movies=MOVIES + "3,,Comedy\n"))
    assert "empty value; 1 such row(s)" in message and "movies.csv, line 4, column 'title'" in message


def test_title_with_commas_and_quotes_loads(tmp_path):
    movies = MOVIES + '3,"Good, the Bad and the ""Ugly"", The (1966)",Western\n'
    catalog = load_catalog(movielens(tmp_path, movies=movies))
    assert catalog.item("3").title == 'Good, the Bad and the "Ugly", The'
    assert catalog.item("3").year == 1966
    assert catalog.item("3").label == 'Good, the Bad and the "Ugly", The (1966)'


def test_title_without_year_and_no_genres(tmp_path):
    catalog = load_catalog(movielens(tmp_path, movies=MOVIES + "3,Babylon 5,(no genres listed)\n"))
    assert catalog.item("3").year is None and catalog.item("3").genres == ()


def test_line_numbers_count_blank_lines_and_multiline_fields(tmp_path):
    movies = MOVIES + '\n3,"Two\nLines (2001)",Drama\n3,Again (2002),Drama\n'
    message = load_error(movielens(tmp_path, movies=movies))
    assert "duplicate id '3' at line 5 and line 7" in message


@pytest.mark.parametrize(("ext", "place"), [("csv", "line 10"), ("jsonl", "line 7"), ("parquet", "row 7")])
def test_ratings_read_in_parts_still_name_the_right_place(tmp_path, monkeypatch, ext, place):
    monkeypatch.setattr(tables, "CHUNK_ROWS", 2)
    ratings = pd.DataFrame({"user_id": ["u\nv", "u", "u", "w\nx", "u", "u", "u"],
                            "item_id": ["a", "b", "a", "b", "a", "b", "a"], "rating": [4.0] * 6 + [9.0]})
    message = load_error(generic(tmp_path, ITEMS, ratings, ext))
    assert f"ratings.{ext}, {place}, column 'rating'" in message  # CSV: two line breaks inside earlier fields


def test_ratings_in_parts_load_as_one_table(tmp_path, monkeypatch):
    whole = load_catalog(movielens(tmp_path))
    monkeypatch.setattr(tables, "CHUNK_ROWS", 1)
    parts = load_catalog(movielens(tmp_path))
    pd.testing.assert_frame_equal(parts.ratings, whole.ratings)
    assert parts.fingerprint == whole.fingerprint


def test_unparseable_csv(tmp_path):
    message = load_error(movielens(tmp_path, movies=MOVIES + "3,x,Comedy,extra,fields\n"))
    assert "cannot parse the CSV" in message and "line 4" in message and "movies.csv" in message


@pytest.mark.parametrize(("ext", "place"), [("csv", "line 3"), ("jsonl", "line 2"), ("parquet", "row 2")])
def test_places_per_format(tmp_path, ext, place):
    ratings = pd.DataFrame({"user_id": ["u", "u"], "item_id": ["a", "b"], "rating": [4.0, 9.0]})
    message = load_error(generic(tmp_path, ITEMS, ratings, ext))
    assert f"ratings.{ext}, {place}, column 'rating'" in message and "rating 9 outside the scale 1–5" in message


def test_invalid_jsonl_names_the_line(tmp_path):
    folder = generic(tmp_path, ITEMS, pd.DataFrame({"user_id": ["u"], "item_id": ["a"], "rating": [4]}), "jsonl")
    (folder / "ratings.jsonl").write_text('{"user_id": "u", "item_id": "a", "rating": 4}\n{"user_id": "u",\n')
    message = load_error(folder)
    assert "not valid JSON Lines" in message and "ratings.jsonl, line 2" in message


def test_missing_ids_in_jsonl(tmp_path):
    items = pd.DataFrame({"item_id": ["a", None], "title": ["Alpha", "Beta"]})
    message = load_error(generic(tmp_path, items, pd.DataFrame(columns=["user_id", "item_id", "rating"]), "jsonl"))
    assert "empty value" in message and "items.jsonl, line 2, column 'item_id'" in message


def test_duplicate_ids_that_differ_only_in_type(tmp_path):
    items = pd.DataFrame({"item_id": [7.0, 7.0], "title": ["Alpha", "Beta"]})
    message = load_error(generic(tmp_path, items, pd.DataFrame(columns=["user_id", "item_id", "rating"]), "parquet"))
    assert "duplicate id '7' at row 1 and row 2" in message and "items.parquet" in message


def test_parquet_with_wrong_columns(tmp_path):
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "bad.parquet")
    (tmp_path / "convrec.toml").write_text(
        'name = "p"\n[items]\npath = "bad.parquet"\n[ratings]\npath = "bad.parquet"\n')
    message = load_error(tmp_path)
    assert "missing column 'item_id' (found: x)" in message and "bad.parquet" in message
