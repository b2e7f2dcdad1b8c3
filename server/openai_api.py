"""`POST /v1/chat/completions` and `GET /v1/models`, as the official `openai` client and chat platforms expect.

The answer's text is the agent's reply in Markdown (the picks with their reasons, then any question). The
structured cards ride along in an extra `convrec` field: on the completion, or, when streaming, on chunks whose
delta is empty, sent before any text (see server/README-section.md for the format).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response

from convrec.agent.events import Cards, Done, Error, Question, Token, collect
from convrec.agent.locale import language_of
from convrec.agent.policy import card_line, reply_head
from convrec.server.deps import ERROR_RESPONSES, authenticated, error_response, state_of
from convrec.server.config import MODEL_ID
from convrec.server.conversation import SessionConflict, new_session_suffix, plan_turn
from convrec.server.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    ConvrecPayload,
    ModelCard,
    ModelList,
    Usage,
    _identifier,
)
from convrec.server.security import Principal
from convrec.server.streaming import HEARTBEAT, ClientGone, EventStream, TurnPlan, TurnTask, sse, unless_disconnected

router = APIRouter(tags=["openai-compatible"], responses=ERROR_RESPONSES)
STARTED = int(time.time())
PLATFORM_TASK = re.compile(r"^\s*###\s*Task:")  # Open WebUI's background prompts (titles, tags, follow-ups)


@router.get("/v1/models", response_model=ModelList)
async def models(principal: Principal = Depends(authenticated)) -> ModelList:
    """The one model: `convrec`."""
    return ModelList(data=[ModelCard(id=MODEL_ID, created=STARTED)])


def _words(text: str) -> int:
    return len(text.split())


@router.post("/v1/chat/completions", response_model=ChatCompletion,
             responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                              "description": "a completion, or with stream=true chat.completion.chunk events"},
                        409: ERROR_RESPONSES[400]})
async def chat_completions(
    body: ChatCompletionRequest, request: Request, principal: Principal = Depends(authenticated),
    x_convrec_session: Annotated[str | None, Header(max_length=128, description="the conversation to continue")] = None,
    x_openwebui_user_id: Annotated[str | None, Header(max_length=256, include_in_schema=False)] = None,
    x_openwebui_chat_id: Annotated[str | None, Header(max_length=256, include_in_schema=False)] = None,
) -> Response:
    """One turn. The conversation is the key's `user` (else `default`) plus, if given, `X-Convrec-Session`;
    without it, the session whose stored messages match the history sent, else a new one."""
    state = state_of(request)
    config, agent = state.config, state.runtime.agent
    said = [message.text() for message in body.messages if message.role == "user"]
    if not said or not said[-1].strip():
        return error_response(400, "messages: no user message with text to answer")
    sent = [text for text in said if text.strip()]  # system prompts and assistant turns are never read
    if len(sent[-1]) > config.max_message_chars:
        return error_response(422, f"messages: the last user message is longer than {config.max_message_chars} "
                                   "characters")
    sent = [text[:config.max_message_chars] for text in sent]
    try:
        user = _identifier(body.user or x_openwebui_user_id or "default")
        session = _identifier(x_convrec_session or x_openwebui_chat_id) if (x_convrec_session or
                                                                             x_openwebui_chat_id) else None
    except ValueError as error:
        return error_response(422, f"user or session id: {error}")
    if len(user) > 128:
        return error_response(422, "user: at most 128 characters")
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    lines = _ChunkLines(completion_id, created, bool(body.stream_options and body.stream_options.include_usage))

    if PLATFORM_TASK.match(sent[-1]):  # a platform's own chore (a chat title…), not the user talking: no state
        return _task_answer(body.stream, lines)

    ticket = agent.scheduler.admit() if agent.scheduler is not None and agent.llm is not None else None
    try:
        plan = await asyncio.to_thread(plan_turn, agent.memory, principal.internal(user), sent,
                                       principal.internal(session) if session else None,
                                       principal.internal(new_session_suffix()))
    except SessionConflict:
        if ticket is not None:
            ticket.close()
        return error_response(409, "this session belongs to another user of this key")
    except BaseException:
        if ticket is not None:
            ticket.close()
        raise
    turn = TurnTask(agent, plan, ticket, state.locks)
    headers = {"X-Convrec-Session": principal.external(plan.session)}
    if body.stream:
        chunks = _chunks(turn, principal, plan, lines, config.heartbeat_s)
        return EventStream(chunks, on_close=turn.cancel, headers=headers)
    try:
        outcome = await unless_disconnected(request, collect(turn.events()), turn.cancel)
    except ClientGone:
        return Response(status_code=499)
    done, error = outcome.done, outcome.error
    if error is not None or done is None:
        return error_response(500, error.message if error else "the turn ended without an answer")
    completion = ChatCompletion(
        id=completion_id, created=created, model=MODEL_ID,
        choices=[Choice(message=AssistantMessage(content=done.reply))],
        usage=Usage(prompt_tokens=_words(plan.message), completion_tokens=_words(done.reply),
                    total_tokens=_words(plan.message) + _words(done.reply)),
        convrec=ConvrecPayload(session=principal.external(plan.session), user=principal.external(plan.user),
                               recommendations=outcome.cards, question=outcome.question, degraded=done.degraded))
    return JSONResponse(completion.model_dump(mode="json"), headers=headers)


class _ChunkLines:
    """One completion's `chat.completion.chunk` SSE lines. With `stream_options.include_usage`, as OpenAI does, every
    chunk carries `"usage": null` and a last chunk with empty choices carries the usage."""

    def __init__(self, completion_id: str, created: int, include_usage: bool) -> None:
        self.base = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID}
        self.include_usage = include_usage

    def delta(self, delta: dict, finish: str | None = None, **extra) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return self._line({"choices": [choice], **({"usage": None} if self.include_usage else {}), **extra})

    def usage(self, prompt_tokens: int, completion_tokens: int) -> str | None:
        """The final usage chunk, or None when the client did not ask for it."""
        if not self.include_usage:
            return None
        return self._line({"choices": [], "usage": {"prompt_tokens": prompt_tokens,
                                                    "completion_tokens": completion_tokens,
                                                    "total_tokens": prompt_tokens + completion_tokens}})

    def _line(self, body: dict) -> str:
        return sse(json.dumps({**self.base, **body}, ensure_ascii=False))


async def _chunks(turn: TurnTask, principal: Principal, plan: TurnPlan, lines: _ChunkLines, heartbeat_s: float):
    ids = {"session": principal.external(plan.session), "user": principal.external(plan.user)}
    sent, cards, role_sent = "", {}, False
    try:
        async for event in turn.events(heartbeat_s):
            if event is HEARTBEAT:
                yield ": keep-alive\n\n"
            elif isinstance(event, Cards):
                cards = {card.item_id: card for card in event.recommendations}
                payload = {"type": "cards", **ids, "revision": event.revision, "changed": event.changed,
                           "recommendations": [card.model_dump(mode="json") for card in event.recommendations]}
                yield lines.delta({"role": "assistant", "content": ""} if not role_sent else {}, convrec=payload)
                role_sent = True
            elif isinstance(event, Question):
                yield lines.delta({}, convrec={"type": "question", **ids,
                                               **event.model_dump(mode="json", exclude={"type"})})
            elif isinstance(event, Token):
                card = cards.get(event.item_id)
                line = card_line(card, event.text) if card is not None else f"- {event.text}"
                piece = (reply_head(list(cards.values()), language_of(plan.message)) if not sent else "") + "\n" + line
                sent += piece
                yield lines.delta({"content": piece})
            elif isinstance(event, Done):
                rest = event.reply[len(sent):] if event.reply.startswith(sent) else ""
                if rest:
                    yield lines.delta({"content": rest} if role_sent else {"role": "assistant", "content": rest})
                yield lines.delta({}, "stop", convrec={"type": "done", **ids, "degraded": event.degraded})
                usage = lines.usage(_words(plan.message), _words(event.reply))
                if usage is not None:
                    yield usage
            elif isinstance(event, Error):
                yield sse(json.dumps({"error": {"message": event.message, "type": "server_error", "code": 500}}))
        yield "data: [DONE]\n\n"
    finally:
        turn.cancel()


TASK_ANSWER = "{}"  # a platform's chore gets an empty JSON object: no title, no tags, no follow-ups


def _task_answer(stream: bool, lines: _ChunkLines) -> Response:
    usage = {"prompt_tokens": 0, "completion_tokens": 1, "total_tokens": 1}
    if not stream:
        return JSONResponse({**lines.base, "object": "chat.completion",
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": TASK_ANSWER},
                                          "finish_reason": "stop", "logprobs": None}], "usage": usage})

    async def chunks():
        yield lines.delta({"role": "assistant", "content": TASK_ANSWER})
        yield lines.delta({}, "stop")
        final = lines.usage(usage["prompt_tokens"], usage["completion_tokens"])
        if final is not None:
            yield final
        yield "data: [DONE]\n\n"

    return EventStream(chunks())
