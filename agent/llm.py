"""The LLM backend contract: stream a chat reply, or return a schema-valid pydantic object.

Backends are passed in through constructors; tests use `ScriptedLLM`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ValidationError

from convrec.core.errors import ConvrecError

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": "..."}
T = TypeVar("T", bound=BaseModel)


class LLMError(ConvrecError):
    """The backend failed: unreachable, timed out, or answered with something unusable."""


class LLMOutputError(LLMError):
    """The backend answered, but not with JSON valid against the schema."""


class LLMUnavailable(LLMError):
    """The backend is down (the model process crashed or hung, the endpoint is unreachable): later calls in the same
    turn would fail too, so the turn goes on without it."""


@runtime_checkable
class LLM(Protocol):
    name: str

    def stream_chat(self, messages: list[Message], *, max_tokens: int, temperature: float = 0.3,
                    stop: list[str] | None = None) -> Iterator[str]:
        """Yield the reply's text in pieces as they are generated."""

    def structured(self, messages: list[Message], schema: type[T], *, max_tokens: int) -> T:
        """Return the reply parsed and validated as `schema`; raise LLMOutputError if it is not."""


def parse_structured(text: str, schema: type[T]) -> T:
    """Validate a backend's JSON text against `schema`, turning failures into LLMOutputError."""
    try:
        return schema.model_validate_json(text)
    except ValidationError as error:
        raise LLMOutputError("the model's JSON did not match the schema", where=schema.__name__,
                             fix=f"ignored; first problem: {error.errors()[0]['msg']}") from error


@dataclass
class ScriptedLLM:
    """A fake backend: tests enqueue answers (text, pydantic objects, JSON strings or exceptions)
    and then assert on the prompts it received."""

    name: str = "scripted"
    answers: deque = field(default_factory=deque)
    prompts: list[list[Message]] = field(default_factory=list)

    def enqueue(self, *answers: str | BaseModel | Exception) -> ScriptedLLM:
        self.answers.extend(answers)
        return self

    def _next(self, messages: list[Message]) -> str | BaseModel:
        self.prompts.append([dict(m) for m in messages])
        if not self.answers:
            raise LLMError("the scripted LLM has no answer left", where=self.name,
                           fix="enqueue one more answer in the test")
        answer = self.answers.popleft()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def stream_chat(self, messages: list[Message], *, max_tokens: int, temperature: float = 0.3,
                    stop: list[str] | None = None) -> Iterator[str]:
        answer = self._next(messages)
        text = answer.model_dump_json() if isinstance(answer, BaseModel) else answer
        yield from re.findall(r"\s*\S+", text)

    def structured(self, messages: list[Message], schema: type[T], *, max_tokens: int) -> T:
        answer = self._next(messages)
        if isinstance(answer, BaseModel):
            return schema.model_validate(answer.model_dump())
        return parse_structured(answer, schema)
