"""Prompt templates from `convrec.prompts`, rendered with exactly the variables they name.

Text from users and items is substituted as data: `$` placeholders are filled once, never re-evaluated, and
the templates fence it (e.g. <message>…</message>) so the model reads it as content, not instructions.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from string import Template


class PromptError(KeyError):
    """A template was rendered with missing or unexpected variables."""


@lru_cache(maxsize=None)
def template(name: str) -> Template:
    *folders, last = name.split("/")  # "zh/reason_system": a locale's template (prompts/zh/)
    text = resources.files("convrec.prompts").joinpath(*folders, f"{last}.txt").read_text(encoding="utf-8")
    return Template(text.strip())


def variables(name: str) -> set[str]:
    return set(template(name).get_identifiers())


def render(name: str, **values: object) -> str:
    expected = variables(name)
    if set(values) != expected:
        raise PromptError(f"prompt '{name}' takes {sorted(expected)}, got {sorted(values)}")
    return template(name).substitute({key: _as_data(value) for key, value in values.items()})


_FENCE = re.compile(r"<(/?)(message|about)>", re.IGNORECASE)


def _as_data(value: object) -> str:
    """Keep quoted text from closing or opening our fences (<message>, <about>)."""
    return _FENCE.sub(r"< \1\2>", str(value))
