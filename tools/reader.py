"""The deterministic reader: one chat message → what the user likes, dislikes, wants. No LLM; a few ms.

`read_message(text, catalog)` links titles (`linking.find_titles`), finds taste words (`vocabulary.find_terms`) and
year phrases, then gives every title and genre a polarity from the nearest opinion cue in its clause:
- a cue before a mention applies to it ("loved Heat", "no horror", "something like Heat", "anything but westerns");
  "too"/"less" reach only the next words ("too scary");
- if the nearest cue before is only "seen"/"watched", or there is none, an opinion after it in the clause decides
  ("Cats was awful", "Breaking In was a good movie");
- clauses end at sentence punctuation, commas and "but"/"though" (so "I love horror but not gore" keeps horror);
  a clause after a comma that only lists more mentions inherits the cue before it ("I like horror, comedy and war").
Without any cue a genre counts as wanted, and a title as a mild like (0.5): in the ReDial dev cases 138 of the 158
movies seekers named were labelled liked and 2 disliked, so naming a movie is weak evidence of liking it.
"I haven't seen X" leaves X out of the likes (`polarity="unseen"`), so X can still be recommended.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from convrec.catalog.models import Catalog
from convrec.tools.chinese import gloss, has_chinese
from convrec.tools.knowledge import (COLLECTION_CUES, EntityMention, Knowledge, find_entities, is_searchable,
                                    knowledge_index)
from convrec.tools.linking import (NEWEST_WORDS, ORIGINAL_WORDS, VERSION_WORDS, LinkCandidate, TitleMention,
                                   find_titles, is_quoted, title_index)
from convrec.tools.models import Constraints, Era
from convrec.tools.textnorm import FUNCTION_WORDS, Token, sentence_starts, tokenize
from convrec.tools.vocabulary import TermMatch, find_terms
from convrec.tools.years import char_span_inside, inside_any, overlaps, read_years

Intent = Literal["greeting", "recommend", "refine", "feedback", "question"]
Polarity = Literal["liked", "disliked", "neutral", "unseen"]

MENTION_STRENGTH = 0.5  # a title named without an opinion
MAX_CUE_WORDS = 5


class TitleOpinion(BaseModel):
    item_id: str
    title: str
    span: str  # the user's words
    polarity: Polarity
    strength: float = Field(ge=0, le=1)


class AmbiguousTitle(BaseModel):
    """Words that name more than one catalog title: ask which one."""

    span: str
    polarity: Polarity
    strength: float = Field(ge=0, le=1)
    candidates: list[LinkCandidate]


class Reading(BaseModel):
    """What one message says. Item ids are catalog ids; genres are catalog genres."""

    liked: dict[str, float] = Field(default_factory=dict)
    disliked: dict[str, float] = Field(default_factory=dict)
    titles: list[TitleOpinion] = Field(default_factory=list, description="every linked title, with its polarity")
    ambiguous: list[AmbiguousTitle] = Field(default_factory=list)
    genres_liked: set[str] = Field(default_factory=set)
    genres_disliked: set[str] = Field(default_factory=set)
    entities_liked: dict[str, float] = Field(default_factory=dict, description="'person:Name' / 'collection:Name'")
    entities_disliked: dict[str, float] = Field(default_factory=dict)
    constraints: Constraints = Field(default_factory=Constraints)
    era: Era | None = None  # "something recent", "classics": soft
    query: str | None = None  # what is left to search semantically ("mind-bending twist ending")
    unread: list[str] = Field(default_factory=list, description="capitalised or quoted words nothing was made of")
    unsearched: list[str] = Field(default_factory=list, description="left-over words too uninformative to search")
    intent: Intent = "recommend"

    @property
    def has_preferences(self) -> bool:
        return bool(self.liked or self.disliked or self.ambiguous or self.genres_liked or self.genres_disliked
                    or self.entities_liked or self.entities_disliked or self.query or self.era
                    or self.constraints != Constraints())


@dataclass(frozen=True)
class Cue:
    polarity: Polarity
    strength: float
    hard: bool = False  # a dislike that rules the genre out ("no horror", "hate westerns")
    reach: int = 99  # how many words ahead it applies
    excess: bool = False  # "too"/"less": only about too much of a taste ("too scary"), never about a title
    after: bool = False  # also judges what came before it in the clause ("Cats was awful")
    before: bool = True  # judges what follows it


_LOVE = Cue("liked", 1.0)
_LIKE = Cue("liked", 0.8)
_WISH = Cue("liked", 0.6)
_PRAISE = Cue("liked", 0.8, after=True)
_REFUSE = Cue("disliked", 1.0, hard=True)
_DISLIKE = Cue("disliked", 0.8, hard=True)
_LUKEWARM = Cue("disliked", 0.6)
_ADORED = Cue("liked", 1.0, after=True)
_PAN = Cue("disliked", 0.8, after=True, before=False)  # "Cats was awful"; but "too dumb for me Pitch Perfect..."
_EXCESS = Cue("disliked", 0.6, reach=2, excess=True)
_SEEN = Cue("neutral", MENTION_STRENGTH)
_UNSEEN = Cue("unseen", 0.0)
_NOTHING = Cue("neutral", MENTION_STRENGTH, before=False)  # phrases that only hide a "not": "not sure", "no idea"


def _cues(phrases: str, cue: Cue) -> dict[str, Cue]:
    return {phrase.strip(): cue for phrase in phrases.split(",") if phrase.strip()}


# Phrases in normalized words (apostrophes dropped: "don't" → "dont"); the longest phrase at a position wins.
CUES: dict[str, Cue] = {
    **_cues("love, loved, loves, loving, adore, adored, adores, favorite, favourite, favorites, favourites, "
            "big fan of, huge fan of, really like, really liked, really enjoyed, obsessed with", _LOVE),
    **_cues("like, liked, likes, enjoy, enjoyed, enjoys, fan of, into, similar to, something like, anything like, "
            "movies like, films like, ones like, along the lines of, prefer, preferred, in the mood for, "
            "looking for, recommend, suggest, want, need, would like, id like, fond of, go for", _LIKE),
    **_cues("want to see, want to watch, wanna see, wanna watch, cant wait, excited, looking forward, "
            "interested in, curious about", _WISH),
    **_cues("good, great, amazing, awesome, fantastic, excellent, brilliant, fun, cool, masterpiece, best, "
            "not bad, not too bad, pretty good, so good, liked it, enjoyed it", _PRAISE),
    **_cues("loved it, one of my favorites, one of my favourites, my favorite, my favourite, my favorites", _ADORED),
    **_cues("fan, fans, big fan, huge fan, biggest fan", Cue("liked", 1.0, after=True, before=False)),
    **_cues("hate, hated, hates, hating, cant stand, cannot stand, despise, despised, no, nothing, none, without, "
            "except, anything but, everything but, anything other than, avoid, skip, dont want, do not want, "
            "not in the mood for, no more, not, never", _REFUSE),
    **_cues("dislike, disliked, dislikes, dont like, do not like, didnt like, did not like, doesnt like, "
            "dont enjoy, didnt enjoy, dont love, didnt love, not a fan, not a fan of", _DISLIKE),
    **_cues("not a big fan, not a big fan of, not really a fan, not really into, not into, not big on, "
            "dont care for, dont really care for, not much of, not so much, not usually, meh, not really", _LUKEWARM),
    **_cues("boring, awful, terrible, bad, horrible, sucked, sucks, overrated, disappointing, stupid, dumb, "
            "hated it, didnt like it, not good, not great, wasnt good, wasnt great, not for me, not my thing, "
            "not my kind, was meh", _PAN),
    **_cues("too, a bit too, a little too, way too, too much, less, not too, nothing too, not so", _EXCESS),
    **_cues("seen, saw, watched, watch, watching, rewatched, have seen, just watched, heard of, remember", _SEEN),
    **_cues("havent seen, have not seen, never seen, not seen, didnt see, did not see, havent watched, "
            "never watched, not watched, not yet seen, never heard of, havent seen it yet", _UNSEEN),
    **_cues("not sure, no idea, not picky, no matter, not yet, no problem, no doubt, not only, no preference, "
            "not that picky", _NOTHING),
}
NEGATORS = frozenset({"not", "never", "dont", "didnt", "doesnt", "cant", "wont", "wouldnt", "isnt", "wasnt",
                      "arent", "werent", "hardly"})
CLAUSE_WORDS = frozenset({"but", "though", "although", "however", "whereas", "while"})
_CLAUSE_PUNCTUATION = re.compile(r"[.!?;,\n]")

# Words that say nothing searchable: left out of the free-text query.
CHAT_WORDS = FUNCTION_WORDS | frozenset("""
movie movies film films flick flicks show shows something anything everything recommend recommendation
recommendations suggest suggestion suggestions watch watching watched see seen saw want wanna looking look need
find please thanks thank tonight today now good great nice best better really maybe kind sort type types genre
genres mood like love loved enjoy enjoyed fan favorite favourite doing fine lol haha some ones stuff things thing
time pretty quite lot bit little know think guess actually night weekend help idea ideas options option else less
another different new old older newer recent classic classics lately recently watchable sounds sound cool fun
awesome amazing interesting hear heard tell would could should might let lets give show shown id ill ive
grew grow growing thinking thought planning plan trying try going make made getting wondering wonder ask asking
anyway though tho ya yea yeah lately usually always sometimes especially definitely probably open problem friend
friends fav favs almost morning evening afternoon meet hope many much still say said oops nope hmm hmmm omg yes
sorry course chance moment check tie greetings aloha neighbor man guys dude seeking seek original
similar other others anymore later put putting hii
""".split())

_QUOTED = re.compile(r"[\"“«][^\"“”«»]{2,60}[\"”»]")
COMPANY_PREPOSITIONS = frozenset({"with", "for"})
SPEAKER_POSSESSIVES = frozenset({"my", "our"})
COMPANY_WORDS = 2  # "my little brother"
_INTERJECTION = re.compile(r"(?:h+a+)+h*|(?:l+o+l+)+|y+e+s+|y+a+y+|o+k+|h+m+|o+h+|w+o+w+|a+w+|u+g+h+")
GREETINGS = frozenset({"hi", "hello", "hey", "hiya", "howdy", "aloha", "greetings", "yo", "morning", "evening",
                       "afternoon", "sup", "hola"})
_SMALL_TALK = re.compile(r"\b(?:how (?:are|r) (?:you|u|ya)|how(?:'s|s| is) it going|(?:how|what) about you|"
                         r"and (?:you|yourself)|how have you been|nice to meet you|good (?:morning|afternoon|evening|"
                         r"night|day)|what'?s up)\b", re.I)
_QUESTION = re.compile(r"(?:^|[.!?]\s*)(?:who|what|when|where|why|how|which|is|was|does|did|has|are|were|whats|"
                       r"what's|who's|whos)\b[^.!?]*\?", re.I)  # a sentence that starts as a question and ends in "?"
_IS_IT_QUESTION = re.compile(r"(?:^|(?<=[.!?])\s*)(?:is|was|are|were)\b[^.!?]*\?", re.I)
_REFINE = re.compile(r"\b(?:(?:more|less)\s+(?!than\b)\w+|(?:something|anything|what|who)\s+else|instead|different|"
                     r"not that one|other than|newer|older|another (?:one|movie|film|suggestion))\b", re.I)
REQUEST_WORDS = frozenset({"recommend", "suggest", "suggestion", "suggestions", "recommendation",
                           "recommendations", "want", "need", "looking", "any", "anything", "something", "give",
                           "show", "find", "mood", "like", "similar"})
FEEDBACK_WORDS = frozenset({"seen", "saw", "watched", "yes", "yeah", "yep", "no", "nope", "nah", "ok", "okay",
                            "thanks", "thank", "sounds", "great", "good", "cool", "nice", "perfect", "boring",
                            "interested", "already", "liked", "loved", "hated", "that", "it", "those", "them",
                            "one"})


@dataclass
class _Mention:
    start: int  # token positions [start, end)
    end: int
    title: TitleMention | None = None
    term: TermMatch | None = None
    entity: EntityMention | None = None


@dataclass(frozen=True)
class _FoundCue:
    start: int
    end: int
    cue: Cue


@dataclass(frozen=True)
class _Judgement:
    polarity: Polarity
    strength: float
    hard: bool = False


def read_message(text: str, catalog: Catalog) -> Reading:
    """Read one user message against `catalog`: titles, genres, year limits, query and intent."""
    if has_chinese(text):  # Chinese is read through an English gloss (tools/chinese.py)
        glossed = gloss(text, catalog)
        return glossed.restore(read_message(glossed.english, catalog))
    tokens = tokenize(text)
    years = read_years(text, catalog)
    knowledge = knowledge_index(catalog)
    shouting = text.upper() == text  # ALL CAPS: capitals say nothing
    entities = [entity for entity in find_entities(tokens, knowledge, shouting=shouting)
                if not char_span_inside(tokens, entity.start, entity.end, years.spans)]
    cast_named = frozenset(item for mention in entities if len(mention.entities) == 1
                           for entity in mention.entities if entity.kind == "person"
                           for item in knowledge.items(entity))
    people_at = frozenset(mention.start for mention in entities if mention.entities[0].kind == "person")
    titles = [mention for mention in find_titles(text, catalog, cast_named=cast_named, people_at=people_at)
              if not inside_any(mention, years.spans)]
    mentions = _title_mentions(tokens, titles)
    mentions = _entities_over_titles(mentions, entities, tokens, text)
    mentions = [_version_of(_original_of(mention, tokens, knowledge, catalog), tokens, catalog)
                for mention in mentions]
    in_titles = {position for mention in mentions for position in range(mention.start, mention.end)}
    mentions += [_Mention(term.start, term.end, term=term) for term in find_terms(tokens, catalog, skip=in_titles)
                 if not char_span_inside(tokens, term.start, term.end, years.spans)]
    mentions.sort(key=lambda mention: mention.start)
    cues = _find_cues(tokens, {p for mention in mentions for p in range(mention.start, mention.end)})
    clauses = _clauses(text, tokens, cues, mentions)
    asked = _asked_about(text, tokens)
    judgements = [_judge(mention, mentions, cues, clauses, asked) for mention in mentions]
    reading = _assemble(mentions, judgements, years.constraints)
    reading.era = years.era
    unread = _unread(text, tokens, mentions, years.spans, shouting)
    reading.unread = [text[tokens[run[0]].start:tokens[run[-1]].end] for run in _runs(unread)]
    reading.query, reading.unsearched = _query(text, tokens, mentions, judgements, cues, clauses, years.spans,
                                               knowledge.searchable)
    reading.intent = _intent(tokens, text, reading)
    if reading.intent == "greeting":
        reading.query = None
    return reading


# --- mentions, cues, clauses -----------------------------------------------------------------------------------------

# "with keanu reeves", "starring Bruce Willis": a one-word title right after these names a person, not the film.
PERSON_CUES = frozenset({"with", "starring", "featuring", "actor", "actress", "director", "directed"})


def _title_mentions(tokens: list[Token], titles: list[TitleMention]) -> list[_Mention]:
    mentions = []
    for title in titles:
        inside = [position for position, token in enumerate(tokens)
                  if token.start >= title.start and token.end <= title.end]
        if inside and not _names_a_person(tokens, inside):
            mentions.append(_Mention(inside[0], inside[-1] + 1, title=title))
    return mentions


def _entities_over_titles(titles: list[_Mention], entities: list[EntityMention],
                          tokens: list[Token], text: str) -> list[_Mention]:
    """A person or a cued collection takes the words from a title of the same or a shorter span ("Hitchcock never
    disappoints" is the director, "the Harry Potter series" the series); an uncued collection name that is also a
    linked title stays the title ("I loved Toy Story"), and so does a quoted title ("Ed Wood")."""
    kept_entities = []
    for entity in entities:
        overlapping = [title for title in titles if title.start < entity.end and entity.start < title.end]
        if any(is_quoted(text, title.title.start, title.title.end) for title in overlapping):
            continue
        cued = entity.end < len(tokens) and tokens[entity.end].norm in COLLECTION_CUES
        person = entity.entities[0].kind == "person"
        if any(title.end - title.start > entity.end - entity.start for title in overlapping):
            continue
        if overlapping and not person and not cued and any(t.title.result.decision == "linked" for t in overlapping):
            continue
        kept_entities.append(entity)
        titles = [title for title in titles if title not in overlapping]
    return titles + [_Mention(entity.start, entity.end, entity=entity) for entity in kept_entities]


def _original_of(mention: _Mention, tokens: list[Token], knowledge: Knowledge, catalog: Catalog) -> _Mention:
    """ "the original Star Wars", "the first Matrix": a series named after "original"/"first" is its earliest film."""
    entity = mention.entity
    if entity is None or entity.entities[0].kind != "collection" or mention.start == 0 or \
            tokens[mention.start - 1].norm not in ORIGINAL_WORDS:
        return mention
    dated = [(year, item_id) for item_id in knowledge.items(entity.entities[0])
             if item_id in catalog and (year := catalog.items.at[item_id, "year"]) == year]  # NaN ≠ NaN
    if not dated:
        return mention
    title = TitleMention(span=entity.span, start=tokens[mention.start].start, end=tokens[mention.end - 1].end,
                         result=title_index(catalog).linked(min(dated)[1], entity.span, 1.0))
    return _Mention(mention.start - 1, mention.end, title=title)


def _version_of(mention: _Mention, tokens: list[Token], catalog: Catalog) -> _Mention:
    """ "the new Halloween", "the original Halloween", "the remake of Hairspray": of films sharing one title, the
    latest or the earliest."""
    title = mention.title
    if title is None or title.result.decision != "ambiguous":
        return mention
    before = mention.start - 1 - (mention.start >= 2 and tokens[mention.start - 1].norm in ("of", "the"))
    word = tokens[before].norm if before >= 0 else ""
    if word not in VERSION_WORDS:
        return mention
    best = max(candidate.confidence for candidate in title.result.candidates)
    namesakes = [candidate for candidate in title.result.candidates
                 if candidate.confidence == best and candidate.year is not None]
    if len(namesakes) < 2:
        return mention
    chosen = (max if word in NEWEST_WORDS else min)(namesakes, key=lambda candidate: candidate.year)
    linked = title_index(catalog).linked(chosen.item_id, title.span, best)
    return _Mention(before, mention.end, title=title.model_copy(update={"result": linked}))


def _names_a_person(tokens: list[Token], inside: list[int]) -> bool:
    return len(inside) == 1 and inside[0] > 0 and tokens[inside[0] - 1].norm in PERSON_CUES


def _find_cues(tokens: list[Token], taken: set[int]) -> list[_FoundCue]:
    found, position = [], 0
    while position < len(tokens):
        cue = _longest_cue_at(tokens, position, taken)
        if cue:
            found.append(cue)
            position = cue.end
        else:
            position += 1
    return [_negated(cue, tokens) for cue in found]


def _longest_cue_at(tokens: list[Token], position: int, taken: set[int]) -> _FoundCue | None:
    for length in range(min(MAX_CUE_WORDS, len(tokens) - position), 0, -1):
        end = position + length
        if taken.isdisjoint(range(position, end)):
            cue = CUES.get(" ".join(token.norm for token in tokens[position:end]))
            if cue:
                return _FoundCue(position, end, cue)
    return None


def _negated(found: _FoundCue, tokens: list[Token]) -> _FoundCue:
    """ "don't really like", "never liked": a like within two words after a negation is a dislike."""
    if found.cue.polarity == "liked" and any(tokens[p].norm in NEGATORS
                                             for p in range(max(0, found.start - 2), found.start)):
        return _FoundCue(found.start, found.end, _DISLIKE)
    return found


@dataclass(frozen=True)
class _Clause:
    index: int
    after_comma: bool  # began at a comma, so a list may go on ("horror, comedy and war")


def _clauses(text: str, tokens: list[Token], cues: list[_FoundCue], mentions: list[_Mention]) -> list[_Clause]:
    """The clause of every token position."""
    inside_title = {p for m in mentions if m.title for p in range(m.start + 1, m.end)}
    opens_title = {m.start for m in mentions if m.title}  # "i hate While You Were Sleeping"
    in_cue = {p for cue in cues for p in range(cue.start, cue.end)}
    clauses, index, after_comma = [], 0, False
    for position, token in enumerate(tokens):
        if position and position not in inside_title:
            gap = text[tokens[position - 1].end:token.start]
            if _CLAUSE_PUNCTUATION.search(gap) or (token.norm in CLAUSE_WORDS and position not in in_cue
                                                   and position not in opens_title):
                index += 1
                after_comma = "," in gap and not re.search(r"[.!?;\n]", gap)
        clauses.append(_Clause(index, after_comma))
    return clauses


def _judge(mention: _Mention, mentions: list[_Mention], cues: list[_FoundCue], clauses: list[_Clause],
           asked: set[int] = frozenset()) -> _Judgement:
    clause = clauses[mention.start].index
    before = [cue for cue in cues if cue.end <= mention.start and clauses[cue.start].index == clause
              and cue.cue.before and mention.start - cue.end <= cue.cue.reach and _applies(cue.cue, mention)]
    nearest = before[-1] if before else None
    if nearest and nearest.cue.polarity in ("liked", "disliked"):
        return _Judgement(nearest.cue.polarity, nearest.cue.strength, nearest.cue.hard)
    after = [cue for cue in cues if cue.start >= mention.end and clauses[cue.start].index == clause
             and cue.cue.after and not (mention.title and mention.start in asked)]  # "Is Heat any good?" asks
    if after:
        return _Judgement(after[0].cue.polarity, after[0].cue.strength, after[0].cue.hard)
    if nearest:
        return _Judgement(nearest.cue.polarity, nearest.cue.strength)
    inherited = _inherited(mention, mentions, cues, clauses)
    if inherited:
        return inherited
    return _Judgement("neutral", MENTION_STRENGTH) if mention.title else _Judgement("liked", 0.8)


def _asked_about(text: str, tokens: list[Token]) -> set[int]:
    """Token positions inside a question that asks whether something is so ("Is Heat any good?", "was it worth
    it?"): an opinion word there is asked, not given."""
    spans = [(match.start(), match.end()) for match in _IS_IT_QUESTION.finditer(text)]
    return {position for position, token in enumerate(tokens) if overlaps((token.start, token.end), spans)}


def _applies(cue: Cue, mention: _Mention) -> bool:
    """ "too" complains only about too much of a thing: "too scary" yes, "too funny" no, and not of titles."""
    return not cue.excess or (mention.term is not None and mention.term.excess_is_bad)


def _inherited(mention: _Mention, mentions: list[_Mention], cues: list[_FoundCue],
               clauses: list[_Clause]) -> _Judgement | None:
    """A comma list goes on: "I like horror, comedy and war" → the clause of "comedy" has no cue of its own."""
    clause = clauses[mention.start]
    if not clause.after_comma or any(clauses[cue.start].index == clause.index for cue in cues):
        return None
    earlier = [other for other in mentions if other.end <= mention.start
               and clauses[other.start].index == clause.index - 1]
    if not earlier:
        return None
    judgement = _judge(earlier[-1], mentions, cues, clauses)
    return judgement if judgement.polarity in ("liked", "disliked") else None


# --- the reading ---------------------------------------------------------------------------------------------------

def _assemble(mentions: list[_Mention], judgements: list[_Judgement], constraints: Constraints) -> Reading:
    reading = Reading(constraints=constraints)
    for mention, judgement in zip(mentions, judgements):
        if mention.title:
            _add_title(reading, mention.title, judgement)
        elif mention.entity:
            _add_entity(reading, mention.entity, judgement)
        else:
            _add_genres(reading, mention.term, judgement)
    return reading


def _add_entity(reading: Reading, mention: EntityMention, judgement: _Judgement) -> None:
    if judgement.polarity == "unseen":
        return
    team = len(mention.entities) > 1 and all(entity.kind == "person" for entity in mention.entities)
    for entity in mention.entities if team else mention.entities[:1]:  # "the Coen brothers": both
        strength = round(max(judgement.strength, 0.8) if judgement.polarity != "disliked" else judgement.strength, 2)
        if judgement.polarity == "disliked":
            reading.entities_liked.pop(entity.key, None)
            reading.entities_disliked[entity.key] = strength
        else:
            reading.entities_disliked.pop(entity.key, None)
            reading.entities_liked[entity.key] = strength


def _add_title(reading: Reading, mention: TitleMention, judgement: _Judgement) -> None:
    polarity, strength = judgement.polarity, round(judgement.strength, 2)
    if mention.result.decision == "ambiguous":
        reading.ambiguous.append(AmbiguousTitle(span=mention.span, polarity=polarity, strength=strength,
                                                candidates=mention.result.candidates))
        return
    best = mention.result.candidates[0]
    reading.titles.append(TitleOpinion(item_id=best.item_id, title=best.title, span=mention.span,
                                       polarity=polarity, strength=strength))
    if polarity == "disliked":
        reading.liked.pop(best.item_id, None)
        reading.disliked[best.item_id] = strength
    elif polarity in ("liked", "neutral"):
        reading.disliked.pop(best.item_id, None)
        reading.liked[best.item_id] = max(strength, reading.liked.get(best.item_id, 0.0))


def _add_genres(reading: Reading, term: TermMatch, judgement: _Judgement) -> None:
    """The later mention of a genre wins; subgenres ("no zombies") never rule out their whole genre."""
    if judgement.polarity == "disliked":
        excluded = set(() if term.descriptive else term.excludes)
        reading.genres_liked -= excluded
        reading.genres_disliked |= excluded
        if judgement.hard:
            reading.constraints.exclude_genres |= excluded
    elif judgement.polarity != "unseen":
        reading.genres_liked |= set(term.genres)
        reading.genres_disliked -= set(term.genres)
        reading.constraints.exclude_genres -= set(term.genres)


def _query(text: str, tokens: list[Token], mentions: list[_Mention], judgements: list[_Judgement],
           cues: list[_FoundCue], clauses: list[_Clause], year_spans: list[tuple[int, int]],
           searchable: frozenset[str]) -> tuple[str | None, list[str]]:
    """The descriptive words left once titles, plain genre words, years, opinions and chat are taken out, and only
    words informative about the catalog (`knowledge.searchable_words`); None when nothing informative is left.
    Also the left-over words that were not informative enough ("work", "huge")."""
    dropped = {p for cue in cues for p in range(cue.start, cue.end)} | _company(tokens)
    for mention, judgement in zip(mentions, judgements):
        if mention.title or mention.entity or not mention.term.descriptive or judgement.polarity == "disliked":
            cue_after = bool(mention.entity) and mention.end < len(tokens) and \
                tokens[mention.end].norm in COLLECTION_CUES  # "Marvel movies", "the Harry Potter series"
            dropped.update(range(mention.start, mention.end + cue_after))
    negated_clauses = {clauses[cue.start].index for cue in cues if cue.cue.polarity == "disliked" and cue.cue.before}
    left = [position for position, token in enumerate(tokens)
            if position not in dropped and token.norm not in CHAT_WORDS and not token.norm.isdigit()
            and not _INTERJECTION.fullmatch(token.norm)
            and clauses[position].index not in negated_clauses
            and not overlaps((token.start, token.end), year_spans)]
    kept = [position for position in left
            if is_searchable(tokens[position].norm, searchable) or _is_descriptive_term(position, mentions)]
    named = {p for mention in mentions for p in range(mention.start, mention.end)}
    kept = sorted(set(kept) | _hyphenated_with(kept, named, text, tokens))  # "feel-good", not "feel"
    unsearched = [tokens[position].text for position in left if position not in kept]
    if not any(len(tokens[p].norm) >= 3 for p in kept):
        return None, unsearched
    return " ".join(text[tokens[run[0]].start:tokens[run[-1]].end] for run in _runs(kept)), unsearched


def _company(tokens: list[Token]) -> set[int]:
    """The speaker's own life: who the film is watched with or for ("with my sisters", "for our son", "with my new
    boyfriend") and what "my" or "our" owns ("my husband likes westerns", "my favorite"): never what the film is
    about, so never a search word. Measured: "sisters" searched Sisters; every word after "my/our" in the ReDial tune
    split's seeker turns (favorite, family, friends, son, husband, kids, memory, day …) is about the speaker."""
    company: set[int] = set()
    for position in range(len(tokens) - 1):
        if tokens[position].norm in SPEAKER_POSSESSIVES:
            words_owned = COMPANY_WORDS if position and tokens[position - 1].norm in COMPANY_PREPOSITIONS else 1
            company.update(range(position + 1, min(len(tokens), position + 1 + words_owned)))
    return company


def _hyphenated_with(kept: list[int], named: set[int], text: str, tokens: list[Token]) -> set[int]:
    """The other parts of hyphenated words a kept word belongs to, chat and opinion words too ("feel-good" for
    "feel"), unless a title, a name or a taste word took them."""
    joined = {position for position in range(len(tokens) - 1)
              if text[tokens[position].end:tokens[position + 1].start] == "-"}  # position and position + 1
    added: set[int] = set()
    frontier = set(kept)
    while frontier:
        position = frontier.pop()
        for other in (position - 1, position + 1):
            pair = min(position, other)
            if pair in joined and other not in named and other not in added and other not in kept:
                added.add(other)
                frontier.add(other)
    return added


def _unread(text: str, tokens: list[Token], mentions: list[_Mention], year_spans: list[tuple[int, int]],
            shouting: bool) -> list[int]:
    """Positions of names the reader made nothing of: capitalised words inside a sentence ("Leo", "Nolan") and quoted
    words. What an LLM may still read; an all-caps message says nothing by its capitals."""
    covered = {p for mention in mentions for p in range(mention.start, mention.end)}
    starts = sentence_starts(text, tokens)
    quoted = [(match.start(), match.end()) for match in _QUOTED.finditer(text)]
    unread = [position for position, token in enumerate(tokens)
              if position not in covered and token.norm not in CHAT_WORDS and not token.norm.isdigit()
              and not overlaps((token.start, token.end), year_spans)
              and (any(start <= token.start and token.end <= end for start, end in quoted)
                   or (not shouting and not starts[position] and token.text[:1].isupper()))]
    return unread


def _is_descriptive_term(position: int, mentions: list[_Mention]) -> bool:
    return any(m.term is not None and m.term.descriptive and m.start <= position < m.end for m in mentions)


def _runs(positions: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for position in positions:
        if runs and runs[-1][-1] == position - 1:
            runs[-1].append(position)
        else:
            runs.append([position])
    return runs


def _intent(tokens: list[Token], text: str, reading: Reading) -> Intent:
    """A coarse intent, in this order: greeting, question, refine, feedback, recommend."""
    found_words = {token.norm for token in tokens}
    opinions = bool(reading.titles or reading.ambiguous or reading.genres_liked or reading.genres_disliked
                    or reading.entities_liked or reading.entities_disliked or reading.era
                    or reading.constraints != Constraints())
    asks_for_movies = bool(found_words & REQUEST_WORDS)
    if not opinions and not asks_for_movies and (found_words & GREETINGS or _SMALL_TALK.search(text)):
        return "greeting"
    firm_opinions = any(title.polarity != "neutral" for title in reading.titles) or reading.genres_liked or \
        reading.genres_disliked or reading.entities_liked
    if _QUESTION.search(text) and not asks_for_movies and not firm_opinions:
        return "question"
    if _REFINE.search(text):
        return "refine"
    if not opinions and not asks_for_movies and reading.query is None and found_words & FEEDBACK_WORDS:
        return "feedback"
    return "recommend"
