"""The LLM's reading of a message, validated against the user's own words before it may touch the profile.

Asked only when the deterministic reader leaves names unread (`Reading.unread`: "Will Ferril", "Kristen Stuart").
The small model invents (measured: famous titles for "something more recent", "Heat" as a genre), so its
reading is a spell-checker on top of the deterministic reader:
- a name counts only if it matches a span of the message and links to the catalog (a title) or to the knowledge
  index (a person or a series: `tools.knowledge`);
- a genre counts only if the message has a word for it (the vocabulary);
- the query counts only if its words are in the message.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, create_model
from rapidfuzz import fuzz

from convrec.agent.llm import LLM, Message
from convrec.agent.locale import Language, template_name
from convrec.agent.prompts import render
from convrec.catalog.models import Catalog
from convrec.tools.knowledge import knowledge_index
from convrec.tools.linking import canonical, link_title, title_index
from convrec.tools.reader import Reading, read_message
from convrec.tools.textnorm import fold, words
from convrec.tools.vocabulary import genres_for

SPAN_MATCH = 85  # rapidfuzz partial ratio of an LLM title against the message
MAX_LIST = 3
READ_MAX_TOKENS = 96


@lru_cache(maxsize=4)
def preferences_schema(genres: tuple[str, ...]) -> type[BaseModel]:
    """Short keys, enums and small lists: a compact grammar and fewer tokens to decode."""
    genre = Literal[genres] if genres else str  # type: ignore[valid-type]
    return create_model(
        "Preferences",
        liked=(list[str], Field(default_factory=list, max_length=MAX_LIST)),
        disliked=(list[str], Field(default_factory=list, max_length=MAX_LIST)),
        genres_yes=(list[genre], Field(default_factory=list, max_length=MAX_LIST)),
        genres_no=(list[genre], Field(default_factory=list, max_length=MAX_LIST)),
        query=(str, Field(default="", max_length=80)),
    )


def reading_messages(message: str, context: str, language: Language = "en") -> list[Message]:
    """System prompt first and byte-identical every turn, so llama.cpp reuses its KV cache."""
    return [{"role": "system", "content": render(template_name("read_system", language))},
            {"role": "user", "content": render(template_name("read_user", language), context=context or "nothing yet",
                                               message=message)}]


def llm_reading(llm: LLM, message: str, context: str, catalog: Catalog) -> Reading:
    schema = preferences_schema(tuple(g for g in catalog.genres if g != "IMAX"))
    answer = llm.structured(reading_messages(message, context), schema, max_tokens=READ_MAX_TOKENS)
    return validated(answer, message, catalog)


def validated(answer: BaseModel, message: str, catalog: Catalog) -> Reading:
    """Keep only what the message itself supports."""
    spoken_genres = set(genres_for(message, catalog))
    reading = Reading()
    for name in answer.liked:
        if (item_id := _supported_title(name, message, catalog)) is not None:
            reading.liked[item_id] = 1.0
        elif (entity := _supported_entity(name, message, catalog)) is not None:
            reading.entities_liked[entity] = 1.0
    for name in answer.disliked:
        if (item_id := _supported_title(name, message, catalog)) is not None:
            reading.disliked[item_id] = 1.0
            reading.liked.pop(item_id, None)
        elif (entity := _supported_entity(name, message, catalog)) is not None:
            reading.entities_disliked[entity] = 1.0
            reading.entities_liked.pop(entity, None)
    reading.genres_liked = {g for g in answer.genres_yes if g in spoken_genres}
    reading.genres_disliked = {g for g in answer.genres_no if g in spoken_genres} - reading.genres_liked
    reading.query = _supported_query(answer.query, message, catalog)
    return reading


def _supported_title(title: str, message: str, catalog: Catalog) -> str | None:
    """A title the message names: the model's name is in the message, and so is one of the linked item's own
    titles (measured: "horror" linked Horror of Dracula, the genre "Action" linked Action Jackson)."""
    if not title.strip() or fuzz.partial_ratio(fold(title), fold(message)) < SPAN_MATCH:
        return None
    item_id = link_title(title, catalog).item_id
    said = " ".join(canonical(words(message)))
    if item_id is None or not any(fuzz.partial_ratio(key, said) >= SPAN_MATCH
                                  for key in title_index(catalog).item_keys[item_id]):
        return None
    return item_id


def _supported_entity(name: str, message: str, catalog: Catalog) -> str | None:
    """A person or series the message names (spelled as the model corrected it: "Will Ferril" → Will Ferrell)."""
    if not name.strip() or fuzz.partial_ratio(fold(name), fold(message)) < SPAN_MATCH:
        return None
    entities = knowledge_index(catalog).lookup(" ".join(words(name)), fuzzy=True)
    return entities[0].key if len(entities) == 1 else None


def _supported_query(query: str, message: str, catalog: Catalog) -> str | None:
    """The model's query words that the message says, through the reader's own query hygiene: titles, genre words,
    chat and uninformative words never reach search (measured: "comedy action" searched pulled Last Action Hero)."""
    said = set(words(message))
    kept = [word for word in words(query) if word in said]
    return read_message(" ".join(kept), catalog).query if len(kept) >= 2 else None
