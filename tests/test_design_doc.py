"""docs/DESIGN.md names only what exists: every backticked module, function, class, file, folder and setting."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from convrec.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "DESIGN.md"
PACKAGES = ("core", "catalog", "tools", "agent", "prompts", "tui", "server", "evaluation", "cli")
DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
PATH = re.compile(r"^[\w.-]+(/[\w.-]+)*/?$")


def quoted() -> list[str]:
    """The inline code spans of DESIGN.md, outside fenced blocks (those hold diagrams and JSON)."""
    text = re.sub(r"^```.*?^```", "", DESIGN.read_text(encoding="utf-8"), flags=re.S | re.M)
    return sorted(set(re.findall(r"`([^`\n]+)`", text)))


def names() -> list[str]:
    """The spans that name a module or something in one: `agent.policy.Agent`, `tools.cf.SVDScorer.fold_in()`."""
    spans = [span.split("(")[0] for span in quoted()]
    return [span for span in spans if DOTTED.match(span) and span.split(".")[0] in (*PACKAGES, "convrec")]


def paths() -> list[str]:
    """The spans that name a file or folder of the repository: `tools/reader.py`, `core/`."""
    return [span for span in quoted() if "/" in span and PATH.match(span) and span.split("/")[0] in
            (*PACKAGES, "bench", "docs", "tests")]


def settings() -> list[str]:
    return [span for span in quoted() if re.fullmatch(r"CONVREC_[A-Z_]+", span)]


def resolve(name: str) -> object:
    """Import the longest module prefix of `name`, then look the rest up attribute by attribute."""
    parts = name.removeprefix("convrec.").split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module("convrec." + ".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(name)


def test_the_design_quotes_names_at_all():
    assert len(names()) >= 20 and len(paths()) >= 10, "the check would pass vacuously"


@pytest.mark.parametrize("name", names())
def test_a_quoted_name_exists(name):
    try:
        resolve(name)
    except (ImportError, AttributeError) as error:
        pytest.fail(f"docs/DESIGN.md quotes `{name}`, which does not exist ({error})")


@pytest.mark.parametrize("path", paths())
def test_a_quoted_path_exists(path):
    assert (ROOT / path).exists(), f"docs/DESIGN.md quotes `{path}`, which is not in the repository"


@pytest.mark.parametrize("variable", settings())
def test_a_quoted_setting_exists(variable):
    assert variable.removeprefix("CONVREC_").lower() in Settings.model_fields, f"no setting behind `{variable}`"


def test_resolve_rejects_what_does_not_exist():
    with pytest.raises(AttributeError):
        resolve("agent.policy.NoSuchThing")
    with pytest.raises(ModuleNotFoundError):
        resolve("nosuchpackage.thing")
