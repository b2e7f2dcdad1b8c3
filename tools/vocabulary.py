"""Taste words → catalog genres: "rom-coms" → Romance + Comedy, "scary" → Horror, "cartoons" → Animation.

Only genres the catalog has come back. A catalog's own genre names always count ("Film-Noir" → "film noir"),
so a catalog with other genres still gets its names read, and the built-in synonyms add to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process
from wordfreq import zipf_frequency

from convrec.catalog.models import Catalog
from convrec.tools.textnorm import Token, longest_matches, tokenize, words

MAX_PHRASE_WORDS = 4
TYPO_MIN_LENGTH = 5
TYPO_MAX_ZIPF = 1.5  # "comedu", "romatic": unknown to English; "comet" (3.6) is a word of its own
TYPO_MIN_RATIO = 80  # one letter wrong in six ("comedu", 83)


@dataclass(frozen=True)
class Term:
    genres: tuple[str, ...]
    excludes: tuple[str, ...] | None = None  # what "no <term>" rules out; None: the same genres
    descriptive: bool = False  # more than a genre ("superhero", "space"): keep the words in the search query
    excess_is_bad: bool = True  # "too scary" is a complaint; "too funny" is praise


_HORROR = Term(("Horror",))
_COMEDY = Term(("Comedy",), excess_is_bad=False)
_ROMCOM = Term(("Romance", "Comedy"), excludes=("Romance",))  # "no rom-coms" must not rule out every comedy
_SUPERHERO = Term(("Action", "Adventure", "Sci-Fi"), excludes=(), descriptive=True)  # no genre says "superhero"

TERMS: dict[str, Term] = {
    **dict.fromkeys(["action", "action packed", "explosions", "shoot em up"], Term(("Action",))),
    **dict.fromkeys(["martial arts", "kung fu", "karate"], Term(("Action",), descriptive=True)),
    **dict.fromkeys(["adventure", "adventures", "adventurous", "advernture", "aventure", "swashbuckler"],
                    Term(("Adventure",))),
    **dict.fromkeys(["animation", "animated", "cartoon", "cartoons", "claymation", "stop motion"],
                    Term(("Animation",))),
    **dict.fromkeys(["anime"], Term(("Animation",), descriptive=True)),
    **dict.fromkeys(["disney", "pixar"], Term(("Animation", "Children"), descriptive=True)),
    **dict.fromkeys(["kid", "kids", "children", "childrens", "family", "family friendly", "tweens", "toddlers"],
                    Term(("Children",))),
    **dict.fromkeys(["comedy", "comedies", "comedic", "comedu", "funny", "humor", "humour", "hilarious", "laugh",
                     "laughs", "laughing", "goofy", "slapstick", "spoof", "parody", "comical"], _COMEDY),
    **dict.fromkeys(["romantic comedy", "romantic comedies", "rom com", "rom coms", "romcom", "romcoms",
                     "chick flick", "chick flicks"], _ROMCOM),
    **dict.fromkeys(["crime", "criminal", "criminals", "cop", "cops"], Term(("Crime",))),
    **dict.fromkeys(["gangster", "gangsters", "mob", "mobster", "mafia", "heist", "heists", "hitman"],
                    Term(("Crime",), descriptive=True)),
    **dict.fromkeys(["detective", "detectives"], Term(("Crime", "Mystery"), descriptive=True)),
    **dict.fromkeys(["documentary", "documentaries", "docs", "docu"], Term(("Documentary",))),
    **dict.fromkeys(["drama", "dramas", "dramatic"], Term(("Drama",))),
    **dict.fromkeys(["tearjerker", "tearjerkers", "biopic", "biopics"], Term(("Drama",), descriptive=True)),
    **dict.fromkeys(["fantasy", "fantasies", "fairy tale", "fairy tales"], Term(("Fantasy",))),
    **dict.fromkeys(["magic", "magical", "wizard", "wizards", "dragons", "sword and sorcery"],
                    Term(("Fantasy",), descriptive=True)),
    **dict.fromkeys(["noir", "film noir", "neo noir"], Term(("Film-Noir",))),
    **dict.fromkeys(["horror", "horrors", "scary", "spooky", "creepy", "frightening", "terrifying", "scared",
                     "scare", "scares", "haunted"], _HORROR),
    **dict.fromkeys(["slasher", "slashers", "zombie", "zombies", "vampire", "vampires", "ghost", "ghosts"],
                    Term(("Horror",), descriptive=True)),
    **dict.fromkeys(["musical", "musicals", "broadway"], Term(("Musical",))),
    **dict.fromkeys(["mystery", "mysteries", "mistery", "whodunit", "whodunnit", "whodunits"], Term(("Mystery",))),
    **dict.fromkeys(["romance", "romances", "romantic", "love story", "love stories"], Term(("Romance",))),
    **dict.fromkeys(["sci fi", "scifi", "science fiction", "sf"], Term(("Sci-Fi",))),
    **dict.fromkeys(["space", "outer space", "aliens", "robots", "time travel", "futuristic", "dystopian",
                     "dystopia", "cyberpunk"], Term(("Sci-Fi",), descriptive=True)),
    **dict.fromkeys(["superhero", "superheroes", "super hero", "super heroes", "comic book", "comic books",
                     "marvel"], _SUPERHERO),
    **dict.fromkeys(["thriller", "thrillers", "suspense", "suspenseful", "thrilling", "psychological thriller"],
                    Term(("Thriller",))),
    **dict.fromkeys(["war", "military", "soldiers", "ww2", "wwii", "world war"], Term(("War",))),
    **dict.fromkeys(["western", "westerns", "cowboy", "cowboys", "wild west"], Term(("Western",))),
    **dict.fromkeys(["imax"], Term(("IMAX",))),
}

def singular(word: str) -> str:
    """A crude plural folding that is good enough for genre words: "comedies" → "comedy", "westerns" → "western"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


# Every word of every built-in term: the title linker treats these as everyday words, not titles ("Romance (1999)").
VOCABULARY_WORDS = frozenset(form for phrase in TERMS for word in words(phrase) for form in (word, singular(word)))


@dataclass(frozen=True)
class TermMatch:
    start: int  # token positions [start, end)
    end: int
    phrase: str  # the user's words
    genres: tuple[str, ...]  # catalog genres, non-empty
    excludes: tuple[str, ...]  # catalog genres that "no <phrase>" rules out
    descriptive: bool
    excess_is_bad: bool


def find_terms(tokens: list[Token], catalog: Catalog, *, skip: set[int] = frozenset()) -> list[TermMatch]:
    """Genre terms in `tokens`, longest first, never using a token position in `skip` (e.g. inside a title)."""
    table = term_table(catalog)
    folded = [_spelled(singular(token.norm), table) for token in tokens]
    return longest_matches(len(tokens), lambda position: _longest_term_at(tokens, folded, position, table, skip))


def genres_for(text: str, catalog: Catalog) -> list[str]:
    """The catalog genres a phrase names, sorted: genres_for("romantic comedies") → ["Comedy", "Romance"]."""
    return sorted({genre for match in find_terms(tokenize(text), catalog) for genre in match.genres})


def term_table(catalog: Catalog) -> dict[tuple[str, ...], Term]:
    """Phrase (singular words) → term, restricted to the catalog's genres; cached with the catalog."""
    if "genre_terms" not in catalog._cache:
        catalog._cache["genre_terms"] = _build_table(catalog.genres)
    return catalog._cache["genre_terms"]


def _build_table(catalog_genres: list[str]) -> dict[tuple[str, ...], Term]:
    by_name = {genre.casefold(): genre for genre in catalog_genres}
    table: dict[tuple[str, ...], Term] = {}
    for phrase, term in TERMS.items():
        genres = tuple(by_name[g.casefold()] for g in term.genres if g.casefold() in by_name)
        if genres:
            excludes = genres if term.excludes is None else tuple(
                by_name[g.casefold()] for g in term.excludes if g.casefold() in by_name)
            table[_phrase_key(phrase)] = Term(genres, excludes, term.descriptive, term.excess_is_bad)
    for genre in catalog_genres:
        key = _phrase_key(genre)
        if key and key not in table:
            table[key] = Term((genre,), (genre,))
    return table


def _spelled(word: str, table: dict[tuple[str, ...], Term]) -> str:
    """A misspelt taste word as the vocabulary spells it ("romatic" → "romantic", "horor" → "horror", "comedu" →
    "comedy"): only words English does not know, of at least TYPO_MIN_LENGTH letters, with the same first letter."""
    if len(word) < TYPO_MIN_LENGTH or (word,) in table or zipf_frequency(word, "en") >= TYPO_MAX_ZIPF:
        return word
    words_of_one = [key[0] for key in table if len(key) == 1 and key[0][:1] == word[:1]]
    best = process.extractOne(word, words_of_one, scorer=fuzz.ratio, score_cutoff=TYPO_MIN_RATIO)
    return best[0] if best else word


def _phrase_key(phrase: str) -> tuple[str, ...]:
    return tuple(singular(word) for word in words(phrase))


def _longest_term_at(tokens: list[Token], folded: list[str], position: int, table: dict[tuple[str, ...], Term],
                     skip: set[int]) -> TermMatch | None:
    for length in range(min(MAX_PHRASE_WORDS, len(tokens) - position), 0, -1):
        end = position + length
        if skip.intersection(range(position, end)):
            continue
        term = table.get(tuple(folded[position:end]))
        if term:
            phrase = " ".join(token.text for token in tokens[position:end])
            return TermMatch(position, end, phrase, term.genres, term.excludes or (), term.descriptive,
                             term.excess_is_bad)
    return None
