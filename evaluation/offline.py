"""`convrec eval offline`: rating prediction, top-N and cold start on one catalog, in one seeded run.

The run is cut into independent parts (one per rating fold, the top-N run, one per group of new users) that can run
in parallel processes; each part is deterministic, so the result does not depend on how many processes ran it.
Writes `offline.json` and `offline.png` into the report folder.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from convrec.catalog.models import Catalog
from convrec.core.errors import InputError
from convrec.core.progress import Progress, no_progress
from convrec.evaluation import coldstart, rating, topn
from convrec.evaluation.common import QUICK, Config

TARGETS = {
    "hybrid_vs_best_baseline": 1.1,  # hybrid HR@10 ≥ 1.1 × the best single baseline's
    "cold_k3_vs_popularity": 3.0,  # our cold-start HR@10 with 3 items (recent protocol) ≥ 3 × popularity's
    "rmse_vs_svd": 1.02,  # our RMSE ≤ 1.02 × Surprise SVD's
}
COLD_TARGET_K = 3


def _run_part(catalog: Catalog, config: Config, kind: str, index: int) -> tuple[str, int, dict, float]:
    started = time.perf_counter()
    if kind == "rating":
        result = rating.rating_fold(catalog, config, index)
    elif kind == "warm":
        result = topn.warm_topn(catalog, config)
    else:
        result = coldstart.cold_group(catalog, config, index)
    return kind, index, result, time.perf_counter() - started


def plan(config: Config) -> list[tuple[str, int]]:
    """The parts, longest first so that parallel processes finish together."""
    return [("warm", 0), *(("cold", g) for g in range(config.cold_groups)),
            *(("rating", f) for f in range(config.folds))]


def run_offline(catalog: Catalog, config: Config, progress: Progress = no_progress) -> dict:
    _check(catalog, config)
    started = time.perf_counter()
    parts = plan(config)
    done: list[tuple[str, int, dict, float]] = []
    progress("evaluating", 0, len(parts))
    if config.workers > 1:
        import multiprocessing

        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
        with ProcessPoolExecutor(max_workers=config.workers, mp_context=context) as pool:
            futures = [pool.submit(_run_part, catalog, config, kind, index) for kind, index in parts]
            for future in as_completed(futures):
                done.append(future.result())
                progress("evaluating", len(done), len(parts))
    else:
        for kind, index in parts:
            done.append(_run_part(catalog, config, kind, index))
            progress("evaluating", len(done), len(parts))
    by_kind = {kind: [result for k, _, result, _ in sorted(done, key=lambda d: d[1]) if k == kind]
               for kind in ("rating", "warm", "cold")}
    report = {
        "catalog": {"name": catalog.name, "fingerprint": catalog.fingerprint[:16], "items": len(catalog),
                    "ratings": len(catalog.ratings), "users": int(catalog.ratings["user_id"].nunique())},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config.as_dict(),
        "rating_prediction": rating.summarize(by_kind["rating"], config),
        "topn": topn.summarize(by_kind["warm"][0], config.k),
        "cold_start": coldstart.summarize(by_kind["cold"], config),
    }
    report["targets"] = targets(report, config)
    report["timings_s"] = {"wall": time.perf_counter() - started, "workers": config.workers,
                           "parts": {f"{kind}{index}": seconds for kind, index, _, seconds in done}}
    return report


def targets(report: dict, config: Config) -> dict:
    """Each target as a ratio measured in this run, with its goal and whether it is met."""
    hr = f"hr@{config.k}"
    models = report["topn"]["models"]
    baselines = {name: models[name][hr] for name in topn.BASELINES}
    best = max(baselines, key=lambda name: baselines[name] or 0.0)
    cold = report["cold_start"]["results"]
    result = {
        "hybrid_vs_best_baseline": _target(models["hybrid"][hr], baselines[best], TARGETS["hybrid_vs_best_baseline"],
                                           f"hybrid {hr} / {best} {hr}", higher_is_better=True),
    }
    for protocol in cold:
        at_k = cold[protocol].get(str(COLD_TARGET_K))
        if at_k is None:
            continue
        name = "cold_k3_vs_popularity" + ("" if protocol == "recent" else f"_{protocol}")
        result[name] = _target(at_k["ours"][hr], at_k["popularity"][hr], TARGETS["cold_k3_vs_popularity"],
                               f"ours / popularity {hr}, {COLD_TARGET_K} liked items typed, {protocol} protocol",
                               higher_is_better=True, informative=protocol != "recent")
    ratings = report["rating_prediction"]
    if "ours" in ratings and "svd" in ratings:
        result["rmse_vs_svd"] = _target(ratings["ours"]["rmse"], ratings["svd"]["rmse"], TARGETS["rmse_vs_svd"],
                                        "our RMSE / Surprise SVD RMSE", higher_is_better=False)
    return result


def _target(ours: float | None, baseline: float | None, goal: float, what: str, *, higher_is_better: bool,
            informative: bool = False) -> dict:
    ratio = ours / baseline if ours is not None and baseline else None
    met = None if ratio is None else (ratio >= goal if higher_is_better else ratio <= goal)
    entry = {"what": what, "ours": ours, "baseline": baseline, "ratio": ratio,
             "goal": f"{'≥' if higher_is_better else '≤'} {goal:g}", "met": met}
    if informative:
        entry["note"] = "reported for comparison; the target is on the recent protocol"
    return entry


def _check(catalog: Catalog, config: Config) -> None:
    if len(catalog.ratings) < 2 * config.folds or catalog.ratings["user_id"].nunique() < 2:
        raise InputError("too few ratings to evaluate", where=catalog.name,
                         fix="use a catalog with ratings from several users")
    if config.k < 1 or min(config.reveal) < 1:
        raise InputError("k and every revealed count must be positive")


def config_for(*, quick: bool, workers: int | None) -> Config:
    config = Config(**QUICK) if quick else Config()
    if workers is None:
        workers = 1 if quick else max(1, min(2, os.cpu_count() or 1))
    return replace(config, workers=workers)


def main(report_dir: Path, *, quick: bool = False, workers: int | None = None) -> dict:
    """The CLI's entry: the active catalog (CONVREC_CATALOG, the imported one, or the demo), then the report."""
    from rich.console import Console

    from convrec.catalog.store import CatalogStore
    from convrec.core.settings import Settings
    from convrec.evaluation.report import print_report, write_report

    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    console = Console(soft_wrap=True)
    status = Console(stderr=True)
    settings = Settings()
    with status.status("loading the catalog"):
        catalog = CatalogStore(settings.catalog_store_dir, override=settings.catalog).active()
    config = config_for(quick=quick, workers=workers)

    def progress(task: str, done: float, total: float | None = None) -> None:
        status.print(f"{task}: {done:g}/{total:g} parts done", highlight=False)

    report = run_offline(catalog, config, progress)
    paths = write_report(report, Path(report_dir))
    print_report(report, console)
    console.print(f"report: {paths['json']}  plot: {paths['png']}", highlight=False)
    return report
