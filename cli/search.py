"""`convrec search`: the semantic search tool on its own, no LLM (what the agent's query signal sees)."""

from __future__ import annotations

from rich.table import Table

from convrec.catalog.store import CatalogStore
from convrec.catalog.vectors import VectorIndex
from convrec.cli.progress import console
from convrec.core.errors import InputError
from convrec.core.settings import Settings
from convrec.tools.errors import ToolError
from convrec.tools.search import SearchHit, SearchRequest, search


def run_search(request: SearchRequest, as_json: bool) -> None:
    settings = Settings()
    catalog = CatalogStore.from_settings(settings).active()
    index = VectorIndex.from_settings(catalog.name, settings)
    if index.count() == 0:
        raise InputError("the search index is empty", where=str(settings.index_dir), fix="run `convrec index` first")
    with console.status("loading the embedding model"):
        try:
            hits = search(index, catalog, request)
        except ToolError as error:
            raise InputError(str(error), fix="see `convrec search --help`") from error
    if as_json:
        console.print_json(data=[hit.model_dump() for hit in hits])
    else:
        console.print(hits_table(request.query, hits))


def hits_table(query: str, hits: list[SearchHit]) -> Table:
    table = Table(title=f"“{query}”", title_justify="left")
    for column in ("similarity", "title", "genres"):
        table.add_column(column)
    for hit in hits:
        title = f"{hit.title} ({hit.year})" if hit.year else hit.title
        table.add_row(f"{hit.similarity:.2f}", title, ", ".join(hit.genres))
    return table
