"""`convrec eval simulate`: a simulated user with a hidden target talks to the agent (after InteRecAgent / iEvaLM).

A persona comes from a real user of the catalog's ratings, chosen with a seed and held out: the CF model, EASE and
the popularity counts the agent uses are refit without the simulated users' ratings. The target is one of the user's
later high-rated movies; the persona's liked titles are movies they had liked before it. Each turn the simulated user
writes a message (an LLM through the `agent.llm.LLM` protocol, or templates), the agent answers with k cards, and
the user accepts when the target is among them. Reported: Hit@k within N turns and AT@k (average turns, a failure
counting as N + 1).

The user must never name the target. Every message is checked: the normalized target title against the message with
rapidfuzz `partial_ratio` (≥ LEAK_THRESHOLD; titles shorter than LEAK_MIN_CHARS only as whole words, and not when they
are everyday words such as "Up" or "Heat"; plus a plain ratio against runs of as many words, for one-letter typos).
A leaked LLM draft is regenerated, as is one that is no user message (a refusal, the prompt echoed) or that copies
six words of the plot: at most MAX_REGENERATIONS times, then a template built from the target's genres and decade
replaces it, itself checked (a generic request if even that would leak).

Limits, said in every report: the simulated user knows the target's genres, decade, tags and plot, and asks with
them more directly than people do; the template user only repeats catalog facts in fixed sentences that our own
deterministic reader was built to parse (so its numbers flatter the agent); a small LLM as the user paraphrases
loosely, invents liked titles, and leaks often (its fallbacks are then templates). Hit rates from a simulator compare
versions of this agent, not agents in general.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz

from convrec.agent.llm import LLM, LLMError, Message
from convrec.agent.policy import Agent
from convrec.catalog.models import Catalog, Item
from convrec.core.errors import InputError
from convrec.evaluation import dialogue_metrics as dm
from convrec.evaluation.common import typed_title
from convrec.evaluation.dialogues import TurnOutcome, gather_bounded, ids, play_turn, reason_kind_shares
from convrec.evaluation.splits import time_ordered
from convrec.tools.models import Recommendation
from convrec.tools.textnorm import COMMON_WORDS, words

LEAK_THRESHOLD = 85
LEAK_MIN_CHARS = 6  # shorter normalized titles are checked as whole words only
MAX_REGENERATIONS = 2
LIKED = 4.0  # a rating at or above this is a like
TARGET_MIN_RATING = 4.5  # the target: a movie the user rated this high...
TARGET_MIN_RATINGS = 10  # ...that at least this many people rated (a simulated user can describe it, a model knows it)
PERSONA_ITEMS = 5  # liked titles a persona may name: 3 in the first message, the rest later
OPENING_TITLES = 3
MAX_MESSAGE_CHARS = 400
COPY_WORDS = 6  # a draft that repeats this many consecutive words of the plot it was shown is thrown away
SIM_MAX_TOKENS = 80
SIM_TEMPERATURE = 0.8
IGNORED_GENRES = frozenset({"IMAX", "(no genres listed)"})
GENRE_WORDS = {"Sci-Fi": "sci-fi", "Children": "family", "Film-Noir": "film noir", "Animation": "animated",
               "Musical": "musical", "Documentary": "documentary"}
GENERIC = "Something I would really enjoy, please."
SIMULATOR_CHOICES = ("none", "local", "openai")

EXAMPLE_FACTS = ("The movie you have in mind (secret: never write its title): Toy Story (1995).\n"
                 "Its genres: adventure, animated, family, comedy, fantasy.\n"
                 "Movies you liked before (you may name these): Shrek, Finding Nemo.\n\n"
                 "Write your first message to the recommender.")
EXAMPLE_MESSAGE = "Hi! I loved Shrek and Finding Nemo. Got a funny animated adventure the whole family would enjoy?"
SYSTEM_PROMPT = (
    "You play a person chatting with a movie recommender. You have one movie in mind and want the recommender to "
    "suggest it, but you must NEVER write its title, part of its title, or the names of its characters. Describe "
    "what you want instead: genre, mood, era, themes, and movies you liked before. Write one or two short casual "
    "sentences, as a person types in a chat. Write only the message, nothing else."
)


# --- the leak check --------------------------------------------------------------------------------------------------
def normalized(text: str) -> str:
    """Folded, lower case, punctuation dropped, one space between words."""
    return " ".join(words(text))


def leak_title(item: Item) -> str:
    """The target as people would type it, normalized, without a leading article: "Matrix, The (1999)" → "matrix"."""
    typed = normalized(typed_title(item.title if item.year is None else f"{item.title} ({item.year})"))
    for article in ("the ", "a ", "an "):
        if typed.startswith(article) and len(typed) > len(article):
            return typed[len(article):]
    return typed


def leaks(message: str, title: str, threshold: float = LEAK_THRESHOLD) -> bool:
    """Whether `message` names `title` (a `leak_title`), exactly or nearly.

    Long enough titles: rapidfuzz partial ratio of the title within the message (plain ratio when the message is
    the shorter of the two, so "no" never "contains" a long title), or the plain ratio against a run of as many
    words. Short titles: as whole words, unless every word is everyday chat ("up", "heat"), which would flag ordinary
    sentences.
    """
    text = normalized(message)
    if not title or not text:
        return False
    if len(title) < LEAK_MIN_CHARS:
        title_words = title.split()
        if all(word in COMMON_WORDS for word in title_words):
            return False
        return re.search(rf"(?:^| ){re.escape(title)}(?: |$)", text) is not None
    scorer = fuzz.partial_ratio if len(text) >= len(title) else fuzz.ratio
    return scorer(title, text) >= threshold or _word_window_ratio(title, text) >= threshold


def _word_window_ratio(title: str, text: str) -> float:
    """The best plain ratio of the title against runs of as many words (±1) of the message: partial_ratio compares
    character windows of the title's length, so one dropped letter in a short title ("the matrx with") scores 83."""
    found, size = text.split(), len(title.split())
    best = 0.0
    for length in {max(1, size - 1), size, size + 1}:
        for start in range(0, max(1, len(found) - length + 1)):
            best = max(best, fuzz.ratio(title, " ".join(found[start:start + length])))
    return best


# --- personas --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Persona:
    user_id: str  # the real user whose history it is (held out of the agent's models)
    liked: tuple[str, ...]  # liked just before the target (and known to ≥ TARGET_MIN_RATINGS raters), latest first
    target: str


def choose_personas(catalog: Catalog, count: int, seed: int = 0) -> list[Persona]:
    """`count` personas from users in a seeded order: each user's target is a movie rated ≥ TARGET_MIN_RATING in the
    later half of their history; the persona names the movies they liked just before it (as in the offline cold-start
    `recent` protocol), none of whose titles give the target away."""
    if count < 1:
        raise InputError(f"--users must be at least 1, got {count}")
    ratings = time_ordered(catalog.ratings)
    popularity = catalog.popularity
    users = sorted(ratings["user_id"].unique())
    rng = np.random.default_rng(seed)
    personas = []
    by_user = {user: frame for user, frame in ratings.groupby("user_id", sort=False)}
    for position in rng.permutation(len(users)):
        persona = _persona(catalog, by_user[users[position]], popularity, rng)
        if persona is not None:
            personas.append(persona)
            if len(personas) == count:
                break
    return personas


def _persona(catalog: Catalog, history, popularity, rng: np.random.Generator) -> Persona | None:
    items = [str(item) for item in history["item_id"]]
    stars = history["rating"].to_numpy(dtype=float)
    later = range(len(items) // 2, len(items))
    candidates = [i for i in later if stars[i] >= TARGET_MIN_RATING and items[i] in catalog
                  and popularity.get(items[i], 0) >= TARGET_MIN_RATINGS]
    if not candidates:
        return None
    chosen = candidates[int(rng.integers(len(candidates)))]
    target = items[chosen]
    title = leak_title(catalog.item(target))
    earlier = [i for i in range(chosen) if stars[i] >= LIKED and items[i] != target and items[i] in catalog
               and popularity.get(items[i], 0) >= TARGET_MIN_RATINGS]
    earlier = [i for i in earlier if not _related(catalog.item(items[i]), title)]
    if len(earlier) < OPENING_TITLES:
        return None
    recent = earlier[::-1][:PERSONA_ITEMS]  # the likes just before the target, latest first
    return Persona(user_id=str(history["user_id"].iloc[0]), liked=tuple(items[i] for i in recent), target=target)


def _related(item: Item, target_title: str) -> bool:
    """A liked movie whose title would give the target away (the same franchise): "Toy Story" for "Toy Story 2"."""
    own = leak_title(item)
    return leaks(typed_title(item.title), target_title) or leaks(target_title, own)


# --- the simulated user --------------------------------------------------------------------------------------------
@dataclass
class Utterance:
    text: str
    source: str  # "llm", "template" or "fallback"
    regenerations: int = 0  # LLM drafts thrown away because they named the target
    drafts: list[str] = field(default_factory=list)  # the leaked drafts, for the report
    unusable: list[str] = field(default_factory=list)  # drafts that were no user message (refusals, prompt echoes)


class SimulatedUser:
    """Writes the persona's messages: with `llm`, in its words; without, from templates. Never names the target."""

    def __init__(self, persona: Persona, catalog: Catalog, llm: LLM | None = None, *,
                 max_regenerations: int = MAX_REGENERATIONS) -> None:
        self.persona = persona
        self.target = catalog.item(persona.target)
        self.liked = [catalog.item(item) for item in persona.liked]
        self.llm = llm
        self.max_regenerations = max_regenerations
        self.title = leak_title(self.target)
        self.said: list[str] = []

    # -- facts a person would know about the movie they have in mind ------------------------------------------------
    @property
    def genres(self) -> list[str]:
        return [GENRE_WORDS.get(g, g.lower()) for g in self.target.genres if g not in IGNORED_GENRES]

    @property
    def decade(self) -> str | None:
        return f"{self.target.year // 10 * 10}s" if self.target.year else None

    def safe_tags(self, limit: int = 2) -> list[str]:
        return [tag for tag in self.target.tags if not leaks(tag, self.title) and len(tag) <= 30][:limit]

    def liked_titles(self, start: int = 0, stop: int | None = None) -> list[str]:
        return [typed_title(item.title) for item in self.liked[start:stop]]

    # -- messages ---------------------------------------------------------------------------------------------------
    def message(self, turn: int, shown: Sequence[Recommendation] = ()) -> Utterance:
        """The message for turn `turn` (1-based), after the agent showed `shown`."""
        if self.llm is None:
            utterance = self._checked_template(turn)
        else:
            utterance = self._llm_message(turn, shown)
        self.said.append(utterance.text)
        return utterance

    def template(self, turn: int) -> str:
        """Fixed sentences that reveal a little more each turn: liked titles and genres, then the decade, then the
        target's tags and one more liked title per turn."""
        genres = _listed(self.genres) or "good"
        if turn == 1:
            return f"I loved {_listed(self.liked_titles(0, OPENING_TITLES))}. Can you recommend {_a(genres)} movie?"
        parts = ["Not quite what I had in mind.",
                 f"I want {_a(genres)} movie{f' from the {self.decade}' if self.decade else ''}."]
        if turn >= 3:
            if tags := self.safe_tags():
                parts.append(f"Maybe something {_listed(tags)}.")
            if extra := self.liked_titles(OPENING_TITLES + turn - 3, OPENING_TITLES + turn - 2):
                parts.append(f"I also liked {extra[0]}.")
        return " ".join(parts)

    def fallback(self) -> str:
        """The genre-only message used when a message would leak; itself checked, else a generic request."""
        genres = _listed(self.genres)
        for text in (f"Can you recommend {_a(genres)} movie from the {self.decade}?" if genres and self.decade else "",
                     f"Can you recommend {_a(genres)} movie?" if genres else "", GENERIC):
            if text and not leaks(text, self.title):
                return text
        return GENERIC

    def _checked_template(self, turn: int) -> Utterance:
        text = self.template(turn)
        if leaks(text, self.title):
            return Utterance(self.fallback(), "fallback", drafts=[text])
        return Utterance(text, "template")

    def prompt(self, turn: int, shown: Sequence[Recommendation], leaked: bool = False,
               unusable: bool = False) -> list[Message]:
        """A system prompt, one worked example (small models follow an example better than rules), and the facts."""
        target = self.target
        plot = _redacted(target.description or "", target.title)[:300]
        facts = [f"The movie you have in mind (secret: never write its title): {typed_title(target.title)}"
                 f"{f' ({target.year})' if target.year else ''}.",
                 f"Its genres: {', '.join(self.genres) or 'unknown'}."]
        if self.safe_tags(4):
            facts.append(f"People describe it as: {', '.join(self.safe_tags(4))}.")
        if plot:
            facts.append(f"What it is about: {plot}")
        facts.append(f"Movies you liked before (you may name these): {', '.join(self.liked_titles())}.")
        if turn == 1:
            task = "Write your first message to the recommender."
        else:
            titles = ", ".join(card.label for card in shown[:5]) or "nothing"
            task = (f"The recommender suggested: {titles}. The movie you have in mind is not among them. Write your "
                    "reply: say so briefly and give one new hint about what you want (genre, mood, era or theme).")
        if leaked:
            task += " Your last draft gave the title away: do not mention the title or its words at all."
        if unusable:
            task += (" Write only what the person types, in the first person, one or two sentences, in your own "
                     "words (do not copy the description).")
        return [{"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": EXAMPLE_FACTS},
                {"role": "assistant", "content": EXAMPLE_MESSAGE},
                {"role": "user", "content": "\n".join(facts) + "\n\n" + task}]

    def _llm_message(self, turn: int, shown: Sequence[Recommendation]) -> Utterance:
        """Up to 1 + max_regenerations drafts: a draft that names the target, is no user message (a refusal, the
        prompt echoed) or copies the plot is thrown away; if none is usable, the genre template."""
        leaked: list[str] = []
        unusable: list[str] = []
        for _ in range(self.max_regenerations + 1):
            try:
                raw = "".join(self.llm.stream_chat(self.prompt(turn, shown, bool(leaked), bool(unusable)),
                                                   max_tokens=SIM_MAX_TOKENS, temperature=SIM_TEMPERATURE))
            except LLMError:
                break
            text = _clean(raw)
            if text and leaks(text, self.title):
                leaked.append(text)
            elif not usable(text) or copies(text, self.target.description or ""):
                unusable.append(text)
            else:
                return Utterance(text, "llm", regenerations=len(leaked), drafts=leaked, unusable=unusable)
        return Utterance(self.fallback(), "fallback", regenerations=len(leaked), drafts=leaked, unusable=unusable)


_NOT_A_USER_MESSAGE = re.compile(
    r"\b(?:as an ai|language model|i can(?:no|')t (?:assist|help)|i(?: am|'m) (?:unable|not able) to|"
    r"sorry, (?:but )?i can|movie you have in mind|secret\s*:|recommender suggested|genres?\s*:|"
    r"people describe it|what it is about)|^title\s*:",
    re.IGNORECASE)


def copies(text: str, source: str, n: int = COPY_WORDS) -> bool:
    """Whether `text` repeats `n` consecutive words of `source` (the plot it was shown): a copied plot sentence is
    the catalog's own document, which the vector index finds at once, so it is no description in the user's words."""
    source_words = words(source)
    grams = {tuple(source_words[i:i + n]) for i in range(len(source_words) - n + 1)}
    found = words(text)
    return any(tuple(found[i:i + n]) in grams for i in range(len(found) - n + 1))


def usable(text: str) -> bool:
    """Whether a draft reads as a person's chat message: not empty, not a refusal, not the prompt echoed back."""
    return len(text) >= 12 and _NOT_A_USER_MESSAGE.search(text) is None


def _listed(parts: Sequence[str]) -> str:
    parts = [part for part in parts if part]
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def _a(phrase: str) -> str:
    return f"{'an' if phrase[:1].lower() in 'aeiou' else 'a'} {phrase}"


def _redacted(text: str, title: str) -> str:
    """The plot with the title's words replaced, so the simulator is not handed the words it must not say."""
    typed = typed_title(title)
    for name in {typed, re.sub(r"^(?:The|A|An) ", "", typed)}:
        if len(name) >= 3:
            text = re.sub(re.escape(name), "the film", text, flags=re.IGNORECASE)
    return text


def _clean(raw: str) -> str:
    """One message: the first non-empty paragraph, without a role prefix or wrapping quotes, at most 400 chars."""
    text = next((part.strip() for part in raw.strip().split("\n\n") if part.strip()), "")
    text = re.sub(r"^(?:user|me|person|message)\s*:\s*", "", text, flags=re.IGNORECASE)
    text = text.strip().strip('"\u201c\u201d').strip()
    return text[:MAX_MESSAGE_CHARS]


# --- conversations -------------------------------------------------------------------------------------------------
async def simulate_one(agent: Agent, persona: Persona, user: SimulatedUser, *, max_turns: int, k: int,
                       prose: bool = False) -> dict:
    """One conversation: until the target is in the top k cards or `max_turns` turns have passed."""
    name = f"sim-{persona.user_id}-{persona.target}"
    session = await asyncio.to_thread(agent.memory.session, name, None)
    shown: list[Recommendation] = []
    turns, outcomes = [], []
    hit_turn = None
    for turn in range(1, max_turns + 1):
        utterance = await asyncio.to_thread(user.message, turn, shown)
        outcome: TurnOutcome = await play_turn(agent, name, session, utterance.text, prose=prose)
        shown = outcome.cards
        outcomes.append(outcome)
        top = ids(shown)[:k]
        turns.append({"message": utterance.text, "source": utterance.source, "regenerations": utterance.regenerations,
                      "leaked_drafts": utterance.drafts, "unusable_drafts": utterance.unusable, "shown": top,
                      "shown_titles": [card.label for card in shown[:k]],
                      "question": outcome.question.text if outcome.question else None,
                      "first_cards_s": outcome.first_cards_s, "final_cards_s": outcome.final_cards_s,
                      "done_s": outcome.done_s})
        if persona.target in top:
            hit_turn = turn
            break
    return {"user_id": persona.user_id, "target": persona.target, "target_title": user.target.label,
            "liked": [item.label for item in user.liked], "turns_to_hit": hit_turn, "turns": turns,
            "_outcomes": outcomes}


async def simulate_all(agent: Agent, catalog: Catalog, personas: list[Persona],
                       make_user: Callable[[Persona], SimulatedUser], *, max_turns: int, k: int, workers: int = 1,
                       prose: bool = False,
                       progress: Callable[[int, int], None] = lambda done, total: None) -> list[dict]:
    jobs = [lambda persona=persona: simulate_one(agent, persona, make_user(persona), max_turns=max_turns, k=k,
                                                 prose=prose)
            for persona in personas]
    return await gather_bounded(jobs, workers=workers, progress=progress)


def run_simulation(agent: Agent, catalog: Catalog, personas: list[Persona], *, simulator_llm: LLM | None = None,
                   max_turns: int = 5, k: int = 5, workers: int = 1, prose: bool = False, config: dict | None = None,
                   progress: Callable[[int, int], None] = lambda done, total: None) -> dict:
    """Simulate every persona against `agent` (which should show k cards) and summarize."""
    if max_turns < 1 or k < 1:
        raise InputError("--max-turns and --k must be at least 1")
    if not personas:
        raise InputError("no personas to simulate", fix="use a catalog with ratings from several users")
    started = time.perf_counter()
    results = asyncio.run(simulate_all(agent, catalog, personas,
                                       lambda persona: SimulatedUser(persona, catalog, simulator_llm),
                                       max_turns=max_turns, k=k, workers=workers, prose=prose, progress=progress))
    seconds = time.perf_counter() - started
    outcomes = [outcome for result in results for outcome in result.pop("_outcomes")]
    turns_to_hit = [result["turns_to_hit"] for result in results]
    messages = [turn for result in results for turn in result["turns"]]
    popular = _popularity_reference(agent.catalog, personas, k)  # the counts the agent knows (held-out users out)
    report = {
        "kind": "simulate",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "catalog": {"name": catalog.name, "fingerprint": catalog.fingerprint[:16], "items": len(catalog)},
        "config": {"users": len(personas), "max_turns": max_turns, "k": k, "workers": workers, "prose": prose,
                   "agent_llm": agent.llm.name if agent.llm is not None else None,
                   "simulator_llm": simulator_llm.name if simulator_llm is not None else "template",
                   "leak_threshold": LEAK_THRESHOLD, "max_regenerations": MAX_REGENERATIONS,
                   "target_min_rating": TARGET_MIN_RATING, "target_min_ratings": TARGET_MIN_RATINGS,
                   **(config or {})},
        "users": len(results),
        "hit_within": dm.hit_within(turns_to_hit, max_turns),
        "average_turns": dm.average_turns(turns_to_hit, max_turns),
        "hit_by_turn": [{"turn": turn, "hit": dm.hit_within(turns_to_hit, turn)} for turn in range(1, max_turns + 1)],
        "popularity_reference_hit": popular,
        "messages": {"total": len(messages),
                     "by_source": {source: sum(1 for m in messages if m["source"] == source)
                                   for source in ("llm", "template", "fallback")},
                     "regenerated_for_leaks": sum(m["regenerations"] for m in messages),
                     "unusable_drafts": sum(len(m["unusable_drafts"]) for m in messages),
                     "leaked_in_final_messages": sum(1 for r in results for m in r["turns"]
                                                     if leaks(m["message"], leak_title(catalog.item(r["target"]))))},
        "latency_s": {"first_cards": dm.latency_summary([o.first_cards_s for o in outcomes
                                                          if o.first_cards_s is not None]),
                      "final_cards": dm.latency_summary([o.final_cards_s for o in outcomes
                                                          if o.final_cards_s is not None]),
                      "done": dm.latency_summary([o.done_s for o in outcomes if o.done_s is not None])},
        "latency_samples": {"first_cards": [o.first_cards_s for o in outcomes if o.first_cards_s is not None],
                            "final_cards": [o.final_cards_s for o in outcomes if o.final_cards_s is not None]},
        "reason_kinds": reason_kind_shares([outcome.cards[:k] for outcome in outcomes]),
        "conversations": results,
        "limits": LIMITS,
        "timings_s": {"simulation": seconds},
    }
    return report


LIMITS = [
    "The simulated user knows its target's genres, decade, tags and plot, and asks with them more directly and "
    "consistently than people do.",
    "The template user (no LLM) repeats catalog facts in fixed sentences that our deterministic reader was built to "
    "parse, so its numbers flatter the agent; use it as a regression check, not as a quality claim.",
    "A small local LLM as the user paraphrases loosely, ignores or invents persona titles, refuses or echoes its "
    "prompt, and names the target often (see the regenerated and fallback counts above). It is also slow: tens of "
    "seconds per message on 2 cores.",
    "The leak check catches the title, not every giveaway: a character's name or a unique plot detail can still "
    "identify the target.",
    "From turn 3 the template user quotes the target's MovieLens tags, which are part of the documents the vector "
    "index embeds: close to quoting the catalog, so later turns are easier than a person would make them.",
    "Targets need at least 10 ratings in the catalog; obscure targets (a quarter of real requests) are not tested.",
    "Personas are real MovieLens users, held out of the agent's CF and EASE models, but not of the embeddings.",
]


def _popularity_reference(catalog: Catalog, personas: list[Persona], k: int) -> float:
    """How often the k most-rated movies (persona's liked left out) contain the target: a floor, no conversation."""
    order = list(catalog.popularity.sort_values(ascending=False, kind="stable").index)
    hits = 0
    for persona in personas:
        top = [item for item in order[:k + len(persona.liked)] if item not in persona.liked][:k]
        hits += persona.target in top
    return hits / len(personas)


# --- the CLI's entry -----------------------------------------------------------------------------------------------
def held_out_agent(runtime, personas: list[Persona], llm: LLM | None, state_dir: Path, k: int,
                   seed: int) -> tuple[Agent, Catalog]:
    """An Agent whose CF, EASE and popularity are refit without the simulated users' ratings."""
    from convrec.agent.memory import Memory
    from convrec.tools.cfmodel import train as train_cf
    from convrec.evaluation.common import training_catalog
    from convrec.tools.cf import SVDScorer
    from convrec.tools.itemsim import EASE
    from convrec.tools.recommend import Recommender

    catalog = runtime.catalog
    held = catalog.ratings["user_id"].isin({persona.user_id for persona in personas})
    train = training_catalog(catalog, catalog.ratings[~held], f"simulate-{seed}-{len(personas)}")
    recommender = Recommender(train, itemsim=EASE.fit(train), cf=SVDScorer(train_cf(train), train),
                              query_search=runtime.recommender.query_search)
    return Agent(train, recommender, Memory(state_dir / "simulate-state.sqlite3"), llm, cards=k), train


def main(report_dir: Path | None, *, llm: str = "local", simulator_llm: str | None = None, model: str | None = None,
         users: int = 20, max_turns: int = 5, k: int = 5, seed: int = 0, workers: int | None = None,
         prose: bool = False) -> dict:
    from rich.console import Console

    from convrec.agent.runtime import build_llm
    from convrec.core.settings import Settings
    from convrec.evaluation.dialogue_report import print_simulation, write_simulation
    from convrec.evaluation.dialogues import LLM_CHOICES, PARALLEL_BACKENDS, build_eval_agent, resolve_model, warm

    simulator_llm = simulator_llm or llm
    for option, value in (("--llm", llm), ("--simulator-llm", simulator_llm)):
        if value not in LLM_CHOICES:
            raise InputError(f"unknown {option} '{value}'", fix=f"use one of: {', '.join(LLM_CHOICES)}")
    if users < 1 or max_turns < 1 or k < 1:
        raise InputError("--users, --max-turns and --k must be at least 1")
    if workers is None:
        workers = 4 if {llm, simulator_llm} <= {"none", "openai"} and "openai" in {llm, simulator_llm} else 1
    if workers > 1 and not {llm, simulator_llm} <= set(PARALLEL_BACKENDS):
        raise InputError(f"--workers {workers} with the local model: it is a single instance",
                         fix="use --workers 1 when the agent or the simulator uses the local model")
    console, status_console = Console(soft_wrap=True), Console(stderr=True)
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="convrec-simulate-") as state_dir:
        with status_console.status("loading") as spinner:
            runtime, base_agent = build_eval_agent(llm, model, Path(state_dir), cards=k, status=spinner.update)
            search = warm(runtime, base_agent, spinner.update)
            agent_llm = base_agent.llm
            if simulator_llm == "none":
                user_llm = None
            elif simulator_llm == llm:
                user_llm = agent_llm  # one model instance serves both sides, one call at a time
            else:
                user_llm = build_llm(Settings(llm=simulator_llm, **resolve_model(model)), spinner.update)
                if hasattr(user_llm, "load"):
                    user_llm.load()
            spinner.update("choosing personas")
            personas = choose_personas(runtime.catalog, users, seed)
            spinner.update("refitting CF and EASE without the simulated users")
            agent, _ = held_out_agent(runtime, personas, agent_llm, Path(state_dir), k, seed)
            base_agent.memory.close()
        load_s = time.perf_counter() - wall

        def progress(done: int, total: int) -> None:
            status_console.print(f"simulated {done}/{total} users", highlight=False)

        report = run_simulation(agent, runtime.catalog, personas, simulator_llm=user_llm, max_turns=max_turns, k=k,
                                workers=workers, prose=prose,
                                config={"llm_choice": llm, "simulator_choice": simulator_llm, "model": model,
                                        "seed": seed, "held_out_users": len(personas), "search": search},
                                progress=progress)
        agent.memory.close()
    report["timings_s"].update(load=load_s, wall=time.perf_counter() - wall)
    print_simulation(report, console)
    if report_dir is not None:
        paths = write_simulation(report, Path(report_dir))
        console.print("report: " + "  ".join(str(path) for path in paths.values()), highlight=False)
    return report
