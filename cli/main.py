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
eval_app = typer.Typer(no_args_is_help=True,
                       help="Evaluate the recommender: offline metrics, dialogue replay, simulated users.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys for `convrec serve`.")
llm_app = typer.Typer(no_args_is_help=True, help="Serve the local model as an OpenAI-compatible endpoint.")
app.add_typer(catalog_app, name="catalog")
app.add_typer(model_app, name="model")
app.add_typer(eval_app, name="eval")
app.add_typer(keys_app, name="keys")
app.add_typer(llm_app, name="llm")

_state = {"debug": False}


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context,
         debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
         user: Annotated[str | None, typer.Option("--user", help="with no command: whose profile the UI opens")]
         = None,
         session: Annotated[str | None, typer.Option("--session", help="with no command: the session to open")]
         = None,
         llm: Annotated[str | None, typer.Option("--llm", help="with no command: local | openai | none")] = None,
         catalog: Annotated[Path | None, typer.Option("--catalog", help="with no command: a catalog folder")]
         = None,
         policy: Annotated[str | None, typer.Option("--policy", help="with no command: cards-first | agent")]
         = None) -> None:
    """With no command, open the terminal UI (same as `convrec tui`)."""
    _state["debug"] = debug
    if ctx.invoked_subcommand is None:
        _launch_tui(user or "me", session, llm, catalog, policy)
    elif any(value is not None for value in (user, session, llm, catalog, policy)):
        raise typer.BadParameter(f"put these options after the command: convrec {ctx.invoked_subcommand} "
                                 "--user … (before it they only apply to the UI)")


def _launch_tui(user: str = "me", session: str | None = None, llm: str | None = None,
                catalog: Path | None = None, policy: str | None = None) -> None:
    from convrec.tui.app import run_tui

    if llm not in (None, "local", "openai", "none"):
        raise typer.BadParameter("use local, openai or none", param_hint="--llm")
    _check_policy(policy)
    raise typer.Exit(run_tui(user=user, session=session, llm=llm, catalog=str(catalog) if catalog else None,
                             policy=policy))


@app.command()
def tui(user: Annotated[str, typer.Option("--user", help="whose profile")] = "me",
        session: Annotated[str | None, typer.Option("--session", help="open this session (default: the latest)")]
        = None,
        llm: Annotated[str | None, typer.Option("--llm", help="local | openai | none (default: CONVREC_LLM)")] = None,
        catalog: Annotated[Path | None, typer.Option("--catalog", help="a catalog folder to read directly")] = None,
        policy: Annotated[str | None, typer.Option("--policy", help="cards-first | agent (default: CONVREC_POLICY)")]
        = None,
        ) -> None:
    """Open the terminal UI (also what `convrec` with no command does)."""
    _launch_tui(user, session, llm, catalog, policy)


@app.command()
def info() -> None:
    """What is configured, where data lives, sizes, index freshness."""
    from convrec.cli.info import show_info

    show_info()


@app.command()
def index(cf: Annotated[str | None, typer.Option("--cf", help="svd | spark-als (default: CONVREC_CF or svd)")] = None,
          spark_master: Annotated[str | None, typer.Option(
              "--spark-master", help="for spark-als: local[N] or spark://host:port (default: CONVREC_SPARK_MASTER)")]
          = None) -> None:
    """Build or refresh the search index and the CF model for the active catalog (incremental)."""
    from convrec.cli.indexing import build_indexes
    from convrec.core.settings import Settings

    if cf not in (None, "svd", "spark-als"):
        raise typer.BadParameter("use svd or spark-als", param_hint="--cf")
    overrides = {name: value for name, value in {"cf": cf, "spark_master": spark_master}.items() if value}
    build_indexes(Settings(**overrides))


@app.command("search")
def search_items(query: Annotated[str, typer.Argument(help="what the items should be about")],
                 k: Annotated[int, typer.Option("-k", help="how many hits", min=1, max=500)] = 10,
                 genre: Annotated[list[str] | None, typer.Option("--genre", help="each hit has one of these")] = None,
                 not_genre: Annotated[list[str] | None, typer.Option("--not-genre", help="no hit has these")] = None,
                 after: Annotated[int | None, typer.Option("--after", help="released this year or later")] = None,
                 before: Annotated[int | None, typer.Option("--before", help="released this year or earlier")] = None,
                 as_json: Annotated[bool, typer.Option("--json", help="print the hits as JSON")] = False) -> None:
    """Semantic search over the catalog's descriptions (the vector search tool alone, no LLM)."""
    from pydantic import ValidationError

    from convrec.cli.search import run_search
    from convrec.tools.search import SearchRequest

    try:
        request = SearchRequest(query=query, k=k, include_genres=genre or [], exclude_genres=not_genre or [],
                                year_min=after, year_max=before)
    except ValidationError as error:
        raise typer.BadParameter(error.errors()[0]["msg"], param_hint="QUERY") from error
    run_search(request, as_json)


LlmChoice = Annotated[str | None, typer.Option("--llm", help="local | openai | none (default: CONVREC_LLM)")]
PolicyChoice = Annotated[str | None, typer.Option("--policy", help="cards-first | agent (the LLM calls the tools; "
                                                  "needs --llm openai) (default: CONVREC_POLICY)")]
POLICIES = ("cards-first", "agent")


def _check_policy(policy: str | None) -> None:
    if policy not in (None, *POLICIES):
        raise typer.BadParameter("use cards-first or agent", param_hint="--policy")
UserOption = Annotated[str, typer.Option("--user", help="whose profile")]


@app.command()
def ask(message: Annotated[str, typer.Argument(help="what you say to convrec")],
        session: Annotated[str | None, typer.Option("--session", help="continue this session")] = None,
        user: UserOption = "me", llm: LlmChoice = None, policy: PolicyChoice = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the DESIGN.md JSON contract")] = False) -> None:
    """Run one turn of the conversation and persist it."""
    from convrec.cli.ask import ask as run_ask

    if llm not in (None, "local", "openai", "none"):
        raise typer.BadParameter("use local, openai or none", param_hint="--llm")
    _check_policy(policy)
    run_ask(message, user=user, session=session, llm=llm, as_json=as_json, policy=policy)


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


@app.command()
def serve(host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option("--port", help="TCP port")] = 8350,
          llm: LlmChoice = None, policy: PolicyChoice = None,
          max_body: Annotated[int, typer.Option("--max-body", help="largest request body, bytes")] = 64 * 1024,
          rate: Annotated[float, typer.Option("--rate", help="requests per second per key (average)")] = 10.0,
          burst: Annotated[int, typer.Option("--burst", help="requests per key in a burst")] = 50,
          llm_slots: Annotated[int | None, typer.Option("--llm-slots", help="turns using the LLM at once "
                                                         "(default: 1 local, 8 openai)")] = None,
          llm_queue: Annotated[int, typer.Option("--llm-queue", help="turns waiting for the LLM; more: 503")] = 16,
          cors_origin: Annotated[list[str] | None, typer.Option("--cors-origin", help="allow this browser "
                                                                "origin (repeatable); default: CORS off")] = None,
          warm: Annotated[bool, typer.Option("--warm/--no-warm", help="load the LLM weights and the embedding "
                                             "model before reporting ready")] = True,
          ) -> None:
    """Serve the HTTP API: OpenAI-compatible chat completions for chat platforms, plus the native API."""
    from convrec.server.cli import serve as run_serve
    from convrec.server.config import ServerConfig

    if llm not in (None, "local", "openai", "none"):
        raise typer.BadParameter("use local, openai or none", param_hint="--llm")
    _check_policy(policy)
    if min(max_body, burst, llm_queue + 1) < 1 or rate <= 0 or (llm_slots is not None and llm_slots < 1):
        raise typer.BadParameter("limits must be positive")
    config = ServerConfig(max_body_bytes=max_body, rate_per_s=rate, burst=burst, llm_slots=llm_slots,
                          llm_queue=llm_queue, cors_origins=tuple(cors_origin or ()), warm=warm)
    run_serve(host, port, llm, config, policy)


@keys_app.command("create")
def keys_create(name: Annotated[str, typer.Option("--name", help="who the key is for, e.g. openwebui")]) -> None:
    """Create an API key and print it (only this once; it is stored hashed)."""
    from convrec.server.cli import create_key

    create_key(name)


@keys_app.command("list")
def keys_list() -> None:
    """List the keys (ids and names, never the secrets)."""
    from convrec.server.cli import list_keys

    list_keys()


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="the key's id, from `convrec keys list`")]) -> None:
    """Revoke a key."""
    from convrec.server.cli import revoke_key

    revoke_key(key_id)


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
    retest: Annotated[bool, typer.Option("--retest", help="run the self-test even if this CPU passed it")] = False,
    no_test: Annotated[bool, typer.Option("--no-test", help="assemble and verify only")] = False,
) -> None:
    """Assemble the local GGUF from its installed chunk packages, verified by sha256 (cached), then run it once in
    its own process on this CPU (a short multi-token generation) and record how fast it ran."""
    from convrec.cli.models import ensure

    ensure(name, test="no" if no_test else "again" if retest else "if-new")


@llm_app.command("serve")
def llm_serve(
    model: Annotated[str | None, typer.Option("--model", help="small (0.5B), default (1.5B), a model name or a "
                                              ".gguf path (default: CONVREC_MODEL)")] = None,
    port: Annotated[int, typer.Option("--port", help="TCP port on 127.0.0.1")] = 8351,
    n_ctx: Annotated[int, typer.Option("--n-ctx", min=512, help="context tokens")] = 2048,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="llama.cpp threads")] = None,
) -> None:
    """Serve the local GGUF through llama-cpp-python's OpenAI-compatible server (tool calling by grammar), for
    `--llm openai --policy agent`. Runs until Ctrl-C."""
    from convrec.cli.models import serve_llm

    serve_llm(model, port=port, n_ctx=n_ctx, threads=threads)


@eval_app.command("offline")
def eval_offline(
    report: Annotated[Path, typer.Option("--report", help="folder for offline.json and offline.png")]
    = Path("out/eval-offline"),
    quick: Annotated[bool, typer.Option("--quick", help="fewer folds, models and users: a fast smoke run")] = False,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="processes (default: 2, 1 with --quick)")]
    = None,
) -> None:
    """Rating prediction, top-N and cold start on the active catalog: seeded, with a JSON report and a plot."""
    from convrec.evaluation.offline import main as run_offline

    run_offline(report, quick=quick, workers=workers)


EvalLlm = Annotated[str, typer.Option("--llm", help="the agent's LLM: none | local | openai")]
ModelOption = Annotated[str | None, typer.Option("--model", help="local model: small (0.5B), default (1.5B), "
                                                 "a model name or a .gguf path")]


@eval_app.command("dialogues")
def eval_dialogues(
    llm: EvalLlm = "none",
    model: ModelOption = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="the first N cases (a random sample)")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="cases at once (none/openai only; "
                                                "default 1, 4 with openai)")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="folder for dialogues.json, .md and the plots")]
    = None,
    per_turn: Annotated[bool, typer.Option("--per-turn", help="keep every turn's cards and scores in the report")]
    = False,
    prose: Annotated[bool, typer.Option("--prose/--no-prose", help="let the agent write its reasons (off: stop "
                                        "once the cards are final)")] = True,
    cases: Annotated[Path | None, typer.Option("--cases", help="a cases file in the redial-dev format (default: "
                                               "the vendored dev cases)")] = None,
    split: Annotated[str | None, typer.Option("--split", help="tune (lines 1-400) | check (401-550) | all")] = None,
    lines: Annotated[str | None, typer.Option("--lines", help="only these lines of the cases file, e.g. 401-550")]
    = None,
    policy: PolicyChoice = None,
) -> None:
    """Replay the ReDial dev cases through the agent: Hit@k, NDCG, MRR, questions, latency, vs two baselines."""
    from convrec.evaluation.dialogues import CASES_PATH, parse_lines
    from convrec.evaluation.dialogues import main as run_dialogues

    if llm not in ("none", "local", "openai"):
        raise typer.BadParameter("use none, local or openai", param_hint="--llm")
    _check_policy(policy)
    run_dialogues(report, llm=llm, model=model, limit=limit, workers=workers, per_turn=per_turn, prose=prose,
                  cases_path=cases or CASES_PATH, lines=parse_lines(lines, split), policy=policy)


@eval_app.command("simulate")
def eval_simulate(
    llm: Annotated[str, typer.Option("--llm", help="the agent's LLM: local | openai | none")] = "local",
    simulator_llm: Annotated[str | None, typer.Option("--simulator-llm", help="the simulated user's LLM: local | "
                                                      "openai | none (templates); default: as --llm")] = None,
    model: ModelOption = None,
    users: Annotated[int, typer.Option("--users", min=1, help="simulated users")] = 20,
    max_turns: Annotated[int, typer.Option("--max-turns", min=1, help="turns before a user gives up")] = 5,
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="cards shown; accepted when the target is in them")]
    = 5,
    seed: Annotated[int, typer.Option("--seed", help="which held-out users become personas")] = 0,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="users at once (none/openai only)")]
    = None,
    report: Annotated[Path | None, typer.Option("--report", help="folder for simulate.json, .md and the plots")]
    = None,
    prose: Annotated[bool, typer.Option("--prose/--no-prose", help="let the agent write its reasons")] = False,
) -> None:
    """Simulated users with a hidden target talk to the agent: Hit@k within N turns and AT@k."""
    from convrec.evaluation.simulator import main as run_simulate

    for hint, value in (("--llm", llm), ("--simulator-llm", simulator_llm)):
        if value not in (None, "none", "local", "openai"):
            raise typer.BadParameter("use none, local or openai", param_hint=hint)
    run_simulate(report, llm=llm, simulator_llm=simulator_llm, model=model, users=users, max_turns=max_turns, k=k,
                 seed=seed, workers=workers, prose=prose)


@eval_app.command("chinese")
def eval_chinese(
    llm: EvalLlm = "none",
    model: ModelOption = None,
    aliases: Annotated[bool, typer.Option("--aliases/--no-aliases", help="use the catalog's title aliases (off: "
                                          "titles only from the LLM)")] = True,
    prose: Annotated[bool, typer.Option("--prose/--no-prose", help="let the agent write its reasons")] = True,
    report: Annotated[Path | None, typer.Option("--report", help="folder for chinese.json")] = None,
    split: Annotated[str, typer.Option("--split", help="tune (odd lines) | check (even lines) | all: the "
                                       "first set; heldout: the blind second set; blind: the third")] = "all",
    cases: Annotated[Path | None, typer.Option("--cases", help="a .jsonl of your own messages instead of a split "
                                               "(its misses are listed)")] = None,
) -> None:
    """Chinese test messages through the agent: titles linked, exclusions kept, replies in Chinese."""
    from convrec.evaluation.chinese import SPLITS
    from convrec.evaluation.chinese import main as run_chinese

    if llm not in ("none", "local", "openai"):
        raise typer.BadParameter("use none, local or openai", param_hint="--llm")
    if split not in SPLITS:
        raise typer.BadParameter(f"use {', '.join(SPLITS[:-1])} or {SPLITS[-1]}", param_hint="--split")
    run_chinese(report, llm=llm, model=model, aliases=aliases, prose=prose, split=split, cases_path=cases)


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
