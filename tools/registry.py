"""One registry of the tools: typed Python functions (schemas from their signatures) and the same tools as
LangChain `StructuredTool`s, whose failures come back as observations instead of exceptions."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from convrec.catalog.models import Catalog
from convrec.tools.elicitation import next_questions
from convrec.tools.errors import ToolError
from convrec.tools.linking import LinkResult, link_title
from convrec.tools.models import Profile, Recommendation
from convrec.tools.recommend import Recommender, RecommendRequest
from convrec.tools.search import SearchHit, SearchRequest, search


class LinkRequest(BaseModel):
    title: str = Field(min_length=1, max_length=200, description="a title as a person typed it")


class SimilarRequest(BaseModel):
    item_id: str = Field(min_length=1, description="a catalog item id")
    k: int = Field(default=5, ge=1, le=50)


class SimilarItem(BaseModel):
    item_id: str
    title: str
    similarity: float = Field(ge=0, le=1)


class QuestionsRequest(BaseModel):
    profile: Profile = Field(default_factory=Profile)
    k: int = Field(default=5, ge=1, le=20)


Registry = dict[str, tuple[type[BaseModel], Callable[[Any], Any]]]  # name → (argument schema, function)


@dataclass
class Toolbox:
    """The tools bound to one catalog's resources. `vector_index` is called only when a search runs."""

    catalog: Catalog
    recommender: Recommender
    vector_index: Callable[[], Any] | None = None

    def link(self, request: LinkRequest) -> LinkResult:
        """Link a typed title to catalog items; ambiguous names come back with their candidates."""
        return link_title(request.title, self.catalog)

    def search(self, request: SearchRequest) -> list[SearchHit]:
        """Semantic search over item descriptions, with genre and year filters that always hold."""
        if self.vector_index is None:
            raise ToolError("semantic search is not available: no vector index")
        return search(self.vector_index(), self.catalog, request)

    def recommend(self, request: RecommendRequest) -> list[Recommendation]:
        """Recommendations with evidence for a profile; hard constraints always hold."""
        return self.recommender.recommend(request)

    def similar(self, request: SimilarRequest) -> list[SimilarItem]:
        """Items most similar to one item, by who rated both (cosine in [0, 1])."""
        if request.item_id not in self.catalog:
            raise ToolError(f"unknown item id '{request.item_id}'")
        itemsim = self.recommender.itemsim
        if itemsim is None:
            raise ToolError("item similarity is not available")
        return [SimilarItem(item_id=i, title=self.catalog.item(i).label, similarity=s)
                for i, s in itemsim.most_similar(request.item_id, request.k)]

    def questions(self, request: QuestionsRequest) -> list[str]:
        """Well-known, informative, diverse items to ask a new user about."""
        return next_questions(self.catalog, request.profile, request.k)


def registry(toolbox: Toolbox) -> Registry:
    """name → (argument schema, function): the single list every interface is built from."""
    return {
        "link_title": (LinkRequest, toolbox.link),
        "search_items": (SearchRequest, toolbox.search),
        "recommend": (RecommendRequest, toolbox.recommend),
        "similar_items": (SimilarRequest, toolbox.similar),
        "onboarding_questions": (QuestionsRequest, toolbox.questions),
    }


def call_tool(toolbox: Toolbox, name: str, arguments: dict[str, Any]) -> str:
    """Run a tool by name with raw arguments; any failure is returned as an observation the model can read."""
    return call_registered(registry(toolbox), name, arguments)


def call_registered(tools: Registry, name: str, arguments: dict[str, Any]) -> str:
    """`call_tool` over any registry of the same shape (the agent's session tools use it too)."""
    if name not in tools:
        return f"error: unknown tool '{name}'; tools are {sorted(tools)}"
    schema, function = tools[name]
    try:
        result = function(schema.model_validate(arguments))
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in error.errors())
        return f"error: bad arguments for {name}: {problems}"
    except ToolError as error:
        return f"error: {error}"
    return result if isinstance(result, str) else _as_json(result)


def langchain_tools(toolbox: Toolbox) -> list:
    """The registry as LangChain StructuredTools, for capable tool-calling models."""
    return as_langchain(registry(toolbox))


def as_langchain(tools: Registry) -> list:
    """Any registry as LangChain StructuredTools whose failures come back as observations."""
    from langchain_core.tools import StructuredTool

    return [StructuredTool.from_function(func=_bound(tools, name), name=name, description=function.__doc__,
                                         args_schema=schema)
            for name, (schema, function) in tools.items()]


def _bound(tools: Registry, name: str) -> Callable[..., str]:
    def run(**arguments: Any) -> str:
        return call_registered(tools, name, arguments)

    return run


def _as_json(result: Any) -> str:
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    if isinstance(result, list):
        return json.dumps([r.model_dump(mode="json") if isinstance(r, BaseModel) else r for r in result])
    return json.dumps(result)
