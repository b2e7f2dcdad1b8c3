"""Every malformed-catalog case gives one clear error naming the file, the place and the problem."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from convrec.catalog.loaders import load_catalog
from convrec.core.errors import CatalogError

MOVIES = "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n2,Heat (1995),Action|Crime\n"
RATINGS = "userId,movieId,rating,timestamp\n1,1,4.0,100\n1,2,3.5,101\n2,1,5.0,102\n"


def movielens(tmp_path: Path, movies: str | bytes = MOVIES, ratings: str | bytes = RATINGS) -> Path:
    folder = tmp_path / "ml"
    folder.mkdir(exist_ok=True)
    for name, content in (("movies.csv", movies), ("ratings.csv", ratings)):
        data = content.encode() if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return folder


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
    assert "missing column 'title'" in message and "movies.csv" in message and "did you mean 'titel'" in message


def test_empty_file(tmp_path):
    message = load_error(movielens(tmp_path, ratings=""))
    assert "empty file" in message and "ratings.csv" in message


def test_header_only_is_an_empty_catalog(tmp_path):
    message = load_error(movielens(tmp_path, movies="movieId,title,genres\n"))
    assert "no items" in message and "movies.csv" in message


def test_duplicate_item_ids_name_both_lines(tmp_path):
    movies = MOVIES + "2,Heat again (1995),Action\n"
    message = load_error(movielens(tmp_path, movies=movies))
    assert "duplicate id '2' on lines 3 and 4" in message and "movies.csv" in message


def test_ratings_for_unknown_items(tmp_path):
    message = load_error(movielens(tmp_path, ratings=RATINGS + "3,99,4.0,103\n3,98,4.0,104\n"))
    assert "2 rating(s) refer to items not in the catalog" in message
    assert "99" in message and "ratings.csv, line 5" in message


def test_rating_outside_scale(tmp_path):
    message = load_error(movielens(tmp_path, ratings=RATINGS + "3,1,7.5,103\n"))
    assert "rating 7.5 outside the scale 0.5–5" in message and "ratings.csv, line 5, column 'rating'" in message


def test_non_numeric_rating(tmp_path):
    message = load_error(movielens(tmp_path, ratings=RATINGS.replace("3.5", "great")))
    assert "not a number: 'great'" in message and "ratings.csv, line 3" in message


def test_non_utf8_bytes_name_the_line(tmp_path):
    movies = MOVIES.encode() + "3,Amélie (2001),Comedy\n".encode("latin-1")
    message = load_error(movielens(tmp_path, movies=movies))
    assert "not valid UTF-8" in message and "movies.csv, line 4" in message


def test_absurdly_long_title(tmp_path):
    movies = MOVIES + f"3,{'A' * 5000} (2001),Comedy\n"
    message = load_error(movielens(tmp_path, movies=movies))
    assert "field too long (5,007 characters" in message and "movies.csv, line 4, column 'title'" in message


def test_empty_title(tmp_path):
    message = load_error(movielens(tmp_path, movies=MOVIES + "3,,Comedy\n"))
    assert "empty value" in message and "line 4, column 'title'" in message


def test_title_with_commas_and_quotes_loads(tmp_path):
    movies = MOVIES + '3,"Good, the Bad and the ""Ugly"", The (1966)",Western\n'
    catalog = load_catalog(movielens(tmp_path, movies=movies))
    assert catalog.item("3").title == 'Good, the Bad and the "Ugly", The'
    assert catalog.item("3").year == 1966


def test_title_without_year_and_no_genres(tmp_path):
    catalog = load_catalog(movielens(tmp_path, movies=MOVIES + "3,Babylon 5,(no genres listed)\n"))
    assert catalog.item("3").year is None and catalog.item("3").genres == ()


def test_unparseable_csv(tmp_path):
    message = load_error(movielens(tmp_path, movies=MOVIES + '3,"unterminated,Comedy\n4,x,y,z,w\n'))
    assert "movies.csv" in message


def test_ratings_file_must_be_readable_as_parquet_too(tmp_path):
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "bad.parquet")
    (tmp_path / "convrec.toml").write_text(
        'name = "p"\n[items]\npath = "bad.parquet"\n[ratings]\npath = "bad.parquet"\n')
    message = load_error(tmp_path)
    assert "missing column 'item_id'" in message and "bad.parquet" in message
