"""A non-editable wheel installs under the convrec namespace only, with the demo data and its licenses."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_wheel(out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "-w", str(out), str(ROOT)], check=True, capture_output=True)
    return next(out.glob("convrec-*.whl"))


def test_wheel_is_namespaced_and_ships_the_demo(tmp_path):
    wheel = build_wheel(tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"convrec", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    for data in ("ml-latest-small/movies.csv", "ml-latest-small/ratings.csv", "ml-latest-small/README.txt",
                 "descriptions/descriptions.csv", "descriptions/README.md"):
        assert f"convrec/catalog/demo/{data}" in names

    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "--quiet", str(wheel)], check=True,
                   capture_output=True)
    probe = ("import convrec.tools, convrec.catalog, convrec.agent, importlib.util as u;"
             "print([m for m in ('tools', 'agent', 'catalog', 'tui', 'cli') if u.find_spec(m)])")
    result = subprocess.run([python, "-c", probe], check=True, capture_output=True, text=True, cwd=tmp_path)
    assert result.stdout.strip() == "[]"
