"""The recommend tool: a profile in, catalog-only recommendations with evidence out. No LLM.

Signals: item–item (EASE) from liked/disliked items, CF (Surprise SVD folded in from the profile), semantic match
to the free-text query (Chroma), genre affinity and a popularity prior; blended by how much we know
(`rank.blend_weights`), filtered by hard constraints, diversified by MMR, with an optional exploration slot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from convrec.catalog.documents import title_only
from convrec.catalog.models import Catalog
from convrec.tools import explain, rank
from convrec.tools.cf import opinion_ratings
from convrec.tools.errors import ToolError
from convrec.tools.knowledge import Entity, Knowledge
from convrec.tools.models import Profile, Reason, Recommendation

MIN_SIMILARITY_EVIDENCE = 0.05
QUERY_POOL = 300  # semantic neighbours fetched for the query signal
# An item with neither a description nor tags is found by its title alone ("tearjerker" finds Tears for Sale,
# "feel-good" a stand-up special called I'm Sorry You Feel That Way), so its query similarity counts this much.
# ReDial tune split, 1 / 0.9 / 0.8 / 0.7 / 0.5: Hit@10 0.215 / 0.220 / 0.220 / 0.220 / 0.217.
TITLE_ONLY_MATCH = 0.8
CONTENT_POOL = 300  # description neighbours fetched per liked item for the content signal
MIN_CONTENT_EVIDENCE = 0.5  # a description this close (cosine) to a liked item's is a reason
PREDICTED_EVIDENCE = 3.8  # a CF prediction is a reason only when it is this good
# Two films of one series are as redundant as two copies for MMR: a liked trilogy's other parts no longer fill the
# cards (ReDial tune split: see README)
SAME_SERIES_REDUNDANCY = 1.0
SPREAD_SHARE = 0.5  # a liked item pushing a card at least this share as hard as the strongest may be cited instead


class ItemItem(Protocol):
    def scores_from_items(self, liked: dict[str, float], disliked: dict[str, float]) -> pd.Series: ...
    def contributions(self, candidate_id: str, liked: dict[str, float]) -> list[tuple[str, float]]: ...
    def similarity(self, a: str, b: str) -> float: ...


class CollaborativeFiltering(Protocol):
    def score_profile(self, ratings: dict[str, float]) -> pd.Series: ...


QuerySearch = Callable[[str, int], list[tuple[str, float]]]
ItemNeighbours = Callable[[str, int], list[tuple[str, float]]]  # an item's nearest items by description


class RecommendRequest(BaseModel):
    profile: Profile = Field(default_factory=Profile)
    k: int = Field(default=5, ge=1, le=50)
    explore: bool = Field(default=False, description="give the last slot to an exploration pick, labelled so")
    genre_feedback: dict[str, tuple[int, int]] = Field(default_factory=dict,
                                                       description="per genre (likes, dislikes) from card feedback")
    seed: int = 0
    candidates: list[str] | None = Field(default=None, description="rank only these ids (the agent's candidate bus)")


class Recommender:
    def __init__(self, catalog: Catalog, *, itemsim: ItemItem | None = None, cf: CollaborativeFiltering | None = None,
                 query_search: QuerySearch | None = None, content_neighbours: ItemNeighbours | None = None,
                 knowledge: Knowledge | None = None) -> None:
        self.catalog = catalog
        self.content_neighbours = content_neighbours
        self.knowledge = knowledge
        self.itemsim = itemsim
        self.cf = cf
        self.query_search = query_search
        self._position = {item_id: i for i, item_id in enumerate(catalog.items.index)}
        self._itemsim_positions = (catalog.items.index.get_indexer(itemsim.item_ids)
                                   if itemsim is not None else None)
        self._popularity = rank.popularity_prior(catalog)
        self._title_only = title_only(catalog)
        self._genres = rank.genre_weights(catalog, knowledge.genres if knowledge is not None else {})
        self._stats = catalog.ratings.groupby("item_id")["rating"].agg(["count", "mean"])

    def recommend(self, request: RecommendRequest) -> list[Recommendation]:
        profile = request.profile
        unknown = sorted(i for i in {*profile.liked, *profile.disliked, *profile.ratings} if i not in self.catalog)
        if unknown:
            raise ToolError(f"unknown item id(s) in the profile: {unknown[:5]}; use ids from the catalog")
        with _single_threaded_blas():  # small algebra per request: BLAS threads only contend (48 ms vs 0.1 ms)
            return self._recommend(request)

    def _recommend(self, request: RecommendRequest) -> list[Recommendation]:
        profile = request.profile
        mask = rank.allowed(self.catalog, profile)
        if request.candidates is not None:
            mask &= self.catalog.items.index.isin(request.candidates)
        if not mask.any():
            return []
        signals = self._signals(profile)
        weights = rank.blend_weights(profile, has_query=signals["query"] is not None,
                                     has_knowledge=signals["knowledge"] is not None,
                                     has_era=signals["era"] is not None,
                                     has_related=signals["related"] is not None,
                                     has_content=signals["content"] is not None,
                                     has_implied_genre=signals["implied_genre"] is not None)
        relevance = pd.Series(rank.blend(signals, weights, mask), index=self.catalog.items.index[mask])
        slots = request.k - 1 if request.explore and request.k > 1 else request.k
        chosen = rank.mmr(relevance, self._diversity_similarity, slots)
        cited: Counter[str] = Counter()  # spread "because you liked X" across what the person named
        cards = [self._card(item_id, relevance[item_id], profile, signals, weights, cited=cited) for item_id in chosen]
        if len(cards) < request.k:
            cards += self._exploration(request, relevance, mask, set(chosen))
        return cards

    # -- signals: numpy arrays in catalog order, NaN where a signal says nothing ----------------------------------------
    def _signals(self, profile: Profile) -> dict[str, np.ndarray | None]:
        rated_up = {i: (r - 2.5) / 2.5 for i, r in profile.ratings.items() if self.catalog.scale.is_like(r)}
        liked = rank.by_recency({**profile.liked, **rated_up})
        disliked = {**profile.disliked, **{i: (3.0 - r) / 2.5 for i, r in profile.ratings.items() if r <= 2.5}}
        return {
            "itemsim": self._itemsim_signal(liked, disliked) if self.itemsim is not None and liked else None,
            "cf": (self.cf.score_profile(_as_ratings(profile, self.catalog)).to_numpy()
                   if self.cf is not None and liked else None),
            "query": self._query_signal(profile.query),
            "genre": rank.genre_affinity(self._genres, profile),
            "implied_genre": (rank.implied_genre_affinity(self._genres, liked)
                              if liked and not profile.genres_liked else None),
            "popularity": self._popularity,
            "knowledge": self._knowledge_signal(profile),
            "era": rank.era_affinity(self.catalog, profile.era, liked) if profile.era is not None else None,
            "related": self._related_signal(liked),
            "content": self._content_signal(liked),
        }

    def _related_signal(self, liked: dict[str, float]) -> np.ndarray | None:
        """Items sharing a director, a star or a series with liked items; small collections and filmographies
        count more (1 / log2(2 + size)), so a shared trilogy outweighs a shared prolific actor."""
        if self.knowledge is None or not liked:
            return None
        aligned = np.zeros(len(self.catalog))
        for item_id, strength in liked.items():
            for entity in self.knowledge.entities_of(item_id):
                members = self.knowledge.items(entity)
                weight = strength / np.log2(2 + len(members))
                for other in members:
                    if other != item_id and other in self._position:
                        aligned[self._position[other]] += weight
        return aligned if aligned.any() else None

    def _content_signal(self, liked: dict[str, float]) -> np.ndarray | None:
        """The strength-weighted mean description similarity to the liked items: it finds neighbours for items
        too rarely rated for item–item to know them (K-19 → The Hunt for Red October)."""
        if self.content_neighbours is None or not liked:
            return None
        total = np.zeros(len(self.catalog))
        for item_id, strength in liked.items():
            for other, similarity in self.content_neighbours(item_id, CONTENT_POOL):
                if other in self._position:
                    total[self._position[other]] += strength * similarity
        if not total.any():
            return None
        return total / sum(liked.values())  # beyond the neighbours: 0, as unrelated descriptions score

    def _knowledge_signal(self, profile: Profile) -> np.ndarray | None:
        """Σ strength of the liked people/collections an item belongs to, minus the disliked ones."""
        if self.knowledge is None or not profile.entities_liked:
            return None
        aligned = np.zeros(len(self.catalog))
        for opinions, sign in ((profile.entities_liked, 1.0), (profile.entities_disliked, -1.0)):
            for key, strength in opinions.items():
                for item_id in self.knowledge.items(Entity.from_key(key)):
                    if item_id in self._position:
                        aligned[self._position[item_id]] += sign * strength
        return aligned if aligned.any() else None

    def _itemsim_signal(self, liked: dict[str, float], disliked: dict[str, float]) -> np.ndarray:
        aligned = np.full(len(self.catalog), np.nan)
        aligned[self._itemsim_positions] = self.itemsim.scores_from_items(liked, disliked).to_numpy()
        return aligned

    def _query_signal(self, query: str | None) -> np.ndarray | None:
        if not query or self.query_search is None:
            return None
        hits = [(self._position[i], similarity) for i, similarity in self.query_search(query, QUERY_POOL)
                if i in self._position]
        if not hits:
            return None
        aligned = np.full(len(self.catalog), np.nan)
        positions, similarities = zip(*hits)
        aligned[list(positions)] = similarities
        return np.where(self._title_only, aligned * TITLE_ONLY_MATCH, aligned)

    def _diversity_similarity(self, a: str, b: str) -> float:
        if SAME_SERIES_REDUNDANCY and self._same_series(a, b):
            return SAME_SERIES_REDUNDANCY
        if self.itemsim is not None:
            return self.itemsim.similarity(a, b)
        genres_a, genres_b = set(self.catalog.items.at[a, "genres"]), set(self.catalog.items.at[b, "genres"])
        return len(genres_a & genres_b) / max(1, len(genres_a | genres_b))

    def _same_series(self, a: str, b: str) -> bool:
        if self.knowledge is None:
            return False
        series = {entity for entity in self.knowledge.entities_of(a) if entity.kind == "collection"}
        return any(entity in series for entity in self.knowledge.entities_of(b))

    # -- cards and evidence -------------------------------------------------------------------------------------------
    def _card(self, item_id: str, score: float, profile: Profile, signals: dict[str, np.ndarray | None],
              weights: dict[str, float], extra: list[Reason] | None = None,
              cited: Counter[str] | None = None) -> Recommendation:
        item = self.catalog.item(item_id)
        reasons = [*(extra or []), *self._reasons(item_id, profile, signals, weights, Counter() if cited is None
                                                  else cited)]
        return Recommendation(item_id=item_id, title=item.title, year=item.year, genres=list(item.genres),
                              score=round(float(score), 4), reasons=reasons[:3])

    def _reasons(self, item_id: str, profile: Profile, signals: dict[str, np.ndarray | None],
                 weights: dict[str, float], cited: Counter[str]) -> list[Reason]:
        reasons: list[Reason] = self._knowledge_reasons(item_id, profile)
        position = self._position[item_id]
        liked = {**profile.liked, **{i: 1.0 for i, r in profile.ratings.items() if self.catalog.scale.is_like(r)}}
        if self.itemsim is not None and liked:
            reasons += self._similar_to_liked(item_id, liked, cited)
        if signals.get("content") is not None and liked:
            reasons += self._similar_description(item_id, liked)
        query = signals.get("query")
        if query is not None and profile.query and np.isfinite(query[position]):
            reasons.append(explain.matches_query(profile.query, float(query[position])))
        cf = signals.get("cf")
        if cf is not None and weights.get("cf") and cf[position] >= PREDICTED_EVIDENCE:
            reasons.append(explain.cf_predicted(float(cf[position]), self.catalog.scale.high))
        matched = sorted(genre for genre in profile.genres_liked
                         if genre in self._genres.columns and self._genres.at[item_id, genre] > 0)
        if matched:
            reasons.append(explain.genre_match(matched))
        if not reasons and signals.get("content") is not None and liked:  # what lifted it, however faintly
            reasons += self._similar_description(item_id, liked, minimum=0.0)
        if not reasons:
            count = int(self._stats["count"].get(item_id, 0))
            reasons.append(explain.popular_cold_start(count, float(self._stats["mean"].get(item_id, 0.0))))
        return reasons

    def _knowledge_reasons(self, item_id: str, profile: Profile) -> list[Reason]:
        """A person or series the user named, else one the item shares with a liked item."""
        if self.knowledge is None:
            return []
        for key in profile.entities_liked:
            entity = Entity.from_key(key)
            role = self.knowledge.items(entity).get(item_id)
            if role is not None:
                return [explain.same_person(entity.name, role) if entity.kind == "person"
                        else explain.same_collection(entity.name)]
        shared = {entity: liked for liked in reversed(list(profile.liked))
                  for entity in self.knowledge.entities_of(liked)}
        for entity in self.knowledge.entities_of(item_id):
            liked = shared.get(entity)
            if liked is not None and liked != item_id:
                label = self.catalog.item(liked).label
                role = self.knowledge.items(entity)[item_id]
                liked_role = self.knowledge.items(entity).get(liked)
                return [explain.same_person(entity.name, role, liked, label, liked_role) if entity.kind == "person"
                        else explain.same_collection(entity.name, liked, label)]
        return []

    def _similar_to_liked(self, item_id: str, liked: dict[str, float], cited: Counter[str]) -> list[Reason]:
        """The liked item that explains the card: the strongest contributor, unless another that pushes it at least
        SPREAD_SHARE as hard has been cited less often by the cards before (several liked films, several cited)."""
        contributions = self.itemsim.contributions(item_id, liked)  # largest first
        if not contributions:
            return []
        strongest = contributions[0][1]
        strong = [pair for pair in contributions if pair[1] > 0 and pair[1] >= SPREAD_SHARE * strongest]
        best = min(strong or contributions[:1], key=lambda pair: cited[pair[0]])[0]  # stable: ties keep the order
        similarity = self.itemsim.similarity(item_id, best)
        if similarity < MIN_SIMILARITY_EVIDENCE:
            return []
        cited[best] += 1
        return [explain.similar_to_liked(best, self.catalog.item(best).label, similarity)]

    def _similar_description(self, item_id: str, liked: dict[str, float],
                             minimum: float = MIN_CONTENT_EVIDENCE) -> list[Reason]:
        """The liked item whose description is nearest this one's, when close enough."""
        nearest = [(similarity, liked_id) for liked_id in liked
                   for other, similarity in self.content_neighbours(liked_id, CONTENT_POOL) if other == item_id]
        if not nearest:
            return []
        similarity, liked_id = max(nearest)
        if similarity < minimum:
            return []
        return [explain.similar_description(liked_id, self.catalog.item(liked_id).label, similarity)]

    def _exploration(self, request: RecommendRequest, relevance: pd.Series, mask: np.ndarray,
                     chosen: set[str]) -> list[Recommendation]:
        rng = np.random.default_rng(request.seed)
        genres = [g for g in self.catalog.genres if g not in request.profile.constraints.exclude_genres]
        if not genres:
            return []
        genre = rank.thompson_genre(request.genre_feedback, genres, rng)
        in_genre = self.catalog.genre_matrix[genre].to_numpy()[mask] & ~relevance.index.isin(list(chosen))
        if not in_genre.any():
            return []
        appeal = relevance.to_numpy() + 0.5 * rank.scaled(self._popularity, mask)
        item_id = relevance.index[np.flatnonzero(in_genre)[np.argmax(appeal[in_genre])]]
        label = explain.explore(genre if genre not in request.profile.genres_liked else f"more {genre}")
        return [self._card(item_id, relevance[item_id], request.profile, {}, {}, extra=[label])]


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


@lru_cache(maxsize=1)
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _as_ratings(profile: Profile, catalog: Catalog) -> dict[str, float]:
    """Likes and dislikes as ratings on the catalog's scale, explicit ratings as given, for CF fold-in."""
    return {**opinion_ratings(catalog.scale, profile.liked, profile.disliked), **profile.ratings}
