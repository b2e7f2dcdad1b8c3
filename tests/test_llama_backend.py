"""The llama.cpp backend's pieces that need no model: the bounded RAM cache and the compact grammar."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from convrec.agent.llama_backend import bounded_ram_cache, compact_grammar


def saved_state(tokens: int, vocabulary: int = 1000) -> SimpleNamespace:
    """What `Llama.save_state` returns: the llama.cpp state plus copies of the prompt's logits and token ids."""
    return SimpleNamespace(llama_state_size=10_000, scores=np.zeros((tokens, vocabulary), dtype=np.single),
                           input_ids=np.zeros(tokens, dtype=np.intc))


def test_the_ram_cache_counts_the_logits_each_saved_state_carries():
    cache = bounded_ram_cache(capacity_bytes=1_000_000)  # room for two 100-token states (~400 kB of logits each)
    for number in range(5):
        cache[(number, 1, 2)] = saved_state(tokens=100)
    assert len(cache.cache_state) == 2 and cache.cache_size <= 1_000_000
    assert list(cache.cache_state) == [(3, 1, 2), (4, 1, 2)]  # the newest stay


def test_the_grammar_allows_no_optional_whitespace():
    grammar = compact_grammar({"type": "object", "properties": {"intent": {"type": "string"}}, "required": ["intent"]})
    assert 'space ::= ""' in grammar
