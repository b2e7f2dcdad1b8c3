"""The model process, measured: what the pipe costs, which llama.cpp configuration to run, how many threads.

Run: .venv/bin/python bench/model_process.py [--model qwen2.5-coder-1.5b] [--turns 6] [--repeats 3]
     [--parts ipc,pipe,bufts,threads] [--out bench/results/model_process.json]
     (needs `convrec index` done for the demo catalog in the data dir; ./run does it)

Parts, each against its baseline in the same run, alternating A B A B so drift hits both:
- ipc:     whole agent turns (reading + one sentence per card) with the model in-process (the old way) vs in the
           supervised child process; the LLM time of each turn (total minus cards), paired turn by turn.
- pipe:    the pipe alone: an echo child streaming N pieces with no model, the cost per piece; multiplied by a
           turn's pieces it bounds the IPC share without the model's noise.
- bufts:   the self-test (a 30-token prompt, 32 tokens decoded) with llama.cpp's extra buffer types on vs off
           (off is the AMX-safe mode): prefill and decode tok/s.
- threads: decode/prefill thread pairs (1/2, 2/2, 1/1), with OpenMP's spinning waits and with PASSIVE waits, on
           the machine as it is and with one core kept busy by a competing process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from convrec.agent.events import Done
from convrec.agent.llama_backend import LlamaCppLLM
from convrec.agent.llm import LLMError
from convrec.agent.local_model import process_options
from convrec.agent.model_process import ModelProcess, ProcessOptions
from convrec.agent.runtime import build_runtime
from convrec.agent.weights import MODELS, ensure_model
from convrec.core.settings import Settings

CASES = Path(__file__).resolve().parents[1] / "evaluation" / "data" / "redial-dev" / "cases.jsonl"


def messages(count: int) -> list[str]:
    found = []
    for line in CASES.read_text(encoding="utf-8").splitlines():
        found += [turn for turn in json.loads(line)["seeker_turns"] if len(turn.split()) >= 4]
        if len(found) >= count:
            break
    return found[:count]


def llm_seconds(runtime, llm, user: str, message: str) -> float:
    runtime.agent.llm = llm

    async def turn() -> Done:
        done = None
        async for event in runtime.agent.turn(user, message):
            if isinstance(event, Done):
                done = event
        return done

    done = asyncio.run(turn())
    return done.total_s - done.cards_ms / 1000


def part_ipc(settings: Settings, path: Path, turns: int) -> dict:
    runtime = build_runtime(settings, use_llm=False)
    options = process_options(settings, path)
    in_process = LlamaCppLLM(path, n_ctx=settings.n_ctx, n_threads=options.n_threads,
                             n_threads_batch=options.n_threads_batch, extra_bufts=options.extra_bufts)
    child = ModelProcess(options)
    in_process.load()
    child.load()
    pairs = []
    for number, message in enumerate(messages(turns)):
        # Alternate which goes first, and let llama.cpp's OpenMP threads stop spinning before the other one starts.
        if number % 2 == 0:
            a = llm_seconds(runtime, in_process, f"a{number}", message)
            time.sleep(1)
            b = llm_seconds(runtime, child, f"b{number}", message)
        else:
            b = llm_seconds(runtime, child, f"b{number}", message)
            time.sleep(1)
            a = llm_seconds(runtime, in_process, f"a{number}", message)
        time.sleep(1)
        pairs.append((a, b))
        print(f"  ipc turn {number}: in-process {a:.2f} s, child {b:.2f} s", flush=True)
    child.close()
    ratios = [b / a for a, b in pairs]
    return {"turns": len(pairs), "in_process_s_median": round(statistics.median(a for a, _ in pairs), 2),
            "child_s_median": round(statistics.median(b for _, b in pairs), 2),
            "ratio_median": round(statistics.median(ratios), 3), "ratio_min": round(min(ratios), 3),
            "ratio_max": round(max(ratios), 3)}


def part_pipe(pieces: int = 20000) -> dict:
    child = ModelProcess(ProcessOptions(Path("none.gguf"), backend="echo"))
    text = " ".join(["w"] * pieces)
    child.load()
    started = time.perf_counter()
    received = sum(1 for _ in child.stream_chat([{"role": "user", "content": text}], max_tokens=pieces))
    elapsed = time.perf_counter() - started
    child.close()
    return {"pieces": received, "us_per_piece": round(elapsed / received * 1e6, 1)}


def self_test(path: Path, n_ctx: int, threads: int, threads_batch: int, extra_bufts: bool) -> dict:
    child = ModelProcess(ProcessOptions(path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads_batch,
                                        extra_bufts=extra_bufts))
    try:
        child.self_test()  # the first run warms the weights' pages
        return child.self_test()
    except LLMError as error:  # a collapse past the stall timeout is a result too
        return {"prefill_tps": 0.0, "decode_tps": 0.0, "failed": error.what}
    finally:
        child.close()


def part_bufts(path: Path, n_ctx: int, repeats: int) -> dict:
    runs = {"on": [], "off": []}
    for _ in range(repeats):
        for mode in ("on", "off"):
            runs[mode].append(self_test(path, n_ctx, 1, 1, mode == "on"))
            print(f"  bufts {mode}: {runs[mode][-1]}", flush=True)
    return {mode: _medians(results) for mode, results in runs.items()}


def part_threads(path: Path, n_ctx: int, repeats: int) -> dict:
    """Thread pairs, with OpenMP's spinning waits (ACTIVE, as llama.cpp runs by default) and sleeping ones (PASSIVE)."""
    configurations = [(1, 1, None), (1, 2, "PASSIVE"), (2, 2, "PASSIVE"), (2, 2, "ACTIVE")]
    report = {}
    for condition in ("as is", "one core busy"):
        competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if condition != "as is" else None
        try:
            for threads, batch, policy in configurations:
                _set_wait_policy(policy)
                results = [self_test(path, n_ctx, threads, batch, True) for _ in range(repeats)]
                name = f"{condition}: {threads} decode / {batch} prefill" + (f", OMP {policy}" if policy else "")
                report[name] = _medians(results)
                print(f"  threads {name}: {report[name]}", flush=True)
        finally:
            _set_wait_policy(None)
            if competitor is not None:
                competitor.kill()
                competitor.wait()
    return report


def _set_wait_policy(policy: str | None) -> None:
    """The model child inherits the environment: OMP_WAIT_POLICY is read when llama.cpp's OpenMP runtime starts."""
    if policy is None:
        os.environ.pop("OMP_WAIT_POLICY", None)
    else:
        os.environ["OMP_WAIT_POLICY"] = policy


def _medians(results: list[dict]) -> dict:
    return {key: round(statistics.median(r[key] for r in results), 1) for key in ("prefill_tps", "decode_tps")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", choices=sorted(MODELS))
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parts", default="ipc,pipe,bufts,threads")
    parser.add_argument("--out", type=Path, default=Path("bench/results/model_process.json"))
    args = parser.parse_args()
    settings = Settings(model=args.model, n_ctx=2048)
    path = ensure_model(MODELS[args.model], settings.models_dir)
    parts = args.parts.split(",")
    result: dict = {"model": args.model, "load_average_before": os.getloadavg(), "cpus": os.cpu_count()}
    if "pipe" in parts:
        result["pipe"] = part_pipe()
        print("pipe:", result["pipe"], flush=True)
    if "ipc" in parts:
        result["ipc"] = part_ipc(settings, path, args.turns)
        print("ipc:", result["ipc"], flush=True)
    if "bufts" in parts:
        result["bufts"] = part_bufts(path, settings.n_ctx, args.repeats)
        print("bufts:", result["bufts"], flush=True)
    if "threads" in parts:
        result["threads"] = part_threads(path, settings.n_ctx, args.repeats)
        print("threads:", result["threads"], flush=True)
    result["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
