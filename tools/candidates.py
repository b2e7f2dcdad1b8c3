"""The agent's tools for one turn, around a candidate bus (after InteRecAgent).

Tools put catalog ids into a per-turn buffer (search, similar-to, the profile's own ranking) or narrow it (filter);
the model only ever refers to the buffer. What it sees of an item is the catalog's label and id; what the user
finally gets is ranked from the buffer by the same `Recommender` as the cards-first policy, so hard constraints,
known items and evidence work the same way. Every tool applies the session profile's hard constraints and drops
items the user already named, rated or dismissed, whatever arguments the model passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from convrec.catalog.models import Catalog
from convrec.tools.errors import ToolError
from convrec.tools.linking import link_title
from convrec.tools.models import Profile, Recommendation
from convrec.tools.rank import allowed
from convrec.tools.recommend import QUERY_POOL, Recommender, RecommendRequest
from convrec.tools.registry import LinkRequest, Registry

SHOWN_IN_OBSERVATION = 8  # items listed back to the model per tool call (the rest are in the buffer all the same)
MAX_BUFFER = 60


class SearchArgs(BaseModel):
    query: str = Field(min_length=1, max_length=200, description="what the movies should be about, in a few words")
    genres: list[str] = Field(default_factory=list, description="keep movies with at least one of these genres")
    year_min: int | None = Field(default=None, description="released this year or later")
    year_max: int | None = Field(default=None, description="released this year or earlier")
    k: int = Field(default=10, ge=1, le=30)


class SimilarArgs(BaseModel):
    item_id: str = Field(min_length=1, description="a catalog item id (from link_title, the profile or the buffer)")
    k: int = Field(default=10, ge=1, le=30)


class ProfileArgs(BaseModel):
    k: int = Field(default=10, ge=1, le=30)


class FilterArgs(BaseModel):
    genres: list[str] = Field(default_factory=list, description="keep buffer items with at least one of these")
    exclude_genres: list[str] = Field(default_factory=list, description="drop buffer items with any of these")
    year_min: int | None = None
    year_max: int | None = None


class FinishArgs(BaseModel):
    item_ids: list[str] = Field(default_factory=list, max_length=30,
                                description="buffer ids to keep, best first; empty: keep the whole buffer")
    note: str = Field(default="", max_length=300, description="one short sentence for the user (optional)")


@dataclass
class CandidateBus:
    """The turn's candidate buffer: catalog ids in the order tools found them, each with the tool that did."""

    catalog: Catalog
    items: dict[str, str] = field(default_factory=dict)  # item_id → the tool that added it
    queries: list[str] = field(default_factory=list)  # what search_items looked for (ranking matches the last)

    def add(self, item_ids: list[str], source: str) -> list[str]:
        added = [i for i in item_ids if i in self.catalog and i not in self.items][:MAX_BUFFER - len(self.items)]
        for item_id in added:
            self.items[item_id] = source
        return added

    def keep(self, item_ids: set[str]) -> None:
        self.items = {i: source for i, source in self.items.items() if i in item_ids}


@dataclass
class SessionTools:
    """The tools as the agent's model sees them, bound to one session's profile and one turn's bus."""

    catalog: Catalog
    recommender: Recommender
    profile: Profile
    bus: CandidateBus
    finished: FinishArgs | None = None

    def registry(self) -> Registry:
        return {
            "search_items": (SearchArgs, self.search_items),
            "similar_items": (SimilarArgs, self.similar_items),
            "recommend_for_profile": (ProfileArgs, self.recommend_for_profile),
            "link_title": (LinkRequest, self.link_title),
            "filter_candidates": (FilterArgs, self.filter_candidates),
            "finish": (FinishArgs, self.finish),
        }

    # -- tools: each docstring is what the model reads -----------------------------------------------------------
    def search_items(self, args: SearchArgs) -> str:
        """Semantic search over the catalog's movie descriptions; adds the hits to the candidate buffer."""
        search = self.recommender.query_search
        if search is None:
            raise ToolError("semantic search is not available here; use recommend_for_profile or similar_items")
        self._check_genres(args.genres)
        ok = self._allowed()
        hits = [item_id for item_id, _ in search(args.query, QUERY_POOL)
                if ok.get(item_id, False) and self._fits(item_id, args.genres, [], args.year_min, args.year_max)]
        self.bus.queries.append(args.query)
        return self._added(hits[:args.k], "search_items")

    def similar_items(self, args: SimilarArgs) -> str:
        """Movies that the same people rated (item-item similarity) to one catalog item; adds them to the buffer."""
        itemsim = self.recommender.itemsim
        if args.item_id not in self.catalog:
            raise ToolError(f"unknown item id '{args.item_id}': take ids from link_title, the profile or the buffer")
        if itemsim is None:
            raise ToolError("item similarity is not available")
        ok = self._allowed()
        similar = [i for i, _ in itemsim.most_similar(args.item_id, 3 * args.k + 30) if ok.get(i, False)]
        return self._added(similar[:args.k], "similar_items")

    def recommend_for_profile(self, args: ProfileArgs) -> str:
        """The recommender's own ranking for everything the user has said so far; adds it to the buffer."""
        cards = self.recommender.recommend(RecommendRequest(profile=self.profile, k=args.k))
        return self._added([card.item_id for card in cards], "recommend_for_profile")

    def link_title(self, args: LinkRequest) -> str:
        """Find the catalog id(s) of a title the user typed (to use with similar_items); adds nothing to the buffer."""
        result = link_title(args.title, self.catalog)
        if not result.candidates:
            return f"no catalog title matches '{args.title}'"
        return "; ".join(f"{self._label(c.item_id)} [id {c.item_id}]" for c in result.candidates[:5])

    def filter_candidates(self, args: FilterArgs) -> str:
        """Narrow the candidate buffer by genres and years (the user's hard limits always apply anyway)."""
        self._check_genres([*args.genres, *args.exclude_genres])
        before = len(self.bus.items)
        self.bus.keep({i for i in self.bus.items
                       if self._fits(i, args.genres, args.exclude_genres, args.year_min, args.year_max)})
        return f"kept {len(self.bus.items)} of {before} candidates"

    def finish(self, args: FinishArgs) -> str:
        """Stop: the final cards are ranked from the buffer (or from `item_ids`, which must be buffer ids)."""
        unknown = [i for i in args.item_ids if i not in self.bus.items]
        if unknown:
            raise ToolError(f"not in the candidate buffer: {unknown[:5]}; keep only ids that tools returned")
        if not self.bus.items:
            raise ToolError("the candidate buffer is empty: search or recommend first")
        self.finished = args
        return f"done: {len(args.item_ids) or len(self.bus.items)} candidates go to ranking"

    # -- helpers ---------------------------------------------------------------------------------------------------
    def _added(self, item_ids: list[str], source: str) -> str:
        added = self.bus.add(item_ids, source)
        listed = "; ".join(f"{self._label(i)} [id {i}]" for i in added[:SHOWN_IN_OBSERVATION])
        more = f" and {len(added) - SHOWN_IN_OBSERVATION} more" if len(added) > SHOWN_IN_OBSERVATION else ""
        return f"added {len(added)} candidates (buffer now {len(self.bus.items)}): {listed or 'none new'}{more}"

    def _allowed(self) -> dict[str, bool]:
        return dict(zip(self.catalog.items.index, allowed(self.catalog, self.profile), strict=True))

    def _fits(self, item_id: str, genres: list[str], exclude: list[str], year_min: int | None,
              year_max: int | None) -> bool:
        item = self.catalog.item(item_id)
        if genres and not set(genres) & set(item.genres):
            return False
        if set(exclude) & set(item.genres):
            return False
        if year_min is not None and (item.year is None or item.year < year_min):
            return False
        return not (year_max is not None and (item.year is None or item.year > year_max))

    def _check_genres(self, genres: list[str]) -> None:
        unknown = sorted(set(genres) - set(self.catalog.genres))
        if unknown:
            raise ToolError(f"unknown genre(s) {unknown}; the catalog's genres are {list(self.catalog.genres)}")

    def _label(self, item_id: str) -> str:
        item = self.catalog.item(item_id)
        return f"{item.label} ({', '.join(item.genres)})"


def guaranteed(cards: list[Recommendation], profile: Profile, catalog: Catalog,
               buffer: set[str]) -> list[Recommendation]:
    """The cards that keep every promise, whatever the model did: in the catalog and in the buffer, within the
    user's hard constraints, not an item the user named, rated or dismissed, and with evidence for each reason."""
    ok = allowed(catalog, profile)
    position = {item_id: i for i, item_id in enumerate(catalog.items.index)}
    return [card for card in cards
            if card.item_id in position and card.item_id in buffer and ok[position[card.item_id]]
            and card.reasons and all(reason.evidence for reason in card.reasons)]
