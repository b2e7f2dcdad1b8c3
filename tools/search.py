"""Semantic search over item documents, with hard filters that are never violated."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from convrec.catalog.models import Catalog
from convrec.catalog.vectors import VectorIndex, genre_key
from convrec.tools.errors import ToolError

OVERFETCH = 3  # Chroma filters genres and years; the rest is filtered here, so fetch spare hits


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=500, description="what the items should be about")
    k: int = Field(default=10, ge=1, le=500)
    include_genres: list[str] = Field(default_factory=list, description="each hit has at least one of these")
    exclude_genres: list[str] = Field(default_factory=list, description="no hit has any of these")
    year_min: int | None = None
    year_max: int | None = None
    exclude_ids: list[str] = Field(default_factory=list)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, query: str) -> str:
        if not query.strip():
            raise ValueError("query is blank")
        return query.strip()


class SearchHit(BaseModel):
    item_id: str
    title: str
    year: int | None
    genres: list[str]
    similarity: float = Field(ge=0.0, le=1.0)


def search(index: VectorIndex, catalog: Catalog, request: SearchRequest) -> list[SearchHit]:
    _check_genres(catalog, request.include_genres + request.exclude_genres)
    excluded = set(request.exclude_ids)
    raw = index.query(request.query, request.k * OVERFETCH + len(excluded), where=_where(request))
    hits = []
    for item_id, similarity in raw:
        if item_id in excluded or item_id not in catalog:
            continue
        item = catalog.item(item_id)
        if not _allowed(item.genres, item.year, request):
            continue
        hits.append(SearchHit(item_id=item_id, title=item.title, year=item.year, genres=list(item.genres),
                              similarity=similarity))
        if len(hits) == request.k:
            break
    return hits


def _check_genres(catalog: Catalog, genres: list[str]) -> None:
    unknown = sorted(set(genres) - set(catalog.genres))
    if unknown:
        raise ToolError(f"unknown genre(s) {unknown}; the catalog's genres are {catalog.genres}")


def _where(request: SearchRequest) -> dict[str, Any] | None:
    conditions: list[dict[str, Any]] = []
    if request.include_genres:
        anyof = [{genre_key(genre): True} for genre in request.include_genres]
        conditions.append(anyof[0] if len(anyof) == 1 else {"$or": anyof})
    if request.year_min is not None:
        conditions.append({"year": {"$gte": request.year_min}})
    if request.year_max is not None:
        conditions.append({"year": {"$lte": request.year_max}})
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def _allowed(genres: tuple[str, ...], year: int | None, request: SearchRequest) -> bool:
    """The filters again, in Python: a hit that violates one is never returned, whatever the store did."""
    if request.include_genres and not set(genres) & set(request.include_genres):
        return False
    if set(genres) & set(request.exclude_genres):
        return False
    if request.year_min is not None and (year is None or year < request.year_min):
        return False
    return not (request.year_max is not None and (year is None or year > request.year_max))
