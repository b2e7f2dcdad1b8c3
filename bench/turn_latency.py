"""Turn latency on the demo catalog with the local model, warm, medians over the conversation's turns.

Run: .venv/bin/python bench/turn_latency.py [--model qwen2.5-coder-1.5b|qwen2.5-coder-0.5b] [--turns 12]
     (needs `convrec index` done for the demo catalog in the default data dir; ./run does it)

Reports, per turn:
- time to first cards (no LLM in front of them);
- time to LLM-revised cards (turn start → the validated LLM reading and re-ranking are done), against the raw
  llama.cpp time for the same prompt and completion length with an empty KV cache (prefill + decode, no
  grammar, no tools), measured right after in the same process;
- time to the first prose token of the first card, against a raw prefill of the same prompt (empty cache);
- prompt tokens per turn (reading + per-card prose);
- the prose fallback rate: the share of card sentences where the LLM's sentence failed the faithfulness check
  and the template sentence was shown.
The messages are the seeker turns of the ReDial dev cases, in order, one user per case.
Our turns run as in a real conversation (the KV cache keeps the shared system prefix); the raw baselines
start from an empty cache, so ratios below 1 mean prefix reuse is paying off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

from convrec.agent.events import Cards, Done, Token
from convrec.agent.llama_backend import LlamaCppLLM
from convrec.agent.reading import reading_messages
from convrec.agent.runtime import build_runtime
from convrec.agent.weights import MODELS, ensure_model
from convrec.core.settings import Settings

CASES = Path(__file__).resolve().parents[1] / "evaluation" / "data" / "redial-dev" / "cases.jsonl"


def dev_conversations(turns: int) -> list[tuple[str, str]]:
    """(user, message) pairs: the ReDial dev cases' seeker turns in order, one user per case."""
    pairs = []
    for line in CASES.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        pairs += [(case["case_id"], turn) for turn in case["seeker_turns"]]
        if len(pairs) >= turns:
            return pairs[:turns]
    return pairs


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
    """Prefill + decode from nothing: the live KV cache reset and the RAM cache of saved states out of the way
    (it would otherwise hand back this very prompt's state)."""
    cache = llm._llama.cache
    llm._llama.set_cache(None)
    llm._llama.reset()
    try:
        started = time.perf_counter()
        llm._llama.create_completion(_as_text(messages), max_tokens=max(1, completion_tokens), temperature=0.0)
        return time.perf_counter() - started
    finally:
        llm._llama.set_cache(cache)


async def one_turn(agent, llm: Timed, user: str, message: str) -> dict:
    llm.calls.clear()
    started = time.perf_counter()
    first_cards = revised = first_token = None
    cards, tokens = {}, []
    async for event in agent.turn(user, message):
        now = time.perf_counter()
        if isinstance(event, Cards):
            cards = {card.item_id: card for card in event.recommendations}
            if event.revision == 0:
                first_cards = now - started
        if isinstance(event, Token):
            first_token = first_token or now
            tokens.append(event)
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
        "sentences": len(tokens),
        "fallbacks": sum(1 for t in tokens if t.item_id in cards and t.text == cards[t.item_id].reasons[0].text),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", choices=sorted(MODELS))
    parser.add_argument("--turns", type=int, default=12, help="seeker turns from the ReDial dev cases")
    args = parser.parse_args()
    settings = Settings(llm="local", model=args.model)
    llm = Timed(ensure_model(MODELS[args.model], settings.models_dir), n_ctx=settings.n_ctx)
    llm.load()
    runtime = build_runtime(settings, llm=llm)
    runtime.search.warm()
    asyncio.run(one_turn(runtime.agent, llm, "bench-warm-up", "warm-up: I like comedies"))
    conversations = dev_conversations(args.turns)
    rows = [asyncio.run(one_turn(runtime.agent, llm, user, message)) for user, message in conversations]
    for user in {"bench-warm-up", *(user for user, _ in conversations)}:
        runtime.memory.forget_user(user)

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
        "prose_fallback_rate": round(sum(r["fallbacks"] for r in rows) / max(1, sum(r["sentences"] for r in rows)), 3),
    }
    for key, value in summary.items():
        print(f"{key:>40}  {value}")
    summary["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    out = Path(__file__).parent / "results" / f"turn_latency-{args.model}.json"
    out.write_text(json.dumps({"summary": summary, "turns": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
