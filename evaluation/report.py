"""The offline report: `offline.json`, `offline.png` (matplotlib, Agg) and rich tables on the console."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from convrec.core.files import atomic_write
from convrec.evaluation.splits import PROTOCOLS

JSON_NAME = "offline.json"
PNG_NAME = "offline.png"
RATING_LABELS = {"svd": "Surprise SVD", "knnbaseline": "KNNBaseline (item, pearson_baseline)",
                 "baselineonly": "BaselineOnly", "ours": "ours (cfmodel SVD via tools.cf)"}
TOPN_LABELS = {"popularity": "popularity", "svd": "SVD by predicted rating", "itemknn": "item-kNN cosine (liked)",
               "ease": "EASE λ=500", "hybrid": "ours: hybrid Recommender"}
COLD_LABELS = {"popularity": "popularity", "ease": "EASE (given ids)", "ours": "ours (typed titles)"}


def write_report(report: dict, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / JSON_NAME, "png": folder / PNG_NAME}
    atomic_write(paths["json"], json.dumps(_plain(report), indent=2, ensure_ascii=False) + "\n")
    plot(report, paths["png"])
    return paths


def _plain(value):
    """JSON-safe: numpy scalars to Python, NaN/inf to null."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    k = report["config"]["k"]
    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(17, 5.2), layout="constrained")
    ratings = report["rating_prediction"]
    names = list(ratings)
    width = 0.38
    for shift, metric, color in ((-width / 2, "rmse", "#4c72b0"), (width / 2, "mae", "#a1c9f4")):
        left.bar([i + shift for i in range(len(names))], [ratings[n][metric] for n in names], width, color=color,
                 label=metric.upper())
    left.set_xticks(range(len(names)), [RATING_LABELS.get(n, n).split(" (")[0] for n in names], rotation=20)
    left.set_title(f"{report['catalog']['name']}: rating prediction, {report['config']['folds']}-fold CV")
    left.legend(loc="lower right")

    models = report["topn"]["models"]
    names = list(models)
    width = 0.38
    for shift, metric, color in ((-width / 2, f"hr@{k}", "#dd8452"), (width / 2, f"ndcg@{k}", "#55a868")):
        middle.bar([i + shift for i in range(len(names))], [models[n][metric] or 0 for n in names], width,
                   color=color, label=metric.upper())
    middle.errorbar([i - width / 2 for i in range(len(names))], [models[n][f"hr@{k}"] or 0 for n in names],
                    yerr=[models[n]["hr_ci95"] or 0 for n in names], fmt="none", ecolor="#333333", capsize=3)
    middle.set_xticks(range(len(names)), [TOPN_LABELS.get(n, n).split(" (")[0].replace("ours: ", "")
                                          for n in names], rotation=20)
    middle.set_title(f"Top-N, leave-latest-liked-out ({report['topn']['users']} users, all items)")
    middle.legend()

    for axis in (left, middle):
        plt.setp(axis.get_xticklabels(), ha="right", rotation_mode="anchor")

    cold = report["cold_start"]["results"]
    styles = {"recent": "-", "earliest": "--"}
    colors = {"popularity": "#8c8c8c", "ease": "#4c72b0", "ours": "#c44e52"}
    for protocol in PROTOCOLS:
        reveal = [int(r) for r in cold.get(protocol, {})]
        for model, color in colors.items():
            values = [cold[protocol][str(r)][model][f"hr@{k}"] for r in reveal]
            if reveal and all(v is not None for v in values):
                right.plot(reveal, values, styles[protocol], marker="o", color=color,
                           label=f"{COLD_LABELS[model]}, {protocol}")
    right.set_xlabel("liked items told (k)")
    right.set_ylabel(f"HR@{k}")
    right.set_title(f"Cold start ({report['cold_start']['users']} new users): solid recent, dashed earliest")
    right.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _number(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def print_report(report: dict, console: Console) -> None:
    k = report["config"]["k"]
    ratings = report["rating_prediction"]
    table = Table(title=f"Rating prediction ({report['config']['folds']}-fold CV, KFold random_state="
                        f"{report['config']['split_seed']})")
    for column in ("model", "RMSE", "MAE", "fit s", "predict s", "max |Δ| vs predict"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, row in ratings.items():
        check = row["max_diff_vs_predict"]
        table.add_row(RATING_LABELS.get(name, name), _number(row["rmse"], 4), _number(row["mae"], 4),
                      f"{row['fit_s']:.1f}", f"{row['predict_s']:.1f}", "–" if check is None else f"{check:.1e}")
    console.print(table)

    topn = report["topn"]
    table = Table(title=f"Top-N, leave-latest-liked-out: {topn['users']} users, {topn['items']:,} items ranked, "
                        f"known items excluded")
    table.add_column("model")
    for metric in ("HR", "NDCG", "MRR", "Precision", "Recall"):
        table.add_column(f"{metric}@{k}", justify="right")
    for name, row in topn["models"].items():
        table.add_row(TOPN_LABELS.get(name, name), f"{_number(row[f'hr@{k}'])} ± {_number(row['hr_ci95'])}",
                      *(_number(row[f"{m}@{k}"]) for m in ("ndcg", "mrr", "precision", "recall")))
    console.print(table)
    ms = topn["hybrid_ms_per_user"]
    console.print(f"hybrid Recommender: {_number(ms['mean'], 1)} ms per user (p95 {_number(ms['p95'], 1)})",
                  highlight=False)

    cold = report["cold_start"]
    reveal = report["config"]["reveal"]
    table = Table(title=f"Cold start: {cold['users']} new users (≥ {cold['min_liked']} likes) in {cold['groups']} "
                        f"group(s), HR@{k} / NDCG@{k}")
    table.add_column("protocol")
    table.add_column("model")
    for r in reveal:
        table.add_column(f"k={r}", justify="right")
    for protocol in PROTOCOLS:
        for model, label in COLD_LABELS.items():
            cells = [cold["results"][protocol][str(r)][model] for r in reveal]
            table.add_row(protocol, label, *(f"{_number(c[f'hr@{k}'])} / {_number(c[f'ndcg@{k}'])}" for c in cells))
    console.print(table)
    linking = cold["linking"]
    console.print(f"linking of typed titles: {_number(linking['accuracy'])} of {linking['typed_titles']:,} "
                  f"({linking['wrong_links']} wrong links, {linking['ambiguous']} ambiguous); "
                  f"ours {_number(cold['ours_ms_per_request']['mean'], 1)} ms per request", highlight=False)

    table = Table(title="Targets (ratios measured in this run)")
    for column in ("target", "ours", "baseline", "ratio", "goal", "met"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for name, target in report["targets"].items():
        met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "–"}[target["met"]]
        if target.get("note"):
            met = f"({'yes' if target['met'] else 'no'}, info)"
        table.add_row(f"{name}: {target['what']}", _number(target["ours"], 4), _number(target["baseline"], 4),
                      _number(target["ratio"], 2), target["goal"], met)
    console.print(table)
    console.print(f"wall time {report['timings_s']['wall']:.0f} s with {report['timings_s']['workers']} process(es)",
                  highlight=False)
