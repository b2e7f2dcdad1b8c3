"""`convrec ask`, `rate`, `like`, `dislike`, `export`, `forget`: one turn or one piece of feedback, persisted."""

from __future__ import annotations

import asyncio
import json

from convrec.agent.policy import TurnResult
from convrec.agent.runtime import Runtime, build_runtime
from convrec.cli.progress import console
from convrec.core.errors import InputError
from convrec.core.settings import Settings
from convrec.tools.profile import FeedbackAction

DEFAULT_USER = "me"


def runtime_for(llm: str | None, policy: str | None = None) -> Runtime:
    settings = Settings(**({"llm": llm} if llm else {}), **({"policy": policy} if policy else {}))
    return build_runtime(settings, use_llm=settings.llm != "none")


def contract(result: TurnResult) -> dict:
    """The JSON object of DESIGN.md's `convrec ask --json` contract."""
    profile = result.profile
    return {
        "session": result.session,
        "user": result.user,
        "reply": result.reply,
        "question": result.question.text if result.question else None,
        "recommendations": [{"item_id": card.item_id, "title": card.label, "score": card.score,
                             "reasons": [reason.model_dump() for reason in card.reasons]}
                            for card in result.recommendations],
        "profile": {"liked": sorted(profile.liked), "disliked": sorted(profile.disliked),
                    "genres_liked": sorted(profile.genres_liked), "genres_disliked": sorted(profile.genres_disliked)},
        "degraded": result.degraded,
        **({"tools_called": [call.model_dump(include={"name", "arguments", "items"}) for call in result.tools_called],
            "fallback": result.fallback} if result.tools_called is not None else {}),
    }


def ask(message: str, *, user: str, session: str | None, llm: str | None, as_json: bool,
        policy: str | None = None) -> None:
    if not message.strip():
        raise InputError("empty message", fix='say what you feel like watching, e.g. convrec ask "I loved Heat"')
    runtime = runtime_for(llm, policy)
    result = asyncio.run(runtime.agent.run_turn(user, message, session))
    if as_json:
        print(json.dumps(contract(result), ensure_ascii=False))
        return
    console.print(result.reply)
    if result.question and result.question.choices:
        console.print("  choices: " + " · ".join(choice.label for choice in result.question.choices))
    if result.degraded:
        console.print(f"[dim]({result.degraded})[/dim]")
    if result.tools_called:
        console.print("[dim]tools: " + ", ".join(call.name for call in result.tools_called) +
                      (f" (fell back to cards-first: {result.fallback})" if result.fallback else "") + "[/dim]")
    console.print(f"[dim]session {result.session}[/dim]")


def feedback(item_id: str, action: FeedbackAction, value: float | None, *, user: str) -> None:
    runtime = runtime_for("none")
    if item_id not in runtime.catalog:
        raise InputError(f"unknown item id '{item_id}'", where=runtime.catalog.name,
                         fix="use the item_id shown on a card (convrec ask --json shows them)")
    try:
        runtime.agent.feedback(user, item_id, action, value)
    except ValueError as error:
        raise InputError(str(error), where=f"item {item_id}") from error
    label = runtime.catalog.item(item_id).label
    console.print(f"saved: {action.replace('_', ' ')} {label}{f' {value:g}' if value is not None else ''} for {user}")


def export(user: str) -> None:
    print(json.dumps(runtime_for("none").memory.export_user(user), indent=2, ensure_ascii=False))


def forget(user: str) -> None:
    existed = runtime_for("none").memory.forget_user(user)
    console.print(f"forgot everything about {user}" if existed else f"nothing stored about {user}")
