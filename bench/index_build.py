"""Index build time for the demo catalog against encoding the same documents with sentence-transformers alone.

Run: .venv/bin/python bench/index_build.py   (writes bench/results/index_build.json)
Both measurements run in this process after the model is loaded and warmed, so loading is excluded from both.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from convrec.catalog.documents import documents
from convrec.catalog.embeddings import embedding_function
from convrec.catalog.loaders import load_demo_catalog
from convrec.catalog.vectors import ENCODE_BATCH, VectorIndex, open_client


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main() -> None:
    catalog = load_demo_catalog()
    texts = list(documents(catalog).values())
    function = embedding_function()
    function(texts[:64])  # warm-up
    baseline, _ = timed(lambda: function._model.encode(texts, batch_size=ENCODE_BATCH, normalize_embeddings=True))
    with tempfile.TemporaryDirectory() as folder:
        index = VectorIndex(open_client(Path(folder), None), catalog.name, function)
        full, report = timed(lambda: index.sync(catalog))
        rerun, again = timed(lambda: index.sync(catalog))
    results = {
        "documents": len(texts),
        "encode_only_s": round(baseline, 2),
        "index_build_s": round(full, 2),
        "ratio_build_over_encode": round(full / baseline, 3),
        "no_change_rerun_s": round(rerun, 3),
        "embedded_first": report.embedded,
        "embedded_rerun": again.embedded,
    }
    for key, value in results.items():
        print(f"{key:>26}  {value}")
    out = Path(__file__).parent / "results" / "index_build.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
