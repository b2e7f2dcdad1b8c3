"""`convrec catalog check|import` as a user runs them: summaries on stdout, one-line errors and exit 2."""

from __future__ import annotations

import subprocess
import sys


def convrec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from convrec.cli.main import run; run()", *args],
                          capture_output=True, text=True, timeout=120)


def test_check_prints_a_summary(tiny_ml_dir):
    result = convrec("catalog", "check", str(tiny_ml_dir))
    assert result.returncode == 0, result.stderr
    assert "ok tiny_ml: 60 items, 1,548 ratings from 78 users" in result.stdout
    assert "scale 0.5–5, fingerprint " in result.stdout and "tags: " in result.stdout


def test_check_of_a_bad_catalog_is_one_error_line_and_exit_2(tmp_path):
    (tmp_path / "movies.csv").write_text("movieId,title,genres\n1,Heat (1995),Crime\n")
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4,1\n1,1,11,2\n")
    result = convrec("catalog", "check", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("convrec: error: rating 11 outside the scale 0.5–5")
    assert f"({tmp_path / 'ratings.csv'}, line 3, column 'rating')" in lines[0]


def test_failed_import_changes_nothing(tmp_path, tiny_ml_dir):
    assert convrec("catalog", "import", str(tiny_ml_dir)).returncode == 0
    (tmp_path / "movies.csv").write_text("movieId,title,genres\n")
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating\n")
    failed = convrec("catalog", "import", str(tmp_path))
    assert failed.returncode == 2 and "no items" in failed.stderr
    assert "tiny_ml: 60 items" in convrec("info").stdout


def test_a_manifest_pointing_outside_its_folder_is_refused_with_exit_2(tmp_path):
    (tmp_path / "convrec.toml").write_text('name = "x"\n[items]\npath = "/etc/passwd"\nformat = "csv"\n'
                                           '[ratings]\npath = "/etc/passwd"\nformat = "csv"\n')
    for command in ("check", "import"):
        result = convrec("catalog", command, str(tmp_path))
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and "root:" not in result.stderr + result.stdout
        assert lines[0].startswith("convrec: error: items.path '/etc/passwd' is outside the catalog folder")
