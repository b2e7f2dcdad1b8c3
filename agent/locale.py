"""Answering in the user's language: which language a message is in, and the agent's words in it.

English is the default and its words live where they always did (agent/policy.py, tools/explain.py, prompts/).
Another language's words are templates in prompts/<language>/ (only Chinese, "zh", so far): the reply's head, the
questions, the template reasons (rendered again from each reason's evidence, so they cite exactly the same facts),
the prompts for the model's sentences. Titles are shown in the user's language when the catalog has an alias for
them ("黑客帝国"), else as catalogued; genre names from `GENRE_NAMES`.
"""

from __future__ import annotations

from typing import Literal

from convrec.agent.events import Choice
from convrec.agent.prompts import render
from convrec.catalog.aliases import aliases_by_item
from convrec.catalog.models import Catalog
from convrec.tools.chinese import is_chinese
from convrec.tools.models import Reason, Recommendation
from convrec.tools.textnorm import spoken_title

Language = Literal["en", "zh"]

GENRE_NAMES: dict[Language, dict[str, str]] = {"zh": {
    "Action": "动作", "Adventure": "冒险", "Animation": "动画", "Children": "儿童", "Comedy": "喜剧", "Crime": "犯罪",
    "Documentary": "纪录片", "Drama": "剧情", "Fantasy": "奇幻", "Film-Noir": "黑色电影", "Horror": "恐怖",
    "IMAX": "IMAX", "Musical": "歌舞", "Mystery": "悬疑", "Romance": "爱情", "Sci-Fi": "科幻", "Thriller": "惊悚",
    "War": "战争", "Western": "西部"}}

ROLE_NAMES: dict[Language, dict[str, str]] = {"zh": {"directed": "导演", "stars": "主演"}}  # other roles: 参演


def language_of(text: str) -> Language:
    return "zh" if is_chinese(text) else "en"


def template_name(name: str, language: Language) -> str:
    """The prompt template for `language`: "reason_system" → "zh/reason_system"."""
    return name if language == "en" else f"{language}/{name}"


def genre_name(genre: str, language: Language) -> str:
    return GENRE_NAMES.get(language, {}).get(genre, genre)


def local_title(catalog: Catalog, item_id: str, language: Language) -> str:
    """The title as the user would say it: the catalog's alias in their language, else the spoken catalog title."""
    if language != "en" and item_id in catalog and (alias := _first_aliases(catalog).get(item_id)):
        return alias
    return spoken_title(catalog.item(item_id).title) if item_id in catalog else item_id


def _first_aliases(catalog: Catalog) -> dict[str, str]:
    if "aliases_by_item" not in catalog._cache:
        catalog._cache["aliases_by_item"] = aliases_by_item(catalog.aliases)
    return catalog._cache["aliases_by_item"]


# -- the agent's words ----------------------------------------------------------------------------------------------
def reply_head_in(language: Language, found: bool) -> str:
    return render(template_name("reply_head" if found else "reply_empty", language))


def ambiguity_question(span: str, language: Language) -> str:
    return render(template_name("question_ambiguous", language), span=span)


def elicitation_question(language: Language) -> str:
    return render(template_name("question_elicit", language))


def localized_choices(choices: list[Choice], catalog: Catalog, language: Language) -> list[Choice]:
    """Quick picks in the user's language; what a pick stands for (item id, genre) is unchanged."""
    if language == "en":
        return choices
    return [choice.model_copy(update={"label": _choice_label(choice, catalog, language)}) for choice in choices]


def _choice_label(choice: Choice, catalog: Catalog, language: Language) -> str:
    if choice.genre is not None:
        return genre_name(choice.genre, language)
    if choice.item_id is not None and choice.item_id in catalog:
        title = local_title(catalog, choice.item_id, language)
        return f"{title}（{choice.label}）" if title != spoken_title(catalog.item(choice.item_id).title) else choice.label
    return choice.label


def localized_cards(cards: list[Recommendation], catalog: Catalog, language: Language) -> list[Recommendation]:
    """The same cards with their template reasons in `language`, rendered from the same evidence."""
    if language == "en":
        return cards
    return [card.model_copy(update={"reasons": [localized_reason(reason, catalog, language)
                                                for reason in card.reasons]}) for card in cards]


def localized_reason(reason: Reason, catalog: Catalog, language: Language) -> Reason:
    evidence = dict(reason.evidence)
    values: dict[str, object] = {key: evidence[key] for key in _REASON_FIELDS[reason.kind]}
    if reason.kind in ("similar_to_liked", "similar_description"):
        values = {"liked": local_title(catalog, str(evidence["liked_item_id"]), language),
                  "similarity": f"{float(evidence['similarity']):.2f}"}
    elif reason.kind == "genre_match":
        values["genres"] = "、".join(genre_name(g.strip(), language) for g in str(evidence["genres"]).split(","))
    elif reason.kind == "explore":
        values["genre"] = genre_name(str(evidence["genre"]), language)
    elif reason.kind == "matches_query":
        values["similarity"] = f"{float(evidence['similarity']):.2f}"
    elif reason.kind == "cf_predicted":
        values = {"predicted_rating": f"{float(evidence['predicted_rating']):.1f}",
                  "scale_high": f"{float(evidence['scale_high']):g}"}
    elif reason.kind == "popular_cold_start":
        values["mean_rating"] = f"{float(evidence['mean_rating']):.1f}"
    elif reason.kind == "same_person":
        values["role"] = ROLE_NAMES.get(language, {}).get(str(evidence["role"]), "参演")
    name = f"reason_{reason.kind}"
    if reason.kind in ("same_person", "same_collection") and "liked_item_id" in evidence:
        name, values["liked"] = f"{name}_liked", local_title(catalog, str(evidence["liked_item_id"]), language)
    return reason.model_copy(update={"text": render(template_name(name, language), **values)})


_REASON_FIELDS = {"similar_to_liked": (), "similar_description": (), "cf_predicted": (), "matches_query": ("query", "similarity"),
                  "genre_match": ("genres",), "popular_cold_start": ("ratings", "mean_rating"),
                  "explore": ("genre",), "same_person": ("person",), "same_collection": ("collection",)}
