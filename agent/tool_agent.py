"""`--policy agent`: the LLM calls the tools itself, for capable (API) models.

The turn starts as cards-first does (deterministic reading, the profile saved, first cards shown). Then a bounded
loop asks a LangChain chat model for tool calls (at most N calls and T seconds); tools fill a candidate bus
(tools/candidates.py) and their errors come back to the model as observations. The final cards are ranked from the
bus by the same Recommender, then checked again (`guaranteed`); the prose is cards-first's checked sentences. If the
loop fails, runs out of time or leaves nothing usable, the turn says so and finishes as cards-first.

Each step sends the whole state afresh (the request, the profile, every call so far with its observation) rather
than native tool-result messages: llama.cpp's server drops `tool` messages, and a bounded scratchpad keeps the
prompt small for any model. `tool_choice="named"` picks a tool with one forced call and then forces that tool's
call, for servers whose "auto" returns no tool calls (llama.cpp's chatml-function-calling, checked).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from convrec.agent.events import Cards, Done, Event, Status, ToolCall
from convrec.agent.llm import LLM
from convrec.agent.locale import localized_cards
from convrec.agent.memory import Memory
from convrec.agent.policy import CARDS, Agent, _Start
from convrec.agent.prompts import render
from convrec.agent.scheduler import LLMScheduler, Ticket
from convrec.catalog.models import Catalog
from convrec.core.errors import InputError
from convrec.core.settings import Settings
from convrec.tools.candidates import CandidateBus, SessionTools, guaranteed
from convrec.tools.models import Profile, Recommendation
from convrec.tools.recommend import Recommender, RecommendRequest
from convrec.tools.registry import as_langchain, call_registered

ToolChoice = Literal["auto", "named"]
OBSERVATION_CHARS = 600  # of one tool result, in the prompt
AGENT_MAX_TOKENS = 200  # one step: a tool call's JSON
Requested = tuple[str, dict[str, Any] | None, str | None]  # tool name, arguments (None: unparsable), parse error


class ToolAgent(Agent):
    """The cards-first Agent with its middle replaced by a tool-calling loop; everything else is shared."""

    def __init__(self, catalog: Catalog, recommender: Recommender, memory: Memory, llm: LLM | None = None, *,
                 chat_model: Any, max_tool_calls: int = 6, timeout_s: float = 60.0, tool_choice: ToolChoice = "auto",
                 cards: int = CARDS, scheduler: LLMScheduler | None = None) -> None:
        super().__init__(catalog, recommender, memory, llm, cards=cards, scheduler=scheduler)
        self.chat_model = chat_model
        self.max_tool_calls = max_tool_calls
        self.timeout_s = timeout_s
        self.tool_choice = tool_choice

    async def _respond(self, user: str, start: _Start, ticket: Ticket | None, started: float,
                       cards_ms: float) -> AsyncIterator[Event]:
        tools = SessionTools(self.catalog, self.recommender, start.profile, CandidateBus(self.catalog))
        calls: list[ToolCall] = []
        why = None
        cards: list[Recommendation] = []
        if not start.text:
            why = "nothing to act on in the message"
        else:
            try:
                async for event in self._loop(start, tools, calls, ticket):
                    yield event
            except TimeoutError:
                why = f"out of time after {self.timeout_s:g} s"
            except Exception as error:  # noqa: BLE001 - any failure of the model or its client: cards-first instead
                why = f"the model failed: {type(error).__name__}: {str(error)[:200]}"
        if why is None:
            cards = await asyncio.to_thread(self._final_cards, user, start, tools)
            if not cards:
                why = "the tools found nothing usable"
        if why is not None:
            yield Status(text=f"the tool agent stopped ({why}); these are the cards-first picks")
            async for event in super()._respond(user, start, ticket, started, cards_ms):
                yield _with_calls(event, calls, why)
            return
        yield Cards(recommendations=cards, revision=1, changed=_summary(calls))
        async for event in self._write(start, cards, None if self.llm else "no LLM for the sentences", ticket,
                                       started, cards_ms):
            yield _with_calls(event, calls, None)

    # -- the loop ---------------------------------------------------------------------------------------------------
    async def _loop(self, start: _Start, tools: SessionTools, calls: list[ToolCall],
                    ticket: Ticket | None) -> AsyncIterator[Status]:
        """Tool calls until the model finishes or answers in words, at most `max_tool_calls`; TimeoutError past
        `timeout_s`. Repeating a call does not run it again: the model is told its results are in the buffer."""
        deadline = time.monotonic() + self.timeout_s
        registry = tools.registry()
        seen: set[str] = set()
        while len(calls) < self.max_tool_calls and tools.finished is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            requested = await asyncio.wait_for(self._llm_call(ticket, self._next_calls, start, tools, calls),
                                               remaining)
            if not requested:
                return
            for name, arguments, problem in requested[:self.max_tool_calls - len(calls)]:
                yield Status(text=describe(name, arguments or {}), tool=name)
                key = json.dumps([name, arguments], sort_keys=True, default=str)
                before = len(tools.bus.items)
                if problem is not None:
                    observation = f"error: {problem}"
                elif key in seen and name != "finish":
                    observation = "error: you already made this call; its results are in the buffer: finish or try " \
                                  "something else"
                else:
                    observation = await asyncio.to_thread(_run_tool, registry, name, arguments)
                seen.add(key)
                calls.append(ToolCall(name=name, arguments=arguments or {}, items=max(0, len(tools.bus.items) - before),
                                      error=observation[7:] if observation.startswith("error: ") else None,
                                      observation=observation[:OBSERVATION_CHARS]))
                if tools.finished is not None:
                    return

    def _next_calls(self, start: _Start, tools: SessionTools, calls: list[ToolCall]) -> list[Requested]:
        """One step of the model (a worker thread): the tool calls it asks for; [] when it answers in words."""
        from langchain_core.messages import HumanMessage, SystemMessage

        messages = [SystemMessage(render("agent_system")),
                    HumanMessage(render("agent_user", message=start.text, context=start.context or "nothing",
                                        profile=describe_profile(start.profile, self.catalog),
                                        genres=", ".join(self.catalog.genres), budget=self.max_tool_calls,
                                        steps=_steps(calls)))]
        lc_tools = as_langchain(tools.registry())
        if self.tool_choice == "auto":
            reply = self.chat_model.bind_tools(lc_tools, tool_choice="auto").invoke(messages)
        else:
            names = [tool.name for tool in lc_tools]
            # The same tool list in both requests: a server that renders tools into the system prompt
            # (llama.cpp) then reuses its cached prefix instead of prefilling the schemas again.
            every = [*lc_tools, _chooser(names)]
            picked = self.chat_model.bind_tools(every, tool_choice="next_tool").invoke(messages)
            name = (picked.tool_calls[0]["args"].get("tool") if picked.tool_calls else None) or "finish"
            if name not in names:
                return [(str(name), None, f"unknown tool '{name}'; tools are {names}")]
            if name == "finish":
                return [("finish", {}, None)]
            reply = self.chat_model.bind_tools(every, tool_choice=name).invoke(messages)
        requested: list[Requested] = [(call["name"], dict(call["args"]), None) for call in reply.tool_calls]
        requested += [(call.get("name") or "?", None, f"could not read the arguments: {call.get('error') or ''}")
                      for call in getattr(reply, "invalid_tool_calls", [])]
        return requested

    # -- the cards ----------------------------------------------------------------------------------------------------
    def _final_cards(self, user: str, start: _Start, tools: SessionTools) -> list[Recommendation]:
        """Ranked from the buffer (the model's chosen ids when it gave some) by the cards-first Recommender, with
        the last search as the query its evidence cites; then checked whatever the ranking did."""
        kept = [i for i in (tools.finished.item_ids if tools.finished else []) if i in tools.bus.items]
        candidates = kept or list(tools.bus.items)
        if not candidates:
            return []
        query = tools.bus.queries[-1] if tools.bus.queries else start.profile.query
        request = RecommendRequest(profile=start.profile.model_copy(update={"query": query}), k=self.cards,
                                   candidates=candidates, genre_feedback=self._genre_feedback(user))
        cards = guaranteed(self.recommender.recommend(request), start.profile, self.catalog, set(tools.bus.items))
        if cards:
            self.memory.record_shown(start.session, self._turn_number(start.session), [c.item_id for c in cards])
        return localized_cards(cards, self.catalog, start.language)


def build_tool_agent(settings: Settings, catalog: Catalog, recommender: Recommender, memory: Memory,
                     llm: LLM | None, *, cards: int = CARDS, chat_model: Any = None) -> ToolAgent:
    """`--policy agent` over the configured endpoint (a LangChain ChatOpenAI), or over `chat_model` (tests)."""
    if chat_model is None:
        chat_model = openai_chat_model(settings)
    return ToolAgent(catalog, recommender, memory, llm, chat_model=chat_model, cards=cards,
                     max_tool_calls=settings.agent_max_tool_calls, timeout_s=settings.agent_timeout,
                     tool_choice=settings.agent_tool_choice)


def openai_chat_model(settings: Settings, http_client: Any = None):
    """LangChain's OpenAI chat model at the configured endpoint (`http_client`: an httpx.Client, for tests)."""
    if settings.llm != "openai":
        raise InputError(f"--policy agent needs a tool-calling endpoint, not --llm {settings.llm}",
                         where="CONVREC_POLICY=agent",
                         fix="use --llm openai with CONVREC_OPENAI_BASE_URL (an API model, or the local model served "
                             "by `convrec llm serve`), or --policy cards-first")
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(base_url=settings.openai_base_url, api_key=settings.openai_api_key or "not-needed",
                      model=settings.openai_model, timeout=settings.openai_timeout, max_retries=1, temperature=0.0,
                      max_tokens=AGENT_MAX_TOKENS, http_client=http_client)


# -- text the model and the user read ------------------------------------------------------------------------------
def describe(name: str, arguments: dict[str, Any]) -> str:
    """A status line per tool call: "searching: time travel comedies"."""
    if name == "search_items":
        return f"searching: {arguments.get('query', '')}"
    if name == "similar_items":
        return f"finding movies like item {arguments.get('item_id', '?')}"
    if name == "link_title":
        return f"looking up \u201c{arguments.get('title', '')}\u201d"
    return {"recommend_for_profile": "ranking for your taste so far", "filter_candidates": "narrowing the candidates",
            "finish": "choosing the cards"}.get(name, f"calling {name}")


def describe_profile(profile: Profile, catalog: Catalog) -> str:
    def labels(ids) -> str:
        return ", ".join(f"{catalog.item(i).label} [id {i}]" for i in list(ids)[-6:] if i in catalog) or "none"

    limits = profile.constraints
    parts = [f"liked: {labels(profile.liked)}", f"disliked: {labels(profile.disliked)}",
             f"genres liked: {', '.join(sorted(profile.genres_liked)) or 'none'}",
             f"genres disliked: {', '.join(sorted(profile.genres_disliked | limits.exclude_genres)) or 'none'}"]
    if limits.year_min or limits.year_max:
        parts.append(f"years: {limits.year_min or 'any'}–{limits.year_max or 'any'}")
    return "; ".join(parts)


def _steps(calls: list[ToolCall]) -> str:
    if not calls:
        return "none yet"
    return "\n".join(f"{n}. {call.name}({json.dumps(call.arguments, ensure_ascii=False)}) → {call.observation}"
                     for n, call in enumerate(calls, start=1))


def _run_tool(registry, name: str, arguments: dict[str, Any]) -> str:
    """A tool's result or its failure, as the observation the model reads next (a broken index is not the end)."""
    try:
        return call_registered(registry, name, arguments)
    except Exception as error:  # noqa: BLE001 - ToolError and bad arguments are already observations
        return f"error: {name} failed: {type(error).__name__}: {str(error)[:200]}"


def _chooser(names: list[str]) -> type[BaseModel]:
    return create_model("next_tool", __doc__="Choose the next tool to call (finish when the buffer is ready).",
                        tool=(Literal[tuple(names)], Field(description="the tool to call next")))


def _summary(calls: list[ToolCall]) -> str:
    searched = [call.arguments.get("query") for call in calls if call.name == "search_items" and not call.error]
    found = sum(call.items for call in calls)
    return f"chosen by the tool agent: {len(calls)} tool call(s), {found} candidates" + \
        (f"; searched {', '.join(f'“{q}”' for q in searched if q)}" if searched else "")


def _with_calls(event: Event, calls: list[ToolCall], fallback: str | None) -> Event:
    if isinstance(event, Done):
        return event.model_copy(update={"tools_called": list(calls), "fallback": fallback})
    return event
