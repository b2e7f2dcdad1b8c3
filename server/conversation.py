"""Which stored session a chat platform's request continues, and which of its messages are new.

Platforms send the whole history every time. The last user message is this turn; earlier user messages that the
session already stored are not read again (no double counting). Matching, on the user messages only:

- stored == all sent                 → a retry or "regenerate" of the stored turn: answer again, store nothing new;
- stored is a prefix of the earlier  → continue; earlier messages we never saw are taken in first (`Agent.remember`);
- stored == earlier + one other last → the user edited their last message: continue with the new one (only when
                                       there is an earlier message: a different first message is a new chat);
- otherwise                          → not this conversation.

With `X-Convrec-Session` (or Open WebUI's forwarded chat id) the session is given: if its history does not match, the
stored session wins and only the last message is taken. Without it, the user's recent sessions are searched for a
match, else a new session starts; a session with no user message yet is never found that way.
"""

from __future__ import annotations

import uuid

from convrec.agent.memory import Memory
from convrec.server.streaming import TurnPlan

SEARCH_SESSIONS = 20  # recent sessions of the user to look for the conversation in
MAX_ABSORB = 10  # earlier unseen messages taken in, at most (the most recent ones)


class SessionConflict(Exception):
    """The named session belongs to another user of the same key."""


def _norm(text: str) -> str:
    return " ".join(text.split())


def stored_user_messages(memory: Memory, session: str) -> list[str]:
    return [_norm(m.content) for m in memory.messages(session) if m.role == "user"]


def match(stored: list[str], sent: list[str]) -> tuple[list[str], bool] | None:
    """(earlier messages to take in, record this turn's message) if `stored` is this conversation, else None."""
    normalized = [_norm(text) for text in sent]
    earlier = normalized[:-1]
    if stored == normalized:
        return [], False
    if stored == earlier[:len(stored)]:
        return sent[len(stored):-1], True
    if earlier and len(stored) == len(normalized) and stored[:-1] == earlier:
        return [], True
    return None


def plan_turn(memory: Memory, user: str, sent: list[str], session: str | None, new_session_id: str) -> TurnPlan:
    """`user`, `session` and `new_session_id` are internal ids; `sent` are the request's user messages, in order.
    Runs in a worker thread (database reads)."""
    message = sent[-1]
    if session is not None:
        owner = memory.session_owner(session)
        if owner is not None and owner != user:
            raise SessionConflict(session)
        found = match(stored_user_messages(memory, session), sent) if owner is not None else (sent[:-1], True)
        absorb, record = found if found is not None else ([], True)
        return TurnPlan(user=user, session=session, message=message, absorb=absorb[-MAX_ABSORB:], record=record)
    for candidate, _ in memory.sessions(user)[:SEARCH_SESSIONS]:
        stored = stored_user_messages(memory, candidate)
        found = match(stored, sent) if stored else None
        if found is not None:
            return TurnPlan(user=user, session=candidate, message=message, absorb=found[0][-MAX_ABSORB:],
                            record=found[1])
    return TurnPlan(user=user, session=new_session_id, message=message, absorb=sent[:-1][-MAX_ABSORB:])


def new_session_suffix() -> str:
    return uuid.uuid4().hex[:12]
