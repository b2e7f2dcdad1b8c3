"""What an interactive front end (the TUI) needs beyond the turn itself.

- start-up: build the runtime and load the LLM weights, continuing without an LLM when it cannot be had;
- onboarding: quick picks for someone we know nothing about yet, and the message a picked choice stands for;
- transparency: the profile as readable entries, each removable;
- sessions: a short summary of each, and the stored conversation to show again;
- feedback: words for what a re-rank changed.

Everything here is small and synchronous: front ends call it from worker threads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from convrec.agent.events import Choice, Question
from convrec.agent.llm import LLMError
from convrec.agent.memory import Memory
from convrec.agent.policy import Agent, elicitation
from convrec.agent.runtime import Runtime, Status, build_llm, build_runtime
from convrec.core.errors import ModelError
from convrec.core.progress import Progress, no_progress
from convrec.core.settings import Settings
from convrec.tools.models import Profile, Recommendation
from convrec.tools.profile import ITEM_SECTIONS, FeedbackAction, remove_entry

ONBOARDING_TEXT = ("Which of these have you seen and liked? Pick one, or name a movie or a genre you love "
                   "(or hate).")
_LLM_LOAD_ERRORS = (LLMError, ModelError, ImportError, OSError, ValueError, RuntimeError)


class RuntimeFactory(Protocol):
    def __call__(self, *, status: Status, progress: Progress, use_llm: bool) -> Runtime:
        """Build a runtime; with `use_llm` raise LLMError/ModelError when the LLM cannot be had."""


def runtime_factory(settings: Settings) -> RuntimeFactory:
    """The real factory: catalog, tools and memory are built once, so falling back to no LLM costs nothing."""
    built: list[Runtime] = []

    def factory(*, status: Status, progress: Progress = no_progress, use_llm: bool = True) -> Runtime:
        if not built:
            built.append(build_runtime(settings, use_llm=False, status=status))
        runtime = built[0]
        runtime.agent.llm = build_llm(settings, status, progress) if use_llm else None
        return runtime

    return factory


@dataclass
class Started:
    runtime: Runtime
    degraded: str | None  # why there is no LLM although one was configured


def start_runtime(factory: RuntimeFactory, status: Status = lambda text: None,
                  progress: Progress = no_progress) -> Started:
    """Build the runtime, then load the LLM's weights now rather than on the first turn. If the LLM cannot be built
    or loaded, carry on without one (template reasons) and say why. Catalog errors still raise."""
    try:
        runtime = factory(status=status, progress=progress, use_llm=True)
    except (LLMError, ModelError) as error:
        status("continuing without an LLM")
        return Started(factory(status=status, progress=progress, use_llm=False), error.render())
    llm = runtime.agent.llm
    if llm is None:
        return Started(runtime, None)
    load = getattr(llm, "load", None)
    if load is not None:
        status(f"loading model {llm.name}…")
        try:
            load()
        except _LLM_LOAD_ERRORS as error:
            runtime.agent.llm = None
            return Started(runtime, error.render() if isinstance(error, LLMError | ModelError)
                           else f"could not load the local model: {type(error).__name__}: {error}")
    if runtime.agent.scheduler is None:
        # One generation at a time; a cancelled turn tells its running generation to stop (Ticket.cancelled).
        from convrec.agent.scheduler import LLMScheduler

        runtime.agent.scheduler = LLMScheduler(slots=1, max_waiting=8)
    return Started(runtime, None)


def backend_label(runtime: Runtime) -> str:
    """"local · qwen2.5-coder-1.5b", "API · gpt-4o-mini", "no LLM"."""
    llm = runtime.agent.llm
    if llm is None:
        return "no LLM"
    if type(llm).__name__ == "ModelProcess":
        return f"local · {runtime.settings.model if runtime.settings.model_path is None else llm.name}"
    if type(llm).__name__ == "OpenAICompatibleLLM":
        return f"API · {llm.name}"
    return str(getattr(llm, "name", type(llm).__name__))


# -- onboarding ------------------------------------------------------------------------------------------------------
def onboarding_question(agent: Agent, user: str) -> Question | None:
    """Quick picks (well-known, informative movies and genres) for a user we know nothing about; None otherwise.
    Nothing is stored: it is the same elicitation the first turn would ask, offered before anything is typed."""
    profile = agent.memory.profile(user)
    if profile.signal_count or profile.query:
        return None
    return elicitation(agent.catalog, profile, ONBOARDING_TEXT)


def choice_message(question: Question, choice: Choice, previous: str | None = None) -> str:
    """The message a picked quick-pick choice stands for.

    For "Which “psycho” do you mean?" it is the user's previous message with the ambiguous words replaced by the
    chosen title (so "hated psycho" stays a dislike); for onboarding, "I liked <title>" / "I like <genre> movies"."""
    if question.kind == "ambiguous" and question.span and choice.item_id is not None:
        span = question.span
        if previous and re.search(re.escape(span), previous, flags=re.IGNORECASE):
            return re.sub(re.escape(span), lambda _: choice.label, previous, count=1, flags=re.IGNORECASE)
        return choice.label
    if choice.genre is not None:
        return f"I like {choice.genre} movies"
    return f"I liked {choice.label}"


# -- the profile, readable and editable ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProfileEntry:
    """One thing we believe about the user. `section`: liked, disliked, rated, genres_liked, genres_disliked,
    constraint or query; `key`: the item id, genre or constraint that identifies it."""

    section: str
    key: str
    label: str


SECTION_TITLES = {"liked": "Liked", "disliked": "Disliked", "rated": "Rated", "genres_liked": "Genres you like",
                  "genres_disliked": "Genres you avoid", "constraint": "Limits", "query": "Looking for"}


def profile_entries(agent: Agent, user: str) -> list[ProfileEntry]:
    profile = agent.memory.profile(user)
    entries = [ProfileEntry("liked", i, _item_label(agent, i)) for i in profile.liked]
    entries += [ProfileEntry("disliked", i, _item_label(agent, i)) for i in profile.disliked]
    entries += [ProfileEntry("rated", i, f"{_item_label(agent, i)} ★ {v:g}") for i, v in profile.ratings.items()]
    entries += [ProfileEntry("genres_liked", g, g) for g in sorted(profile.genres_liked)]
    entries += [ProfileEntry("genres_disliked", g, g) for g in sorted(profile.genres_disliked)]
    limits = profile.constraints
    if limits.year_min is not None:
        entries.append(ProfileEntry("constraint", "year_min", f"from {limits.year_min}"))
    if limits.year_max is not None:
        entries.append(ProfileEntry("constraint", "year_max", f"up to {limits.year_max}"))
    entries += [ProfileEntry("constraint", f"exclude_genre:{g}", f"no {g}") for g in sorted(limits.exclude_genres)]
    entries += [ProfileEntry("constraint", f"require_genre:{g}", f"only {g}") for g in sorted(limits.require_genres)]
    entries += [ProfileEntry("constraint", f"exclude_item:{i}", f"never {_item_label(agent, i)}")
                for i in sorted(limits.exclude_items)]
    if profile.query:
        entries.append(ProfileEntry("query", "query", f"\u201c{profile.query}\u201d"))
    return entries


def remove_profile_entry(agent: Agent, user: str, entry: ProfileEntry) -> Profile:
    """Remove one belief from the stored profile (and the feedback it came from), so the next ranking no longer
    uses it. A removed item stays out of the recommendations: the user has seen it."""
    updated = remove_entry(agent.memory.profile(user), entry.section, entry.key)
    if entry.section in ITEM_SECTIONS:
        agent.memory.delete_feedback(user, entry.key)
    agent.memory.save_profile(user, updated)
    return updated


def _item_label(agent: Agent, item_id: str) -> str:
    return agent.catalog.item(item_id).label if item_id in agent.catalog else item_id


# -- sessions ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SessionSummary:
    session: str
    updated_at: float
    title: str  # the first thing the user said, shortened
    turns: int


def session_summaries(memory: Memory, user: str) -> list[SessionSummary]:
    """The user's sessions, most recent first."""
    summaries = []
    for session, updated_at in memory.sessions(user):
        said = [m.content for m in memory.messages(session) if m.role == "user"]
        title = " ".join(said[0].split()) if said else "(empty)"
        summaries.append(SessionSummary(session, updated_at, title[:60] + ("…" if len(title) > 60 else ""),
                                        len(said)))
    return summaries


def conversation(memory: Memory, session: str) -> list[tuple[str, str]]:
    """The stored (role, text) pairs to show again: the user's messages and the replies (which include any
    question asked)."""
    return [(m.role, m.content) for m in memory.messages(session) if m.role in ("user", "assistant")]


# -- feedback ----------------------------------------------------------------------------------------------------------
FEEDBACK_WORDS: dict[str, Callable[[str, float | None], str]] = {
    "like": lambda label, value: f"Liked {label}",
    "dislike": lambda label, value: f"Disliked {label}",
    "rate": lambda label, value: f"Rated {label} {value:g}/5",
    "more_like_this": lambda label, value: f"More like {label}",
    "not_interested": lambda label, value: f"Not interested in {label}",
}


def feedback_note(action: FeedbackAction, item_id: str, label: str, value: float | None,
                  before: list[Recommendation], after: list[Recommendation], *, short: bool = False) -> str:
    """ "Liked Heat (1995): 2 new picks (Ronin (1998), Thief (1981)); Cats (2019) dropped" (`short`: the count)."""
    return f"{FEEDBACK_WORDS[action](label, value)}: {rerank_note(before, after, exclude=item_id, short=short)}"


def rerank_note(before: list[Recommendation], after: list[Recommendation], *, exclude: str | None = None,
                short: bool = False) -> str:
    """What changed between two sets of cards; `exclude` is the item the user just acted on (its going is
    implied)."""
    old, new = [c.item_id for c in before], [c.item_id for c in after]
    added = [c.label for c in after if c.item_id not in old]
    dropped = [c.label for c in before if c.item_id not in new and c.item_id != exclude]
    if not added and not dropped:
        return "same picks, re-ordered" if [i for i in old if i != exclude] != new else "the other picks stay"
    if short:
        return f"{len(added)} new pick{'s' if len(added) != 1 else ''}" if added else f"{len(dropped)} dropped"
    parts = []
    if added:
        parts.append(f"{len(added)} new pick{'s' if len(added) > 1 else ''} ({', '.join(added)})")
    if dropped:
        parts.append(f"{', '.join(dropped)} dropped")
    return "; ".join(parts)
