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
CLASS = re.compile(r"^[A-Z][a-z]+[A-Za-z0-9]*(\.[a-z_]\w*)?$")  # `Recommender`, `Done.degraded`
PATH = re.compile(r"^[\w.-]+(/[\w.-]+)*/?$")
FILE_SUFFIXES = (".py", ".md", ".toml", ".json", ".txt", ".csv")


def quoted() -> list[str]:
    """The inline code spans of DESIGN.md, outside fenced blocks (those hold diagrams and JSON)."""
    text = re.sub(r"^```.*?^```", "", DESIGN.read_text(encoding="utf-8"), flags=re.S | re.M)
    return sorted(set(re.findall(r"`([^`\n]+)`", text)))


def names() -> list[str]:
    """The spans that name a module or something in one: `agent.policy.Agent`, `tools.cf.SVDScorer.fold_in()`."""
    spans = [span.split("(")[0] for span in quoted()]
    return [span for span in spans if DOTTED.match(span) and span.split(".")[0] in (*PACKAGES, "convrec")
            and not span.endswith(FILE_SUFFIXES)]


def class_names() -> list[str]:
    """Classes quoted without their module (`Recommender`, `Done.degraded`): they must be defined in the code."""
    return [span for span in (span.split("(")[0] for span in quoted()) if CLASS.match(span)]


def paths() -> list[str]:
    """The spans that name a file or folder of the repository: `tools/reader.py`, `core/`."""
    return [span for span in quoted() if "/" in span and PATH.match(span) and span.split("/")[0] in
            (*PACKAGES, "bench", "docs", "tests")]


def settings() -> list[str]:
    """`CONVREC_LLM` and `CONVREC_LLM=openai` name the setting `llm`."""
    return [span.partition("=")[0] for span in quoted() if re.fullmatch(r"CONVREC_[A-Z_]+(=\S+)?", span)]


def defining_module(class_name: str) -> str | None:
    """The module of the repository that defines `class_name` at its top level."""
    for package in PACKAGES:
        for source in sorted((ROOT / package).glob("*.py")):
            if re.search(rf"^class {class_name}\b", source.read_text(encoding="utf-8"), flags=re.M):
                return f"{package}.{source.stem}"
    return None


def resolve(name: str) -> object:
    """Import the longest module prefix of `name`, then look the rest up attribute by attribute."""
    parts = name.removeprefix("convrec.").split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module("convrec." + ".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            found = member(found, attribute)
        return found
    raise ModuleNotFoundError(name)


def member(owner: object, name: str) -> object:
    """An attribute, or a field of a pydantic model or dataclass (not class attributes when they have no default)."""
    if hasattr(owner, name):
        return getattr(owner, name)
    fields = {**getattr(owner, "model_fields", {}), **getattr(owner, "__dataclass_fields__", {})}
    if name in fields:
        return fields[name]
    raise AttributeError(f"{owner!r} has no attribute or field {name!r}")


def test_the_design_quotes_names_at_all():
    assert len(names()) >= 20 and len(paths()) >= 10 and class_names(), "the check would pass vacuously"


@pytest.mark.parametrize("name", names())
def test_a_quoted_name_exists(name):
    try:
        resolve(name)
    except (ImportError, AttributeError) as error:
        pytest.fail(f"docs/DESIGN.md quotes `{name}`, which does not exist ({error})")


@pytest.mark.parametrize("name", class_names())
def test_a_quoted_class_exists(name):
    class_name, _, attribute = name.partition(".")
    module = defining_module(class_name)
    assert module is not None, f"docs/DESIGN.md quotes `{name}`, but no module defines class {class_name}"
    test_a_quoted_name_exists(f"{module}.{name}")


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
    assert defining_module("Recommender") == "tools.recommend" and defining_module("NoSuchClass") is None
