"""Peak memory of `convrec catalog import` on a large generated ratings file: the streamed import against the
import before it (the code at --baseline, default: where this branch left main), each in a fresh process, same run.

Run: .venv/bin/python bench/import_memory.py [--rows 4000000] [--baseline REF]   (prints a table, writes
bench/results/import_memory.json). The catalog is MovieLens-shaped (movies.csv, ratings.csv with userId, movieId,
rating, timestamp), generated with a fixed seed into a temporary folder. The baseline's code is taken with
`git archive` into the temporary folder and put first on PYTHONPATH. Each run reports its process's peak RSS
(ru_maxrss) and wall time; a process that only imports the code gives the floor. Both must publish the same
fingerprint.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import tarfile
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ITEMS = 20_000

# Each way runs in its own process, so that one's peak cannot hide the other's.
MEASURE = """
import json, resource, sys, time
from pathlib import Path
from convrec.catalog.store import CatalogStore
way, source, root = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
started = time.perf_counter()
fingerprint = CatalogStore(root).import_catalog(source).fingerprint if way != "floor" else None
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - started, "fingerprint": fingerprint}))
"""


def generate(folder: Path, rows: int) -> int:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    pd.DataFrame({"movieId": np.arange(1, ITEMS + 1),
                  "title": [f"Movie number {i} ({1950 + i % 70})" for i in range(1, ITEMS + 1)],
                  "genres": "Drama|Comedy"}).to_csv(folder / "movies.csv", index=False)
    with open(folder / "ratings.csv", "w") as out:
        out.write("userId,movieId,rating,timestamp\n")
        for start in range(0, rows, 1_000_000):  # written in blocks: the generator stays small too
            n = min(1_000_000, rows - start)
            pd.DataFrame({"userId": rng.integers(1, max(2, rows // 100), n), "movieId": rng.integers(1, ITEMS + 1, n),
                          "rating": rng.integers(1, 11, n) / 2,
                          "timestamp": rng.integers(800_000_000, 1_700_000_000, n)}).to_csv(out, header=False,
                                                                                              index=False)
    return (folder / "ratings.csv").stat().st_size


def baseline_code(ref: str, folder: Path) -> Path:
    """The package as it was at `ref`, as folder/convrec (what PYTHONPATH needs to import it)."""
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder / "convrec", filter="data")
    return folder


def measure(way: str, source: Path, root: Path, code: Path | None = None) -> dict:
    env = {**os.environ, **({"PYTHONPATH": str(code)} if code else {})}
    result = subprocess.run([sys.executable, "-c", MEASURE, way, str(source), str(root)], capture_output=True,
                            text=True, check=True, cwd=root.parent, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000, help="ratings to generate")
    parser.add_argument("--baseline", default=None, help="git ref of the code before (default: merge-base with main)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "import_memory.json")
    args = parser.parse_args()
    baseline = args.baseline or subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=ROOT, capture_output=True,
                                               text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="convrec-import-bench-") as temporary:
        folder = Path(temporary)
        source = folder / "catalog"
        source.mkdir()
        size = generate(source, args.rows)
        old_code = baseline_code(baseline, folder / "baseline")
        runs = {"floor": measure("floor", source, folder / "store-floor"),
                "before": measure("import", source, folder / "store-before", old_code),
                "streamed": measure("import", source, folder / "store-streamed")}
    if runs["before"]["fingerprint"] != runs["streamed"]["fingerprint"]:
        raise SystemExit("the two imports published different fingerprints")
    floor = runs["floor"]["peak_rss_mb"]
    print(f"ratings.csv: {args.rows:,} rows, {size / 1e6:,.1f} MB; baseline {baseline[:12]}; "
          f"code imported, nothing read: {floor:,.0f} MB")
    print(f"{'import':<10}{'peak RSS MB':>14}{'above floor':>14}{'seconds':>10}")
    for way in ("before", "streamed"):
        run = runs[way]
        print(f"{way:<10}{run['peak_rss_mb']:>14,.0f}{run['peak_rss_mb'] - floor:>14,.0f}{run['seconds']:>10.1f}")
    ratio = runs["before"]["peak_rss_mb"] / runs["streamed"]["peak_rss_mb"]
    print(f"peak RSS, before / streamed: {ratio:.1f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "rows": args.rows, "ratings_csv_bytes": size,
                                    "baseline": baseline, "runs": runs, "peak_ratio": round(ratio, 2)},
                                   indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
