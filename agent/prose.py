"""Per-card justifications: the LLM rephrases one card's template reason; a check keeps it faithful.

A sentence is accepted only if it names the card's own title, names no other catalog title except the liked
item the evidence cites, and contains no number absent from the evidence. Otherwise the template stays.
"""

from __future__ import annotations

import re
from functools import lru_cache

from convrec.agent.prompts import template
from convrec.catalog.models import Catalog
from convrec.tools.linking import find_titles
from convrec.tools.models import Recommendation
from convrec.tools.textnorm import fold, words

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
MAX_SENTENCE_CHARS = 220
ECHO_WORDS = 5


def allowed_numbers(card: Recommendation) -> set[str]:
    numbers = {n for reason in card.reasons for value in reason.evidence.values() for n in _NUMBER.findall(str(value))}
    numbers |= set(_NUMBER.findall(card.title))
    if card.year:
        numbers.add(str(card.year))
    return {n.rstrip("0").rstrip(".") if "." in n else n for n in numbers}


def cited_items(card: Recommendation) -> set[str]:
    return {str(reason.evidence["liked_item_id"]) for reason in card.reasons if "liked_item_id" in reason.evidence}


def faithful(sentence: str, card: Recommendation, catalog: Catalog) -> bool:
    """True if the sentence may be shown in place of the card's template reason."""
    text = sentence.strip()
    if not text or len(text) > MAX_SENTENCE_CHARS or "\n" in text:
        return False
    if not _names(text, card.title) or _echoes_prompt(text):
        return False
    allowed = {card.item_id} | cited_items(card)
    for mention in find_titles(text, catalog):
        ids = {candidate.item_id for candidate in mention.result.candidates}
        if mention.result.decision == "linked" and not ids & allowed:
            return False
    numbers = {n.rstrip("0").rstrip(".") if "." in n else n for n in _NUMBER.findall(text)}
    return numbers <= allowed_numbers(card)


def _echoes_prompt(text: str) -> bool:
    """Five words in a row from one of our prompts: the model is repeating its instructions."""
    said = words(text)
    grams = {tuple(said[i:i + ECHO_WORDS]) for i in range(len(said) - ECHO_WORDS + 1)}
    return bool(grams & _prompt_grams())


@lru_cache(maxsize=1)
def _prompt_grams() -> frozenset[tuple[str, ...]]:
    grams = set()
    for name in ("reason_system", "read_system"):
        prompt = words(template(name).template)
        grams |= {tuple(prompt[i:i + ECHO_WORDS]) for i in range(len(prompt) - ECHO_WORDS + 1)}
    return frozenset(grams)


def _names(text: str, title: str) -> bool:
    """The sentence names the title: its main words, articles moved or not ("Matrix, The" = "The Matrix")."""
    core = re.sub(r",\s*(the|a|an)$", "", fold(title), flags=re.IGNORECASE).strip()
    core = re.sub(r"\s*\(.*\)\s*$", "", core)
    return fold(core) in fold(text)
