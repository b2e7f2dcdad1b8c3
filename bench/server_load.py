"""Load on the HTTP server: simulated chat-platform users on the OpenAI-compatible streaming endpoint.

Run: .venv/bin/python bench/server_load.py [--users 50] [--seconds 120] [--llm-users 8] [--llm-seconds 120]
                                         [--skip-llm] [--model qwen2.5-coder-1.5b] [--data-dir DIR] [--out PATH]

Phase 1 starts `convrec serve --llm none` and runs `--users` users for `--seconds`; phase 2 (unless --skip-llm)
restarts it with the local model and runs `--llm-users` users for `--llm-seconds`. Each user plays ReDial dev
conversations (the seeker's turns, in order), sends the whole history each time as platforms do, waits 0.5-1.5 s
between turns, and likes a card now and then (POST /v1/feedback). Reported per phase:

- throughput: turns answered per second (and feedback acknowledged);
- time to cards (request sent → the chunk carrying the structured cards) and time to first token (→ the first
  text chunk), p50 / p95, plus the whole turn;
- errors: non-200 answers, error chunks, streams without [DONE], transport failures (goal: 0);
- the server's RSS after start-up, at the end, and its peak (goal: bounded).

All traffic goes to 127.0.0.1. Every loop is bounded: no turn starts after the phase's deadline, and every request
has a timeout. The data dir defaults to a fresh temporary one (the CF model and item similarities are trained at
start-up, not timed; semantic search is empty unless you pass a --data-dir where `convrec index` ran).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "evaluation" / "data" / "redial-dev" / "cases.jsonl"
FALLBACK = [["hi, something funny for tonight?", "I loved The Hangover", "no horror please", "more like that"],
            ["I loved The Matrix and Inception", "something more recent please", "thanks!"],
            ["I want a thriller from the 90s", "I hated Titanic", "what about Heat?"]]
MAX_TURNS = 6  # per conversation, then the user starts a new chat
THINK_S = (0.5, 1.5)


def conversations() -> list[list[str]]:
    if not CASES.exists():
        return FALLBACK
    return [json.loads(line)["seeker_turns"][:MAX_TURNS] for line in CASES.read_text(encoding="utf-8").splitlines()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 3)


class Stats:
    def __init__(self) -> None:
        self.cards: list[float] = []
        self.first_token: list[float] = []
        self.turn: list[float] = []
        self.turns = 0
        self.feedback = 0
        self.errors: dict[str, int] = {}
        self.refused = 0  # 503 from a full LLM queue (counted in errors too)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def report(self, seconds: float) -> dict:
        return {
            "turns": self.turns, "feedback": self.feedback, "seconds": round(seconds, 1),
            "turns_per_s": round(self.turns / seconds, 2) if seconds else None,
            "time_to_cards_s": {"p50": percentile(self.cards, 0.5), "p95": percentile(self.cards, 0.95)},
            "time_to_first_token_s": {"p50": percentile(self.first_token, 0.5),
                                      "p95": percentile(self.first_token, 0.95)},
            "turn_s": {"p50": percentile(self.turn, 0.5), "p95": percentile(self.turn, 0.95)},
            "errors": sum(self.errors.values()), "error_kinds": self.errors, "refused_503": self.refused,
        }


async def one_turn(client: httpx.AsyncClient, user: str, history: list[dict], stats: Stats,
                   timeout: float) -> tuple[str | None, list[dict]]:
    started = time.perf_counter()
    text, cards, done, seen_cards, seen_token = "", [], False, False, False
    try:
        async with client.stream("POST", "/v1/chat/completions", timeout=timeout,
                                 json={"model": "convrec", "user": user, "stream": True, "messages": history}) as reply:
            if reply.status_code != 200:
                await reply.aread()
                stats.error(f"http {reply.status_code}")
                stats.refused += reply.status_code == 503
                return None, []
            async for line in reply.aiter_lines():
                if not line.startswith("data: "):
                    continue
                payload = line[len("data: "):]
                if payload == "[DONE]":
                    done = True
                    break
                chunk = json.loads(payload)
                if "error" in chunk:
                    stats.error("error chunk")
                    return None, []
                extra = chunk.get("convrec") or {}
                if extra.get("type") == "cards":
                    cards = extra["recommendations"]
                    if not seen_cards:
                        seen_cards = True
                        stats.cards.append(time.perf_counter() - started)
                content = (chunk["choices"][0]["delta"].get("content") or "") if chunk.get("choices") else ""
                if content and not seen_token:
                    seen_token = True
                    stats.first_token.append(time.perf_counter() - started)
                text += content
    except (httpx.TransportError, json.JSONDecodeError, KeyError) as error:
        stats.error(type(error).__name__)
        return None, []
    if not done:
        stats.error("no [DONE]")
        return None, []
    stats.turn.append(time.perf_counter() - started)
    stats.turns += 1
    return text, cards


async def simulated_user(index: int, users: int, client: httpx.AsyncClient, deadline: float, stats: Stats,
                         timeout: float, chats: list[list[str]]) -> None:
    rng = random.Random(index)
    user = f"bench-{index}"
    chat = index
    while time.monotonic() < deadline:
        history: list[dict] = []
        for message in chats[chat % len(chats)]:
            if time.monotonic() >= deadline:
                return
            history.append({"role": "user", "content": message})
            reply, cards = await one_turn(client, user, history, stats, timeout)
            if reply is None:
                await asyncio.sleep(rng.uniform(*THINK_S))
                break  # a failed turn: start a new chat
            history.append({"role": "assistant", "content": reply})
            if cards and rng.random() < 0.3:
                try:
                    saved = await client.post("/v1/feedback", timeout=timeout, json={
                        "user": user, "item_id": rng.choice(cards)["item_id"], "action": rng.choice(["like", "dislike"])})
                    if saved.status_code == 200:
                        stats.feedback += 1
                    else:
                        stats.error(f"feedback http {saved.status_code}")
                except httpx.TransportError as error:
                    stats.error(f"feedback {type(error).__name__}")
            await asyncio.sleep(rng.uniform(*THINK_S))
        chat += users


async def load(base: str, key: str, users: int, seconds: float, timeout: float, pid: int) -> dict:
    stats, chats = Stats(), conversations()
    peak = [rss_mb(pid)]

    async def sample_rss(stop: asyncio.Event) -> None:
        while not stop.is_set():
            peak.append(rss_mb(pid))
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass

    limits = httpx.Limits(max_connections=users + 8, max_keepalive_connections=users + 8)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, limits=limits) as client:
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(stop))
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(simulated_user(i, users, client, deadline, stats, timeout, chats) for i in range(users)))
        elapsed = time.monotonic() - started
        stop.set()
        await sampler
    return {**stats.report(elapsed), "rss_peak_mb": round(max(peak), 1)}


def start_server(port: int, env: dict, llm: str, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-c", "from convrec.cli.main import run; run()", "serve", "--llm", llm,
               "--port", str(port), "--rate", "100000", "--burst", "100000", "--llm-queue", "64"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))


def wait_ready(base: str, server: subprocess.Popen, limit_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"the server was not ready after {limit_s:.0f} s")


def phase(name: str, llm: str, users: int, seconds: float, timeout: float, env: dict, key: str, logs: Path) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(port, env, llm, logs / f"server-{name}.log")
    try:
        startup_s = wait_ready(base, server, 900)
        rss_start = rss_mb(server.pid)
        print(f"[{name}] ready in {startup_s:.1f} s, RSS {rss_start:.0f} MB; {users} users for {seconds:.0f} s",
              flush=True)
        result = asyncio.run(load(base, key, users, seconds, timeout, server.pid))
        result.update(phase=name, llm=llm, users=users, startup_s=round(startup_s, 1), rss_start_mb=round(rss_start, 1),
                      rss_end_mb=round(rss_mb(server.pid), 1))
        return result
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(30)


def show(result: dict) -> None:
    cards, first, turn = result["time_to_cards_s"], result["time_to_first_token_s"], result["turn_s"]
    print(f"[{result['phase']}] {result['turns']} turns in {result['seconds']} s = {result['turns_per_s']} turns/s, "
          f"{result['feedback']} feedback acknowledged")
    print(f"  time to cards p50 {cards['p50']} s, p95 {cards['p95']} s; first token p50 {first['p50']} s, "
          f"p95 {first['p95']} s; whole turn p50 {turn['p50']} s, p95 {turn['p95']} s")
    print(f"  errors {result['errors']} {result['error_kinds'] or ''}; server RSS {result['rss_start_mb']} MB at start, "
          f"{result['rss_end_mb']} MB at the end, peak {result['rss_peak_mb']} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--llm-users", type=int, default=8)
    parser.add_argument("--llm-seconds", type=float, default=120)
    parser.add_argument("--skip-llm", action="store_true", help="only the --llm none phase")
    parser.add_argument("--model", default=None, help="qwen2.5-coder-1.5b (default) or qwen2.5-coder-0.5b")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a fresh temporary data dir")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "server_load.json")
    args = parser.parse_args()
    if min(args.users, args.llm_users) < 1 or min(args.seconds, args.llm_seconds) <= 0:
        parser.error("users and seconds must be positive")

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="convrec-bench-"))
    env = {**os.environ, "CONVREC_DATA_DIR": str(data_dir), "CONVREC_CONFIG": str(data_dir / "no-config.toml")}
    if args.model:
        env["CONVREC_MODEL"] = args.model
    os.environ.update({k: v for k, v in env.items() if k.startswith("CONVREC_")})
    from convrec.core.settings import Settings
    from convrec.server.keys import KeyStore

    key = KeyStore(Settings().state_db).create("bench")[1]
    results = [phase("llm-none", "none", args.users, args.seconds, 120, env, key, data_dir)]
    show(results[-1])
    if not args.skip_llm:
        results.append(phase("llm-local", "local", args.llm_users, args.llm_seconds, 900, env, key, data_dir))
        show(results[-1])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "cpu_count": os.cpu_count(),
                                    "model": args.model or "default", "phases": results}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
