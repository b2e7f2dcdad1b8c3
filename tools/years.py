"""Years in a chat message: limits ("after 2000", "the 90s", "before 1980") and soft eras ("something recent",
"classics"), with the character spans they cover so the reader does not read them again as titles or taste words."""

from __future__ import annotations

import re
from dataclasses import dataclass

from convrec.catalog.models import Catalog
from convrec.tools.linking import TitleMention
from convrec.tools.models import Constraints, Era
from convrec.tools.textnorm import Token

RECENT_YEARS = 10  # "something recent": the catalog's last ten years
CLASSIC_BEFORE = 1980  # "older", "classics": released before this year


@dataclass
class Years:
    constraints: Constraints
    spans: list[tuple[int, int]]  # character spans of the year phrases
    era: Era | None = None


_DECADE_WORDS = {"twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
                 "seventies": 1970, "eighties": 1980, "nineties": 1990}
_NEGATED_BEFORE = re.compile(r"\b(?:no|not|nothing|none|never)\b(?:\s+\w+){0,2}\s*$", re.IGNORECASE)
_YEAR = r"(1[89]\d\d|20[0-3]\d)"
_DECADE = (r"(?:(?P<mod>early|mid|late)[\s-]+)?(?:the\s+)?(?:'?(?P<digits>(?:19|20)?\d0)\s*'?s\b|"
           r"(?:nineteen[\s-]+)?(?P<word>" + "|".join(_DECADE_WORDS) + r")\b)")
_YEAR_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("between", re.compile(r"\bbetween\s+(?:the\s+years?\s+)?" + _YEAR + r"\s+and\s+" + _YEAR + r"\b", re.I)),
    ("range", re.compile(r"\b" + _YEAR + r"\s*(?:-|–|to|through|until|till)\s*" + _YEAR + r"\b", re.I)),
    ("before_decade", re.compile(r"\b(?:before|pre|older than|earlier than|prior to)[\s-]*" + _DECADE, re.I)),
    ("after_decade", re.compile(r"\b(?:after|post|newer than|later than)[\s-]*" + _DECADE, re.I)),
    ("since_decade", re.compile(r"\b(?:since|from)\s+" + _DECADE + r"\s*(?:on(?:wards?)?|and (?:after|later|up|on|"
                                r"beyond))", re.I)),
    ("since_decade", re.compile(r"\bsince\s+" + _DECADE, re.I)),
    ("after", re.compile(r"\b(?:after|post|newer than|later than)[\s-]*" + _YEAR + r"\b", re.I)),
    ("since", re.compile(r"\b(?:since|from)\s+" + _YEAR + r"\s*(?:on(?:wards?)?|and (?:after|later|up|on|newer|"
                         r"beyond)|or (?:later|newer|after)|\+)", re.I)),
    ("since", re.compile(r"\bsince\s+" + _YEAR + r"\b", re.I)),
    ("since", re.compile(r"\b" + _YEAR + r"\s*(?:on(?:wards?)?\b|and (?:after|later|up|on|newer|beyond)\b|"
                         r"or (?:later|newer|after)\b|\+)", re.I)),
    ("before", re.compile(r"\b(?:before|pre|older than|earlier than|prior to)[\s-]*" + _YEAR + r"\b", re.I)),
    ("until", re.compile(r"\b(?:until|till|up to|through)\s+" + _YEAR + r"\b", re.I)),
    ("until", re.compile(r"\b" + _YEAR + r"\s+or\s+(?:earlier|before|older)\b", re.I)),
    ("decade", re.compile(r"\b" + _DECADE, re.I)),
    ("exact", re.compile(r"\b(?:in|from|of|released in|made in)\s+" + _YEAR + r"\b", re.I)),
]
_RECENT = re.compile(r"\b(?:(?:nothing|not)\s+(?:too\s+|that\s+|so\s+)?(?:new|recent)\b|"
                     r"(?:more\s+)?(?:recent|newer|newest|latest|modern|current)\b(?!ly)|"
                     r"new\s+(?:movies?|films?|releases?|stuff)\b|(?:last|past)\s+(?:few|couple of|several)\s+years\b|"
                     r"past\s+(?:years?|decade)\b|last\s+decade\b|"
                     r"up[\s-]to[\s-]date\b|nowadays\b)", re.I)
_OLD = re.compile(r"\b(?:(?:nothing|not)\s+(?:too\s+|that\s+|so\s+)?old(?:er)?\b|"
                  r"(?:something|anything|some|an?)\s+(?:(?:bit|little|lot|really|much|more)\s+)*"
                  r"(?:older|old|classic|vintage)\b|(?:older|old|classic|vintage|black and white|silent)\s+"
                  r"(?:movies?|films?|ones|stuff|pictures)\b|oldies\b|golden age\b)", re.I)
_DESCRIBES_A_TITLE = re.compile(r"(?:\b(?:is|was|are|were)|'s)\s*(?:so|too|pretty|really|kind of)?\s*$",
                                re.I)  # "That's an old movie tho", "Pulp Fiction was a old but good classic"


def read_years(text: str, catalog: Catalog) -> Years:
    bounds: dict[str, int] = {}
    spans: list[tuple[int, int]] = []
    for kind, pattern in _YEAR_PATTERNS:
        for match in pattern.finditer(text):
            if not overlaps(match.span(), spans):
                _apply_year_phrase(kind, match, _NEGATED_BEFORE.search(text[:match.start()]) is not None, bounds)
                spans.append(match.span())
    era: dict[str, int] = {}
    if not bounds:
        _apply_era_words(text, catalog, era, spans)
    if "year_min" in bounds and "year_max" in bounds and bounds["year_min"] > bounds["year_max"]:
        bounds.pop("year_max")
    _drop_bounds_outside(catalog, bounds)
    return Years(Constraints(**bounds), spans, Era(**era) if era else None)


def _drop_bounds_outside(catalog: Catalog, bounds: dict[str, int]) -> None:
    """A year no catalog item reaches ("stories set in 1823") is not a limit: it would rule out everything."""
    if not bounds or catalog.year_range is None:
        return
    oldest, newest = catalog.year_range
    if bounds.get("year_min", oldest) > newest:
        bounds.pop("year_min")
    if bounds.get("year_max", newest) < oldest:
        bounds.pop("year_max")


def _apply_year_phrase(kind: str, match: re.Match, negated: bool, bounds: dict[str, int]) -> None:
    if kind in ("between", "range"):
        low, high = sorted((int(match.group(1)), int(match.group(2))))
        bounds.update(year_min=low, year_max=high)
        return
    if kind.endswith("decade"):
        low, high = _decade_span(match)
    else:
        low = high = int(match.group(1))
    if kind.startswith("before"):
        bounds["year_min" if negated else "year_max"] = low if negated else low - 1
    elif kind.startswith("after"):
        bounds["year_max" if negated else "year_min"] = high if negated else high + 1
    elif kind.startswith("since"):
        bounds["year_min"] = low
    elif kind == "until":
        bounds["year_max"] = high
    elif not negated:  # a decade or a single year
        bounds.update(year_min=low, year_max=high)


def _decade_span(match: re.Match) -> tuple[int, int]:
    if match.group("word"):
        start = _DECADE_WORDS[match.group("word").lower()]
    else:
        digits = match.group("digits")
        start = int(digits) if len(digits) == 4 else (2000 if digits in ("00", "10") else 1900) + int(digits)
    modifier = (match.group("mod") or "").lower()
    first, last = {"early": (0, 3), "mid": (3, 6), "late": (6, 9)}.get(modifier, (0, 9))
    return start + first, start + last


def _apply_era_words(text: str, catalog: Catalog, bounds: dict[str, int], spans: list[tuple[int, int]]) -> None:
    """ "something recent" / "older movies": the first one said wins ("old movies more than the new ones").

    An era is a soft preference (`Era`), not a limit: "classic" or "not too old" mean different years to different
    people, and the films they name say which."""
    eras = [(match, "recent") for match in _RECENT.finditer(text)] + \
           [(match, "old") for match in _OLD.finditer(text) if not _DESCRIBES_A_TITLE.search(text[:match.start()])]
    if not eras:
        return
    match, era = min(eras, key=lambda pair: pair[0].start())
    negated = _NEGATED_BEFORE.search(text[:match.start()]) is not None or \
        match.group().lower().startswith(("nothing", "not"))
    newest = _newest_year(catalog)
    if era == "recent":
        bounds["year_max" if negated else "year_min"] = newest - RECENT_YEARS + (0 if negated else 1)
    else:
        bounds["year_min" if negated else "year_max"] = CLASSIC_BEFORE if negated else CLASSIC_BEFORE - 1
    spans.extend(match.span() for match, _ in eras)


def _newest_year(catalog: Catalog) -> int:
    return catalog.year_range[1] if catalog.year_range else 2020


def overlaps(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in spans)


def inside_any(mention: TitleMention, spans: list[tuple[int, int]]) -> bool:
    return overlaps((mention.start, mention.end), spans)


def char_span_inside(tokens: list[Token], start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return overlaps((tokens[start].start, tokens[end - 1].end), spans)
