"""The `convrec` command line. Errors print one line `convrec: error: …`; `--debug` shows tracebacks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from convrec.core.errors import ConvrecError

app = typer.Typer(no_args_is_help=False, add_completion=False, pretty_exceptions_enable=False,
                  help="convrec: a conversational recommender that runs offline.")
catalog_app = typer.Typer(no_args_is_help=True, help="Check and import catalogs.")
model_app = typer.Typer(no_args_is_help=True, help="Manage the local LLM weights.")
app.add_typer(catalog_app, name="catalog")
app.add_typer(model_app, name="model")

_state = {"debug": False}


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context,
         debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False) -> None:
    _state["debug"] = debug
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


@app.command()
def info() -> None:
    """What is configured, where data lives, sizes, index freshness."""
    from convrec.cli.info import show_info

    show_info()


@app.command()
def index() -> None:
    """Build or refresh the search index and the CF model for the active catalog (incremental)."""
    from convrec.cli.indexing import build_indexes

    build_indexes()


LlmChoice = Annotated[str | None, typer.Option("--llm", help="local | openai | none (default: CONVREC_LLM)")]
UserOption = Annotated[str, typer.Option("--user", help="whose profile")]


@app.command()
def ask(message: Annotated[str, typer.Argument(help="what you say to convrec")],
        session: Annotated[str | None, typer.Option("--session", help="continue this session")] = None,
        user: UserOption = "me", llm: LlmChoice = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the DESIGN.md JSON contract")] = False) -> None:
    """Run one turn of the conversation and persist it."""
    from convrec.cli.ask import ask as run_ask

    if llm not in (None, "local", "openai", "none"):
        raise typer.BadParameter("use local, openai or none", param_hint="--llm")
    run_ask(message, user=user, session=session, llm=llm, as_json=as_json)


@app.command()
def rate(item_id: Annotated[str, typer.Argument(help="catalog item id")],
         rating: Annotated[float, typer.Argument(help="on the catalog's scale, e.g. 0.5-5")],
         user: UserOption = "me") -> None:
    """Rate an item; the next recommendations use it."""
    from convrec.cli.ask import feedback

    feedback(item_id, "rate", rating, user=user)


@app.command()
def like(item_id: Annotated[str, typer.Argument(help="catalog item id")], user: UserOption = "me") -> None:
    """Say you like an item."""
    from convrec.cli.ask import feedback

    feedback(item_id, "like", None, user=user)


@app.command()
def dislike(item_id: Annotated[str, typer.Argument(help="catalog item id")], user: UserOption = "me") -> None:
    """Say you dislike an item."""
    from convrec.cli.ask import feedback

    feedback(item_id, "dislike", None, user=user)


@app.command()
def export(user: UserOption = "me") -> None:
    """Print everything stored about a user as JSON."""
    from convrec.cli.ask import export as run_export

    run_export(user)


@app.command()
def forget(user: UserOption = "me") -> None:
    """Delete everything stored about a user."""
    from convrec.cli.ask import forget as run_forget

    run_forget(user)


@catalog_app.command("check")
def catalog_check(path: Annotated[Path, typer.Argument(help="catalog folder (MovieLens layout or convrec.toml)")]) -> None:
    """Validate a catalog without importing it."""
    from convrec.cli.catalogs import check_catalog

    check_catalog(path)


@catalog_app.command("import")
def catalog_import(path: Annotated[Path, typer.Argument(help="catalog folder (MovieLens layout or convrec.toml)")]) -> None:
    """Validate and import a catalog; it becomes the active one. A failed import changes nothing."""
    from convrec.cli.catalogs import import_catalog

    import_catalog(path)


@model_app.command("ensure")
def model_ensure(
    name: Annotated[str | None, typer.Argument(help="qwen2.5-coder-1.5b (default) or qwen2.5-coder-0.5b")] = None,
) -> None:
    """Assemble the local GGUF from its installed chunk packages, verified by sha256 (cached)."""
    from convrec.cli.models import ensure

    ensure(name)


def run() -> None:
    """Console entry point. Typer handles usage errors (exit 2); explainable failures become one line."""
    try:
        app()
    except ConvrecError as error:
        if _state["debug"]:
            raise
        print(f"convrec: error: {error.render()}", file=sys.stderr)
        sys.exit(error.exit_code)
    except Exception as error:  # noqa: BLE001 - the last line of defence for users
        if _state["debug"]:
            raise
        print(f"convrec: error: {type(error).__name__}: {error} — rerun with --debug for a traceback",
              file=sys.stderr)
        sys.exit(1)
