"""Search documents, the incremental Chroma index (embedded and server mode) and the persisted CF model."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import free_port

from convrec.catalog.documents import documents
from convrec.catalog.embeddings import embedding_function
from convrec.catalog.loaders import load_catalog
from convrec.catalog.models import Catalog
from convrec.catalog.vectors import VectorIndex, genre_key, open_client
from convrec.core.errors import ConvrecError
from convrec.tools.cfmodel import load_or_train, model_path

pytestmark = pytest.mark.slow  # loads the real sentence-transformers model (~8 s once per session)


@pytest.fixture(scope="module")
def embedder():
    return embedding_function()


@pytest.fixture
def counted(embedder, monkeypatch) -> list[int]:
    """How many documents each embedding call encoded."""
    calls: list[int] = []
    real = type(embedder).__call__

    def counting(self, input):  # noqa: A002 - chroma checks the parameter's name
        calls.append(len(input))
        return real(self, input)

    monkeypatch.setattr(type(embedder), "__call__", counting)
    return calls


def with_tag(catalog: Catalog, item_id: str, tag: str) -> Catalog:
    items = catalog.items.copy()
    items.at[item_id, "tags"] = [*items.at[item_id, "tags"], tag]
    return Catalog(name=catalog.name, items=items, ratings=catalog.ratings, scale=catalog.scale, fingerprint="x")


def test_document_has_every_field(tiny_ml_dir):
    doc = documents(load_catalog(tiny_ml_dir))["2571"]
    assert doc.startswith("Matrix, The (1999)")
    assert "Genres: Action, Sci-Fi, Thriller" in doc and "sci-fi" in doc
    demo_doc = documents(load_catalog(Path(__file__).parents[1] / "catalog/demo/ml-latest-small"))["1"]
    assert "Pixar" not in demo_doc  # descriptions live beside the folder; the demo loader adds them
    from convrec.catalog.loaders import load_demo_catalog

    assert "computer-animated" in documents(load_demo_catalog())["1"]


def test_incremental_sync(tmp_path, tiny_ml_dir, embedder, counted):
    catalog = load_catalog(tiny_ml_dir)
    first = VectorIndex(open_client(tmp_path, None), catalog.name, embedder).sync(catalog)
    assert (first.embedded, first.unchanged) == (60, 0)
    reopened = VectorIndex(open_client(tmp_path, None), catalog.name, embedder)  # as a new process would
    counted.clear()
    assert reopened.sync(catalog).embedded == 0 and counted == []
    assert reopened.sync(with_tag(catalog, "2571", "red pill")).embedded == 1 and sum(counted) == 1
    smaller = Catalog(name=catalog.name, items=catalog.items.drop(index="1"), ratings=catalog.ratings,
                      scale=catalog.scale, fingerprint="y")
    assert reopened.sync(smaller).deleted == 1 and reopened.count() == 59


def test_query_and_genre_filter(tmp_path, tiny_ml_dir, embedder):
    catalog = load_catalog(tiny_ml_dir)
    index = VectorIndex(open_client(tmp_path, None), catalog.name, embedder)
    index.sync(catalog)
    hits = index.query("toys that come to life, computer animation", 3)
    assert hits[0][0] == "1"  # Toy Story
    assert all(0.0 <= similarity <= 1.0 for _, similarity in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    comedies = index.query("space war", 5, where={genre_key("Comedy"): True})
    assert comedies and all("Comedy" in catalog.item(item_id).genres for item_id, _ in comedies)
    assert index.query("anything", 0) == []


def test_neighbours_by_stored_vector(tmp_path, tiny_ml_dir, embedder):
    catalog = load_catalog(tiny_ml_dir)
    index = VectorIndex(open_client(tmp_path, None), catalog.name, embedder)
    index.sync(catalog)
    neighbours = index.neighbours("1", 5)  # Toy Story
    assert len(neighbours) == 5 and "1" not in {item_id for item_id, _ in neighbours}
    assert [s for _, s in neighbours] == sorted((s for _, s in neighbours), reverse=True)
    nearest, similarity = index.query(documents(catalog)["1"], 2)[1]  # its own document's nearest but itself
    assert neighbours[0][0] == nearest and neighbours[0][1] == pytest.approx(similarity, abs=1e-5)
    assert index.neighbours("not-an-item", 5) == []


def test_the_content_signal_never_loads_the_embedding_model(tmp_path, tiny_ml_dir, embedder, monkeypatch):
    from types import SimpleNamespace

    from convrec.agent.runtime import LazySearch

    catalog = load_catalog(tiny_ml_dir)
    VectorIndex(open_client(tmp_path, None), catalog.name, embedder).sync(catalog)

    def no_model(self, input=None):  # noqa: A002 - chroma checks the parameter's name
        raise AssertionError("the embedding model was used")

    monkeypatch.setattr(type(embedder), "load", no_model)
    monkeypatch.setattr(type(embedder), "__call__", no_model)
    search = LazySearch(SimpleNamespace(index_dir=tmp_path, chroma_url=None, embedding_model=None), catalog)
    neighbours = search.neighbours("1", 5)  # stored vectors only, as a cold `convrec ask` needs them
    assert len(neighbours) == 5 and all(item_id in catalog for item_id, _ in neighbours)
    with pytest.raises(AssertionError, match="embedding model"):
        search("toys", 3)  # a query does need the model



def test_chroma_server_mode(tmp_path, tiny_ml_dir, embedder, monkeypatch):
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path", str(tmp_path / "server"),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        client = _wait_for_server(url)
        catalog = load_catalog(tiny_ml_dir)
        index = VectorIndex(client, catalog.name, embedder)
        assert index.sync(catalog).embedded == 60
        assert index.query("toys that come to life, computer animation", 1)[0][0] == "1"
        assert VectorIndex(open_client(tmp_path, url), catalog.name, embedder).sync(catalog).embedded == 0
    finally:
        server.terminate()
        server.wait(timeout=20)
    with pytest.raises(ConvrecError, match="cannot reach the Chroma server"):
        open_client(tmp_path, url)


def _wait_for_server(url: str):
    deadline = time.monotonic() + 60
    while True:
        try:
            return open_client(Path("."), url)
        except ConvrecError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_cf_model_trains_once_per_catalog(tmp_path, tiny_ml_dir):
    catalog = load_catalog(tiny_ml_dir)
    model, trained = load_or_train(catalog, tmp_path)
    again, retrained = load_or_train(catalog, tmp_path)
    assert (trained, retrained) == (True, False)
    assert again.predict("1", "2571").est == model.predict("1", "2571").est
    changed = with_tag(catalog, "2571", "red pill")
    changed = Catalog(name=catalog.name, items=changed.items, ratings=catalog.ratings, scale=catalog.scale,
                      fingerprint="f" * 64)
    assert load_or_train(changed, tmp_path)[1] is True
    assert not model_path(tmp_path, catalog, "svd").exists()  # the stale model was replaced


def test_corrupt_cf_model_is_retrained(tmp_path, tiny_ml_dir):
    catalog = load_catalog(tiny_ml_dir)
    load_or_train(catalog, tmp_path)
    model_path(tmp_path, catalog, "svd").write_bytes(b"garbage")
    assert load_or_train(catalog, tmp_path)[1] is True
