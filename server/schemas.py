"""Request and response bodies: the OpenAI chat-completions subset platforms send, and the native API."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from convrec.agent.events import Question
from convrec.tools.models import Recommendation

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Text as we store it: valid UTF-8 (lone surrogates replaced), no control characters but newlines and tabs."""
    return _CONTROL.sub("", text.encode("utf-8", "replace").decode("utf-8"))


def _identifier(value: str) -> str:
    value = value.strip()
    if not value or _CONTROL.search(value) or clean_text(value) != value:
        raise ValueError("must be printable text, without control characters")
    return value


Identifier = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_identifier)]


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: int | str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


# -- OpenAI-compatible ---------------------------------------------------------------------------------------------
class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(max_length=64)
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = Field(default=None, max_length=256)

    def text(self) -> str:
        if isinstance(self.content, str):
            return clean_text(self.content)
        if isinstance(self.content, list):
            return clean_text("\n".join(part.text for part in self.content if part.type == "text" and part.text))
        return ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: StrictBool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's request body. Sampling parameters (temperature, max_tokens, …) are accepted and ignored: the
    items come from deterministic tools, and the prose is capped per card."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"model": "convrec", "user": "alice", "messages": [{"role": "user", "content": "I loved Heat, no horror"}]}]})
    model: str = Field(default="convrec", max_length=256)
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    stream: StrictBool = False  # "yes" or 1 is an error, not a stream
    stream_options: StreamOptions | None = None
    user: str | None = Field(default=None, max_length=256,
                             description="your end user's id: each gets their own profile and sessions")
    n: int | None = Field(default=None, ge=1, le=1)


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ConvrecPayload(BaseModel):
    """The structured part of an answer, beside the Markdown text."""

    session: str
    user: str
    recommendations: list[Recommendation]
    question: Question | None = None
    degraded: str | None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    convrec: ConvrecPayload


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "convrec"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# -- native ---------------------------------------------------------------------------------------------------------
class NewSession(BaseModel):
    user: Identifier = "default"


class SessionInfo(BaseModel):
    session: str
    user: str


class StoredMessageOut(BaseModel):
    role: str
    content: str
    created_at: float


class SessionHistory(SessionInfo):
    messages: list[StoredMessageOut]


class NewMessage(BaseModel):
    content: str = Field(min_length=1, description="what the user says", examples=["I loved The Matrix"])


class FeedbackIn(BaseModel):
    user: Identifier = "default"
    item_id: Identifier = Field(examples=["2571"], description="a card's item_id")
    action: Literal["like", "dislike", "rate", "not_interested", "more_like_this"]
    value: float | None = Field(default=None, allow_inf_nan=False,
                                description="the rating, on the catalog's scale (action=rate)")
    session: Identifier | None = None


class FeedbackSaved(BaseModel):
    saved: Literal[True] = True
    user: str
    item_id: str
    action: str
    value: float | None
    liked: list[str]
    disliked: list[str]


class Deleted(BaseModel):
    deleted: Literal[True] = True
    user: str


class UserExport(BaseModel):
    model_config = ConfigDict(extra="allow")
    user: str
    profile: dict[str, Any]
    feedback: list[dict[str, Any]]
    sessions: list[dict[str, Any]]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    ready: bool
    status: str
    llm: str | None = None
    queue: dict[str, int | float] | None = None
