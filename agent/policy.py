"""One turn of the conversation, as an async stream of events shared by the TUI, the server and the CLI.

1. read      the deterministic reader (linking + vocabulary + negation + years): ms, no LLM
2. remember  message and profile committed to SQLite before anything is shown
3. cards     the recommend tool on the updated profile: shown before any LLM work
4. ask       a question when a title is ambiguous, or when we know too little (at most two in a row)
5. refine    the LLM's schema-constrained reading, validated against the user's words; revised cards if it
             changed the profile
6. prose     one sentence per card from its evidence, checked; the template sentence otherwise
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import TypeVar

from convrec.agent.chinese import chinese_llm_reading, faithful_chinese
from convrec.agent.events import Cards, Choice, Done, Event, Question, Status, Token, ToolCall, collect
from convrec.agent.guard import strip_instructions
from convrec.agent.llm import LLM, LLMError, LLMUnavailable
from convrec.agent.locale import (Language, ambiguity_question, elicitation_question, language_of, local_title,
                                  localized_cards, localized_choices, reply_head_in, template_name)
from convrec.agent.memory import Memory
from convrec.agent.prose import (doomed, excerpt, fallback_sentence, first_sentence_end, prompt_fact, rejection,
                                 salvage)
from convrec.agent.prompts import render
from convrec.agent.reading import llm_reading
from convrec.agent.scheduler import LLMScheduler, Ticket
from convrec.catalog.models import Catalog
from convrec.tools.elicitation import genre_choices, next_questions
from convrec.tools.models import Profile, Recommendation
from convrec.tools.profile import (FeedbackAction, apply_feedback, apply_reading, is_positive_feedback, only_additions,
                                   with_guesses)
from convrec.tools.reader import Reading, read_message
from convrec.tools.recommend import Recommender, RecommendRequest
from convrec.tools.textnorm import spoken_title

CARDS = 5
log = logging.getLogger(__name__)
PROSE_MAX_TOKENS = 48
# A sentence the check rejects and that cannot be cut back is asked for once more ("say only what About says") while
# the reply has taken less than this; later cards keep their templates, so a slow machine stays near its budget.
PROSE_RETRY_BUDGET_S = 4.0
CONTEXT_TURNS = 2
MAX_ELICITATIONS = 2  # onboarding questions per session; after that, cards alone until the user says more
COLD_START_SIGNALS = 1  # fewer item/genre opinions than this, and no query: ask

T = TypeVar("T")


@dataclass
class TurnResult:
    """Everything a non-streaming caller (CLI --json, HTTP non-stream) needs from one turn."""

    session: str
    user: str
    reply: str
    question: Question | None
    recommendations: list[Recommendation]
    profile: Profile
    degraded: str | None
    tools_called: list[ToolCall] | None = None  # the agent policy's tool calls (None: cards-first)
    fallback: str | None = None


@dataclass
class _Start:
    """What the turn's first, LLM-free step produced."""

    session: str
    context: str
    text: str  # the message less anything set aside as instructions
    set_aside: list[str]
    profile: Profile
    cards: list[Recommendation]
    question: Question | None
    language: Language = "en"  # the message's, and so the reply's (agent/locale.py)
    unread: tuple[str, ...] = ()  # names the deterministic reader made nothing of: the LLM's to read


class Agent:
    def __init__(self, catalog: Catalog, recommender: Recommender, memory: Memory, llm: LLM | None = None,
                 *, cards: int = CARDS, scheduler: LLMScheduler | None = None) -> None:
        self.catalog = catalog
        self.recommender = recommender
        self.memory = memory
        self.llm = llm
        self.cards = cards
        self.scheduler = scheduler  # the HTTP server's fair queue for the LLM; None: calls go straight to threads

    # -- the turn ------------------------------------------------------------------------------------------------
    async def turn(self, user: str, message: str, session: str | None = None, *, ticket: Ticket | None = None,
                   record: bool = True) -> AsyncIterator[Event]:
        """The turn's events. Tool and database work runs on worker threads (the caller's event loop stays free);
        LLM work goes through `ticket` (or one taken from `self.scheduler`) when there is one, so it waits its
        turn fairly and never delays other users' cards. The turn owns the ticket and closes it when it ends.
        `record=False` when the message is already stored (a client retrying the same turn)."""
        if ticket is None and self.scheduler is not None and self.llm is not None:
            ticket = self.scheduler.admit()
        try:
            started = time.perf_counter()
            language = language_of(message)  # the reply's language (agent/locale.py)
            start = await asyncio.to_thread(self._start, user, message, session, record, language)
            cards = start.cards
            cards_ms = (time.perf_counter() - started) * 1000
            yield Cards(recommendations=cards)
            if start.set_aside:
                yield Status(text="I treat messages as tastes, not instructions, so I set aside: "
                                  + " ".join(start.set_aside))
            if start.question is not None:
                yield start.question

            async for event in self._respond(user, start, ticket, started, cards_ms):
                yield event
        finally:
            if ticket is not None:
                ticket.close()

    async def _respond(self, user: str, start: _Start, ticket: Ticket | None, started: float,
                       cards_ms: float) -> AsyncIterator[Event]:
        """After the first cards: the LLM's reading (revised cards if it changed the profile), prose, done."""
        cards = start.cards
        degraded = None if self.llm else "no LLM configured: deterministic reading and template reasons"
        if self.llm is not None and start.text and (start.unread or start.language == "zh"):
            try:
                yield Status(text="reading your message…")
                read = chinese_llm_reading if start.language == "zh" else llm_reading
                reading = await self._llm_call(ticket, read, self.llm, start.text, start.context, self.catalog)
                revised = await asyncio.to_thread(self._revise, user, start.session, reading, start.profile,
                                                  start.language)
                if revised is not None:
                    _, cards, changed = revised
                    yield Cards(recommendations=cards, revision=1, changed=changed)
            except LLMUnavailable as error:
                degraded = f"{error.what}; {error.fix}"
                yield Status(text=degraded)
            except LLMError as error:
                degraded = f"the LLM failed ({error.what}); showing template reasons"
                yield Status(text=degraded)

        async for event in self._write(start, cards, degraded, ticket, started, cards_ms):
            yield event

    async def _write(self, start: _Start, cards: list[Recommendation], degraded: str | None, ticket: Ticket | None,
                     started: float, cards_ms: float) -> AsyncIterator[Event]:
        """One sentence per card (the LLM's, checked, unless degraded), the reply stored, done."""
        lines = []
        if degraded is None and cards:
            yield Status(text="writing one sentence per card…")  # the slow part: say so (front ends show it)
        async for event in self._prose(cards, degraded is None, ticket, start.language):
            if isinstance(event, Status):
                degraded = event.text
            else:
                lines.append(card_line(next(c for c in cards if c.item_id == event.item_id), event.text))
            yield event
        reply = self._reply(cards, lines, start.question, start.language)
        await asyncio.to_thread(self.memory.add_message, start.session, "assistant", reply)
        yield Done(reply=reply, cards_ms=round(cards_ms, 1), total_s=round(time.perf_counter() - started, 3),
                   degraded=degraded)

    async def run_turn(self, user: str, message: str, session: str | None = None, *, ticket: Ticket | None = None,
                       record: bool = True) -> TurnResult:
        """Run a whole turn and collect it (for callers that do not stream)."""
        session = await asyncio.to_thread(self.memory.session, user, session)
        async with aclosing(self.turn(user, message, session, ticket=ticket, record=record)) as events:
            outcome = await collect(events)
        done = outcome.done
        return TurnResult(session=session, user=user, reply=done.reply, question=outcome.question,
                          recommendations=outcome.cards, profile=self.memory.profile(user), degraded=done.degraded,
                          tools_called=done.tools_called, fallback=done.fallback)

    def remember(self, user: str, message: str, session: str | None = None) -> str:
        """Take in a message said earlier (a chat platform's history we never saw) without answering it:
        stored and read into the profile like a turn's message, no cards, no LLM. Returns the session."""
        session = self.memory.session(user, session)
        text, _ = strip_instructions(message)
        profile = apply_reading(self.memory.profile(user), read_message(text, self.catalog))
        self.memory.add_message(session, "user", message)
        self.memory.save_profile(user, profile)
        return session

    # -- feedback on cards --------------------------------------------------------------------------------------------
    def feedback(self, user: str, item_id: str, action: FeedbackAction, value: float | None = None,
                 session: str | None = None) -> Profile:
        """Persist the feedback, apply it to the profile, and return the profile the next ranking will use."""
        if item_id not in self.catalog:
            raise KeyError(f"unknown item {item_id}")
        with self.memory.transaction():  # the feedback row and the profile it changes: saved together, every front end
            profile = apply_feedback(self.memory.profile(user), item_id, action, value,
                                     self.catalog.scale)  # checks before anything is written
            self.memory.add_feedback(user, item_id, action, value, session)
            self.memory.save_profile(user, profile)
        return profile

    def recommend(self, user: str, session: str | None = None) -> list[Recommendation]:
        return self._recommend(user, self.memory.profile(user), session)

    # -- steps ------------------------------------------------------------------------------------------------------
    def _start(self, user: str, message: str, session: str | None, record: bool,
               language: Language = "en") -> _Start:
        """read → remember → cards → question: no LLM, all committed before anything is shown (a worker thread)."""
        session = self.memory.session(user, session)
        context = self._context(session)
        text, set_aside = strip_instructions(message)
        reading = read_message(text, self.catalog)
        profile = apply_reading(self.memory.profile(user), reading)
        if record:
            self.memory.add_message(session, "user", message)
        self.memory.save_profile(user, profile)
        cards = self._recommend(user, with_guesses(profile, reading), session, language)
        question = self._question(reading, profile, session, language)
        if question is not None:
            role = "question" if question.kind == "ambiguous" else "elicit"
            self.memory.add_message(session, role, question.text)
        return _Start(session, context, text, set_aside, profile, cards, question, language, tuple(reading.unread))

    def _recommend(self, user: str, profile: Profile, session: str | None,
                   language: Language = "en") -> list[Recommendation]:
        request = RecommendRequest(profile=profile, k=self.cards, explore=profile.signal_count >= 3,
                                   genre_feedback=self._genre_feedback(user))
        cards = self.recommender.recommend(request)
        if session is not None:
            self.memory.record_shown(session, self._turn_number(session), [card.item_id for card in cards])
        return localized_cards(cards, self.catalog, language)

    def _question(self, reading: Reading, profile: Profile, session: str,
                  language: Language = "en") -> Question | None:
        if reading.ambiguous:
            mention = reading.ambiguous[0]
            choices = [Choice(label=c.title, item_id=c.item_id) for c in mention.candidates[:4]]
            return Question(kind="ambiguous", text=ambiguity_question(mention.span, language),
                            choices=localized_choices(choices, self.catalog, language), span=mention.span)
        if profile.signal_count >= COLD_START_SIGNALS or profile.query or \
                self._elicitations_asked(session) >= MAX_ELICITATIONS:
            return None
        question = elicitation(self.catalog, profile, elicitation_question(language))
        return question.model_copy(update={"choices": localized_choices(question.choices, self.catalog, language)})

    async def _llm_call(self, ticket: Ticket | None, fn: Callable[..., T], *args) -> T:
        if ticket is not None:
            return await ticket.call(fn, *args)
        return await asyncio.to_thread(fn, *args)

    def _revise(self, user: str, session: str, reading: Reading, profile: Profile,
                language: Language = "en") -> tuple[Profile, list[Recommendation], str] | None:
        """Apply the LLM's (validated) reading; new cards if it changed the profile."""
        revised = apply_reading(profile, only_additions(reading, profile))
        if revised == profile:
            return None
        self.memory.save_profile(user, revised)
        return revised, self._recommend(user, revised, session, language), _describe_change(profile, revised,
                                                                                              self.catalog)

    async def _prose(self, cards: list[Recommendation], use_llm: bool, ticket: Ticket | None = None,
                     language: Language = "en") -> AsyncIterator[Token | Status]:
        """A Token per card: the model's checked sentence, else the template. If the model goes down mid-reply (its
        process crashed or hung, the endpoint is unreachable), one Status says so and the other cards keep their
        templates: the turn never waits on a model that is restarting."""
        cancelled = ticket.cancelled if ticket is not None else None
        shown: list[tuple[str, Recommendation]] = []  # the check keeps later sentences from repeating these
        started = time.perf_counter()
        for card in cards:
            template = fallback_sentence(card, shown, excerpt(card, self.catalog) if language == "en" else "")
            sentence = template
            if use_llm and self._worth_phrasing(card):
                retry = time.perf_counter() - started < PROSE_RETRY_BUDGET_S
                try:
                    sentence = await self._llm_call(ticket, self._checked_phrase, card, cancelled,
                                                    tuple(shown), language, retry) or template
                except LLMUnavailable as error:
                    use_llm = False
                    yield Status(text=f"{error.what}; {error.fix}")
            shown.append((sentence, card))
            yield Token(text=sentence, item_id=card.item_id)

    def _worth_phrasing(self, card: Recommendation) -> bool:
        """A card whose item has no excerpt has nothing to tell beyond its template: no model call."""
        return bool(card.reasons) and bool(excerpt(card, self.catalog))

    def _checked_phrase(self, card: Recommendation, cancelled: threading.Event | None = None,
                        shown: tuple[tuple[str, Recommendation], ...] = (),
                        language: Language = "en", retry: bool = False) -> str | None:
        """The model's sentence if the check passes it; else cut back to an opening clause in the film's own words
        with the reason in brief (`agent.prose.salvage`); else, if `retry`, the same for a second sentence asked
        to say only what the excerpt says (it tends to drop the why, which the brief then adds)."""
        candidate = self._phrase(card, cancelled, language)
        if not candidate:
            return None
        if language == "zh":
            return candidate if faithful_chinese(candidate, card, self.catalog) else None
        why = rejection(candidate, card, self.catalog, earlier=shown)
        if why is None:
            return candidate
        salvaged = salvage(candidate, card, self.catalog, shown)
        log.debug("%s for %s (%s): %s", "cut back" if salvaged else "template kept", card.item_id, why, candidate,
                  extra={"rejection": why, "salvaged": salvaged})
        if salvaged or not retry:
            return salvaged
        second = self._phrase(card, cancelled, language, retry=True)
        if not second:
            return None
        salvaged = salvage(second, card, self.catalog, shown)
        why = None if salvaged else rejection(second, card, self.catalog, earlier=shown)
        log.debug("retry for %s (%s): %s", card.item_id, why, second,
                  extra={"retry_rejection": why, "salvaged": salvaged})
        return salvaged or (second if why is None else None)

    def _phrase(self, card: Recommendation, cancelled: threading.Event | None = None,
                language: Language = "en", retry: bool = False) -> str | None:
        messages = phrase_messages(card, self.catalog, language, retry)
        pieces = []
        try:
            stream = self.llm.stream_chat(messages, max_tokens=PROSE_MAX_TOKENS, temperature=0.3, stop=["\n"])
            for piece in stream:
                if cancelled is not None and cancelled.is_set():  # the client went away: stop generating
                    _close(stream)
                    return None
                pieces.append(piece)
                text = "".join(pieces)
                if len(pieces) > 1 and (end := first_sentence_end(text)) is not None:
                    _close(stream)  # one sentence is all we show: stop decoding
                    return text[:end].strip()
                if language == "en" and doomed(text, card, self.catalog):  # an English check
                    _close(stream)  # the check will reject it (the caller logs why): stop decoding
                    return text.strip()
        except LLMUnavailable:
            raise
        except LLMError:
            return None
        return "".join(pieces).strip()

    # -- helpers ----------------------------------------------------------------------------------------------------
    def _context(self, session: str) -> str:
        recent = [m for m in self.memory.messages(session, last=2 * CONTEXT_TURNS) if m.role == "user"]
        return " | ".join(m.content[:200] for m in recent[-CONTEXT_TURNS:])

    def _elicitations_asked(self, session: str) -> int:
        return sum(1 for stored in self.memory.messages(session) if stored.role == "elicit")

    def _turn_number(self, session: str) -> int:
        return sum(1 for m in self.memory.messages(session) if m.role == "user")

    def _genre_feedback(self, user: str) -> dict[str, tuple[int, int]]:
        counts: dict[str, list[int]] = {}
        for item_id, action, value in self.memory.feedback(user):
            if item_id not in self.catalog:
                continue
            positive = is_positive_feedback(action, value, self.catalog.scale)
            for genre in self.catalog.items.at[item_id, "genres"]:
                counts.setdefault(genre, [0, 0])[0 if positive else 1] += 1
        return {genre: (likes, dislikes) for genre, (likes, dislikes) in counts.items()}

    def _reply(self, cards: list[Recommendation], lines: list[str], question: Question | None,
               language: Language = "en") -> str:
        parts = [reply_head(cards, language), *lines]
        if question is not None:
            parts.append(question.text)
        return "\n".join(parts)


def _close(stream) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        close()


def phrase_messages(card: Recommendation, catalog: Catalog, language: Language = "en",
                    retry: bool = False) -> list[dict[str, str]]:
    """The prompt for one card's sentence: the system prompt, byte-identical for every card (llama.cpp reuses its
    KV cache), then the card's own short text. The person's message stays out: the small models pinned its words
    on any film ("The Shawshank Redemption … is a movie with animals"). In another language the model rephrases the
    card's (translated) first reason about its title as the user says it; the English excerpt stays out, since the
    check for that language traces words to the card's own evidence. `retry`: the second ask after a rejected
    sentence, with one more line: say only what About says."""
    if language != "en":
        return [{"role": "system", "content": render(template_name("reason_system", language))},
                {"role": "user", "content": render(template_name("reason_user", language),
                                                   title=local_title(catalog, card.item_id, language),
                                                   fact=card.reasons[0].text)}]
    ask = render("reason_user", title=spoken_title(card.title), about=excerpt(card, catalog) or "-",
                 fact=prompt_fact(card))
    return [{"role": "system", "content": render("reason_system")},
            {"role": "user", "content": f"{ask}\n{render('reason_retry')}" if retry else ask}]


def reply_head(cards: list[Recommendation], language: Language = "en") -> str:
    """The reply's first line; the reply is this, one `card_line` per card, then the question, joined by newlines
    (streaming front ends build the same text piece by piece)."""
    if language != "en":
        return reply_head_in(language, bool(cards))
    return "Here are a few picks for you:" if cards else "I found nothing that fits all of that: try loosening a limit."


def card_line(card: Recommendation, sentence: str) -> str:
    return f"- **{spoken_title(card.title)}**{f' ({card.year})' if card.year else ''}: {sentence}"


def elicitation(catalog: Catalog, profile: Profile, text: str) -> Question:
    """Quick picks that teach us most about someone we know little about: well-known, informative movies and
    genres (tools.elicitation)."""
    items = [Choice(label=catalog.item(i).label, item_id=i) for i in next_questions(catalog, profile, 5)]
    genres = [Choice(label=g, genre=g) for g in genre_choices(catalog, profile, 6)]
    return Question(kind="elicit", text=text, choices=items + genres)


def _describe_change(before: Profile, after: Profile, catalog: Catalog) -> str:
    changes = []
    for item_id in set(after.liked) - set(before.liked):
        changes.append(f"noted you like {catalog.item(item_id).label}")
    for item_id in set(after.disliked) - set(before.disliked):
        changes.append(f"noted you dislike {catalog.item(item_id).label}")
    for genre in after.genres_liked - before.genres_liked:
        changes.append(f"more {genre}")
    for genre in after.genres_disliked - before.genres_disliked:
        changes.append(f"less {genre}")
    if after.query != before.query and after.query:
        changes.append(f"matching \u201c{after.query}\u201d")
    return "; ".join(changes) or "refined your profile"

