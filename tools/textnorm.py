"""Tokens for matching what people type against catalog titles and taste words.

One tokenizer serves titles and chat messages, so a title and the user's spelling of it normalize the same way:
accents folded, lower case, apostrophes and acronym dots dropped ("Schindler's" → "schindlers", "P.S." → "ps"),
"&" → "and", and hyphenated words split ("Spider-Man" → "spider man").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_TOKEN = re.compile(r"(?:[^\W_]\.){2,}|[^\W_]+(?:['’][^\W_]+)*|&")
_NOT_WORD = re.compile(r"[\W_]+")
_UNFOLDABLE = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ł": "l", "đ": "d", "ð": "d",
                             "þ": "th"})

# Words that are only "part of speech": a title made of these alone ("It", "Her", "Up", "Us") is never taken from
# plain chat text unless the user set it apart (quotes, or a capital letter in mid-sentence).
FUNCTION_WORDS = frozenset("""
a about above after again against all also am an and any are as at away back be because been before being below
between both but by can could did do does doing done down during each either else even ever every few for from
further get gets getting go goes going gone got had has have having he her here hers herself him himself his how i
if in into is it its itself just let lets like me might mine more most much must my myself neither no nor not now of
off oh ok okay on once one only or other our ours out over own same shall she should so some such than that thats
the their theirs them then there these they this those through to too under until up upon us very was we well were
what when where which while who whom whose why will with would yeah yes yet you your yours im ive id youre dont
didnt doesnt isnt wasnt cant wont hi hello hey thanks please sure
hes shes theyre weve theyve youve youd hed wed theyd ill youll whats wheres whos hows theres heres aint havent
hasnt hadnt wouldnt couldnt shouldnt arent werent u r ur ya ty thx pls plz
""".split())

# Everyday words people use while chatting about movies. A title made only of these ("Heat", "Cats", "Big",
# "Home Alone", "Get Out") is taken from chat text only with a sign that it is a title: quotes, Title Case in
# mid-sentence, or a cue such as "loved"/"seen" right before it.
COMMON_WORDS = FUNCTION_WORDS | frozenset("""
movie movies film films flick flicks show shows series story stories thing things stuff kind kinds sort type genre
genres mood love loved loves lover lovers like liked likes good great best better bad worse worst big little small
old older new newer young man men woman women boy boys girl girls guy guys kid kids child children baby family
friend friends people person home house room night nights day days time times year years life lives world heat cat
cats dog dogs seven ten crash click frozen split taken signs rush speed fun funny sad happy cool nice awesome
amazing interesting scary creepy action comedy comedies drama dramas horror thriller thrillers romance romantic
war wars western westerns musical mystery fantasy animation animated adventure adventures documentary crime sci
fi recommend recommendation watch watched watching see seen saw think know knew want need look looking find found
help thank something anything everything nothing maybe really actually kind tonight today tomorrow weekend recent
classic classics favorite favourite fan fans true real way lot bit fine right wrong next last first second end
start beginning always never still already soon later early late long short high low hard easy heart mind head
eyes face hand hands blood dead death die dies kill killer killers run running walk stop play game games music
song songs dance party school college work job money car cars fast slow hot cold ice fire water sun moon star
stars sky earth space city town country street road king queen prince princess god gods hero heroes super father
mother brother brothers sister sisters son sons daughter husband wife dad mom parents date wedding christmas
summer winter spring fall light dark black white red blue green gold lies truth secret secrets dream dreams
memory hope faith trust power control change chance choice point side part whole half full free open live living
alive born lost missing wanted hidden inside outside beautiful pretty ugly strange weird crazy mad angry sorry
wild sweet perfect simple hell heaven paradise future past history fight fighting peace battle shot gun guns hit
chase escape trip journey ride drive driver flight fly island ocean sea river mountain forest jungle desert zero
two three four five six eight nine hundred thousand million number mask yesterday tv book books read made make
making makes say said tell told talk ask asked call called come came take takes feel feeling mean means place
places matter business deal trouble problem question answer idea word words line lines name names hour hours
minute minutes moment week month age ages tonight evening morning afternoon girls boys ladies gentlemen everyone
someone anyone nobody somebody everybody enough many much less least almost quite rather pretty already
together alone forever again original sequel sequels trilogy remake version genre also eat eating food drink
cook sleep wake awake rest seek hide run house lost lol haha wow omg yay ugh hmm
hate hated hates dislike disliked enjoy enjoyed adore adored prefer preferred boring awful terrible horrible
except without avoid excited
wait stuck character characters edge aloha greetings hola howdy ciao bye goodbye cheers mission plan plans
""".split())


@dataclass(frozen=True)
class Token:
    text: str  # as written
    norm: str  # folded, lower case, letters and digits only
    start: int
    end: int


def fold(text: str) -> str:
    """Lower case without accents: "Amélie" → "amelie"."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_UNFOLDABLE))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.+?),\s*(?P<article>the|a|an|les|le|la|l'|el|il|die|der|das)"
                               r"(?P<tail>\s*(?:\(.*\))?)$", re.IGNORECASE)
_ALIASES = re.compile(r"\s*\((?:a\.k\.a\.|aka)[^)]*\)|\s*\([^)]*\)(?=\s*\()", re.IGNORECASE)


def spoken_title(title: str) -> str:
    """A catalog title as people say it: "Matrix, The (1999)" → "The Matrix (1999)"; "Léon: The Professional
    (a.k.a. The Professional) (Léon)" → "Léon: The Professional (Léon)" (aliases dropped)."""
    title = _ALIASES.sub("", title).strip()
    match = _TRAILING_ARTICLE.match(title)
    if not match:
        return title
    article = match.group("article")
    glue = "" if article.endswith("'") else " "
    return f"{article}{glue}{match.group('rest')}{match.group('tail')}"


def norm_word(word: str) -> str:
    """One word as the indexes store it: "Schindler's" → "schindlers", "P.S." → "ps", "&" → "and"."""
    if word == "&":
        return "and"
    return _NOT_WORD.sub("", fold(word))


_SENTENCE_END = re.compile(r"[.!?\n]\s*$")


def tokenize(text: str) -> list[Token]:
    """Words of `text` with their character offsets; words that fold to nothing are dropped."""
    tokens = []
    for match in _TOKEN.finditer(text):
        norm = norm_word(match.group())
        if norm:
            tokens.append(Token(match.group(), norm, match.start(), match.end()))
    return tokens


def sentence_starts(text: str, tokens: list[Token]) -> list[bool]:
    """Per token: whether it opens a sentence (where a capital says nothing)."""
    return [position == 0 or bool(_SENTENCE_END.search(text[tokens[position - 1].end:token.start]))
            for position, token in enumerate(tokens)]


def words(text: str) -> list[str]:
    """The normalized words of `text`."""
    return [token.norm for token in tokenize(text)]


def longest_matches(size: int, match_at: Callable[[int], T | None]) -> list[T]:
    """Scan positions 0..size-1 left to right: `match_at(position)` gives the longest match starting there (with an
    `end`) or None; a match skips the scan past its end, so matches never overlap."""
    found: list[T] = []
    position = 0
    while position < size:
        match = match_at(position)
        if match is not None:
            found.append(match)
            position = match.end
        else:
            position += 1
    return found
