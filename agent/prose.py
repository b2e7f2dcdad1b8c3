"""Per-card justifications: the LLM connects one card's film to the person; a check keeps it faithful.

The model sees the card's template reason and a short excerpt of the item's own document
(the lead of its description, credits cut, plus its top tags), guarded like user text: from the first clause that
gives orders or addresses someone, item text is cut before it becomes evidence.

A sentence is accepted only if it names the card's own title, names no other catalog title except the liked
item the evidence cites, contains no number absent from the evidence, says nothing else (every content word
comes from the card: title, reasons, evidence, genres and their everyday words, the excerpt, or a short list of
words of praise), says so when the card is an exploration, and shares no run of six words with a sentence
already shown for another card (titles aside). Otherwise the template stays.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from convrec.agent.guard import strip_item_instructions
from convrec.agent.prompts import template
from convrec.catalog.models import Catalog
from convrec.tools import explain
from convrec.tools.linking import find_titles
from convrec.tools.models import Recommendation
from convrec.tools.textnorm import FUNCTION_WORDS, fold, spoken_title, tokenize, words
from convrec.tools.vocabulary import TERMS, singular

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_PAREN_YEAR = re.compile(r"\(\d{4}\)")
MAX_SENTENCE_CHARS = 220
ECHO_WORDS = 5
SKELETON_WORDS = 6  # two cards' sentences sharing this many words in a row (titles aside) read as one template
EXCERPT_WORDS = 14
EXCERPT_TAGS = 3
NOT_GENRES = frozenset({"IMAX", "(no genres listed)"})  # how it was shown, or nothing: not what the film is
# A sentence ends at . ! ? before a capital, but not after an initial or a title ("M. Night", "Douglas S. Cook").
_ABBREVIATED = (r"[A-Z]", "Mr", "Dr", "St", "Jr", "Mrs")  # an initial, a title: their full stop ends nothing
_NOT_AN_ABBREVIATION = "".join(rf"(?<!\b{abbreviated})" for abbreviated in _ABBREVIATED)  # what a full stop follows
_NOT_AFTER_ABBREVIATION = "".join(rf"(?<!\b{abbreviated}\.)" for abbreviated in _ABBREVIATED)  # what follows it
_SENTENCE_END = re.compile(rf"(?<=[.!?]){_NOT_AFTER_ABBREVIATION}"
                           r"\s+(?=[A-Z\"(])")
# A clause ends at , ; or a full stop, but not at an initial's ("the hairy James P. Sullivan", "J. R. R. Tolkien").
# A subordinate clause ("… at Hogwarts as he receives a mysterious") ends one too, before its conjunction.
_CLAUSE_END = re.compile(rf"[,;]|{_NOT_AN_ABBREVIATION}\.(?=\s)"
                         r"|\s(?=(?:as|who|whom|which|when|while|where|after|before|until|because)\s)")
# Where a model sentence may be cut back to its opening clause: punctuation, or before a word that starts a clause.
_SALVAGE_CUT = re.compile(r"[,;:\u2014]|\s(?=(?:about|with|that|who|whom|which|where|when|while|as|and|but|just|"
                          r"like|so|because|since|loved|is|was|in|to|for|from|by|of)\s)|$")
# Credits are names the model would only parrot: cut from "directed by …" / "starring …" to the sentence's end.
_CREDITS = re.compile(r",?\s*\b(?:(?:co-)?(?:written|directed|produced|edited|distributed|released|created|developed)"
                      r"(?:,?\s+(?:and\s+)?(?:co-)?(?:written|directed|produced|edited))*\s+by"
                      r"|starring|(?:that|and|it)\s+stars)\b.*$", re.IGNORECASE)
_PRODUCTION = re.compile(r"\b(produced|directed|written|released|grossed|premiered|awards?|box\s+office|budget|based|"
                         r"installment|sequel|remake|screenplay|adaptation|nominated|starred|starring|stars|voices|"
                         r"cast)\b", re.IGNORECASE)
# Cues that a sentence tells what happens; lower case only: "Toy Story" is not a story cue.
_STORY = re.compile(r"\b(follows?|story(?!\s+(?:by|was|is)\b)|centers?|centres?|centered|centred|about|tells?|plot|"
                    r"revolves?|depicts?|focuses|concerns?|set\s+in|in\s+the\s+film)\b")
# The role a star plays: "It stars Bruce Willis as a child psychologist …", "Kevin Spacey stars as Lester Burnham, an
# advertising executive …"
_ROLE = re.compile(r"\bstars\s+(?:[A-Z][\w.'-]*\s+)+as\s+(?=(?:an?|the)\s)|\bstars\s+as\s+[^,]+,\s*(?=(?:an?|the)\s)")
_SIMILARITY = re.compile(r"\s*\(similarity [\d.]+\)")
# "1995 American crime film" → "crime film": the year and origin only cost tokens (and "a American")
_LEADING_ORIGIN = re.compile(r"^(?:\d{4}\s+)?(?:[A-Z][a-z]+(?:-[A-Z][a-z]+)*\s+(?=[a-z]))?")
EXPLORATION_WORDS = frozenset({"explore", "exploring", "exploration", "beyond", "different", "new", "change",
                               "venture", "branch", "outside", "discover", "try"})
# What a recommendation may say without evidence: liking, fit, invitation. Nothing about the film itself.
PRAISE_WORDS = frozenset("""
movie movies film films pick picks choice great good fun enjoy enjoyed enjoying enjoyable like liked love loved
might may also similar same really definitely sure surely worth watch watching watched check try fan fans favorite
favourite perfect wonderful fantastic amazing awesome excellent brilliant recommend recommended recommendation
suggest suggestion fit fits match matches matched think just since because vibe vibes style taste tastes treat
appeal appeals suit suits alley fine nice solid theme themes many people given hit exciting entertaining gem
should would will could want appreciate appreciated rated rating ratings predicted predict score highly high well
lot more much too something tonight next another one right up classic favorites share shares sharing
similarity similarities kind this time request wish asked explores featuring
""".split())
# Words that start a clause the opening would leave unfinished, or the why the brief will say
_NOT_WHAT = frozenset({"who", "whom", "which", "that", "where", "when", "while", "whose", "like", "just", "so",
                       "because", "since"}) | PRAISE_WORDS


def allowed_numbers(card: Recommendation) -> set[str]:
    numbers = {n for reason in card.reasons for value in reason.evidence.values() for n in _NUMBER.findall(str(value))}
    numbers |= set(_NUMBER.findall(card.title))
    if card.year:
        numbers.add(str(card.year))
    return {n.rstrip("0").rstrip(".") if "." in n else n for n in numbers}


def cited_items(card: Recommendation) -> set[str]:
    return {str(reason.evidence["liked_item_id"]) for reason in card.reasons if "liked_item_id" in reason.evidence}


def first_sentence_end(text: str) -> int | None:
    """Where the first sentence of `text` ends, once a second one has begun ("… mouse. It is …"), else None."""
    match = _SENTENCE_END.search(text)
    return match.start() if match else None


def prompt_fact(card: Recommendation) -> str:
    """The card's first reason as the model reads it: without the similarity score and the liked film's year, which it
    would only copy (tokens, and numbers the check must then trace)."""
    return _PAREN_YEAR.sub("", _SIMILARITY.sub("", card.reasons[0].text)).strip()


def excerpt(card: Recommendation, catalog: Catalog) -> str:
    """The card's item in a few guarded words of its own document: what it is, what happens, top tags."""
    item = catalog.item(card.item_id)
    return item_excerpt(item.title, item.description or "", tuple(item.tags[:2 * EXCERPT_TAGS]), tuple(item.genres))


@lru_cache(maxsize=512)
def item_excerpt(title: str, description: str, tags: tuple[str, ...] = (), genres: tuple[str, ...] = ()) -> str:
    """`excerpt` from the item's title, description, tags (most frequent first) and genres: a description that starts
    with the story ("In 2035, the crew of …") gets the genres in front, so the model need not guess what it is."""
    guarded = re.sub(r"\s*\([^)]*\)", "", strip_item_instructions(description, spoken_title(title)))
    sentences = [s for s in _SENTENCE_END.split(" ".join(guarded.split())) if s]
    parts = []
    if sentences:
        names = "|".join(re.escape(re.sub(r"\s*\(.*\)\s*$", "", form)) for form in (spoken_title(title), title))
        first = _CREDITS.sub("", sentences[0])
        what = re.sub(rf"^(?:{names})\s+(?:is|was)\s+(?:an?\s+)?", "", first, flags=re.IGNORECASE)
        if what == first:  # the lead names the film another way: "Star Wars: The Force Awakens is a 2015 …"
            what = re.sub(r"^[^,;]{1,100}?\s(?:is|was)\s+(?:an?\s+)?(?=\d{4}\s)", "", first)
        # "1995 American crime film" → "crime film" (the card shows the year; the model misquotes it), but a lead
        # that does not define the title ("In the mid-21st century, …") keeps its first word
        parts.append(_LEADING_ORIGIN.sub("", what) if what != first else what)
        # what happens in it: the first later sentence with a story cue, from the cue on ("depicts a dystopian …"),
        # or the role its star plays
        story = next((s[cue.end():] if cue.re is _ROLE else s[cue.start():] for s in sentences[1:]
                      if (cue := _ROLE.search(s) or _STORY.search(s))), None)
        if story is None and len(sentences) > 1 and not _PRODUCTION.search(sentences[1]):
            story = sentences[1]
        if story:
            parts.append(_CREDITS.sub("", story))
    parts = [part.rstrip(" ,;:.") for part in parts if part.strip(" ,;:.")]
    text = _first_words("; ".join(parts), EXCERPT_WORDS)
    head, _, tail = text.rpartition("; ")
    if head and set(words(tail)) <= set(words(title)) | FUNCTION_WORDS:  # "…; In Thor: Ragnarok" tells nothing
        text = head
    said_genres = [genre.lower() for genre in genres if genre not in NOT_GENRES]
    if said_genres and re.match(r"(?:film|movie)\b", text):  # "Fight Club is a 1999 American film": which kind
        text = f"{', '.join(said_genres)} {text}"
    elif sentences and what == first and said_genres:
        text = f"{', '.join(said_genres)} film; {text}"
    if len(parts) < 2:  # no story: a few of its top tags say what it is about
        kept_tags: list[str] = []
        for tag in tags:
            if len(kept_tags) < EXCERPT_TAGS and len(words(tag)) <= 3 and strip_item_instructions(tag) == tag.strip() \
                    and fold(tag) not in {fold(t) for t in kept_tags} and not set(words(tag)) <= set(words(text)):
                kept_tags.append(tag.strip())
        if kept_tags:
            text = "; ".join(filter(None, [text, f"themes: {', '.join(kept_tags)}"]))
    return text


def _first_words(text: str, limit: int) -> str:
    tokens = tokenize(text)
    if len(tokens) <= limit:
        return text
    cut = text[:tokens[limit - 1].end]
    clause = max((match.start() for match in _CLAUSE_END.finditer(cut)), default=-1)
    cut = (cut[:clause] if clause > len(cut) // 3 else cut).rstrip(" ,;.")  # a cut phrase invites its own ending
    while (last := cut.rsplit(" ", 1))[-1].lower() in FUNCTION_WORDS and len(last) > 1:  # no dangling "when he"
        cut = last[0].rstrip(" ,;.")
    return cut


def faithful(sentence: str, card: Recommendation, catalog: Catalog, *,
             earlier: Sequence[tuple[str, Recommendation]] = ()) -> bool:
    """True if the sentence may be shown in place of the card's template reason. `earlier`: (sentence, card)
    already shown for the other cards of this reply."""
    return rejection(sentence, card, catalog, earlier=earlier) is None


def rejection(sentence: str, card: Recommendation, catalog: Catalog, *,
              earlier: Sequence[tuple[str, Recommendation]] = ()) -> str | None:
    """The first rule the sentence breaks (one of REJECTIONS), or None if it may be shown.

    The person's own words are not evidence about the film: a small model pins them on any card
    ("The Shawshank Redemption … is a movie with animals", measured with the 1.5B)."""
    text = sentence.strip()
    if not text or len(text) > MAX_SENTENCE_CHARS or "\n" in text:
        return "shape"
    if not _names(text, card.title):
        return "no title"
    if _echoes_prompt(text):
        return "echoes prompt"
    allowed = {card.item_id} | cited_items(card)
    about = excerpt(card, catalog)
    for mention in find_titles(_PAREN_YEAR.sub("", text), catalog):  # "(2010), The Matrix" is not "2010: The …"
        if mention.span.islower() or not re.search(r"[^\W\d_]", mention.span):  # "explores" is not "Explorers",
            continue  # "4.2." not the film "42": the words and numbers still need evidence (below)
        ids = {candidate.item_id for candidate in mention.result.candidates}
        quoted = set(words(mention.span)) <= set(words(about))  # the excerpt's "anthology" is not "Pathology"
        if mention.result.decision == "linked" and not ids & allowed and not quoted:
            return "other title"
    numbers = {n.rstrip("0").rstrip(".") if "." in n else n for n in _NUMBER.findall(text)}
    if not numbers <= allowed_numbers(card) | set(_NUMBER.findall(about)):
        return "new number"
    if unsupported_words(text, card, evidence=about):
        return "unsupported words"
    if any(reason.kind == "explore" for reason in card.reasons[:1]) and not EXPLORATION_WORDS & set(words(text)):
        return "exploration unsaid"
    if _repeats(text, card, earlier):
        return "repeats a skeleton"
    return None


REJECTIONS = ("shape", "no title", "echoes prompt", "other title", "new number", "unsupported words",
              "exploration unsaid", "repeats a skeleton")


def doomed(partial: str, card: Recommendation, catalog: Catalog) -> bool:
    """True once a finished word of a sentence still being written has no evidence: the check will reject it, so
    decoding the rest only costs time."""
    end = max(map(partial.rfind, " ,;:.!?"))  # a word without a delimiter after it may go on
    return end > 0 and bool(unsupported_words(partial[:end], card, evidence=excerpt(card, catalog)))


def unsupported_words(sentence: str, card: Recommendation, *, evidence: str = "") -> set[str]:
    """Content words of `sentence` that neither the card's evidence (plus `evidence`, e.g. its excerpt) nor a word
    of praise accounts for."""
    allowed = _allowed_words(card)
    if any(reason.kind == "explore" for reason in card.reasons[:1]):
        allowed |= EXPLORATION_WORDS  # "something new to explore" is what an exploration pick should say
    extra = {_stem(word) for word in {*words(evidence), *allowed}}  # "centers" allows "centered", "explore" "exploring"
    said = {word for word in words(sentence) if not word.isdigit()}
    return {word for word in said if word not in allowed and singular(word) not in allowed and _stem(word) not in extra}


def _stem(word: str) -> str:
    """"robbing" → "rob", "centered" → "center", "centers" → "center"."""
    if len(word) <= 4:
        return word
    base = singular(word)
    stem = re.sub(r"(?:ing|ed|es|e|s)$", "", base)
    return re.sub(r"([^aeiousl])\1$", r"\1", stem) if stem != base else stem  # "robb(ing)", not "kill", "dress"


def card_titles(card: Recommendation) -> list[str]:
    """The card's own title and the liked titles its evidence cites."""
    return [card.title, *(str(reason.evidence["liked_title"]) for reason in card.reasons
                          if "liked_title" in reason.evidence)]


def shared_skeleton(a: str, b: str, titles: list[str] | tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The first run of SKELETON_WORDS words the two sentences share once titles are taken out, or None."""
    grams_b = set(_grams(_skeleton(b, titles), SKELETON_WORDS))
    return next((gram for gram in _grams(_skeleton(a, titles), SKELETON_WORDS) if gram in grams_b), None)


def fallback_sentence(card: Recommendation, earlier: Sequence[tuple[str, Recommendation]] = (), about: str = "") -> str:
    """The card's template: its first reason whose text repeats no skeleton of a sentence already shown (two cards
    predicted by the same collaborative filter read alike); else what the film is (`about`, its excerpt) with the
    reason in brief, or the brief alone ("you like action, comedy"): card-specific words, few fixed ones; else its
    first reason."""
    texts = [reason.text for reason in card.reasons] or ["A good match for you."]
    briefs = [explain.brief(reason) for reason in card.reasons]
    composed = [*(f"{about[:1].upper()}{about[1:]} \u2014 {text}" for text in briefs if about),
                *(f"{text[:1].upper()}{text[1:]}" for text in briefs)]
    return next((text for text in [*texts, *composed] if not _repeats(text, card, earlier)), texts[0])


def salvage(sentence: str, card: Recommendation, catalog: Catalog,
            earlier: Sequence[tuple[str, Recommendation]] = ()) -> str | None:
    """A rejected model sentence cut back to its longest opening clause in the film's own words (title, excerpt,
    function words) that tells something from the excerpt ("The Shawshank Redemption is a drama about banker Andy
    Dufresne", before the invented "a man who …"), completed by the card's reason in brief and passing the check;
    None if no opening clause does."""
    about = excerpt(card, catalog)
    own = {_stem(word) for word in [*words(about), *(w for title in card_titles(card) for w in words(title)),
                                    *(w for genre in card.genres for w in (*words(genre), *_genre_words(genre)))]}
    cuts = sorted({match.start() for match in _SALVAGE_CUT.finditer(sentence)}, reverse=True)
    for cut in cuts:
        opening = _without_trailing_function_words(sentence[:cut])
        # what the film is, in its own words only: the why is the reason's, not "…, just the kind of film"
        if not all(_stem(word) in own or (word in FUNCTION_WORDS and word not in _NOT_WHAT)
                   for word in words(opening)) or not informative(opening, card, about):
            continue
        for completed in (f"{opening} \u2014 {explain.brief(reason)}." for reason in card.reasons):
            if rejection(completed, card, catalog, earlier=earlier) is None:
                return completed
    return None


def _without_trailing_function_words(text: str) -> str:
    text = text.rstrip(" ,;:.!\u2014-")
    while (tokens := tokenize(text)) and tokens[-1].norm in FUNCTION_WORDS:
        text = text[:tokens[-1].start].rstrip(" ,;:.!\u2014-")
    return text


def informative(sentence: str, card: Recommendation, about: str) -> bool:
    """The sentence has a content word from the item's excerpt that the card's templates (its reasons) do not
    already have: it tells the person something about the film."""
    title_words = {w for title in card_titles(card) for w in words(title)}
    said = set(words(sentence)) - FUNCTION_WORDS - PRAISE_WORDS - title_words
    return bool(said & set(words(about)) - {w for reason in card.reasons for w in words(reason.text)})


def _repeats(text: str, card: Recommendation, earlier: Sequence[tuple[str, Recommendation]]) -> bool:
    return any(shared_skeleton(text, shown, card_titles(card) + card_titles(other)) for shown, other in earlier)


def distinctness_violations(shown: Sequence[tuple[str, Recommendation]]) -> int:
    """Pairs of (sentence, card) in one reply whose sentences share a skeleton of SKELETON_WORDS words."""
    return sum(1 for i, (a, card_a) in enumerate(shown) for b, card_b in shown[i + 1:]
               if shared_skeleton(a, b, card_titles(card_a) + card_titles(card_b)))


def _skeleton(sentence: str, titles: list[str] | tuple[str, ...]) -> list[str]:
    said = f" {' '.join(words(sentence))} "
    for title in sorted({t for title in titles for t in (_core(title), _core(spoken_title(title))) if t},
                        key=len, reverse=True):
        said = said.replace(f" {title} ", " ")
    return said.split()


def _grams(said: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(said[i:i + n]) for i in range(len(said) - n + 1)]


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
    return bool(set(_grams(words(text), ECHO_WORDS)) & _prompt_grams())


@lru_cache(maxsize=1)
def _prompt_grams() -> frozenset[tuple[str, ...]]:
    grams = set()
    for name in ("reason_system", "read_system"):
        instructions = template(name).template.split("Example.")[0]  # copying the example's style is the point
        grams |= set(_grams(words(instructions), ECHO_WORDS))
    return frozenset(grams)


def _names(text: str, title: str) -> bool:
    """The sentence names the title: its main words, as catalogued or as spoken ("Boot, Das" = "Das Boot")."""
    said = f" {' '.join(words(text))} "
    for form in (title, spoken_title(title)):
        core = " ".join(words(re.sub(r",\s*(the|a|an)$", "", re.sub(r"\s*\(.*\)\s*$", "", form), flags=re.I)))
        if core and f" {core} " in said:  # word by word: "Crazy, Stupid, Love." said without its full stop
            return True
    return False


def _core(title: str) -> str:
    """A title's words without its year or aliases in brackets, as `words` gives them, space-joined."""
    return " ".join(words(re.sub(r"\s*\(.*\)\s*$", "", title)))
