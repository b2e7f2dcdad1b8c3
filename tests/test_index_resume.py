"""A killed index run against a Chroma server continues where it stopped: what was upserted stays, only the rest is
embedded next time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from convrec.catalog.vectors import VectorIndex
from convrec.core.settings import Settings
from test_index_vectors import chroma_server, embedder, encoded, make_catalog  # noqa: F401 - fixtures

CHUNK = 5
CHUNKS_BEFORE_KILL = 2
KILLED_RUN = f"""
import os, signal
from test_index_vectors import make_catalog
from convrec.catalog import vectors
from convrec.core.settings import Settings

vectors.EMBED_CHUNK = {CHUNK}
catalog = make_catalog()
index = vectors.VectorIndex.from_settings(catalog.name, Settings())
real = type(index.embedding_function).__call__
calls = []

def dies_on_the_third_chunk(self, input):
    if len(calls) == {CHUNKS_BEFORE_KILL}:
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush: as a kill -9 or an OOM kill
    calls.append(len(input))
    return real(self, input)

type(index.embedding_function).__call__ = dies_on_the_third_chunk
index.sync(catalog)
"""


@pytest.mark.slow
def test_a_killed_run_resumes_where_it_stopped(chroma_server, embedder, encoded, monkeypatch):
    monkeypatch.setenv("CONVREC_CHROMA_URL", chroma_server)
    run = subprocess.run([sys.executable, "-c", KILLED_RUN], cwd=Path(__file__).parent, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "CONVREC_CHROMA_URL": chroma_server})
    assert run.returncode == -9, run.stderr[-2000:]
    catalog = make_catalog()
    index = VectorIndex.from_settings(catalog.name, Settings())
    done = CHUNK * CHUNKS_BEFORE_KILL
    assert index.count() == done

    report = index.sync(catalog)
    assert (report.embedded, report.unchanged) == (len(catalog) - done, done)
    assert sum(encoded) == len(catalog) - done
    assert index.count() == len(catalog)
