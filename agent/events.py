"""The turn's event stream, consumed by the TUI, the HTTP server and `convrec ask`.

Order within one turn: status* → cards (before any token) → question? → token* → cards (revised)? → done | error.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from convrec.tools.models import Recommendation


class Status(BaseModel):
    type: Literal["status"] = "status"
    text: str
    tool: str | None = None  # --policy agent: the tool this status announces ("searching: …" is search_items)


class Cards(BaseModel):
    type: Literal["cards"] = "cards"
    recommendations: list[Recommendation]
    revision: int = 0  # 0: from the deterministic reading; 1: revised after the LLM's reading
    changed: str | None = None  # what changed since the last cards, in words


class Choice(BaseModel):
    label: str
    item_id: str | None = None
    genre: str | None = None


class Question(BaseModel):
    type: Literal["question"] = "question"
    kind: Literal["ambiguous", "elicit"]  # which title did you mean | tell us what you like (onboarding)
    text: str
    choices: list[Choice] = Field(default_factory=list)
    span: str | None = None  # ambiguous: the user's words that named more than one title


class Token(BaseModel):
    type: Literal["token"] = "token"
    text: str
    item_id: str | None = None  # the card this text explains, if any


class ToolCall(BaseModel):
    """One tool call of the agent policy: what the model asked for and how many candidates it added."""

    name: str
    arguments: dict
    items: int = 0  # candidates it added to the buffer
    error: str | None = None
    observation: str = Field(default="", exclude=True)  # what the model read back (kept out of the JSON)


class Done(BaseModel):
    type: Literal["done"] = "done"
    reply: str
    cards_ms: float
    total_s: float
    degraded: str | None = None  # why the LLM was not used, when it was not
    tools_called: list[ToolCall] | None = None  # the agent policy's tool calls (None: cards-first)
    fallback: str | None = None  # why the agent policy fell back to cards-first, when it did


class Error(BaseModel):
    type: Literal["error"] = "error"
    message: str


Event = Annotated[Status | Cards | Question | Token | Done | Error, Field(discriminator="type")]


@dataclass
class Outcome:
    """A whole turn, collected from its events by a caller that does not stream."""

    cards: list[Recommendation] = field(default_factory=list)  # the last cards (revised, if they were)
    question: Question | None = None
    done: Done | None = None
    error: Error | None = None


async def collect(events: AsyncIterable[object]) -> Outcome:
    outcome = Outcome()
    async for event in events:
        if isinstance(event, Cards):
            outcome.cards = event.recommendations
        elif isinstance(event, Question):
            outcome.question = event
        elif isinstance(event, Done):
            outcome.done = event
        elif isinstance(event, Error):
            outcome.error = event
    return outcome
