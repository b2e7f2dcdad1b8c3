"""Replay a line range of a ReDial cases file with one turn policy (`convrec eval dialogues` on a subset).

    python bench/agent_policy_replay.py CASES.jsonl --lines 401-406 --policy agent --llm openai --report out/agent
    python bench/agent_policy_replay.py CASES.jsonl --lines 401-406 --policy cards-first --llm none --report out/cf

For `--policy agent` through the local model: `convrec llm serve --model small` in another shell, and
CONVREC_OPENAI_BASE_URL=http://127.0.0.1:8351/v1 CONVREC_AGENT_TOOL_CHOICE=named. Prose is off: the scores need
only the cards. The report's dialogue section has tool calls per turn and the turns that fell back to cards-first.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from convrec.evaluation.dialogues import main


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", type=Path)
    parser.add_argument("--lines", required=True, help="first-last line numbers, 1-based and inclusive")
    parser.add_argument("--policy", choices=("cards-first", "agent"), required=True)
    parser.add_argument("--llm", choices=("none", "local", "openai"), default="none")
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()
    first, last = (int(n) for n in args.lines.split("-"))
    lines = args.cases.read_text(encoding="utf-8").splitlines()[first - 1:last]
    with tempfile.TemporaryDirectory() as folder:
        subset = Path(folder) / f"cases-{first}-{last}.jsonl"
        subset.write_text("\n".join(lines) + "\n", encoding="utf-8")
        main(args.report, llm=args.llm, policy=args.policy, prose=False, workers=1, per_turn=True, cases_path=subset)


if __name__ == "__main__":
    run()
