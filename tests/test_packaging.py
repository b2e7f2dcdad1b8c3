"""A non-editable wheel installs under the convrec namespace only, with the demo catalog and its licenses."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = {"core", "catalog", "tools", "agent", "prompts", "tui", "cli"}
NOT_SOURCES = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                     ".hypothesis", "out")
DEMO_DATA = ["ml-latest-small/movies.csv", "ml-latest-small/ratings.csv", "ml-latest-small/links.csv",
             "ml-latest-small/tags.csv", "ml-latest-small/README.txt",
             "descriptions/descriptions.csv", "descriptions/README.md"]
LICENSES = ["LICENSE", "catalog/demo/ml-latest-small/README.txt", "catalog/demo/descriptions/README.md"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy: setuptools writes build/ and *.egg-info beside the sources, and a stale build/ in the
    repo could slip files that no longer exist into the wheel."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "-w", str(tmp_path / "dist"), str(source)], check=True, capture_output=True)
    return next((tmp_path / "dist").glob("convrec-*.whl"))


def install_in_clean_venv(wheel: Path, environment: Path) -> Path:
    """A venv without pip or system site-packages; the host's pip installs into it (no dependencies needed)."""
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet",
                    str(wheel)], check=True, capture_output=True)
    return python


def run_in(python: Path, code: str, cwd: Path) -> str:
    return subprocess.run([python, "-c", code], check=True, capture_output=True, text=True, cwd=cwd).stdout.strip()


def test_wheel_ships_only_convrec_with_the_demo_catalog_and_licenses(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    dist_info = next(name.split("/")[0] for name in names if name.split("/")[0].endswith(".dist-info"))
    assert {name.split("/")[0] for name in names} == {"convrec", dist_info}
    assert {f"convrec/catalog/demo/{data}" for data in DEMO_DATA} <= names
    assert {"convrec/evaluation/data/redial-dev/cases.jsonl", "convrec/evaluation/data/redial-dev/README.md"} <= names
    assert {f"{dist_info}/licenses/{license}" for license in LICENSES} <= names


def test_installed_wheel_imports_under_the_namespace_only(wheel, tmp_path):
    python = install_in_clean_venv(wheel, tmp_path / "venv")
    site_packages = Path(run_in(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])", tmp_path))
    installed = {path.name for path in site_packages.iterdir()}
    assert "convrec" in installed
    assert not installed & SOURCE_FOLDERS

    probe = ("import convrec.tools, convrec.catalog, convrec.agent, importlib.resources as r;"
             "demo = r.files('convrec.catalog') / 'demo';"
             f"print(all((demo / name).is_file() for name in {DEMO_DATA!r}))")
    assert run_in(python, probe, tmp_path) == "True"
