"""Turn latency on the demo catalog with the local model, warm, medians over the conversation's turns.

Run: .venv/bin/python bench/turn_latency.py [--model qwen2.5-coder-1.5b|qwen2.5-coder-0.5b]
     (needs `convrec index` done for the demo catalog in the default data dir; ./run does it)

Reports, per turn:
- time to first cards (no LLM in front of them);
- time to LLM-revised cards (turn start → the validated LLM reading and re-ranking are done), against the raw
  llama.cpp time for the same prompt and completion length with an empty KV cache (prefill + decode, no
  grammar, no tools), measured right after in the same process;
- time to the first prose token of the first card, against a raw prefill of the same prompt (empty cache);
- prompt tokens per turn (reading + per-card prose).
Our turns run as in a real conversation (the KV cache keeps the shared system prefix); the raw baselines
start from an empty cache, so ratios below 1 mean prefix reuse is paying off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

from convrec.agent.events import Cards, Done, Token
from convrec.agent.llama_backend import LlamaCppLLM
from convrec.agent.reading import reading_messages
from convrec.agent.runtime import build_runtime
from convrec.agent.weights import MODELS, ensure_model
from convrec.core.settings import Settings

MESSAGES = [
    "hi, I need something for tonight", "I loved The Matrix, hate rom-coms", "something more recent please",
    "no horror", "I also liked Heat and Ronin", "anything with a heist?", "Inception was great too",
    "maybe a bit funnier", "not Up, I didn't like it", "older movies are fine too", "what about sci-fi from the 90s",
    "I want a mind-bending story with a twist ending",
]


class Timed(LlamaCppLLM):
    """The real backend, recording when calls start, when their first piece arrives, and their token counts."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[dict] = []

    def structured(self, messages, schema, *, max_tokens):
        started = time.perf_counter()
        result = super().structured(messages, schema, max_tokens=max_tokens)
        self.calls.append({"kind": "read", "start": started, "end": time.perf_counter(), "messages": messages,
                           **self.last_usage})
        return result

    def stream_chat(self, messages, *, max_tokens, temperature=0.3, stop=None):
        record = {"kind": "prose", "start": time.perf_counter(), "first": None, "messages": messages,
                  "prompt_tokens": len(self._llama.tokenize(_as_text(messages).encode(), special=True))}
        self.calls.append(record)
        for piece in super().stream_chat(messages, max_tokens=max_tokens, temperature=temperature, stop=stop):
            record["first"] = record["first"] or time.perf_counter()
            yield piece


def _as_text(messages) -> str:
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"


def raw_generation(llm: LlamaCppLLM, messages, completion_tokens: int) -> float:
    llm._llama.reset()
    started = time.perf_counter()
    llm._llama.create_completion(_as_text(messages), max_tokens=max(1, completion_tokens), temperature=0.0)
    return time.perf_counter() - started


async def one_turn(agent, llm: Timed, message: str) -> dict:
    llm.calls.clear()
    started = time.perf_counter()
    first_cards = revised = first_token = None
    async for event in agent.turn("bench", message):
        now = time.perf_counter()
        if isinstance(event, Cards) and event.revision == 0:
            first_cards = now - started
        if isinstance(event, Token) and first_token is None:
            first_token = now
        if isinstance(event, Done):
            done = event
    read = next((c for c in llm.calls if c["kind"] == "read"), None)
    prose = next((c for c in llm.calls if c["kind"] == "prose"), None)
    revised = (read["end"] - started) if read else None
    return {
        "message": message, "cards_ms": first_cards * 1000, "revised_s": revised,
        "read_tokens": (read or {}).get("prompt_tokens"), "completion_tokens": (read or {}).get("completion_tokens"),
        "raw_read_s": raw_generation(llm, read["messages"], read["completion_tokens"]) if read else None,
        "first_prose_token_s": (prose["first"] - prose["start"]) if prose and prose["first"] else None,
        "raw_prose_prefill_s": raw_generation(llm, prose["messages"], 1) if prose else None,
        "prompt_tokens_turn": sum(c.get("prompt_tokens") or 0 for c in llm.calls), "degraded": done.degraded,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", choices=sorted(MODELS))
    args = parser.parse_args()
    settings = Settings(llm="local", model=args.model)
    llm = Timed(ensure_model(MODELS[args.model], settings.models_dir), n_ctx=settings.n_ctx)
    llm.load()
    runtime = build_runtime(settings, llm=llm)
    runtime.search.warm()
    asyncio.run(one_turn(runtime.agent, llm, "warm-up: I like comedies"))
    runtime.memory.forget_user("bench")
    rows = [asyncio.run(one_turn(runtime.agent, llm, message)) for message in MESSAGES]
    runtime.memory.forget_user("bench")

    def median(key):
        values = [row[key] for row in rows if row[key] is not None]
        return statistics.median(values) if values else None

    ratio_revised = statistics.median(r["revised_s"] / r["raw_read_s"] for r in rows if r["revised_s"])
    ratio_prose = statistics.median(r["first_prose_token_s"] / r["raw_prose_prefill_s"]
                                    for r in rows if r["first_prose_token_s"])
    summary = {
        "model": args.model, "turns": len(rows),
        "first_cards_ms_median": round(median("cards_ms"), 1),
        "revised_cards_s_median": round(median("revised_s"), 2),
        "raw_read_s_median": round(median("raw_read_s"), 2),
        "ratio_revised_over_raw_median": round(ratio_revised, 2),
        "first_prose_token_s_median": round(median("first_prose_token_s"), 3),
        "raw_prose_prefill_s_median": round(median("raw_prose_prefill_s"), 3),
        "ratio_first_token_over_prefill_median": round(ratio_prose, 2),
        "read_prompt_tokens_median": median("read_tokens"),
        "read_completion_tokens_median": median("completion_tokens"),
        "prompt_tokens_per_turn_median": median("prompt_tokens_turn"),
        "degraded_turns": sum(1 for r in rows if r["degraded"]),
    }
    for key, value in summary.items():
        print(f"{key:>40}  {value}")
    out = Path(__file__).parent / "results" / f"turn_latency-{args.model}.json"
    out.write_text(json.dumps({"summary": summary, "turns": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
