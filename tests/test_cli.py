"""The command line as a user meets it: exit codes, one-line errors, summaries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def convrec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from convrec.cli.main import run; run()", *args],
                          capture_output=True, text=True, timeout=120)


def test_bad_catalog_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "movies.csv").write_text("movieId,name\n1,x\n")
    result = convrec("catalog", "check", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"convrec: error: missing column 'title' (found: movieId, name) ({tmp_path / 'movies.csv'})"
        " — rename the column, or map it in convrec.toml"]
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = convrec("--debug", "catalog", "check", str(tmp_path))
    assert result.returncode == 1 and "Traceback" in result.stderr and "CatalogError" in result.stderr


def test_import_then_info(tiny_ml_dir):
    imported = convrec("catalog", "import", str(tiny_ml_dir))
    assert imported.returncode == 0, imported.stderr
    assert "active catalog: tiny_ml: 60 items, 1,548 ratings from 78 users" in imported.stdout
    info = convrec("info")
    assert info.returncode == 0, info.stderr
    assert "tiny_ml: 60 items" in info.stdout and "not built: run `convrec index`" in info.stdout


def test_usage_error_exit_2():
    result = convrec("no-such-command")
    assert result.returncode == 2 and "No such command" in result.stderr


def test_search_needs_an_index_and_says_so(tiny_ml_dir):
    assert convrec("catalog", "import", str(tiny_ml_dir)).returncode == 0
    result = convrec("search", "toys that come to life")
    assert result.returncode == 2 and "the search index is empty" in result.stderr and "convrec index" in result.stderr


@pytest.mark.slow
def test_search_after_index_honours_filters(tiny_ml_dir):
    assert convrec("catalog", "import", str(tiny_ml_dir)).returncode == 0
    indexed = subprocess.run([sys.executable, "-c", "from convrec.cli.main import run; run()", "index"],
                             capture_output=True, text=True, timeout=600)
    assert indexed.returncode == 0, indexed.stderr
    found = convrec("search", "toys that come to life, computer animation", "-k", "3", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert hits[0]["title"] == "Toy Story" and len(hits) == 3
    comedies = json.loads(convrec("search", "space war", "--genre", "Comedy", "--after", "1990", "--json").stdout)
    assert comedies and all("Comedy" in hit["genres"] and hit["year"] >= 1990 for hit in comedies)
    unknown = convrec("search", "space war", "--genre", "Polka")
    assert unknown.returncode == 2 and "unknown genre" in unknown.stderr
