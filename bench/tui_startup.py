"""Start-up of the terminal UI against Textual's own empty App, measured in the same run.

Run: .venv/bin/python bench/tui_startup.py [--reps 7] [--llm none,local]   (writes bench/results/tui_startup.json)

Each measurement is a fresh headless subprocess (interpreter start and imports included). The parent notes the
wall clock just before it starts the child; the child reports the wall clock at
- first paint: the first refresh after the app mounted (`call_after_refresh` in `on_mount`);
- ready: for convrec, `ConvrecApp.Ready` (catalog, CF, item similarities and, with `--llm local`, the model's
  weights loaded); for the empty app, its first paint.
The convrec child imports `convrec.cli.main` first, as the `convrec` command does. Caches are warm: one untimed
run per variant first (OS file cache, .pyc files, the CF/EASE models in the data dir). The data dir is a
temporary one, so the benchmark never touches your sessions. Runs are interleaved (empty, none, local, empty, …)
so that load from other processes hits every variant alike; medians of `--reps` runs. The machine's 1-minute
load average is recorded with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EMPTY_APP = """
import json, sys, time
from textual.app import App

class Empty(App):
    def on_mount(self):
        self.call_after_refresh(self.painted)

    def painted(self):
        now = time.time()
        print(json.dumps({"paint": now, "ready": now}), flush=True)
        self.exit()

Empty().run(headless=True, size=(160, 48))
"""

CONVREC_APP = """
import json, sys, time
import convrec.cli.main  # what `convrec` imports before it opens the UI
from convrec.tui.app import ConvrecApp

marks = {}

class Timed(ConvrecApp):
    def on_mount(self):
        self.call_after_refresh(self.painted)

    def painted(self):
        marks["paint"] = time.time()

    def on_convrec_app_ready(self, message):
        marks["ready"] = time.time()
        self.exit()

    def _load_failed(self, text):
        marks["error"] = text
        self.exit()

Timed(user="bench", settings={"llm": sys.argv[1]}, warm_search=False).run(headless=True, size=(160, 48))
print(json.dumps(marks), flush=True)
"""


def run_child(code: str, args: list[str], env: dict[str, str]) -> dict[str, float]:
    started = time.time()
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    marks = json.loads(done.stdout.strip().splitlines()[-1])
    if "error" in marks:
        raise SystemExit(f"convrec could not start: {marks['error']}")
    return {"paint_s": marks["paint"] - started, "ready_s": marks["ready"] - started}


def summary(label: str, runs: list[dict[str, float]]) -> dict:
    paint = statistics.median(r["paint_s"] for r in runs)
    ready = statistics.median(r["ready_s"] for r in runs)
    print(f"  {label:<28} first paint {paint:6.3f} s   ready {ready:6.3f} s", flush=True)
    return {"first_paint_s": round(paint, 3), "ready_s": round(ready, 3),
            "runs": [{k: round(v, 3) for k, v in r.items()} for r in runs]}


def model_present() -> bool:
    from convrec.core.settings import Settings

    settings = Settings()
    if settings.model_path is not None:
        return Path(settings.model_path).is_file()
    return any(settings.models_dir.glob(f"{settings.model}*.gguf"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--llm", default="none,local", help="comma-separated: none, local (skipped if no model)")
    options = parser.parse_args()
    variants = [v for v in options.llm.split(",") if v]
    if "local" in variants and not model_present():
        print("no local model in the cache: skipping --llm local (run `convrec model ensure`)")
        variants.remove("local")

    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "CONVREC_DATA_DIR": data_dir, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        env.pop("CONVREC_LLM", None)
        print(f"medians of {options.reps} runs each, headless, 160x48, warm caches, interleaved")
        variants_code = [("empty", EMPTY_APP, [])] + [(llm, CONVREC_APP, [llm]) for llm in variants]
        for _, code, args in variants_code:
            run_child(code, args, env)  # warm-up, untimed
        runs: dict[str, list] = {name: [] for name, _, _ in variants_code}
        for _ in range(options.reps):  # interleaved, so a busy moment of the machine hits every variant alike
            for name, code, args in variants_code:
                runs[name].append(run_child(code, args, env))
        empty = summary("textual empty App", runs["empty"])
        convrec = {llm: summary(f"convrec (--llm {llm})", runs[llm]) for llm in variants}

    first = next(iter(convrec.values()))
    results = {
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
        "reps": options.reps,
        "empty_app": empty,
        "convrec": convrec,
        "first_paint_ratio": round(first["first_paint_s"] / empty["first_paint_s"], 3),
        "goal": "first paint <= 1.5x the empty app and < 0.5 s",
    }
    print()
    print(f"{'':<28}{'first paint':>14}{'ready':>10}{'paint / empty':>16}")
    print(f"{'textual empty App':<28}{empty['first_paint_s']:>12.3f} s{empty['ready_s']:>8.3f} s{1:>16.2f}")
    for llm, row in convrec.items():
        ratio = row["first_paint_s"] / empty["first_paint_s"]
        print(f"{'convrec --llm ' + llm:<28}{row['first_paint_s']:>12.3f} s{row['ready_s']:>8.3f} s{ratio:>16.2f}")
    out = Path(__file__).parent / "results" / "tui_startup.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
