"""The llama.cpp backend's pieces that need no model: the bounded RAM cache, lean saved states, the compact grammar."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from convrec.agent.llama_backend import bounded_ram_cache, compact_grammar, lean_save_state


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


def test_a_lean_state_keeps_the_kv_state_and_one_row_of_logits(monkeypatch):
    import ctypes

    import llama_cpp.llama_cpp as native

    def get_data(ctx, buffer, size):
        ctypes.memmove(buffer, b"kv-cache", 8)
        return 8

    monkeypatch.setattr(native, "llama_state_get_size", lambda ctx: 64)
    monkeypatch.setattr(native, "llama_state_get_data", get_data)
    scores = np.arange(300 * 1000, dtype=np.single).reshape(300, 1000)
    llama = SimpleNamespace(_ctx=SimpleNamespace(ctx=None), _scores=scores, input_ids=np.arange(300, dtype=np.intc),
                            n_tokens=300, _seed=7)
    state = lean_save_state(llama)
    assert state.llama_state == b"kv-cache" and state.llama_state_size == 8 and state.n_tokens == 300
    assert state.scores.shape == (1, 1000) and (state.scores[0] == scores[-1]).all()
    restored = np.zeros((512, 1000), dtype=np.single)
    restored[:state.n_tokens, :] = state.scores  # what `Llama.load_state` does: one row broadcasts
    cache = bounded_ram_cache(capacity_bytes=1_000_000)
    for number in range(5):
        cache[(number, 1, 2)] = state
    assert len(cache.cache_state) == 5  # 300 tokens of logits would have left room for none
