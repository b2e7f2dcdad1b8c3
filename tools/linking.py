"""Entity linking: the titles people type ("the matirx", "Godfather 2", "amelie", "lotr fellowship") → catalog ids.

No LLM. Every catalog title is indexed under several keys, each with a match quality:
the title itself (1.0), without its leading article (0.97), its alternate titles in parentheses (0.97),
its part before a colon or dash ("Star Wars", 0.85: a franchise name, so it is shared and ambiguous),
its subtitle ("A New Hope", 0.9) and the franchise with the subtitle or sequel number ("star wars 4", 0.95).
Keys are normalized (see `textnorm`) and canonical: roman numerals become digits and "part"/"episode"/"vol"
before a number are dropped, so "Godfather: Part II" and "godfather 2" are the same key.

A lookup finds exact keys, and keys that extend the query ("batman" → "batman forever"); then, for one title
typed alone, typos (rapidfuzz) and words in order ("lotr fellowship" → "...the fellowship of the ring").
Inside chat text (`find_titles`) only exact keys and franchise starts count, plus slight typos of words no title
uses; titles made of everyday words need a sign that they are titles (see `_looks_meant`).
The decision uses popularity (number of ratings) as the prior of what people mean:
- linked when no rival is left: a rival is an equally good match that is at least 1/10 as popular
  ("psycho" 1960 vs 1998: 83 vs 9 ratings → ambiguous; "titanic" 1997 vs 1953: 140 vs 6 → linked),
  or a well-known longer title starting with the query, at least 60% as popular ("batman" vs "batman forever",
  but not "the dark knight" vs "the dark knight rises"), sequels by number excepted ("toy story" is Toy Story);
- ambiguous when rivals remain, or when the best match is a weak one (a typo guess to confirm);
- none when nothing matches well enough.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import BaseModel, Field
from rapidfuzz import fuzz, process
from wordfreq import zipf_frequency

from convrec.catalog.models import Catalog
from convrec.tools.textnorm import COMMON_WORDS, FUNCTION_WORDS, Token, sentence_starts, tokenize, words
from convrec.tools.vocabulary import VOCABULARY_WORDS, find_terms, singular

Decision = Literal["linked", "ambiguous", "none"]

LINK_MIN = 0.8  # below this a match is only a suggestion to confirm
SUGGEST_MIN = 0.7  # below this it is no match at all
NEAR_GAP = 0.05  # matches this close in quality compete on popularity alone
NEAR_RATIO = 10  # an equally good match this much less popular is not a rival
FRANCHISE_MIN_POP = 20  # a longer title starting with the query is a rival only if this well known...
FRANCHISE_SHARE = 0.6  # ...and this popular relative to the best match ("batman forever" is, "dark knight rises" not)
POPULARITY_WEIGHT = 0.05  # in ranking, ×10 ratings is worth 0.05 of match quality (Léon before a rare namesake)
FUZZY_MIN_RATIO = 80
FUZZY_MIN_CHARS = 5
TYPO_MIN_RATIO = 88  # inside chat text a typo must be slight: "the matirx" (90) yes, "moovie" → "movie" never
TYPO_MIN_CHARS = 7
TYPO_SPAN_TOKENS = 4
DISTINCTIVE_MIN_CHARS = 5
DISTINCTIVE_MAX_ZIPF = 3.0  # "shawshank" 2.6, "totoro" 2.4; "fellowship" 3.6 and "captain" 4.3 say nothing alone
DISTINCTIVE_CONFIDENCE = 0.85
TYPO_MAX_ZIPF = 2.0  # a word English uses is no typo: "hoverboard" (2.4) is not Overboard, "jurrasic" (1.2) may be
MAX_TYPO_WORDS = 5
MAX_EXTENSIONS = 300  # keys starting with the query looked at ("the" would otherwise scan thousands)
MAX_SPAN_TOKENS = 12
# A one-word title at least this frequent in everyday English (wordfreq's Zipf scale: 5 = once per 100k words) is
# chat until the message shows it is a title: "whatever you think" (5.1), "I may have" (5.6); not "Titanic" (3.6).
# ReDial tune split, thresholds 3.5 / 4.0 / 4.5: precision 0.933 / 0.925 / 0.917, recall 0.923 / 0.925 / 0.927.
# Its titles are typed as picked from a list (capitalised), so lower thresholds look better there than they are for
# people who type "titanic" (3.6) or "inception" (3.7) in lower case: 4.0.
EVERYDAY_ZIPF = 4.0
# One lower-case word naming a little-rated film needs a sign it is a title: "good vibes" (3.6), "hitchcock never
# disappoints" (3.3), "wit my family" (4.0); "i liked boyhood" (3.1) has one.
# blind-a: precision 0.943 → 0.980, recall the same (at 3.0 it cost a title).
OBSCURE_WORD_ZIPF = 3.25
ARTICLE_PHRASE_ZIPF = 4.5  # "playing the score" (4.8), "the town" is chat; "the matrix" (4.1) is a title
# A short phrase made only of words at least this frequent is chat until shown otherwise: "Whatever works for you"
# (5.1, 5.3) is not *Whatever Works*; "toy story" (4.3) or "the matrix" (4.0) still link without a sign.
CHAT_PHRASE_ZIPF = 5.0

ABBREVIATIONS = {
    "lotr": ("lord", "of", "the", "rings"), "hp": ("harry", "potter"), "potc": ("pirates", "of", "the", "caribbean"),
    "t2": ("terminator", "2"), "fotr": ("fellowship", "of", "the", "ring"), "rotk": ("return", "of", "the", "king"),
    "gotg": ("guardians", "of", "the", "galaxy"), "esb": ("empire", "strikes", "back"),
}
_ROMAN = {"ii": 2, "iii": 3, "iv": 4, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "xi": 11, "xii": 12, "xiii": 13,
          "xiv": 14, "xv": 15, "xvi": 16, "xvii": 17, "xviii": 18, "xix": 19, "xx": 20}
_SHORT_ROMAN = {"i": 1, "v": 5, "x": 10}  # also words or letters: digits only after "part" or at the end
SEQUEL_WORDS = frozenset({"part", "pt", "episode", "chapter", "vol", "volume"})
ARTICLES = frozenset({"the", "a", "an"})
MINOR_WORDS = frozenset({"the", "a", "an", "of", "and", "or", "in", "on", "at", "to", "for", "with", "from", "by",
                         "vs", "v", "is", "it", "as", "but"})
# Words after which everyday words are probably a title ("loved heat"). Not "like"/"love": "I like cars a lot".
TITLE_CUES = frozenset({"seen", "saw", "watched", "rewatched", "loved", "liked", "hated", "enjoyed", "disliked",
                        "called", "titled"})
WATCHING_CUES = frozenset({"watching", "rewatching", "finished"})  # "watching home alone", but "watching together"
MULTIWORD_TITLE_CUES = frozenset({"like", "likes", "love", "loves"}) | WATCHING_CUES  # "i love star wars", "i like cars"
OPINION_WORDS = frozenset({"good", "great", "amazing", "awesome", "boring", "awful", "terrible", "bad", "funny",
                           "hilarious", "scary", "overrated", "underrated", "brilliant", "fantastic", "excellent",
                           "ok", "okay", "best", "worst", "meh", "incredible", "masterpiece", "decent", "horrible",
                           "better", "worse", "favorite", "favourite", "favorites", "favourites", "classic",
                           "creepy", "sad", "heartbreaking", "beautiful", "weird", "strange", "stupid", "dumb",
                           "cute", "sweet", "intense", "tense", "fun", "cool", "wonderful", "perfect", "slow",
                           "disappointing", "confusing"})
INDEFINITE_PRONOUNS = frozenset({"nothing", "everything", "something", "anything", "everyone", "nobody", "somebody",
                                 "anyone", "someone", "none"})  # "Nothing is better than a good horror movie"
INTENSIFIERS = frozenset({"really", "pretty", "quite", "so", "kind", "sort", "s", "all", "time"})  # "my all time favorite"
JUDGING_VERBS = frozenset({"is", "was", "s", "won"})  # "Heat is one of the best", "Crash won best picture"
SUBJECT_VERBS = JUDGING_VERBS | {"has", "had"}
# A one-word title this often rated opening a sentence before "is"/"was" is the film: "Speed is ..." (171 ratings),
# "Argo was ..." (28), not "Life is too short" (4), "Family is coming" (3), "Home is" (8). About the top 12 %.
WELL_KNOWN_RATINGS = 20
OBJECT_PRONOUNS = frozenset({"her", "us", "him", "them", "me"})  # "Her was so strange": no pronoun is a subject
SUBJECT_PRONOUNS = frozenset({"i", "we", "you", "they"})  # "I Love action": one word after one is a verb
ORIGINAL_WORDS = frozenset({"original", "first"})  # "the original Star Wars": a series' first film
OLDEST_WORDS = frozenset({"old", "older", "classic"})  # of namesakes: "the old Hairspray"
NEWEST_WORDS = frozenset({"new", "newer", "latest", "recent", "remake"})  # "the new It", "the remake of Halloween"
VERSION_WORDS = ORIGINAL_WORDS | OLDEST_WORDS | NEWEST_WORDS
POINTING_WORDS = frozenset({"the", "that", "this"})  # "the movie Network"; "a movie night" is a kind of night
NAMING_WORDS = frozenset({"with", "starring"})  # "Drive with Ryan Gosling"
ORDINARY_WORD_BEFORE = frozenset({"a", "an", "my", "our", "your", "his", "her", "their", "some", "any", "every",
                                  "to"})  # "a walk", "my room", "to drive": a common noun or a verb
LIST_JOINERS = frozenset({"and", "or"})
NAME_JOINERS = frozenset({"of", "the", "a", "an", "in", "on", "at", "to", "for", "from"})  # not "and", "or"
TITLE_PREPOSITIONS = NAME_JOINERS | {"upon", "with", "into", "over", "under", "by", "about"}
COMPARED_MAX_ZIPF = 5.5  # "something like speed" (5.0), never "something like home" (5.8)
COMPARED_THINGS = frozenset({"something", "anything", "movie", "movies", "film", "films", "stuff", "ones", "more"})
FILM_WORDS = frozenset({"movie", "film", "flick", "classic", "masterpiece", "underrated", "overrated", "underseen",
                        "sequel", "remake"})  # "die hard is a christmas movie", "signs is so underrated"
CATEGORY_NOUNS = frozenset({"movie", "movies", "film", "films", "flick", "flicks", "ones", "stuff", "genre",
                            "type", "kind", "stories"})  # "romance movies" names a genre, not "Romance (1999)"

_PARENS = re.compile(r"\s*\(([^()]*)\)\s*$")
_AKA = re.compile(r"^\s*(?:a\.k\.a\.|aka)\s+", re.IGNORECASE)
_TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.+?),\s*(?P<article>The|A|An|Les|Le|La|L'|Il|El|Lo|Los|Las|Der|Die|Das|Den|Det|De|Het|Un|Une|Una|"
    r"Uno|Ein|Eine|En|Ett|I|Gli|Os|As|O)$")
_SEGMENT_BREAK = re.compile(r"\s*:\s+|\s+[-–—]\s+")
_POSSESSIVE_BRAND = re.compile(r"^(?:\S+\s+){0,2}\S+['’]s\s+(?P<rest>\S+\s+\S+.*)$")  # "National Lampoon's X"
_HYPHENATED = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")
_QUOTES = "\"'“”‘’«»*"
_PUNCTUATION = re.compile(r"[,;:()!?.]")


class LinkCandidate(BaseModel):
    item_id: str
    title: str  # with the year: "Heat (1995)"
    year: int | None = None
    popularity: int = Field(ge=0, description="number of ratings")
    confidence: float = Field(ge=0, le=1, description="how well the words match this title")


class LinkResult(BaseModel):
    query: str
    decision: Decision
    candidates: list[LinkCandidate] = Field(default_factory=list, description="best first")
    confidence: float = Field(default=0.0, ge=0, le=1, description="of the decision; 0 when none")

    @property
    def item_id(self) -> str | None:
        """The linked item, if the decision is `linked`."""
        return self.candidates[0].item_id if self.decision == "linked" else None


class TitleMention(BaseModel):
    """A span of the user's own words that names a title (linked) or several possible titles (ambiguous)."""

    span: str
    start: int
    end: int
    result: LinkResult


@dataclass
class _Match:
    quality: float
    extension: bool = False  # the key only starts with the query ("batman" → "batman forever")
    sequel: bool = False  # ...and what follows is a number ("toy story" → "toy story 2")


@dataclass
class TitleIndex:
    """Keys → {item id: quality}, built once per catalog (see `title_index`)."""

    keys: dict[str, dict[str, float]]
    popularity: dict[str, int]
    years: dict[str, int | None]
    labels: dict[str, str]
    everyday_words: frozenset[str]
    frequent_words: frozenset[str]
    chat_words: frozenset[str]
    sorted_keys: list[str] = field(init=False)
    key_list: list[str] = field(init=False)
    postings: dict[str, list[int]] = field(init=False)
    item_keys: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.sorted_keys = sorted(self.keys)
        self.key_list = list(self.keys)
        self.postings = defaultdict(list)
        self.item_keys = defaultdict(list)
        for position, key in enumerate(self.key_list):
            for word in set(key.split()):
                self.postings[word].append(position)
            for item in self.keys[key]:
                self.item_keys[item].append(key)

    def everyday(self, span: list[str]) -> bool:
        """Whether the words could all be ordinary chat ("home alone", "heat", "9", "whatever"): short spans only.

        One word also counts when it is frequent English (`frequent_words`); a phrase of frequent words is rarely
        said by chance ("toy story", "the matrix")."""
        if len(span) == 1 and span[0] in self.frequent_words:
            return True
        if len(span) == 2 and span[0] in ARTICLES and zipf_frequency(span[1], "en") >= ARTICLE_PHRASE_ZIPF:
            return True
        if len(span) <= 3 and all(word in self.chat_words or word in FUNCTION_WORDS for word in span):
            return True
        return len(span) <= 4 and all(word.isdigit() or word in self.everyday_words or singular(word) in
                                      self.everyday_words for word in span)

    def candidate(self, item: str, confidence: float) -> LinkCandidate:
        return LinkCandidate(item_id=item, title=self.labels[item], year=self.years.get(item),
                             popularity=self.popularity.get(item, 0), confidence=confidence)

    def linked(self, item: str, query: str, confidence: float) -> LinkResult:
        """`query` linked to `item` alone."""
        return LinkResult(query=query, decision="linked", candidates=[self.candidate(item, confidence)],
                          confidence=confidence)

    def items_with_word(self, word: str) -> set[str]:
        """Items with a title (or alternate title) that has `word`."""
        return {item for position in self.postings.get(word, ()) for item in self.keys[self.key_list[position]]}

    def starts_a_key(self, prefix: str) -> bool:
        """Whether some key begins with `prefix`."""
        start = bisect.bisect_left(self.sorted_keys, prefix)
        return start < len(self.sorted_keys) and self.sorted_keys[start].startswith(prefix)

    def exact(self, key: str) -> dict[str, _Match]:
        return {item: _Match(quality) for item, quality in self.keys.get(key, {}).items()}

    def extensions(self, key: str) -> dict[str, _Match]:
        """Items whose keys start with `key` and go on."""
        matches: dict[str, _Match] = {}
        start = bisect.bisect_left(self.sorted_keys, key + " ")
        for longer in self.sorted_keys[start:start + MAX_EXTENSIONS]:
            if not longer.startswith(key + " "):
                break
            coverage = len(key) / len(longer)
            sequel = longer[len(key) + 1:].replace(" ", "").isdigit()
            for item, quality in self.keys[longer].items():
                _keep_best(matches, item, _Match(quality * (0.8 + 0.15 * coverage), extension=True, sequel=sequel))
        return matches

    def fuzzy(self, key: str, *, min_ratio: float = FUZZY_MIN_RATIO) -> dict[str, _Match]:
        """Keys spelled almost like `key` ("the matirx"); never everyday words ("movie" for "moovie")."""
        matches: dict[str, _Match] = {}
        if len(key) < FUZZY_MIN_CHARS:
            return matches
        for found, ratio, _ in process.extract(key, self.key_list, scorer=fuzz.ratio, limit=8,
                                               score_cutoff=min_ratio):
            if self.everyday(found.split()):
                continue
            for item, quality in self.keys[found].items():
                _keep_best(matches, item, _Match(quality * ratio / 100 * 0.95))
        return matches

    def in_order(self, query: list[str]) -> dict[str, _Match]:
        """Keys containing all the query's words in order ("lord of the rings fellowship")."""
        matches: dict[str, _Match] = {}
        content = [word for word in query if word not in FUNCTION_WORDS]
        if not content:
            return matches
        postings = sorted((self.postings.get(word, []) for word in set(query)), key=len)
        if not postings[0]:
            return matches
        common = set(postings[0]).intersection(*postings[1:])
        text = " ".join(query)
        for position in sorted(common)[:MAX_EXTENSIONS]:
            key = self.key_list[position]
            if _is_subsequence(query, key.split()):
                for item, quality in self.keys[key].items():
                    _keep_best(matches, item, _Match(quality * (0.75 + 0.15 * len(text) / len(key))))
        return matches


def canonical(tokens: list[str], *, typed: bool = True) -> list[str]:
    """Roman numerals as digits, "part"/"episode"/"vol" before a number dropped; abbreviations expanded if `typed`."""
    expanded = [word for token in tokens for word in ABBREVIATIONS.get(token, (token,))] if typed else tokens
    numbered = []
    for position, word in enumerate(expanded):
        after_sequel_word = position > 0 and expanded[position - 1] in SEQUEL_WORDS
        at_end = position == len(expanded) - 1 and position > 0
        if word in _ROMAN:
            word = str(_ROMAN[word])
        elif word in _SHORT_ROMAN and (after_sequel_word or at_end):
            word = str(_SHORT_ROMAN[word])
        numbered.append(word)
    return [word for position, word in enumerate(numbered)
            if not (word in SEQUEL_WORDS and position + 1 < len(numbered) and numbered[position + 1].isdigit())]


def title_index(catalog: Catalog) -> TitleIndex:
    """The catalog's title index, built on first use and kept with the catalog."""
    if "title_index" not in catalog._cache:
        catalog._cache["title_index"] = _build_index(catalog)
    return catalog._cache["title_index"]


def link_title(text: str, catalog: Catalog, *, limit: int = 5) -> LinkResult:
    """Link one title as a person typed it. A trailing year ("heat 1995", "Psycho (1960)") picks the version."""
    index = title_index(catalog)
    query, year = _split_year(canonical(words(text)), index)
    if not query:
        return LinkResult(query=text, decision="none")
    key = " ".join(query)
    matches = _merge(index.exact(key), index.extensions(key))
    if _best_quality(matches) < 0.9:
        matches = _merge(matches, index.fuzzy(key))
    if _best_quality(matches) < LINK_MIN:
        matches = _merge(matches, index.in_order(query))
    return _decide(text, index, matches, year, limit)


def find_titles(text: str, catalog: Catalog, *, cast_named: frozenset[str] = frozenset(),
                people_at: frozenset[int] = frozenset()) -> list[TitleMention]:
    """Titles named inside a chat message, each a linked or ambiguous mention, in text order.

    Spans of up to 12 words are looked up as exact keys, or as the start of several titles ("harry potter");
    the longest spans win, without overlap. A title made of everyday words ("Heat", "Up", "Home Alone") counts only
    with a sign that the user meant a title (see `_looks_meant`), so "I want something up to date" links nothing.
    `cast_named`: items whose people the message names ("tom hanks in big"): such a title is meant.
    `people_at`: token positions where the message names a person ("prisoners with hugh jackman").
    """
    index = title_index(catalog)
    message = replace(_Message.of(text), cast_named=cast_named, people_at=people_at)
    tokens = message.tokens
    term_edges = _term_edges(tokens, catalog)

    def spans(starts: range | set[int]) -> list[tuple[int, int, LinkResult]]:
        return [(start, end, result)
                for start in starts
                for end in range(min(len(tokens), start + MAX_SPAN_TOKENS), start, -1)
                if not _cuts_a_term(start, end, term_edges)
                and (result := _span_result(message, start, end, index)) is not None]

    found = spans(range(len(tokens)))
    chosen = _longest_without_overlap(found)
    listed = _listed_next_to(message, chosen)
    if listed:  # "Alien and Aliens", "Moana, Frozen": a title's neighbours in a list are titles too
        message = replace(message, listed=frozenset(listed))
        found += spans({start for start, _ in listed})
        chosen = _longest_without_overlap(found)
    chosen = [_narrowed_by_next_word(message, found_span, index, chosen) for found_span in chosen]
    covered = {p for start, end, _ in chosen for p in range(start, end)}
    chosen += _typo_spans(text, tokens, index, covered)
    chosen += _distinctive_words(tokens, index, covered)
    return [TitleMention(span=result.query, start=tokens[start].start, end=tokens[end - 1].end, result=result)
            for start, end, result in sorted(chosen, key=lambda f: f[0])]


@dataclass(frozen=True)
class _Message:
    """A chat message with what `_looks_meant` asks of every span, worked out once."""

    text: str
    tokens: list[Token]
    sentence_start: list[bool]  # per token
    shouting: bool  # ALL CAPS: capitals say nothing
    listed: frozenset[tuple[int, int]] = frozenset()  # spans (start, end) in a list beside a linked title
    cast_named: frozenset[str] = frozenset()  # items whose director or stars the message names
    people_at: frozenset[int] = frozenset()  # token positions where a person's name starts

    @classmethod
    def of(cls, text: str) -> _Message:
        tokens = tokenize(text)
        return cls(text, tokens, sentence_starts(text, tokens), text.upper() == text)

    def gap(self, left: int, right: int) -> str:
        """The text between token `left` and token `right`."""
        return self.text[self.tokens[left].end:self.tokens[right].start]


def _span_result(message: _Message, start: int, end: int, index: TitleIndex) -> LinkResult | None:
    text, tokens = message.text, message.tokens
    span = canonical([token.norm for token in tokens[start:end]])
    key = " ".join(span)
    exact = index.exact(key)
    if not exact and not _names_franchise(index, span):
        return None
    if any(word in CATEGORY_NOUNS for word in span) and all(word in FUNCTION_WORDS or word in CATEGORY_NOUNS
                                                             for word in span):
        return None  # "the movie" is the subtitle of thirty titles, never one
    weak_key = _best_quality(exact) < 0.95  # words that are only a subtitle or franchise
    everyday = index.everyday(span)
    well_known = max((index.popularity.get(item, 0) for item in exact), default=0) >= WELL_KNOWN_RATINGS
    with_cast = {item: match for item, match in exact.items() if item in message.cast_named and match.quality >= 0.95}
    obscure_word = len(span) == 1 and not well_known and zipf_frequency(span[0], "en") >= OBSCURE_WORD_ZIPF
    if not _looks_meant(message, start, end, everyday or obscure_word or (weak_key and len(span) == 1),
                        subtitle_only=weak_key and everyday and len(span) > 1, well_known=well_known,
                        dated=_dated(tokens, end, index) or bool(with_cast)):
        return None
    year = int(tokens[end].norm) if end < len(tokens) and _is_year(tokens[end].norm) else None
    matches = with_cast or _merge(exact, index.extensions(key))  # "big" with Tom Hanks is Big, not Big Fish
    result = _decide(text[tokens[start].start:tokens[end - 1].end], index, matches, year, limit=5)
    return None if result.decision == "none" else result


def _build_index(catalog: Catalog) -> TitleIndex:
    keys: dict[str, dict[str, float]] = defaultdict(dict)
    for item_id, title in catalog.items["title"].items():
        for key, quality in _title_keys(str(title)):
            if quality > keys[key].get(item_id, 0.0):
                keys[key][item_id] = quality
    years = {item: (None if year is None or year != year else int(year))
             for item, year in catalog.items["year"].astype(object).where(catalog.items["year"].notna(), None).items()}
    labels = {item: (f"{title} ({years[item]})" if years[item] else str(title))
              for item, title in catalog.items["title"].items()}
    genre_words = {word for genre in catalog.genres for word in words(genre)}
    frequency = {word: zipf_frequency(word, "en") for key in keys for word in key.split() if not word.isdigit()}
    return TitleIndex(keys=dict(keys), popularity=catalog.popularity.to_dict(), years=years, labels=labels,
                      everyday_words=COMMON_WORDS | VOCABULARY_WORDS | genre_words,
                      frequent_words=_frequent_words(frequency, EVERYDAY_ZIPF),
                      chat_words=_frequent_words(frequency, CHAT_PHRASE_ZIPF))


def _frequent_words(frequency: dict[str, float], zipf: float) -> frozenset[str]:
    """Title words that are everyday English (Zipf ≥ `zipf`), or too short to be a title alone ("m", "s")."""
    return frozenset(word for word, measured in frequency.items() if len(word) <= 2 or measured >= zipf)


def _title_keys(title: str) -> list[tuple[str, float]]:
    keys: list[tuple[str, float]] = []
    main, alternates = _split_alternates(title)
    for name, quality in [(main, 1.0), *((alt, 0.97) for alt in alternates)]:
        article_moved = _TRAILING_ARTICLE.match(name)
        if article_moved:
            name = f"{article_moved['article']} {article_moved['body']}".replace("L' ", "L'")
        keys.extend(_name_keys(name, quality, drop_first=bool(article_moved)))
        if branded := _POSSESSIVE_BRAND.match(name):
            keys.extend(_name_keys(branded["rest"], quality * 0.9, drop_first=False))
        if _HYPHENATED.search(name):
            keys.extend(_name_keys(_HYPHENATED.sub("", name), quality, drop_first=bool(article_moved)))
    return keys


def title_names(title: str) -> list[str]:
    """A catalog title's names: itself and its alternates in parentheses ("Road Warrior, The (Mad Max 2)")."""
    main, alternates = _split_alternates(title)
    return [main, *alternates]


def _split_alternates(title: str) -> tuple[str, list[str]]:
    """ "Amelie (Fabuleux destin d'Amélie Poulain, Le)" → ("Amelie", ["Fabuleux destin d'Amélie Poulain, Le"])."""
    alternates = []
    while (match := _PARENS.search(title)) and match.start() > 0:
        alternates.append(_AKA.sub("", match.group(1)).strip())
        title = title[:match.start()]
    return title.strip(), [alt for alt in alternates if alt]


def _name_keys(name: str, quality: float, *, drop_first: bool) -> list[tuple[str, float]]:
    segments = [canonical(words(segment), typed=False) for segment in _SEGMENT_BREAK.split(name)]
    segments = [segment for segment in segments if segment]
    if not segments:
        return []
    keys = _with_and_without_article([w for s in segments for w in s], quality, drop_first)
    is_number = [all(word.isdigit() for word in segment) for segment in segments]
    for cut in range(1, len(segments)):
        if not all(is_number[cut:]):  # "Godfather: Part II" does not make "godfather" a franchise key
            prefix = [w for s in segments[:cut] for w in s]
            franchise = cut == 1 and not any(word.isdigit() for word in prefix)  # "Star Wars", not "Terminator 2"
            keys += _with_and_without_article(prefix, quality * (0.85 if franchise else 0.92), drop_first)
        if not is_number[cut] and len(" ".join(segments[cut])) >= 5:
            keys += _with_and_without_article(segments[cut], quality * 0.9, drop_first=False)
    if len(segments) >= 3:
        keys += _with_and_without_article(segments[0] + segments[-1], quality * 0.95, drop_first)
    numbers = [word for segment in segments[1:] for word in segment if word.isdigit()]
    if numbers:
        keys += _with_and_without_article(segments[0] + numbers[:1], quality * 0.95, drop_first)
    return keys


def _with_and_without_article(tokens: list[str], quality: float, drop_first: bool) -> list[tuple[str, float]]:
    keys = [(" ".join(tokens), quality)]
    if len(tokens) > 1 and (drop_first or tokens[0] in ARTICLES):
        keys.append((" ".join(tokens[1:]), quality - 0.03))
    return keys


def _split_year(query: list[str], index: TitleIndex) -> tuple[list[str], int | None]:
    """ "heat 1995" → (["heat"], 1995); "1984" and "death race 2000" stay titles when they are keys."""
    if len(query) > 1 and _is_year(query[-1]) and " ".join(query) not in index.keys:
        return query[:-1], int(query[-1])
    return query, None


def _dated(tokens: list[Token], end: int, index: TitleIndex) -> bool:
    """A year follows ("Heat (1995)"), and it does not begin the next title ("I hate 2001: A Space Odyssey")."""
    if end + 1 < len(tokens) and tokens[end].norm == "from":  # "network from 1976"
        end += 1
    if end >= len(tokens) or not _is_year(tokens[end].norm):
        return False
    if end + 1 >= len(tokens):
        return True
    return not index.starts_a_key(f"{tokens[end].norm} {tokens[end + 1].norm}")


def _graded(word: str) -> str:
    """The plain form of a comparative or superlative: "funniest" → "funny", "scarier" → "scary", "saddest" → "sad"."""
    for ending in ("iest", "ier"):
        if word.endswith(ending):
            return word[:-len(ending)] + "y"
    for ending in ("est", "er"):
        if word.endswith(ending) and len(word) > len(ending) + 2:
            stem = word[:-len(ending)]
            return stem[:-1] if stem[-1] == stem[-2] else stem
    return word


def _is_year(word: str) -> bool:
    return len(word) == 4 and word.isdigit() and 1880 <= int(word) <= 2030


def _merge(*groups: dict[str, _Match]) -> dict[str, _Match]:
    merged: dict[str, _Match] = {}
    for group in groups:
        for item, match in group.items():
            _keep_best(merged, item, match)
    return merged


def _keep_best(matches: dict[str, _Match], item: str, match: _Match) -> None:
    held = matches.get(item)
    if held is None or match.quality > held.quality or (match.quality == held.quality and held.extension):
        matches[item] = match


def _best_quality(matches: dict[str, _Match]) -> float:
    return max((match.quality for match in matches.values()), default=0.0)


def _decide(query: str, index: TitleIndex, matches: dict[str, _Match], year: int | None, limit: int) -> LinkResult:
    if year is not None:
        matches = {item: (match if index.years.get(item) == year else _Match(match.quality * 0.8))
                   for item, match in matches.items()}
    ranked = sorted(matches.items(), key=lambda pair: (-_rank_score(pair[1], index.popularity.get(pair[0], 0)),
                                                       pair[0]))
    ranked = [(item, match) for item, match in ranked if match.quality >= SUGGEST_MIN]
    if not ranked:
        return LinkResult(query=query, decision="none")
    top_item, top = ranked[0]
    top_pop = index.popularity.get(top_item, 0)
    rivals = [(item, match) for item, match in ranked[1:]
              if _is_rival(top, top_pop, match, index.popularity.get(item, 0), year_given=year is not None,
                           right_year=index.years.get(item) == year)]
    if top.quality >= LINK_MIN and not rivals:
        decision, confidence = "linked", top.quality
    else:
        contenders = [top_pop, *(index.popularity.get(item, 0) for item, _ in rivals)]
        decision, confidence = "ambiguous", top.quality * (top_pop + 1) / sum(pop + 1 for pop in contenders)
    shown = ranked[:max(limit, len(rivals) + 1)] if decision == "ambiguous" else ranked[:limit]
    candidates = [index.candidate(item, round(min(match.quality, 1.0), 4)) for item, match in shown]
    return LinkResult(query=query, decision=decision, candidates=candidates, confidence=round(confidence, 4))


def _is_rival(top: _Match, top_pop: int, other: _Match, other_pop: int, *, year_given: bool, right_year: bool) -> bool:
    if year_given and not right_year:
        return False
    if other.sequel and not top.extension:
        return False
    if other.quality >= top.quality - NEAR_GAP:
        return other_pop * NEAR_RATIO >= top_pop
    return other.extension and other_pop >= FRANCHISE_MIN_POP and other_pop >= FRANCHISE_SHARE * top_pop


def _rank_score(match: _Match, popularity: int) -> float:
    return match.quality + POPULARITY_WEIGHT * math.log10(1 + popularity)


def _typo_spans(text: str, tokens: list[Token], index: TitleIndex,
                covered: set[int]) -> list[tuple[int, int, LinkResult]]:
    """Titles with a typo ("i loved the matirx"): short spans around a word that no title uses, matched fuzzily.

    Only clear links count here, and only words unknown to every title trigger it, so chat stays cheap to read.
    """
    found = []
    unknown = [position for position, token in enumerate(tokens)
               if position not in covered and _unknown_word(token.norm, index)]
    for position in unknown[:MAX_TYPO_WORDS]:  # fuzzy matching costs ~1 ms a span: bound it for long messages
        spans = [(start, end) for start in range(max(0, position - TYPO_SPAN_TOKENS + 1), position + 1)
                 for end in range(position + 1, min(len(tokens), start + TYPO_SPAN_TOKENS) + 1)
                 if covered.isdisjoint(range(start, end)) and tokens[start].norm not in FUNCTION_WORDS - ARTICLES
                 and tokens[end - 1].norm not in FUNCTION_WORDS]
        results = [(start, end, _decide(text[tokens[start].start:tokens[end - 1].end], index,
                                        index.fuzzy(key, min_ratio=TYPO_MIN_RATIO), None, limit=5))
                   for start, end in spans
                   if len(key := " ".join(canonical([t.norm for t in tokens[start:end]]))) >= TYPO_MIN_CHARS]
        linked = [found_span for found_span in results if found_span[2].decision == "linked"]
        if linked:
            best = max(linked, key=lambda f: (f[2].confidence, f[1] - f[0]))
            found.append(best)
            covered.update(range(best[0], best[1]))
    return found


def _narrowed_by_next_word(message: _Message, found: tuple[int, int, LinkResult], index: TitleIndex,
                           chosen: list[tuple[int, int, LinkResult]]) -> tuple[int, int, LinkResult]:
    """A series name followed by a word that only one of its films has: "lotr fellowship", "harry potter azkaban"."""
    start, end, result = found
    tokens = message.tokens
    if result.decision != "ambiguous" or end >= len(tokens) or tokens[end].norm in FUNCTION_WORDS or \
            any(other_start <= end < other_end for other_start, other_end, _ in chosen):
        return found
    key = " ".join(canonical([token.norm for token in tokens[start:end]]))
    word = tokens[end].norm
    narrowed = [item for item in index.extensions(key) if any(word in other.split() for other in index.item_keys[item])]
    if len(narrowed) != 1:
        return found
    return start, end + 1, index.linked(narrowed[0], message.text[tokens[start].start:tokens[end].end], LINK_MIN)


def _distinctive_words(tokens: list[Token], index: TitleIndex,
                       covered: set[int]) -> list[tuple[int, int, LinkResult]]:
    """A rare word that names one well-known title on its own: "shawshank", "totoro", "ragnarok" (English rarely uses
    it, and no rival title with it comes near in popularity)."""
    found = []
    for position, token in enumerate(tokens):
        if position in covered or len(token.norm) < DISTINCTIVE_MIN_CHARS or token.norm.isdigit() or \
                zipf_frequency(token.norm, "en") >= DISTINCTIVE_MAX_ZIPF:
            continue
        ranked = sorted(index.items_with_word(token.norm), key=lambda item: -index.popularity.get(item, 0))
        if not ranked:
            continue
        top = index.popularity.get(ranked[0], 0)
        runner_up = index.popularity.get(ranked[1], 0) if len(ranked) > 1 else 0
        if top >= WELL_KNOWN_RATINGS and runner_up * NEAR_RATIO < top:
            found.append((position, position + 1, index.linked(ranked[0], token.text, DISTINCTIVE_CONFIDENCE)))
    return found


def _unknown_word(word: str, index: TitleIndex) -> bool:
    """A word no title has, not even in the singular ("twisters" is no typo of Twister)."""
    return len(word) >= 4 and not word.isdigit() and word not in index.postings and \
        singular(word) not in index.postings and not index.everyday([word]) and \
        zipf_frequency(word, "en") < TYPO_MAX_ZIPF


def _term_edges(tokens: list[Token], catalog: Catalog) -> list[tuple[int, int]]:
    return [(term.start, term.end) for term in find_terms(tokens, catalog) if term.end - term.start > 1]


def _cuts_a_term(start: int, end: int, term_edges: list[tuple[int, int]]) -> bool:
    """A span that takes part of a taste phrase is no title: "Super" in "super hero movies"."""
    return any(start < term_end and term_start < end and not (start <= term_start and term_end <= end)
               for term_start, term_end in term_edges)


def _names_franchise(index: TitleIndex, span: list[str]) -> bool:
    """Words that are no title but start some ("harry potter", "crouching tiger") still name something.

    Only spans of two or more words, not everyday ones, that begin and end with a real word: "stuck on" must not
    stand for "Stuck on You".
    """
    if len(span) < 2 or span[0] in FUNCTION_WORDS or span[-1] in FUNCTION_WORDS or index.everyday(span):
        return False
    return index.starts_a_key(" ".join(span) + " ")


def _looks_meant(message: _Message, start: int, end: int, needs_evidence: bool, *, subtitle_only: bool = False,
                 well_known: bool = False, dated: bool = False) -> bool:
    """Whether words that could be chat are a title here: quoted, Title Case mid-sentence, or after a cue.

    Followed by "movies"/"films" they name a kind of movie ("romance movies"), unless quoted.
    """
    tokens = message.tokens
    quoted = is_quoted(message.text, tokens[start].start, tokens[end - 1].end)
    if quoted or dated:  # dated: "heat 1995", or its cast named ("room with brie larson")
        return True
    capitalised = not message.shouting and _title_cased(tokens[start:end])
    if not capitalised and _described(tokens, start):
        return False
    if not needs_evidence:
        return True
    if end < len(tokens) and tokens[end].norm in CATEGORY_NOUNS:
        return False
    if end - start == 1 and start > 0 and tokens[start - 1].norm in SUBJECT_PRONOUNS and \
            not message.sentence_start[start]:
        return False
    # "after 10 minutes": a number says nothing by its capitals
    title_case = capitalised and not all(token.norm.isdigit() for token in tokens[start:end])
    mid_sentence = not message.sentence_start[start]
    if end - start == 1 and (len(tokens[start].norm) == 1 and not _after_the_movie(message, start)
                             or title_case and not well_known and _inside_longer_name(message, start, end)):
        return False  # "S" of a typo; "Trip" of "Girls Trip", "Once" of "Once Upon a Time", even after a cue
    function_words_only = all(token.norm in FUNCTION_WORDS for token in tokens[start:end])
    if subtitle_only:  # "a true story" is FairyTale's subtitle: only capitals or quotes make it a title
        return title_case and mid_sentence
    # "It was good" is no title, but "Heat was boring", "Big with Tom Hanks" and "Alien and Aliens" are
    judged = not function_words_only and (_judged_next(tokens, end) or _named_cast_next(message, end) or
                                          (well_known and _subject_of_sentence(message, start, end)))
    cues = TITLE_CUES | MULTIWORD_TITLE_CUES if end - start >= 2 or title_case else TITLE_CUES
    cued = (start > 0 and tokens[start - 1].norm in cues) or _after_the_movie(message, start) or \
        _compared_to(tokens, start) or \
        ((title_case or end - start >= 2) and (start, end) in message.listed)  # "fight club, se7en and zodiac"
    if function_words_only:  # "It", "Up": a capital and a cue ("I like Up"), never "liked it"; "Get Out" mid-sentence
        after_verb = start > 0 and tokens[start - 1].norm in TITLE_CUES | WATCHING_CUES
        phrase_after_verb = end - start >= 2 and after_verb  # "enjoyed get out", never "enjoyed it"
        versioned = start >= 2 and tokens[start - 1].norm in VERSION_WORDS and tokens[start - 2].norm == "the"
        return phrase_after_verb or title_case and (cued or versioned or (end - start >= 2 and mid_sentence)
                                                    or _pronoun_as_subject(tokens, start, end))
    if _called_a_film(message, end) or _with_known_person(message, start, end) or \
            (well_known and _judged_opening(message, start, end)):
        return True
    if title_case and (mid_sentence or end - start >= 2 or judged):
        return True
    return cued


def _inside_longer_name(message: _Message, start: int, end: int) -> bool:
    """Capitals that go on beyond the span name something longer: "Trip" in "Girls Trip", "Thieves" in "Den of
    Thieves", "Red" in "Where the Red Fern Grows" (minor words in between are skipped)."""
    tokens = message.tokens

    def capitalised(position: int) -> bool:  # "Upon" in "Once Upon a Time" too, never "It" in "Up It's good"
        token = tokens[position]
        return token.text[:1].isupper() and (token.norm not in FUNCTION_WORDS or token.norm in TITLE_PREPOSITIONS)

    before = start - 1
    while before >= 0 and start - before <= 3 and tokens[before].norm in NAME_JOINERS and \
            not tokens[before].text[:1].isupper():
        before -= 1
    if before >= 0 and not message.sentence_start[start] and capitalised(before) and \
            not _PUNCTUATION.search(message.gap(before, start)):
        return True
    after = end
    while after < len(tokens) and after - end < 2 and tokens[after].norm in NAME_JOINERS:
        after += 1
    return after < len(tokens) and not message.sentence_start[after] and capitalised(after) and \
        not _PUNCTUATION.search(message.gap(end - 1, after))


def _listed_next_to(message: _Message, chosen: list[tuple[int, int, LinkResult]]) -> set[tuple[int, int]]:
    """Spans of up to four words joined to a linked title by a comma, "and" or "or", on either side."""
    tokens = message.tokens
    taken = {position for start, end, _ in chosen for position in range(start, end)}
    listed = set()
    for start, end, _ in chosen:
        for size in range(1, 5):
            for other_start, other_end, left, right in (
                    (end + 1, end + 1 + size, end - 1, end + 1), (end, end + size, end - 1, end),
                    (start - 1 - size, start - 1, start - 2, start), (start - size, start, start - 1, start)):
                if other_start < 0 or other_end > len(tokens) or taken.intersection(range(other_start, other_end)):
                    continue
                if right - left == 2 and tokens[left + 1].norm in LIST_JOINERS and \
                        not _PUNCTUATION.search(message.gap(left, left + 1) + message.gap(left + 1, right)) or \
                        right - left == 1 and message.gap(left, right).strip() in (",", "&", "/"):
                    listed.add((other_start, other_end))
    return listed


def _judged_next(tokens: list[Token], end: int) -> bool:
    """ "Heat was boring", "Cats is my son's favorite": a capitalized word the sentence goes on to judge is a title.

    The judgement opens what follows the verb, after small words only: "Life is too short for bad movies" is chat."""
    if not _judging_verb_at(tokens, end):
        return False
    for token in tokens[end + 1:end + 6]:
        if token.norm in OPINION_WORDS or _graded(token.norm) in OPINION_WORDS:
            return True
        possessor = token.text.lower().endswith(("'s", "’s"))  # "my dad's favorite"
        if token.norm not in FUNCTION_WORDS and token.norm not in INTENSIFIERS and not possessor:
            return False
    return False


def _judging_verb_at(tokens: list[Token], end: int) -> bool:
    """ "is", "was", "won" right after the span, which is not "nothing"/"something" ("Nothing is better than …")."""
    return end < len(tokens) and tokens[end].norm in JUDGING_VERBS and tokens[end - 1].norm not in INDEFINITE_PRONOUNS


def _called_a_film(message: _Message, end: int) -> bool:
    """ "die hard is a christmas movie", "signs is so underrated": the sentence goes on to say it is a film, in
    the same sentence (so even in a message without capitals)."""
    tokens = message.tokens
    if not _judging_verb_at(tokens, end):
        return False
    for position in range(end + 1, min(len(tokens), end + 6)):
        if message.sentence_start[position]:
            return False
        if singular(tokens[position].norm) in FILM_WORDS:
            return True
    return False


def _subject_of_sentence(message: _Message, start: int, end: int) -> bool:
    """ "Argo was so tense", "Memento has a great twist": a well-known title opening a sentence before its verb."""
    tokens = message.tokens
    return message.sentence_start[start] and end < len(tokens) and tokens[end].norm in SUBJECT_VERBS and \
        tokens[start].norm not in INDEFINITE_PRONOUNS


def _judged_opening(message: _Message, start: int, end: int) -> bool:
    """ "clue is the funniest murder mystery", "arrival made me cry", "is hook any good?": a well-known title that
    opens a sentence (or a question) which goes on to judge it, or to say what it did to the speaker, even in lower
    case; not a word chat uses all the time ("life is good", "home is great")."""
    tokens = message.tokens
    if end - start != 1 or zipf_frequency(tokens[start].norm, "en") >= CHAT_PHRASE_ZIPF:
        return False
    if start >= 1 and message.sentence_start[start - 1] and tokens[start - 1].norm in ("is", "was"):
        return any(token.norm in OPINION_WORDS or token.norm == "worth" for token in tokens[end:end + 3])
    if not message.sentence_start[start]:
        return False
    moved = end + 1 < len(tokens) and tokens[end].norm in ("made", "makes") and tokens[end + 1].norm == "me"
    return moved or _judged_next(tokens, end)


def _named_cast_next(message: _Message, end: int) -> bool:
    """ "Drive with Ryan Gosling": followed by "with" and a capitalised name."""
    tokens = message.tokens
    return end + 1 < len(tokens) and tokens[end].norm in NAMING_WORDS and not message.shouting and \
        tokens[end + 1].text[:1].isupper() and tokens[end + 1].norm not in FUNCTION_WORDS


def _with_known_person(message: _Message, start: int, end: int) -> bool:
    """ "prisoners with hugh jackman": followed by "with" and a person the knowledge index knows, in any case; never
    a common noun or a verb ("a walk with tom hanks", "to drive with her")."""
    tokens = message.tokens
    ordinary = start > 0 and tokens[start - 1].norm in ORDINARY_WORD_BEFORE
    return end + 1 < len(tokens) and tokens[end].norm in NAMING_WORDS and end + 1 in message.people_at and \
        not ordinary


def _pronoun_as_subject(tokens: list[Token], start: int, end: int) -> bool:
    """ "Her was such a strange love story": an object pronoun before "is"/"was" can only be a title."""
    return end - start == 1 and tokens[start].norm in OBJECT_PRONOUNS and end < len(tokens) and \
        tokens[end].norm in ("is", "was")


def _compared_to(tokens: list[Token], start: int) -> bool:
    """ "something like speed", "movies like heat", "similar to up": what a request is compared to is a film, unless
    it is one word chat uses all the time, a taste word or an opinion ("like home", "like romance", "like fun")."""
    if start < 2:
        return False
    before, joiner, word = tokens[start - 2].norm, tokens[start - 1].norm, tokens[start].norm
    compared = (joiner == "like" and before in COMPARED_THINGS) or (joiner == "to" and before == "similar")
    return compared and word not in OPINION_WORDS and word not in VOCABULARY_WORDS and \
        zipf_frequency(word, "en") < COMPARED_MAX_ZIPF


def _described(tokens: list[Token], start: int) -> bool:
    """ "a movie about a boy and his dog": (lower-case) words after "about" say what a film is about, unless the
    question offers a title ("what about up?")."""
    about = start - 1 - (start >= 1 and tokens[start - 1].norm in ARTICLES)  # "about the titanic"
    return about >= 1 and tokens[about].norm == "about" and tokens[about - 1].norm not in ("what", "how")


def _after_the_movie(message: _Message, start: int) -> bool:
    """ "the movie Network", "that film Crash", in one sentence; never "a movie night" or "a movie. One that…"."""
    tokens = message.tokens
    return start >= 2 and tokens[start - 1].norm in ("movie", "film") and tokens[start - 2].norm in POINTING_WORDS \
        and not message.sentence_start[start]


def is_quoted(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] stands between quotes."""
    before, after = text[:start].rstrip()[-1:], text[end:].lstrip()[:1]
    return bool(before) and before in _QUOTES and bool(after) and after in _QUOTES


def _title_cased(tokens: list[Token]) -> bool:
    significant = [token for position, token in enumerate(tokens) if position == 0 or token.norm not in MINOR_WORDS]
    return all(token.text[0].isupper() or token.text[0].isdigit() for token in significant)


def _longest_without_overlap(found: list[tuple[int, int, LinkResult]]) -> list[tuple[int, int, LinkResult]]:
    chosen: list[tuple[int, int, LinkResult]] = []
    taken: set[int] = set()
    def size(span: tuple[int, int, LinkResult]) -> tuple[int, int]:
        start, end, result = span
        named = words(result.query)
        return sum(word not in FUNCTION_WORDS for word in named), end - start  # "mission impossible" > "the mission"

    for start, end, result in sorted(found, key=lambda f: (*(-n for n in size(f)), -f[2].confidence, f[0])):
        if taken.isdisjoint(range(start, end)):
            chosen.append((start, end, result))
            taken.update(range(start, end))
    return sorted(chosen, key=lambda f: f[0])


def _is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(word in remaining for word in needle)
