"""Index build time for the demo catalog against encoding the same documents with sentence-transformers alone.

Run: .venv/bin/python bench/index_build.py   (prints a table, writes bench/results/index_build.json)
Everything runs in this process after the model is loaded and warmed up, so loading is excluded from all three:
(a) model.encode of all documents (same model, same batch size as the index), (b) a full build into a fresh
temp dir, (c) the re-run on the unchanged catalog. Goal: (b)/(a) <= 1.2.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from convrec.catalog.documents import documents  # noqa: E402 - after the environment is set
from convrec.catalog.embeddings import ENCODE_BATCH, embedding_function  # noqa: E402
from convrec.catalog.loaders import load_demo_catalog  # noqa: E402
from convrec.catalog.vectors import VectorIndex, open_client  # noqa: E402


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main() -> None:
    catalog = load_demo_catalog()
    texts = list(documents(catalog).values())
    function = embedding_function()
    function(texts[:ENCODE_BATCH])  # warm-up
    encode_s, _ = timed(lambda: function._model.encode(texts, batch_size=ENCODE_BATCH, normalize_embeddings=True))
    with tempfile.TemporaryDirectory() as folder:
        build_s, first = timed(lambda: VectorIndex(open_client(Path(folder)), catalog.name, function).sync(catalog))
        rerun_s, again = timed(lambda: VectorIndex(open_client(Path(folder)), catalog.name, function).sync(catalog))
    results = {
        "documents": len(texts),
        "encode_batch": ENCODE_BATCH,
        "a_encode_only_s": round(encode_s, 2),
        "b_index_build_s": round(build_s, 2),
        "c_no_change_rerun_s": round(rerun_s, 3),
        "ratio_b_over_a": round(build_s / encode_s, 3),
        "embedded_first": first.embedded,
        "embedded_rerun": again.embedded,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    for key, value in results.items():
        print(f"{key:>22}  {value}")
    verdict = "ok" if results["ratio_b_over_a"] <= 1.2 else "ABOVE the 1.2 goal"
    print(f"(b)/(a) = {results['ratio_b_over_a']:.2f}: {verdict}", file=sys.stderr)
    out = Path(__file__).parent / "results" / "index_build.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
