"""The native API: sessions, a message's turn as the agent's own event stream (SSE), feedback, export and forget.

Every id in a path or body is the caller's own (`alice`, a session id we returned); it is looked up inside the
key's namespace only, so another key's users and sessions are 404 here.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response

from convrec.agent.memory import check_feedback_value
from convrec.agent.policy import Agent

from convrec.server.deps import ERROR_RESPONSES, authenticated, error_response, state_of
from convrec.server.conversation import new_session_suffix
from convrec.server.schemas import (
    Deleted,
    FeedbackIn,
    FeedbackSaved,
    NewMessage,
    NewSession,
    SessionHistory,
    SessionInfo,
    StoredMessageOut,
    UserExport,
    _identifier,
    clean_text,
)
from convrec.server.security import Principal
from convrec.server.streaming import HEARTBEAT, EventStream, TurnPlan, TurnTask, sse
from convrec.tools.models import Profile
from convrec.tools.profile import FeedbackAction

router = APIRouter(tags=["native"], responses=ERROR_RESPONSES)

SessionId = Annotated[str, Path(min_length=1, max_length=128, description="a session id from POST /v1/sessions")]
UserId = Annotated[str, Path(min_length=1, max_length=128, description="your end user's id")]


def _own_session(request: Request, principal: Principal, session: str) -> str | None:
    """The session's (internal) owner if it is this key's, else None."""
    owner = state_of(request).runtime.memory.session_owner(principal.internal(session))
    return owner if owner is not None and owner.startswith(f"{principal.key_id}:") else None


def saved_feedback(agent: Agent, user: str, item_id: str, action: FeedbackAction, value: float | None,
                   session: str | None) -> Profile:
    """The feedback row and the profile it changes, committed together by `Agent.feedback` (a worker thread)."""
    return agent.feedback(user, item_id, action, value, session)


def _valid(identifier: str) -> bool:
    try:
        return _identifier(identifier) == identifier
    except ValueError:
        return False


@router.post("/v1/sessions", response_model=SessionInfo, status_code=201)
async def create_session(body: NewSession, request: Request,
                         principal: Principal = Depends(authenticated)) -> SessionInfo:
    """Start a new conversation for one of your users."""
    memory = state_of(request).runtime.memory
    session = new_session_suffix()
    await asyncio.to_thread(memory.session, principal.internal(body.user), principal.internal(session))
    return SessionInfo(session=session, user=body.user)


@router.get("/v1/sessions/{session_id}", response_model=SessionHistory)
async def get_session(session_id: SessionId, request: Request,
                      principal: Principal = Depends(authenticated)) -> SessionHistory | JSONResponse:
    """A session's stored messages, in order."""
    memory = state_of(request).runtime.memory
    owner = await asyncio.to_thread(_own_session, request, principal, session_id) if _valid(session_id) else None
    if owner is None:
        return error_response(404, "unknown session")
    messages = await asyncio.to_thread(memory.messages, principal.internal(session_id))
    return SessionHistory(session=session_id, user=principal.external(owner),
                          messages=[StoredMessageOut(**m.__dict__) for m in messages])


@router.post("/v1/sessions/{session_id}/messages",
             responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                              "description": "the turn's events: cards, status, question, token, done | error"}})
async def post_message(session_id: SessionId, body: NewMessage, request: Request,
                       principal: Principal = Depends(authenticated)) -> Response:
    """One turn, streamed as Server-Sent Events named after the agent's event types."""
    state = state_of(request)
    agent = state.runtime.agent
    content = clean_text(body.content)
    if not content.strip():
        return error_response(422, "content: say something")
    if len(content) > state.config.max_message_chars:
        return error_response(422, f"content: longer than {state.config.max_message_chars} characters")
    owner = await asyncio.to_thread(_own_session, request, principal, session_id) if _valid(session_id) else None
    if owner is None:
        return error_response(404, "unknown session")
    ticket = agent.scheduler.admit() if agent.scheduler is not None and agent.llm is not None else None
    turn = TurnTask(agent, TurnPlan(user=owner, session=principal.internal(session_id), message=content), ticket,
                    state.locks)

    async def events():
        try:
            async for event in turn.events(state.config.heartbeat_s):
                if event is HEARTBEAT:
                    yield ": keep-alive\n\n"
                else:
                    yield sse(event.model_dump_json(), event=event.type)
        finally:
            turn.cancel()

    return EventStream(events(), on_close=turn.cancel)


@router.post("/v1/feedback", response_model=FeedbackSaved)
async def feedback(body: FeedbackIn, request: Request,
                   principal: Principal = Depends(authenticated)) -> FeedbackSaved | JSONResponse:
    """Like, dislike, rate, "not interested" or "more like this" on an item. Saved (committed) before the answer."""
    state = state_of(request)
    agent = state.runtime.agent
    if body.item_id not in agent.catalog:
        return error_response(404, f"unknown item {body.item_id}")
    try:
        check_feedback_value(body.action, body.value)
    except ValueError as error:
        return error_response(422, f"value: {error}")
    user = principal.internal(body.user)
    session = None
    if body.session is not None:
        owner = await asyncio.to_thread(_own_session, request, principal, body.session)
        if owner != user:
            return error_response(404, "unknown session for this user")
        session = principal.internal(body.session)
    async with state.locks.hold(user):
        try:
            profile = await asyncio.to_thread(saved_feedback, agent, user, body.item_id, body.action, body.value,
                                              session)
        except ValueError as error:
            return error_response(422, f"value: {error}")
    return FeedbackSaved(user=body.user, item_id=body.item_id, action=body.action, value=body.value,
                         liked=sorted(profile.liked), disliked=sorted(profile.disliked))


@router.get("/v1/users/{user_id}", response_model=UserExport)
async def export_user(user_id: UserId, request: Request,
                      principal: Principal = Depends(authenticated)) -> UserExport | JSONResponse:
    """Everything stored about one of your users: profile, feedback, sessions with their messages."""
    memory = state_of(request).runtime.memory
    user = principal.internal(user_id)
    if not _valid(user_id) or not await asyncio.to_thread(memory.has_user, user):
        return error_response(404, "unknown user")
    data = await asyncio.to_thread(memory.export_user, user)
    data["user"] = user_id
    for session in data["sessions"]:
        session["session"] = principal.external(session["session"])
    return UserExport(**data)


@router.delete("/v1/users/{user_id}", response_model=Deleted)
async def forget_user(user_id: UserId, request: Request,
                      principal: Principal = Depends(authenticated)) -> Deleted | JSONResponse:
    """Delete everything stored about one of your users."""
    state = state_of(request)
    user = principal.internal(user_id)
    if not _valid(user_id):
        return error_response(404, "unknown user")
    async with state.locks.hold(user):
        existed = await asyncio.to_thread(state.runtime.memory.forget_user, user)
    if not existed:
        return error_response(404, "unknown user")
    return Deleted(user=user_id)
