"""Live plumbing: `--llm openai --policy agent` against llama-cpp-python's own OpenAI-compatible server serving the
local 0.5B GGUF on 127.0.0.1. Asserts the wire protocol (tools and a named tool choice go out, grammar-valid tool
calls come back), the bounded loop and the guarantees; not the quality of the picks."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess

import httpx
import pytest

from convrec.agent.events import Cards, Done, Status
from convrec.agent.llm_server import base_url, server_command, wait_ready
from convrec.agent.memory import Memory
from convrec.agent.tool_agent import build_tool_agent, openai_chat_model
from convrec.agent.weights import MODELS, ensure_model
from convrec.core.settings import Settings

pytestmark = pytest.mark.slow
MAX_TOOL_CALLS = 1  # two requests in named mode: pick the tool, then call it


@pytest.fixture(scope="module")
def endpoint():
    path = ensure_model(MODELS["qwen2.5-coder-0.5b"], Settings().models_dir)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(server_command(path, port=port, n_ctx=2048, n_threads=2),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = base_url("127.0.0.1", port)
    try:
        wait_ready(process, url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_agent_policy_over_llama_cpps_server(endpoint, demo_tools, tmp_path):
    catalog, recommender = demo_tools
    exchanges = []

    def record(response: httpx.Response) -> None:
        response.read()
        exchanges.append((json.loads(response.request.content), response.json()))

    settings = Settings(llm="openai", openai_base_url=endpoint, openai_model="local", openai_timeout=300,
                        policy="agent", agent_tool_choice="named", agent_max_tool_calls=MAX_TOOL_CALLS,
                        agent_timeout=600)
    chat_model = openai_chat_model(settings, http_client=httpx.Client(event_hooks={"response": [record]}))
    agent = build_tool_agent(settings, catalog, recommender, Memory(tmp_path / "state.sqlite3"), None,
                             chat_model=chat_model)

    async def turn():
        return [event async for event in agent.turn("ann", "I loved The Matrix and Heat. Something like them")]

    events = asyncio.run(turn())
    done = events[-1]
    assert isinstance(done, Done) and done.tools_called is not None
    # The wire: every request carries tools and names the one tool to call; each answer is a parsable tool call.
    assert exchanges
    for request, response in exchanges:
        assert request["tools"] and request["tool_choice"]["type"] == "function"
        calls = response["choices"][0]["message"]["tool_calls"]
        assert calls and calls[0]["function"]["name"] == request["tool_choice"]["function"]["name"]
        json.loads(calls[0]["function"]["arguments"])
    # The bounded loop: no more tool calls than allowed, one status per call.
    assert len(done.tools_called) <= MAX_TOOL_CALLS
    assert len([e for e in events if isinstance(e, Status) and e.tool]) == len(done.tools_called)
    # The guarantees, whether the agent's cards or the cards-first fallback: catalog-only, never what was named.
    cards = [e for e in events if isinstance(e, Cards)][-1].recommendations
    assert len(cards) == 5 and all(card.item_id in catalog for card in cards)
    named = agent.memory.profile("ann").known_items()
    assert "2571" in named and not named & {card.item_id for card in cards}
    assert all(card.reasons and all(reason.evidence for reason in card.reasons) for card in cards)
