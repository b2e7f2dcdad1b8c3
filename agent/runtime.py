"""Everything a front end needs, built once from Settings: catalog, tools, memory, LLM, the Agent.

Shared by the TUI, the HTTP server and the CLI. Slow parts load lazily or in stages that report progress:
the embedding model (5-19 s of torch import) only when a query needs semantic search, the LLM on first use.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass

from convrec.agent.llm import LLM
from convrec.agent.memory import Memory
from convrec.agent.policy import Agent
from convrec.catalog.models import Catalog
from convrec.catalog.store import CatalogStore
from convrec.core.progress import Progress, no_progress
from convrec.core.settings import Settings
from convrec.tools.cf import SVDScorer
from convrec.tools.cfmodel import configured_factors
from convrec.tools.elicitation import informativeness
from convrec.tools.itemsim import item_item_model
from convrec.tools.knowledge import knowledge_index
from convrec.tools.linking import title_index
from convrec.tools.recommend import Recommender

Status = Callable[[str], None]


class LazySearch:
    """Semantic search that loads the embedding model and opens Chroma on first use (thread-safe)."""

    def __init__(self, settings: Settings, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog = catalog
        self._index = None
        self._model_loaded = False
        self._lock = threading.Lock()

    def warm(self) -> None:
        with self._lock:
            self._open_index().embedding_function.load()
            self._model_loaded = True

    def __call__(self, query: str, k: int) -> list[tuple[str, float]]:
        if not self._model_loaded and self._lock.locked():
            # Another thread is loading the embedding model (a front end warming it in the background): rank without
            # the query match this once rather than hold the cards for the 5-19 s the load takes.
            return []
        self.warm()
        return [(item_id, similarity) for item_id, similarity in self._index.query(query, k)
                if item_id in self.catalog]

    def neighbours(self, item_id: str, k: int) -> list[tuple[str, float]]:
        """Items whose descriptions are nearest to `item_id`'s (the recommender's content signal): stored vectors
        only, so the embedding model is not loaded for it; cached, since liked items come back every turn."""
        if self._index is None and self._lock.locked():
            return []  # another thread is opening the index: this turn ranks without the content signal
        return self._neighbours(item_id, k)

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one LazySearch per runtime, living as long as it
    def _neighbours(self, item_id: str, k: int) -> list[tuple[str, float]]:
        index = self._index
        if index is None:
            with self._lock:
                index = self._open_index()
        return [(other, similarity) for other, similarity in index.neighbours(item_id, k) if other in self.catalog]

    def _open_index(self):
        """The Chroma index with a lazy embedding function (caller holds the lock)."""
        from convrec.catalog.embeddings import embedding_function
        from convrec.catalog.vectors import VectorIndex, open_client

        if self._index is None:
            self._index = VectorIndex(open_client(self.settings.index_dir, self.settings.chroma_url),
                                      self.catalog.name, embedding_function(self.settings.embedding_model, load=False))
        return self._index


@dataclass
class Runtime:
    settings: Settings
    catalog: Catalog
    memory: Memory
    recommender: Recommender
    search: LazySearch
    agent: Agent


def build_llm(settings: Settings, status: Status = lambda text: None, progress: Progress = no_progress) -> LLM | None:
    """`progress` reports the GGUF's assembly from its packages when it is not in the cache yet (first run)."""
    if settings.llm == "none":
        return None
    if settings.llm == "openai":
        from convrec.agent.openai_backend import OpenAICompatibleLLM

        return OpenAICompatibleLLM(base_url=settings.openai_base_url, api_key=settings.openai_api_key,
                                   model=settings.openai_model, timeout=settings.openai_timeout)
    from convrec.agent.local_model import model_process
    from convrec.agent.weights import resolve_model_path

    status("checking the local model")
    return model_process(settings, resolve_model_path(settings, progress))


def build_policy(settings: Settings, catalog: Catalog, recommender: Recommender, memory: Memory, llm: LLM | None,
                 **options) -> Agent:
    """The turn policy `settings.policy` names: cards-first (the default) or the tool-calling agent."""
    if settings.policy == "agent":
        from convrec.agent.tool_agent import build_tool_agent

        return build_tool_agent(settings, catalog, recommender, memory, llm, **options)
    return Agent(catalog, recommender, memory, llm, **options)


def build_runtime(settings: Settings | None = None, *, llm: LLM | None = None, use_llm: bool = True,
                  status: Status = lambda text: None, progress: Progress = no_progress) -> Runtime:
    """`llm` overrides the configured backend (tests pass a ScriptedLLM); `use_llm=False` runs without one."""
    settings = settings or Settings()
    status("loading the catalog")
    catalog = CatalogStore(settings.catalog_store_dir, override=settings.catalog).active()
    status("loading collaborative filtering")
    factors, _ = configured_factors(catalog, settings)
    status("loading item similarities")
    itemsim = item_item_model(catalog, settings)
    status("indexing titles")
    title_index(catalog)  # built once per catalog (~0.4 s): the first message should not pay for it
    informativeness(catalog)
    status("loading people and series")
    knowledge = knowledge_index(catalog, settings.index_dir)
    search = LazySearch(settings, catalog)
    recommender = Recommender(catalog, itemsim=itemsim, cf=SVDScorer(factors, catalog), query_search=search,
                              content_neighbours=search.neighbours, knowledge=knowledge)
    memory = Memory(settings.state_db)
    if llm is None and use_llm:
        llm = build_llm(settings, status, progress)
    agent = build_policy(settings, catalog, recommender, memory, llm if use_llm else None)
    return Runtime(settings=settings, catalog=catalog, memory=memory, recommender=recommender, search=search,
                   agent=agent)
