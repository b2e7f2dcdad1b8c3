"""The Chroma collection of item documents: cosine space, incremental by document hash.

Embedded by default (`PersistentClient` under the index dir); `CONVREC_CHROMA_URL` switches to a Chroma server.
Similarity is the cosine clipped to [0, 1]: Chroma's cosine distance d is 1 - cos, so similarity = clip(1 - d),
and the rare negative cosine counts as 0 (1 - d/2 would instead give unrelated items a misleading 0.5).

Up to `EXACT_SEARCH_MAX` vectors, nearest neighbours are computed exactly over the stored vectors (one matrix
product; a neighbour list of the demo's 9.7k items took 6-7 ms, HNSW's 7.5-10 ms): HNSW is approximate and Chroma rebuilds parts of its graph at random when it opens,
so the same query returned different neighbour sets from run to run (measured: 1 run in 4 moved an item across
the 300th place, enough to change cards). Beyond that, and for `where` filters, Chroma's HNSW answers.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from convrec.catalog.documents import content_hash, documents
from convrec.catalog.models import Catalog
from convrec.core.errors import ConvrecError, InputError
from convrec.core.progress import Progress, no_progress
from convrec.core.settings import Settings

EMBED_CHUNK = 256  # documents embedded and upserted per step: a progress tick every few seconds
EXACT_SEARCH_MAX = 50_000  # vectors searched exactly (a 50k x 384 float32 matrix is ~77 MB)
CONNECT_TIMEOUT_S = 5.0  # Chroma's HTTP client has no timeout: probe the port first so a dead host fails fast


@dataclass(frozen=True)
class SyncReport:
    embedded: int
    deleted: int
    unchanged: int


def genre_key(genre: str) -> str:
    """The boolean metadata key of a genre, for `where` filters: {genre_key("Comedy"): True}."""
    return f"g_{genre}"


def similarity(distance: float) -> float:
    return min(1.0, max(0.0, 1.0 - distance))


def open_client(index_dir: Path, chroma_url: str | None = None):
    """A Chroma server client when `chroma_url` is set, else the embedded store in `index_dir / "chroma"`."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if not chroma_url:
        return chromadb.PersistentClient(path=str(Path(index_dir) / "chroma"), settings=chroma_settings)
    url = urlparse(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise InputError("not a Chroma server URL", where=chroma_url, fix="use http://host:port")
    port = url.port or (443 if url.scheme == "https" else 8000)
    try:
        socket.create_connection((url.hostname, port), timeout=CONNECT_TIMEOUT_S).close()
        client = chromadb.HttpClient(host=url.hostname, port=port, ssl=url.scheme == "https",
                                     settings=chroma_settings)
        client.heartbeat()
    except Exception as error:  # noqa: BLE001 - sockets, httpx and chromadb each raise their own types
        raise ConvrecError(f"cannot reach the Chroma server: {error}", where=chroma_url,
                           fix="start it (`chroma run --path DIR --port N`) or unset CONVREC_CHROMA_URL") from error
    return client


class VectorIndex:
    """One collection per catalog name: ids are item ids; metadata holds `doc_hash`, `year` (when known) and
    `g_<genre>: True` for each of the item's genres."""

    def __init__(self, client, catalog_name: str, embedding_function) -> None:
        self.client = client
        self.embedding_function = embedding_function
        self.batch_size = client.get_max_batch_size()
        self.collection = self._open_collection(collection_name(catalog_name))
        self._exact: _StoredVectors | None = None  # loaded on the first search

    @classmethod
    def from_settings(cls, catalog_name: str, settings: Settings) -> VectorIndex:
        """The configured store (embedded or server) and embedding model; the model loads when first needed
        (`index.embedding_function.load()` to load it now), so a sync with nothing to embed stays fast."""
        from convrec.catalog.embeddings import embedding_function

        return cls(open_client(settings.index_dir, settings.chroma_url), catalog_name,
                   embedding_function(settings.embedding_model, load=False))

    def count(self) -> int:
        return self.collection.count()

    def sync(self, catalog: Catalog, progress: Progress = no_progress) -> SyncReport:
        """Embed only new or changed documents; delete items that left the catalog."""
        docs = documents(catalog)
        hashes = {item_id: content_hash(doc) for item_id, doc in docs.items()}
        stored = self._stored_hashes()
        changed = [item_id for item_id, digest in hashes.items() if stored.get(item_id) != digest]
        changed.sort(key=lambda item_id: len(docs[item_id]))  # similar lengths per batch: less padding to encode
        removed = [item_id for item_id in stored if item_id not in docs]
        for start in range(0, len(removed), self.batch_size):
            self.collection.delete(ids=removed[start:start + self.batch_size])
        chunk = min(EMBED_CHUNK, self.batch_size)
        progress("embedding", 0, len(changed))
        for start in range(0, len(changed), chunk):
            ids = changed[start:start + chunk]
            texts = [docs[item_id] for item_id in ids]
            self.collection.upsert(ids=ids, documents=texts, embeddings=self.embedding_function(texts),
                                   metadatas=[_metadata(catalog, item_id, hashes[item_id]) for item_id in ids])
            progress("embedding", start + len(ids), len(changed))
        self._exact = None
        return SyncReport(embedded=len(changed), deleted=len(removed), unchanged=len(docs) - len(changed))

    def query(self, text: str, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """The k items nearest to `text` (optionally filtered by a Chroma `where`), best first, with their
        similarity in [0, 1]."""
        count = self.count()
        if k <= 0 or count == 0:
            return []
        embedding = self.embedding_function([text])
        if not where and (exact := self._exact_vectors()) is not None:
            return _nearest(exact, np.asarray(embedding[0], dtype=np.float32), k)
        result = self.collection.query(query_embeddings=embedding, n_results=min(k, count),
                                       where=where or None, include=["distances"])
        return [(item_id, similarity(distance)) for item_id, distance in zip(result["ids"][0], result["distances"][0])]

    def neighbours(self, item_id: str, k: int) -> list[tuple[str, float]]:
        """The k items whose documents are nearest to `item_id`'s stored vector (itself left out), best first; no
        embedding model is needed. Empty when the item is not indexed."""
        if k <= 0:
            return []
        if (exact := self._exact_vectors()) is not None:
            if item_id not in exact.positions:
                return []
            nearest = _nearest(exact, exact.matrix[exact.positions[item_id]], k + 1)
            return [(other, score) for other, score in nearest if other != item_id][:k]
        stored = self.collection.get(ids=[item_id], include=["embeddings"])
        if not stored["ids"]:
            return []
        result = self.collection.query(query_embeddings=[stored["embeddings"][0]],
                                       n_results=min(k + 1, self.count()), include=["distances"])
        return [(other, similarity(distance)) for other, distance in zip(result["ids"][0], result["distances"][0])
                if other != item_id][:k]

    def _exact_vectors(self) -> _StoredVectors | None:
        """All stored ids and unit vectors, when there are few enough to search exactly; None beyond."""
        if self._exact is None:
            count = self.count()
            if count == 0 or count > EXACT_SEARCH_MAX:
                return None
            ids: list[str] = []
            vectors = []
            for offset in range(0, count, self.batch_size):
                batch = self.collection.get(include=["embeddings"], limit=self.batch_size, offset=offset)
                ids += batch["ids"]
                vectors.append(np.asarray(batch["embeddings"], dtype=np.float32))
            matrix = np.vstack(vectors)
            matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
            self._exact = _StoredVectors(ids, matrix, {item_id: position for position, item_id in enumerate(ids)})
        return self._exact

    def _open_collection(self, name: str):
        def open_or_create():
            return self.client.get_or_create_collection(name=name, embedding_function=self.embedding_function,
                                                        configuration={"hnsw": {"space": "cosine"}})

        collection = open_or_create()
        persisted = (collection.configuration_json.get("embedding_function") or {}).get("config") or {}
        if persisted.get("model_name") != self.embedding_function.get_config()["model_name"]:
            # Vectors from another model (or another install of it) are not comparable with ours: start over.
            self.client.delete_collection(name)
            collection = open_or_create()
        return collection

    def _stored_hashes(self) -> dict[str, str]:
        stored: dict[str, str] = {}
        while True:
            page = self.collection.get(include=["metadatas"], limit=self.batch_size, offset=len(stored))
            stored.update((item_id, (meta or {}).get("doc_hash", ""))
                          for item_id, meta in zip(page["ids"], page["metadatas"]))
            if len(page["ids"]) < self.batch_size:
                return stored


@dataclass(frozen=True)
class _StoredVectors:
    ids: list[str]
    matrix: np.ndarray  # unit rows, aligned with ids
    positions: dict[str, int]


def _nearest(stored: _StoredVectors, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
    """The k stored items with the highest cosine to `vector`, best first (ties by position, so never varying)."""
    cosines = stored.matrix @ (vector / max(float(np.linalg.norm(vector)), 1e-12))
    k = min(k, len(stored.ids))
    top = np.argpartition(-cosines, k - 1)[:k] if k < len(stored.ids) else np.arange(len(stored.ids))
    top = top[np.lexsort((top, -cosines[top]))]
    return [(stored.ids[position], similarity(1.0 - float(cosines[position]))) for position in top]


def collection_name(catalog_name: str) -> str:
    """Chroma wants 3-512 characters of [A-Za-z0-9._-], starting and ending with a letter or digit."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", catalog_name)
    return f"items-{safe}"[:128].rstrip("-._")


def _metadata(catalog: Catalog, item_id: str, digest: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"doc_hash": digest}
    year = catalog.items.at[item_id, "year"]
    if not pd.isna(year):
        meta["year"] = int(year)
    meta.update({genre_key(genre): True for genre in catalog.items.at[item_id, "genres"]})
    return meta
