"""The Chroma collection of item documents: cosine space, incremental by document hash.

Embedded by default (`PersistentClient` under the data dir); `CONVREC_CHROMA_URL` switches to a Chroma server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from convrec.catalog.documents import content_hash, documents
from convrec.catalog.models import Catalog
from convrec.core.errors import ConvrecError
from convrec.core.progress import Progress, no_progress

ENCODE_BATCH = 128
GENRE_KEY = "g_{}"


@dataclass(frozen=True)
class SyncReport:
    embedded: int
    deleted: int
    unchanged: int


def genre_key(genre: str) -> str:
    return GENRE_KEY.format(genre)


def cosine_similarity(distance: float) -> float:
    """Chroma's cosine distance is 1 - cos; we show cos clipped to [0, 1]."""
    return min(1.0, max(0.0, 1.0 - distance))


def open_client(index_dir: Path, chroma_url: str | None):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if not chroma_url:
        return chromadb.PersistentClient(path=str(index_dir / "chroma"), settings=chroma_settings)
    url = urlparse(chroma_url)
    try:
        client = chromadb.HttpClient(host=url.hostname or "127.0.0.1", port=url.port or 8000,
                                     ssl=url.scheme == "https", settings=chroma_settings)
        client.heartbeat()
    except Exception as error:  # noqa: BLE001 - chromadb raises several unrelated types for a dead server
        raise ConvrecError(f"cannot reach the Chroma server: {error}", where=chroma_url,
                           fix="start it (`chroma run --path DIR --port N`) or unset CONVREC_CHROMA_URL") from error
    return client


class VectorIndex:
    def __init__(self, client, catalog_name: str, embedding_function) -> None:
        self.embedding_function = embedding_function
        self.collection = client.get_or_create_collection(
            name=_collection_name(catalog_name), embedding_function=embedding_function,
            metadata={"hnsw:space": "cosine"})

    def count(self) -> int:
        return self.collection.count()

    def sync(self, catalog: Catalog, progress: Progress = no_progress) -> SyncReport:
        """Embed only new or changed documents; delete items that left the catalog."""
        docs = documents(catalog)
        stored = self._stored_hashes()
        hashes = {item_id: content_hash(doc) for item_id, doc in docs.items()}
        changed = [item_id for item_id, digest in hashes.items() if stored.get(item_id) != digest]
        changed.sort(key=lambda item_id: len(docs[item_id]))  # similar lengths per batch: less padding to encode
        removed = [item_id for item_id in stored if item_id not in docs]
        if removed:
            self.collection.delete(ids=removed)
        progress("embedding", 0, len(changed))
        for start in range(0, len(changed), ENCODE_BATCH):
            batch = changed[start:start + ENCODE_BATCH]
            texts = [docs[item_id] for item_id in batch]
            self.collection.upsert(ids=batch, documents=texts, embeddings=self.embedding_function(texts),
                                   metadatas=[_metadata(catalog, item_id, hashes[item_id]) for item_id in batch])
            progress("embedding", start + len(batch), len(changed))
        return SyncReport(embedded=len(changed), deleted=len(removed), unchanged=len(docs) - len(changed))

    def query(self, text: str, k: int, where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """The k nearest items to `text` with their cosine similarity in [0, 1], best first."""
        if k <= 0 or self.count() == 0:
            return []
        result = self.collection.query(query_embeddings=self.embedding_function([text]),
                                       n_results=min(k, self.count()), where=where or None,
                                       include=["distances"])
        return [(item_id, cosine_similarity(distance))
                for item_id, distance in zip(result["ids"][0], result["distances"][0])]

    def _stored_hashes(self) -> dict[str, str]:
        stored = self.collection.get(include=["metadatas"])
        return {item_id: (meta or {}).get("doc_hash", "") for item_id, meta in zip(stored["ids"], stored["metadatas"])}


def _metadata(catalog: Catalog, item_id: str, digest: str) -> dict[str, Any]:
    row = catalog.items.loc[item_id]
    meta: dict[str, Any] = {"doc_hash": digest}
    if not pd.isna(row["year"]):
        meta["year"] = int(row["year"])
    meta.update({genre_key(genre): True for genre in row["genres"]})
    return meta


def _collection_name(catalog_name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]", "-", catalog_name).strip("-._") or "catalog"
    return f"items-{name}"[:60]
