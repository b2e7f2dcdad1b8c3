"""What each ranking signal is worth on the ReDial replay: one process, the same cases, signals switched off in turn.

Run: .venv/bin/python bench/redial_signals.py [--split tune|check|all]   (needs `convrec index` for the query and
content signals; writes bench/results/redial_signals-<split>.json)

Variants, each a full `--llm none --no-prose` replay:
- `count popularity, no content`: the popularity prior by rating count, as before rating velocity;
- `velocity popularity, no content`: ratings per year in the log (`tools.rank.popularity_prior`);
- `velocity + content`: and the description similarity to liked items (`tools.rank.CONTENT_WEIGHT`), as shipped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from convrec.evaluation import dialogues
from convrec.tools import rank

RESULTS = Path(__file__).resolve().parent / "results"


def count_popularity(catalog) -> np.ndarray:
    """The shipped prior without timestamps, which is the prior by all-time rating count."""
    undated = catalog.ratings.assign(timestamp=pd.array([None] * len(catalog.ratings), dtype="Int64"))
    return rank.popularity_prior(dataclasses.replace(catalog, ratings=undated, _cache={}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="tune", choices=["tune", "check", "all"])
    split = parser.parse_args().split
    cases = dialogues.load_cases(dialogues.CASES_PATH, None, dialogues.parse_lines(None, split))
    runtime, agent = dialogues.build_eval_agent("none", None, Path(tempfile.mkdtemp()))
    search = dialogues.warm(runtime, agent)
    recommender = runtime.recommender
    shipped_popularity, shipped_content = recommender._popularity, rank.CONTENT_WEIGHT
    variants = {
        "count popularity, no content": (count_popularity(runtime.catalog), 0.0),
        "velocity popularity, no content": (shipped_popularity, 0.0),
        "velocity + content (shipped)": (shipped_popularity, shipped_content),
    }
    results = {}
    for name, (popularity, content) in variants.items():
        recommender._popularity, rank.CONTENT_WEIGHT = popularity, content
        models = dialogues.run_dialogues(agent, runtime.catalog, cases, prose=False)["models"]
        results[name] = {metric: models["ours"][metric] for metric in ("hit@1", "hit@5", "hit@10", "ndcg@10", "mrr@10")}
        print(f"{name:34s} " + "  ".join(f"{m} {v:.3f}" for m, v in results[name].items()), flush=True)
    recommender._popularity, rank.CONTENT_WEIGHT = shipped_popularity, shipped_content
    RESULTS.mkdir(exist_ok=True)
    report = {"split": split, "cases": len(cases), "search": search, "load_average": os.getloadavg()[0],
              "variants": results}
    (RESULTS / f"redial_signals-{split}.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
