"""Knowledge from the catalog's own text: who is in or made each item, which series it belongs to, and which
genres its description says it is.

Extracted at index time, no LLM, and saved under the catalog fingerprint (like EASE's weights):
- people from each description ("directed by X", "starring X, Y and Z", "It stars X", "X, Y also star"; a surname
  alone when the text gave the full name: "written by Adam Sandler … and starring Sandler") and from
  a `people` metadata column (a user catalog's manifest lists it under `metadata`; names separated by `|` or `;`);
- collections from descriptions ("the first installment in the Toy Story franchise", "in the Marvel Cinematic
  Universe", "the Harry Potter film series"), from a `collection` metadata column, and from title stems shared by
  two or more titles ("Harry Potter and the …", "Star Wars: Episode …", "Toy Story 2");
- described genres from a description's opening ("Pulp Fiction is a 1994 American crime film": Crime, though the
  catalog also lists it under Comedy; "La La Land is a 2016 American romantic musical film": Musical too).

`find_entities(tokens, knowledge)` finds them in chat: a full name anywhere ("anything with Elizabeth Taylor"),
a surname alone only when it is capitalised or cued and names one well-known person ("Hitchcock never
disappoints"), a collection name with a cue ("Marvel movies", "the Harry Potter series") or in capitals.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
from rapidfuzz import fuzz, process
from wordfreq import zipf_frequency

from convrec.catalog.models import Catalog
from convrec.tools.linking import canonical, title_names
from convrec.tools.textnorm import COMMON_WORDS, FUNCTION_WORDS, Token, longest_matches, spoken_title, words
from convrec.tools.vocabulary import genres_for, singular

EntityKind = Literal["person", "collection"]
Role = Literal["directed", "stars", "in"]

FORMAT_VERSION = 6
# Which words reach the semantic query is measured, not listed: a word people used to tag this many items, or a word
# that the item descriptions use far more than everyday English does (`informativeness`: log10 of the ratio of its
# share of descriptions to its English frequency from wordfreq) without being boilerplate ("directed", "released").
# The words chat leaves over ("work", "day", "example", "huge", "crazier") score low; "heist", "twist", "dark" high.
MIN_TAGGED_ITEMS = 3
MIN_DOCUMENTS = 2
MAX_DOCUMENT_SHARE = 0.03
MIN_INFORMATIVENESS = 1.8
MIN_COLLECTION_ITEMS = 2
SURNAME_MIN_ITEMS = 3  # "Hitchcock" alone names someone only with this many items...
SURNAME_DOMINANCE = 3  # ...and this many times more items than anyone else of that surname
MAX_NAME_TOKENS = 5
FUZZY_MIN_RATIO = 90  # "Leonardo DiCaprio" typed "leonardo dicapri"
FUZZY_MIN_CHARS = 10

_CAPITALISED = r"(?:[A-ZÀ-ÖØ-Þ][a-z]?\.|[A-ZÀ-ÖØ-Þ][\w'’\-]*)"  # "Samuel", "L.", "St.", "Mary-Ann"
_NAME_WORD = rf"(?:{_CAPITALISED}|de|da|di|del|della|van|von|der|den|le|la|du)"
_SURNAME = r"[A-ZÀ-ÖØ-Þ][\w'’\-]+"
_NAME = rf"{_CAPITALISED}(?: {_NAME_WORD})* {_SURNAME}(?: Jr\.?| Sr\.?| III| II)?"
_NAME_LIST = rf"{_NAME}(?:(?:,? and |, ){_NAME})*"
_FULL_NAME = re.compile(_NAME)
# A credit list may name someone by surname once the text has given the full name: "written by Adam Sandler, …, and
# starring Sandler, John Turturro"; `_names` keeps a surname only when it resolves so.
_CREDIT = rf"(?:{_NAME}|{_SURNAME})"
_CREDIT_LIST = rf"{_CREDIT}(?:(?:,? and |, ){_CREDIT})*"
# "directed by", "Directed by", "directed and co-written by", "written, produced and directed by"
_DIRECTED_BY = r"\b(?:[Cc]o-)?[Dd]irected(?:,? (?:and )?(?:co-)?(?:produced|written|edited))*\s+by\s+"
_DIRECTED = re.compile(rf"{_DIRECTED_BY}(?P<names>{_CREDIT_LIST})")
_STARRING = re.compile(rf"\b(?:[Ss]tarring|[Cc]o-starring|[Ff]eaturing|(?:It|The film|The movie|and|which|also) "
                       rf"stars?|stars)\s+(?P<names>{_CREDIT_LIST})")
_VOICES = re.compile(rf"\b(?:[Ff]eaturing|[Ww]ith|[Ss]tarring) the (?:voices|voice talents) of\s+"
                     rf"(?P<names>{_NAME_LIST})")
_STARS_AS = re.compile(rf"(?P<names>{_NAME_LIST}) stars? as\b")  # "Frances McDormand stars as Marge Gunderson"
_SIBLINGS = re.compile(rf"{_DIRECTED_BY}(?P<first>[A-Z][a-z]+) and (?P<second>[A-Z][a-z]+) "
                       r"(?P<surname>[A-Z][\w'’\-]+)")  # "directed by Joel and Ethan Coen"
_ALSO_STAR = re.compile(rf"(?P<names>{_NAME_LIST}),? (?:also |co-)star\b")
_COLLECTION = re.compile(
    r"\b(?:in|of|to|from) [Tt]he (?P<name>[A-Z][\w'’&\-]*(?: (?:[A-Z0-9][\w'’&\-]*|of|the|and))*?)"
    r" (?:film |movie |media |animated )?(?:franchise|series|trilogy|saga|Cinematic Universe|Extended Universe)\b")
_NAME_SPLIT = re.compile(r",? and |, ")
_STEM = re.compile(r"^(?P<stem>.+?)(?::\s| - | and the | (?:\d+|II|III|IV|V|VI|Part \w+)$)")
_TRAILING_ARTICLE = re.compile(r"^(?P<body>.+), (?P<article>The|A|An)$")
_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
_ALTERNATE = re.compile(r"\s*\([^()]*\)\s*$")
# What an item is, as its description opens: "is a 2003 American comedy film", "was an epic fantasy adventure film";
# up to the word for the kind of work, else up to a genre noun ("is a 1999 American comedy starring …")
_WORK_NOUNS = "film|movie|picture|feature|miniseries|series|sitcom|show"
_GENRE_NOUNS = "comedy|drama|musical|documentary"
_OPENINGS = tuple(re.compile(rf"\b(?:is|was) (?:an?|the) .{{0,120}}?\b(?:{nouns})s?(?:[ -](?:{nouns})s?)*\b",
                             re.IGNORECASE) for nouns in (_WORK_NOUNS, _GENRE_NOUNS))
OPENING_CHARS = 300

NOT_PEOPLE = frozenset({"The", "It", "In", "Academy", "Award", "Walt Disney", "Disney", "Pixar", "Warner",
                        "Universal", "Paramount", "Columbia", "Pictures", "Studios", "Films", "Entertainment"})


@dataclass(frozen=True)
class Entity:
    kind: EntityKind
    name: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    @classmethod
    def from_key(cls, key: str) -> Entity:
        kind, _, name = key.partition(":")
        return cls(kind, name)  # type: ignore[arg-type]


@dataclass
class Knowledge:
    """people[name] = {item id: role}; collections[name] = [item ids]; aliases[normalized words] = entity keys;
    searchable: the words informative enough to search item documents by; genres[item id] = the catalog genres
    its description's opening names (items whose description names none are absent)."""

    people: dict[str, dict[str, Role]]
    collections: dict[str, list[str]]
    searchable: frozenset[str]
    aliases: dict[str, list[str]]
    alias_list: list[str]
    max_tokens: int
    by_item: dict[str, list[Entity]]
    genres: dict[str, list[str]]

    @classmethod
    def of(cls, people: dict[str, dict[str, Role]], collections: dict[str, list[str]],
           searchable: frozenset[str] | list[str] = frozenset(),
           genres: dict[str, list[str]] | None = None) -> Knowledge:
        aliases = _aliases(people, collections)
        by_item: dict[str, list[Entity]] = defaultdict(list)
        for name, roles in people.items():
            for item_id in roles:
                by_item[item_id].append(Entity("person", name))
        for name, members in collections.items():
            for item_id in members:
                by_item[item_id].append(Entity("collection", name))
        return cls(people, collections, frozenset(searchable), aliases, list(aliases),
                   max((len(alias.split()) for alias in aliases), default=1), dict(by_item), genres or {})

    def entities_of(self, item_id: str) -> list[Entity]:
        """The people and collections an item belongs to."""
        return self.by_item.get(item_id, [])

    def items(self, entity: Entity) -> dict[str, Role]:
        if entity.kind == "person":
            return self.people.get(entity.name, {})
        return dict.fromkeys(self.collections.get(entity.name, []), "in")

    def lookup(self, key: str, *, fuzzy: bool = False) -> list[Entity]:
        found = self.aliases.get(key)
        if found is None and fuzzy and len(key) >= FUZZY_MIN_CHARS:
            best = process.extractOne(key, self.alias_list, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN_RATIO)
            found = self.aliases[best[0]] if best else None
        return [Entity.from_key(entity) for entity in found or []]

    def to_json(self) -> dict:
        return {"version": FORMAT_VERSION, "people": self.people, "collections": self.collections,
                "searchable": sorted(self.searchable), "genres": self.genres}


def knowledge_index(catalog: Catalog, index_dir: Path | None = None) -> Knowledge:
    """The catalog's knowledge, kept with the catalog; read from `index_dir` when saved there, else extracted
    (and saved there when given)."""
    if "knowledge" not in catalog._cache:
        catalog._cache["knowledge"] = load_or_build(catalog, index_dir) if index_dir else build(catalog)
    return catalog._cache["knowledge"]


def knowledge_path(index_dir: Path, catalog: Catalog) -> Path:
    return Path(index_dir) / "knowledge" / f"knowledge-{catalog.fingerprint[:16]}-v{FORMAT_VERSION}.json"


def load_or_build(catalog: Catalog, index_dir: Path) -> Knowledge:
    path = knowledge_path(index_dir, catalog)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("version") == FORMAT_VERSION:
            return Knowledge.of(saved["people"], saved["collections"], saved["searchable"], saved["genres"])
    except (OSError, ValueError, KeyError):
        pass
    knowledge = build(catalog)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(knowledge.to_json()), encoding="utf-8")
    temporary.replace(path)
    return knowledge


def build(catalog: Catalog) -> Knowledge:
    people: dict[str, dict[str, Role]] = defaultdict(dict)
    collections: dict[str, set[str]] = defaultdict(set)
    genres: dict[str, list[str]] = {}
    items = catalog.items
    for item_id, description, metadata in zip(items.index, items["description"], items["metadata"]):
        text = description if isinstance(description, str) else ""
        if described := described_genres(text, catalog):
            genres[item_id] = described
        for name, role in people_in(text):
            if role == "directed" or name not in people or item_id not in people[name]:
                people[name][item_id] = role
        for name in collections_in(text):
            collections[name].add(item_id)
        for name, role in _metadata_people(metadata):
            people[name].setdefault(item_id, role)
        if isinstance(metadata, dict) and str(metadata.get("collection") or "").strip():
            collections[str(metadata["collection"]).strip()].add(item_id)
    for stem, members in _title_stems(items["title"]).items():
        collections[stem] |= members
    kept = {name: sorted(members) for name, members in collections.items() if len(members) >= MIN_COLLECTION_ITEMS}
    return Knowledge.of({name: dict(roles) for name, roles in people.items()}, kept, searchable_words(catalog),
                        genres)


def searchable_words(catalog: Catalog) -> frozenset[str]:
    """Words informative enough to search item documents by (normalized; see `is_searchable`)."""
    from wordfreq import zipf_frequency

    tagged = Counter(word for item_tags in catalog.items["tags"]
                     for word in {w for tag in item_tags for w in words(tag)})
    descriptions = [text for text in catalog.items["description"] if isinstance(text, str)]
    described = Counter(word for text in descriptions for word in set(words(text)))
    total = max(1, len(descriptions))
    kept = {word for word, count in tagged.items() if count >= MIN_TAGGED_ITEMS}
    kept |= {word for word, count in described.items()
             if MIN_DOCUMENTS <= count <= MAX_DOCUMENT_SHARE * total
             and informativeness(count / total, zipf_frequency(word, "en")) >= MIN_INFORMATIVENESS}
    return frozenset(word for word in kept if not word.isdigit())


def is_searchable(word: str, searchable: frozenset[str]) -> bool:
    return word in searchable or singular(word) in searchable


def informativeness(document_share: float, zipf: float) -> float:
    """log10(share of documents using a word / its frequency in English); a word unknown to English counts as rare."""
    return math.log10(document_share) - (max(zipf, 1.0) - 9)


def people_in(description: str) -> list[tuple[str, Role]]:
    """(name, role) for every director and star a description names."""
    found: list[tuple[str, Role]] = []
    full_names = _full_names(description)
    for pattern, role in ((_DIRECTED, "directed"), (_STARRING, "stars"), (_ALSO_STAR, "stars"), (_STARS_AS, "stars"),
                          (_VOICES, "stars")):
        for match in pattern.finditer(description):
            found += [(name, role) for name in _names(match["names"], full_names)]
    for match in _SIBLINGS.finditer(description):
        found += [(f"{match[first]} {match['surname']}", "directed") for first in ("first", "second")]
    return found


def described_genres(description: str, catalog: Catalog) -> list[str]:
    """The catalog genres a description's opening says the item is: "… is a 2008 American comedy film" → Comedy."""
    opening = next(filter(None, (pattern.search(description[:OPENING_CHARS]) for pattern in _OPENINGS)), None)
    return genres_for(opening[0], catalog) if opening else []


def collections_in(description: str) -> list[str]:
    return [match["name"] for match in _COLLECTION.finditer(description)
            if match["name"] not in NOT_PEOPLE and match["name"].lower() not in FUNCTION_WORDS]


def _names(listed: str, full_names: dict[str, set[str]]) -> list[str]:
    """The people a credit list names; a lone surname only when the text gave one full name of that surname."""
    names = []
    for name in (name.strip().rstrip(".") for name in _NAME_SPLIT.split(listed)):
        if len(name.split()) == 1 and len(full_names.get(name, ())) == 1:
            name = next(iter(full_names[name]))
        if len(name.split()) >= 2 and not NOT_PEOPLE.intersection(name.split()):
            names.append(name)
    return names


def _full_names(text: str) -> dict[str, set[str]]:
    """surname -> the capitalised names of two or more words in `text` that end with it."""
    by_surname: dict[str, set[str]] = defaultdict(set)
    for match in _FULL_NAME.finditer(text):
        if not NOT_PEOPLE.intersection(match[0].split()):
            by_surname[match[0].split()[-1]].add(match[0])
    return by_surname


def _metadata_people(metadata: object) -> list[tuple[str, Role]]:
    if not isinstance(metadata, dict):
        return []
    listed = str(metadata.get("people") or "")
    return [(name.strip(), "in") for name in re.split(r"[|;]", listed) if name.strip()]


def _title_stems(titles: pd.Series) -> dict[str, set[str]]:
    """Leading parts shared by two or more titles: "Harry Potter", "Star Wars", "Toy Story"."""
    stems: dict[str, set[str]] = defaultdict(set)
    everyday: dict[str, set[str]] = defaultdict(set)  # everyday-word stems: members whose title goes on past them
    whole: dict[str, set[str]] = defaultdict(set)  # everyday-word titles that are all stem
    for item_id, title in titles.items():
        name = _ALTERNATE.sub("", _YEAR.sub("", str(title)))
        moved = _TRAILING_ARTICLE.match(name)
        if moved:
            name = f"{moved['article']} {moved['body']}"
        match = _STEM.match(name)
        stem = (match["stem"] if match else name).strip()
        if stem.lower().startswith("the "):
            stem = stem[4:]
        content = [word for word in words(stem) if word not in FUNCTION_WORDS]
        if content and not all(word in COMMON_WORDS for word in content):
            stems[stem].add(item_id)
        elif len(content) >= 2:
            (everyday if match else whole)[stem].add(item_id)
    # "Star Wars: Episode IV", "Die Hard 2": everyday words make a series only when two titles go on past them ("Heat"
    # and "The Heat", or "Little Women" three times, are remakes); then the film of that very name belongs to it
    stems.update({stem: members | whole.get(stem, set()) for stem, members in everyday.items()
                  if len(members) >= MIN_COLLECTION_ITEMS})
    return {stem: members for stem, members in stems.items() if len(members) >= MIN_COLLECTION_ITEMS}


def _aliases(people: dict[str, dict[str, Role]], collections: dict[str, list[str]]) -> dict[str, list[str]]:
    aliases: dict[str, list[str]] = defaultdict(list)
    for name in people:
        aliases[" ".join(words(name))].append(Entity("person", name).key)
    for name in collections:
        alias = " ".join(words(name))
        aliases[alias].append(Entity("collection", name).key)
    for name in people:  # "jimmy stewart" is James Stewart, "bill murray" William Murray
        first, *rest = name.split(" ", 1) or [""]
        for nickname in NICKNAMES.get(first, ()):
            alias = " ".join(words(f"{nickname} {rest[0]}")) if rest else ""
            if alias and alias not in aliases:
                aliases[alias].append(Entity("person", name).key)
    by_surname: dict[str, list[str]] = defaultdict(list)
    for name in people:
        if words(name):
            by_surname[words(name)[-1]].append(name)
    for alias, team in _teams(people, by_surname).items():  # "the coen brothers": Joel and Ethan Coen
        if alias not in aliases:
            aliases[alias] = [Entity("person", name).key for name in team]
    for surname, names in by_surname.items():  # "kubrick": the one person of that surname with most films
        names = [name for name in names if len(people[name]) >= SURNAME_MIN_ITEMS]
        if len(surname) < 4 or surname in COMMON_WORDS or not names:
            continue
        ranked = sorted(names, key=lambda name: -len(people[name]))
        runner_up = len(people[ranked[1]]) if len(ranked) > 1 else 0
        if len(people[ranked[0]]) >= SURNAME_DOMINANCE * runner_up and surname not in aliases:
            aliases[surname].append(Entity("person", ranked[0]).key)
    return dict(aliases)


TEAM_MIN_FILMS = 2  # directed together this often: a team ("the Coen brothers")


def _teams(people: dict[str, dict[str, Role]], by_surname: dict[str, list[str]]) -> dict[str, list[str]]:
    """ "<surname> brothers/sisters" and "<surname>s" for people of one surname who directed films together."""
    teams: dict[str, list[str]] = {}
    for surname, names in by_surname.items():
        directed = [{item for item, role in people[name].items() if role == "directed"} for name in names]
        team = [name for name, items in zip(names, directed)
                if any(len(items & other) >= TEAM_MIN_FILMS for other in directed if other is not items)]
        if len(team) >= 2:
            for alias in (f"{surname} brothers", f"{surname} sisters", f"{surname}s"):
                teams[alias] = sorted(team)
    return teams


NICKNAMES = {"James": ("Jimmy", "Jim"), "Robert": ("Bob", "Bobby", "Rob"), "William": ("Bill", "Billy", "Will"),
             "Thomas": ("Tom", "Tommy"), "Michael": ("Mike",), "Christopher": ("Chris",), "Joseph": ("Joe",),
             "Richard": ("Rick", "Dick"), "Edward": ("Ed", "Eddie"), "Anthony": ("Tony",), "Daniel": ("Dan", "Danny"),
             "Matthew": ("Matt",), "Nicholas": ("Nick",), "Nicolas": ("Nick",), "Samuel": ("Sam",),
             "Benjamin": ("Ben",), "Steven": ("Steve",), "Stephen": ("Steve",), "Timothy": ("Tim",),
             "Kenneth": ("Ken",), "Jonathan": ("Jon",), "Elizabeth": ("Liz", "Beth"), "Katherine": ("Kate",),
             "Catherine": ("Kate", "Cathy"), "Jennifer": ("Jen",), "Margaret": ("Maggie", "Meg"), "Susan": ("Sue",)}


# --- in chat ---------------------------------------------------------------------------------------------------------

COLLECTION_CUES = frozenset({"movies", "movie", "films", "film", "series", "franchise", "saga", "trilogy",
                             "universe", "fan", "fans", "sequels", "ones", "collection"})
PERSON_BEFORE = frozenset({"with", "starring", "by", "featuring", "actor", "actress", "director", "directed"})
LIKING_WORDS = frozenset({"like", "likes", "liked", "love", "loves", "loved", "enjoy", "enjoyed", "adore"})
RARE_NAME_ZIPF = 4.0  # "i love kubrick" (2.9), "i like nolan" (3.6); never "i love cruise" (4.2) or "allen" (4.4)


@dataclass(frozen=True)
class EntityMention:
    start: int  # token positions [start, end)
    end: int
    span: str
    entities: tuple[Entity, ...]  # more than one: ambiguous


def find_entities(tokens: list[Token], knowledge: Knowledge, *, skip: set[int] = frozenset(),
                  shouting: bool = False) -> list[EntityMention]:
    """People and collections named in `tokens`, longest first, not overlapping `skip`."""
    return longest_matches(len(tokens), lambda position: _longest_at(tokens, position, knowledge, skip, shouting))


def _longest_at(tokens: list[Token], position: int, knowledge: Knowledge, skip: set[int],
                shouting: bool) -> EntityMention | None:
    for length in range(min(knowledge.max_tokens, MAX_NAME_TOKENS, len(tokens) - position), 0, -1):
        end = position + length
        if skip.intersection(range(position, end)):
            continue
        span = tokens[position:end]
        key = " ".join(token.norm for token in span)
        if span[0].norm in FUNCTION_WORDS or span[-1].norm in FUNCTION_WORDS:
            continue
        entities = knowledge.lookup(key, fuzzy=length >= 2)
        entities = [entity for entity in entities if _meant(entity, tokens, position, end, shouting)]
        if entities:
            text = " ".join(token.text for token in span)
            return EntityMention(position, end, text, tuple(entities))
    return None


def _meant(entity: Entity, tokens: list[Token], start: int, end: int, shouting: bool) -> bool:
    """A full name needs nothing; one word needs a capital letter or a cue (in lower case after "like"/"love" only a
    name English rarely uses); a collection needs a cue or capitals."""
    capitalised = not shouting and all(token.text[:1].isupper() for token in tokens[start:end])
    after = tokens[end].norm if end < len(tokens) else ""
    before = tokens[start - 1].norm if start > 0 else ""
    the_one = before == "the" and after == "one"  # "rope is the hitchcock one", "the marvel one with the raccoon"
    if entity.kind == "person":
        liked_by_name = before in LIKING_WORDS and zipf_frequency(tokens[start].norm, "en") < RARE_NAME_ZIPF
        return end - start >= 2 or capitalised or before in PERSON_BEFORE or after in COLLECTION_CUES or \
            liked_by_name or the_one
    cued = after in COLLECTION_CUES or the_one
    return cued or (capitalised and end - start >= 2)


# --- the Nth film of a series ----------------------------------------------------------------------------------------

SEQUEL_MIN_SHARE = 0.1  # a film counts in a series' order only with this share of its first film's ratings (no shorts)
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
             "ninth": 9, "tenth": 10}


def nth_film(catalog: Catalog, item_id: str, number: int) -> str | None:
    """The `number`th film of the series that starts with `item_id` ("Mad Max", 4 → Mad Max: Fury Road), or None
    when the catalog cannot tell: a film whose title carries the number after the series name wins ("Toy Story 3",
    "Rocky III", "Shrek the Third", "Road Warrior, The (Mad Max 2)"); otherwise the films named after the series, from
    `item_id` on, in order of release, if that order is certain (distinct years, every numbered title in its place,
    `item_id` first; a film with fewer than SEQUEL_MIN_SHARE of the first's ratings, a short or a TV special, is left
    out). A wrong film is worse than none."""
    if item_id not in catalog or number < 1:
        return None
    if number == 1:
        return item_id  # the film people name the series by
    prefix = _series_name(catalog, item_id)
    if not prefix:
        return None
    first_year = catalog.items.at[item_id, "year"]
    members: dict[str, int | None] = {}  # item → the number its title carries (None: none)
    for other, name in _said_titles(catalog).get(prefix[0], ()):
        if name[:len(prefix)] == prefix and members.get(other) is None:  # its first name that carries a number
            members[other] = _number_after(name, prefix)
    carrying = [other for other, carried in members.items() if carried == number]
    if len(carrying) == 1:
        return carrying[0]
    if carrying or first_year != first_year:  # two films carry it; or no year to order by
        return None
    least = SEQUEL_MIN_SHARE * catalog.popularity.get(item_id, 0)
    ordered = sorted((catalog.items.at[other, "year"], other) for other in members
                     if other == item_id or (catalog.items.at[other, "year"] >= first_year
                                             and catalog.popularity.get(other, 0) >= least))
    years = [year for year, _ in ordered]
    if not ordered or ordered[0][1] != item_id or len(set(years)) < len(years) or number > len(ordered):
        return None
    if any(members[other] not in (None, place) for place, (_, other) in enumerate(ordered, start=1)):
        return None
    return ordered[number - 1][1]


def _said_titles(catalog: Catalog) -> dict[str, list[tuple[str, list[str]]]]:
    """Every title's names as people say them (`_name_words`, canonical), by first word: built once per catalog,
    since a sequel number in a message looks through them all (it took 120-370 ms a message when built each time)."""
    if "said_titles" not in catalog._cache:
        by_first: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
        for item_id, title in catalog.items["title"].items():
            for name in title_names(str(title)):
                if said := canonical(_name_words(name), typed=False):
                    by_first[said[0]].append((str(item_id), said))
        catalog._cache["said_titles"] = dict(by_first)
    return catalog._cache["said_titles"]


def _series_name(catalog: Catalog, item_id: str) -> list[str]:
    """The words a series is named by: the shortest of the film's own title and the title-stem collections it is in
    ("Harry Potter" for "Harry Potter and the Sorcerer's Stone")."""
    own = canonical(_name_words(title_names(str(catalog.items.at[item_id, "title"]))[0]), typed=False)
    stems = [canonical(_name_words(entity.name), typed=False) for entity in knowledge_index(catalog).entities_of(item_id)
             if entity.kind == "collection"]
    return min([own, *(stem for stem in stems if stem and own[:len(stem)] == stem)], key=len)


def _name_words(name: str) -> list[str]:
    """A title's words as people say them, without a leading article: "Matrix, The" → matrix."""
    said = words(spoken_title(name))
    return said[1:] if said[:1] in (["the"], ["a"], ["an"]) and len(said) > 1 else said


def _number_after(name: list[str], prefix: list[str]) -> int | None:
    """The number right after the series name: "toy story 3", "shrek the third", "godfather 2" (canonical)."""
    rest = name[len(prefix):]
    if rest[:1] == ["the"]:
        rest = rest[1:]
    if not rest:
        return None
    if rest[0].isdigit():
        return int(rest[0])
    return _ORDINALS.get(rest[0])
