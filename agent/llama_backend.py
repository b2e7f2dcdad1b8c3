"""In-process llama.cpp backend. One model per process, loaded lazily off the caller's thread.

KV-cache reuse: llama.cpp keeps the previous prompt's tokens and reuses the longest common prefix, so callers
keep the system prompt byte-identical across turns and put what changes at the end.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
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


class LlamaCppLLM:
    """llama-cpp-python with the chat template embedded in the GGUF; `verbose=False` keeps the TUI clean."""

    def __init__(self, model_path: Path, *, n_ctx: int = 2048, n_threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        self.name = self.model_path.stem
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 2
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

            self._llama = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                                n_batch=512, verbose=False)
            # Reading and phrasing alternate between two system prompts; the live KV cache keeps only the last
            # prompt, so a RAM cache of saved states restores the other one's prefix instead of prefilling it.
            self._llama.set_cache(bounded_ram_cache(RAM_CACHE_BYTES))
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

    def structured(self, messages: list[Message], schema: type[T], *, max_tokens: int) -> T:
        self.load()
        with self._lock:
            reply = self._llama.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0,
                                                       grammar=self._grammar_for(schema))
        self.last_usage = dict(reply.get("usage") or {})
        return parse_structured(reply["choices"][0]["message"]["content"] or "", schema)

    def _grammar_for(self, schema: type[T]) -> Any:
        from llama_cpp import LlamaGrammar

        key = schema.__qualname__
        if key not in self._grammars:
            self._grammars[key] = LlamaGrammar.from_string(compact_grammar(schema.model_json_schema()),
                                                           verbose=False)
        return self._grammars[key]
