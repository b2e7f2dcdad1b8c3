"""End to end with the real local GGUF (Qwen2.5-Coder-0.5B, assembled from its packages): a 3-turn onboarding.

Asserts behaviour, not speed: grammar-valid readings (no degraded turn), catalog-only cards before prose,
faithful or template reasons, and the profile built from the conversation."""

from __future__ import annotations

import asyncio

import pytest

from convrec.agent.events import Cards, Done, Question, Token
from convrec.agent.llama_backend import RAM_CACHE_BYTES, LlamaCppLLM
from convrec.agent.local_model import process_options
from convrec.agent.weights import MODELS, ensure_model
from convrec.core.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_llm():
    """In-process on purpose (this test reads the RAM cache), with the buffer mode the product would choose for this
    CPU: safe mode on AMX CPUs, where the default mode crashes."""
    settings = Settings(model="qwen2.5-coder-0.5b", n_ctx=1024)
    path = ensure_model(MODELS["qwen2.5-coder-0.5b"], settings.models_dir)
    options = process_options(settings, path)
    llm = LlamaCppLLM(path, n_ctx=1024, n_threads_batch=options.n_threads_batch, extra_bufts=options.extra_bufts)
    llm.load()
    return llm


def test_three_turn_onboarding_with_the_real_model(make_agent, demo_tools, local_llm):
    catalog, _ = demo_tools
    agent = make_agent(local_llm)
    turns = ["hi, I need a movie for tonight", "I loved The Matrix and Inception. No horror please.",
             "something more recent"]
    session = None
    for number, message in enumerate(turns):
        events = asyncio.run(_collect(agent, message, session))
        session = agent.memory.session("ann")
        kinds = [type(e).__name__ for e in events]
        assert kinds.index("Cards") < kinds.index("Token"), kinds
        done = events[-1]
        assert isinstance(done, Done) and done.degraded is None, done
        cards = [e for e in events if isinstance(e, Cards)][-1].recommendations
        assert len(cards) == 5 and all(card.item_id in catalog for card in cards)
        tokens = [e for e in events if isinstance(e, Token)]
        assert {t.item_id for t in tokens} == {c.item_id for c in cards}
        if number == 0:
            assert any(isinstance(e, Question) for e in events)
        if number >= 1:
            assert all("Horror" not in card.genres for card in cards)
    profile = agent.memory.profile("ann")
    assert {"2571", "79132"} <= set(profile.liked)
    assert "Horror" in profile.constraints.exclude_genres and profile.era is not None
    cache = local_llm._llama.cache
    assert cache.cache_state and cache.cache_size <= RAM_CACHE_BYTES  # saved prompt states, logits included


async def _collect(agent, message, session):
    return [event async for event in agent.turn("ann", message, session)]
