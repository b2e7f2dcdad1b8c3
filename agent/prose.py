"""Per-card justifications: the LLM rephrases one card's template reason; a check keeps it faithful.

A sentence is accepted only if it names the card's own title, names no other catalog title except the liked
item the evidence cites, contains no number absent from the evidence, and says nothing else: every content word
comes from the card (title, reasons, evidence, genres and their everyday words) or from a short list of words of
praise. A small model's plot summaries are usually invented ("Heavy Metal is about monsters and zombies"), so
they fail the check. Otherwise the template stays.
"""

from __future__ import annotations

import re
from functools import lru_cache

from convrec.agent.prompts import template
from convrec.catalog.models import Catalog
from convrec.tools.linking import find_titles
from convrec.tools.models import Recommendation
from convrec.tools.textnorm import FUNCTION_WORDS, fold, spoken_title, words
from convrec.tools.vocabulary import TERMS, singular

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_PAREN_YEAR = re.compile(r"\(\d{4}\)")
MAX_SENTENCE_CHARS = 220
ECHO_WORDS = 5
# What a recommendation may say without evidence: liking, fit, invitation. Nothing about the film itself.
PRAISE_WORDS = frozenset("""
movie movies film films pick picks choice great good fun enjoy enjoyed enjoying enjoyable like liked love loved
might may also similar same really definitely sure surely worth watch watching watched check try fan fans favorite
favourite perfect wonderful fantastic amazing awesome excellent brilliant recommend recommended recommendation
suggest suggestion fit fits match matches matched think just since because vibe vibes style taste tastes treat
appeal appeals suit suits alley fine nice solid theme themes many people given hit exciting entertaining gem
should would will could want appreciate appreciated rated rating ratings predicted predict score highly high well
lot more much too something tonight next another one right up classic favorites
""".split())


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
    for mention in find_titles(_PAREN_YEAR.sub("", text), catalog):  # "(2010), The Matrix" is not "2010: The …"
        ids = {candidate.item_id for candidate in mention.result.candidates}
        if mention.result.decision == "linked" and not ids & allowed:
            return False
    numbers = {n.rstrip("0").rstrip(".") if "." in n else n for n in _NUMBER.findall(text)}
    return numbers <= allowed_numbers(card) and not unsupported_words(text, card)


def unsupported_words(sentence: str, card: Recommendation) -> set[str]:
    """Content words of `sentence` that neither the card's evidence nor a word of praise accounts for."""
    allowed = _allowed_words(card)
    said = {word for word in words(sentence) if not word.isdigit()}
    return {word for word in said if word not in allowed and singular(word) not in allowed}


def _allowed_words(card: Recommendation) -> frozenset[str]:
    evidence = " ".join(f"{reason.text} {' '.join(map(str, reason.evidence.values()))}" for reason in card.reasons)
    own = {*words(card.title), *words(evidence), *words(" ".join(card.genres))}
    for genre in card.genres:
        own |= _genre_words(genre)
    return frozenset(own | {singular(word) for word in own}) | FUNCTION_WORDS | PRAISE_WORDS


@lru_cache(maxsize=64)
def _genre_words(genre: str) -> frozenset[str]:
    """Everyday words for a genre, from the reader's vocabulary: Horror → scary, spooky, creepy, …"""
    return frozenset(word for phrase, term in TERMS.items() if genre in term.genres for word in words(phrase))


def _echoes_prompt(text: str) -> bool:
    """Five words in a row from one of our prompts: the model is repeating its instructions."""
    said = words(text)
    grams = {tuple(said[i:i + ECHO_WORDS]) for i in range(len(said) - ECHO_WORDS + 1)}
    return bool(grams & _prompt_grams())


@lru_cache(maxsize=1)
def _prompt_grams() -> frozenset[tuple[str, ...]]:
    grams = set()
    for name in ("reason_system", "read_system"):
        instructions = template(name).template.split("Example.")[0]  # copying the example's style is the point
        prompt = words(instructions)
        grams |= {tuple(prompt[i:i + ECHO_WORDS]) for i in range(len(prompt) - ECHO_WORDS + 1)}
    return frozenset(grams)


def _names(text: str, title: str) -> bool:
    """The sentence names the title: its main words, as catalogued or as spoken ("Boot, Das" = "Das Boot")."""
    said = fold(text)
    for form in (title, spoken_title(title)):
        core = re.sub(r",\s*(the|a|an)$", "", fold(re.sub(r"\s*\(.*\)\s*$", "", form))).strip()
        if core and core in said:
            return True
    return False
