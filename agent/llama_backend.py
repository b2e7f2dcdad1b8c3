"""In-process llama.cpp backend. One model per process, loaded lazily off the caller's thread.

KV-cache reuse: llama.cpp keeps the previous prompt's tokens and reuses the longest common prefix, so callers
keep the system prompt byte-identical across turns and put what changes at the end.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from convrec.agent.llm import LLMError, Message, T, parse_structured

RAM_CACHE_BYTES = 512 * 1024 * 1024


def compact_grammar(schema: dict[str, Any]) -> str:
    """GBNF for `schema` with no optional whitespace: the model otherwise spends tokens on spaces."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(schema))
    return re.sub(r"^space ::= .*$", 'space ::= ""', gbnf, flags=re.MULTILINE)


def bounded_ram_cache(capacity_bytes: int):
    """llama-cpp-python's RAM cache, with every byte of a saved state counted against the capacity.

    `LlamaRAMCache` counts only the llama.cpp state, but each saved state also holds a copy of the logits of every
    prompt token (tokens × vocabulary floats: ~80 MB for a 130-token prompt with Qwen's 152k vocabulary). Uncounted,
    a server with the local model grew from 2.6 to 11 GB in 16 turns (bench/server_load.py)."""
    from llama_cpp import LlamaRAMCache

    class BoundedRAMCache(LlamaRAMCache):
        @property
        def cache_size(self) -> int:
            return sum(state.llama_state_size + state.scores.nbytes + state.input_ids.nbytes
                       for state in self.cache_state.values())

    return BoundedRAMCache(capacity_bytes=capacity_bytes)


def lean_save_state(llama: Any) -> Any:
    """`Llama.save_state` without the logits of every prompt token: only the last row is kept.

    llama-cpp-python saves a state after every completed generation, copying `n_tokens × vocabulary` floats (145 MB
    for a 240-token prompt with Qwen's 152k vocabulary: 0.05-0.6 s per card sentence on a busy 2-core machine), and
    a 512 MB cache then holds two or three states, so the reading and phrasing prefixes evict each other. A restored
    state is re-evaluated from its last token before sampling (`load_state` sets `_requires_eval`), so the saved
    logits are never read; one row broadcasts into `load_state`'s copy."""
    import ctypes

    import llama_cpp.llama_cpp as native
    from llama_cpp import LlamaState

    size = native.llama_state_get_size(llama._ctx.ctx)
    buffer = (ctypes.c_uint8 * int(size))()
    written = int(native.llama_state_get_data(llama._ctx.ctx, buffer, size))
    if written > int(size):
        raise RuntimeError("Failed to copy llama state data")
    return LlamaState(scores=llama._scores[-1:].copy(), input_ids=llama.input_ids.copy(), n_tokens=llama.n_tokens,
                      llama_state=ctypes.string_at(buffer, written), llama_state_size=written, seed=llama._seed)


@contextmanager
def model_params_with(**overrides: Any) -> Iterator[None]:
    """Load a model with llama.cpp model params that `Llama()` does not expose (it swallows unknown keyword
    arguments): `use_extra_bufts=False` turns off the weight-repacking buffer types, where the AMX fault lives."""
    import llama_cpp.llama_cpp as native

    defaults = native.llama_model_default_params

    def patched():
        params = defaults()
        for name, value in overrides.items():
            setattr(params, name, value)
        return params

    native.llama_model_default_params = patched
    try:
        yield
    finally:
        native.llama_model_default_params = defaults


SELF_TEST_PROMPT = ("List ten films that are often recommended to people who enjoyed a science fiction film about "
                    "simulated reality, with one short reason each, as a numbered list.")


class LlamaCppLLM:
    """llama-cpp-python with the chat template embedded in the GGUF; `verbose=False` keeps the TUI clean.

    `n_threads` decodes and `n_threads_batch` prefills; `agent.local_model` chooses them for this CPU
    (bench/model_process.py: with other processes on the cores, 2 spinning threads collapse)."""

    def __init__(self, model_path: Path, *, n_ctx: int = 2048, n_threads: int = 1, n_threads_batch: int | None = None,
                 extra_bufts: bool = True) -> None:
        self.model_path = Path(model_path)
        self.name = self.model_path.stem
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_threads_batch = n_threads_batch or n_threads
        self.extra_bufts = extra_bufts
        self._llama = None
        self._grammars: dict[str, Any] = {}
        self._lock = threading.Lock()  # one generation at a time: the model and its KV cache are shared
        self.last_usage: dict[str, int] = {}  # prompt/completion tokens of the last structured call

    def load(self) -> None:
        """Load the weights (1.5-6 s). Safe to call from a worker thread; later calls are free."""
        if self._llama is not None:
            return
        try:
            from llama_cpp import Llama

            with model_params_with(use_extra_bufts=self.extra_bufts):
                self._llama = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                                    n_threads_batch=self.n_threads_batch, n_batch=512, verbose=False)
            # Reading and phrasing alternate between two system prompts; the live KV cache keeps only the last
            # prompt, so a RAM cache of saved states restores the other one's prefix instead of prefilling it.
            self._llama.set_cache(bounded_ram_cache(RAM_CACHE_BYTES))
            self._llama.save_state = partial(lean_save_state, self._llama)
        except (ValueError, OSError, RuntimeError) as error:
            raise LLMError(f"could not load the local model: {error}", where=str(self.model_path),
                           fix="run `convrec model ensure`, or set CONVREC_LLM=none to run without an LLM") from error

    def stream_chat(self, messages: list[Message], *, max_tokens: int, temperature: float = 0.3,
                    stop: list[str] | None = None) -> Iterator[str]:
        self.load()
        with self._lock:
            chunks = self._llama.create_chat_completion(messages=messages, max_tokens=max_tokens,
                                                        temperature=temperature, stop=stop, stream=True)
            for chunk in chunks:
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    yield piece

    def tokens_evaluated(self) -> tuple[int, int]:
        """Tokens llama.cpp has prefilled (prompt batches) and decoded (one at a time) since the model loaded: the
        cost of a call, independent of the machine's load (bench/prose_quality.py diffs them)."""
        import llama_cpp.llama_cpp as native

        self.load()
        perf = native.llama_perf_context(self._llama._ctx.ctx)
        return int(perf.n_p_eval), int(perf.n_eval)

    def structured(self, messages: list[Message], schema: type[T], *, max_tokens: int) -> T:
        text, self.last_usage = self.structured_text(messages, schema.model_json_schema(), schema.__qualname__,
                                                     max_tokens=max_tokens)
        return parse_structured(text, schema)

    def structured_text(self, messages: list[Message], json_schema: dict[str, Any], key: str, *,
                        max_tokens: int) -> tuple[str, dict[str, int]]:
        """The grammar-constrained reply as text, and its token usage (plain data: it crosses the process pipe)."""
        self.load()
        with self._lock:
            reply = self._llama.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0,
                                                       grammar=self._grammar_for(key, json_schema))
        return reply["choices"][0]["message"]["content"] or "", dict(reply.get("usage") or {})

    def self_test(self, max_tokens: int = 32) -> dict[str, Any]:
        """A multi-token prompt and generation (the AMX fault needed 2+ prompt tokens), timed: prefill tok/s from the
        first token's arrival, decode tok/s from the rest. The KV cache is cleared first so prefill is real."""
        self.load()
        with self._lock:
            self._llama.reset()
            cache, self._llama.cache = self._llama.cache, None
            prompt_tokens = len(self._llama.tokenize(SELF_TEST_PROMPT.encode()))
            started = time.perf_counter()
            first = None
            pieces = 0
            try:
                for _ in self._llama.create_completion(SELF_TEST_PROMPT, max_tokens=max_tokens, temperature=0.0,
                                                       stream=True):
                    pieces += 1
                    if first is None:
                        first = time.perf_counter()
            finally:
                self._llama.cache = cache
            ended = time.perf_counter()
        decode_s = ended - (first or ended)
        return {"prompt_tokens": prompt_tokens, "completion_tokens": pieces,
                "prefill_tps": round(prompt_tokens / max(1e-6, (first or ended) - started), 1),
                "decode_tps": round((pieces - 1) / decode_s, 1) if pieces > 1 and decode_s > 0 else 0.0,
                "threads": self.n_threads, "threads_batch": self.n_threads_batch, "extra_bufts": self.extra_bufts}

    def _grammar_for(self, key: str, json_schema: dict[str, Any]) -> Any:
        from llama_cpp import LlamaGrammar

        if key not in self._grammars:
            self._grammars[key] = LlamaGrammar.from_string(compact_grammar(json_schema), verbose=False)
        return self._grammars[key]
