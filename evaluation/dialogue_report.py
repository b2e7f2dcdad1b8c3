"""Reports of `convrec eval dialogues` and `convrec eval simulate`: JSON, a Markdown summary and PNG plots.

Each writes into its folder `<kind>.json`, `<kind>.md`, `<kind>-hit-by-turn.png`, `<kind>-latency.png` and
`<kind>-reasons.png` (matplotlib, Agg), and prints rich tables. JSON is written atomically with the offline
report's `_plain` (numpy scalars to Python, NaN to null).
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from convrec.core.files import atomic_write
from convrec.evaluation.report import _number, _plain

MODEL_LABELS = {"ours": "ours (convrec agent)", "popularity": "popularity", "genre": "genre of liked items"}
RANKING_COLUMNS = (("hit@1", "Hit@1"), ("hit@5", "Hit@5"), ("hit@10", "Hit@10"), ("recall@10", "Recall@10"),
                   ("ndcg@10", "NDCG@10"), ("mrr@10", "MRR@10"))
COLORS = {"ours": "#c44e52", "popularity": "#8c8c8c", "genre": "#4c72b0"}
REASON_COLORS = {"similar_to_liked": "#c44e52", "cf_predicted": "#dd8452", "matches_query": "#55a868",
                 "genre_match": "#4c72b0", "popular_cold_start": "#8c8c8c", "explore": "#8172b3",
                 "same_person": "#da8bc3", "same_collection": "#8c613c", "similar_description": "#937860",
                 "none": "#cccccc"}


# --- files ---------------------------------------------------------------------------------------------------------
def _paths(folder: Path, kind: str) -> dict[str, Path]:
    return {"json": folder / f"{kind}.json", "markdown": folder / f"{kind}.md",
            "hit_by_turn": folder / f"{kind}-hit-by-turn.png", "latency": folder / f"{kind}-latency.png",
            "reasons": folder / f"{kind}-reasons.png"}


def _write_json(report: dict, path: Path) -> None:
    atomic_write(path, json.dumps(_plain(report), indent=2, ensure_ascii=False) + "\n")


def write_dialogues(report: dict, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = _paths(folder, "dialogues")
    _write_json(report, paths["json"])
    plot_hit_by_turn({MODEL_LABELS[m]: [(row["turn"], row["hit@10"]) for row in rows]
                      for m, rows in report["per_turn"].items()},
                     [COLORS[m] for m in report["per_turn"]], paths["hit_by_turn"],
                     title=f"ReDial dev replay: Hit@10 of the cards after each seeker turn ({report['cases']} cases)",
                     ylabel="Hit@10", counts=[row["cases"] for row in report["per_turn"]["ours"]])
    plot_latency(report["latency_samples"], paths["latency"],
                 title=f"Per-turn latency, {report['turns']} turns (LLM: {report['config']['llm'] or 'none'})")
    plot_reasons(report["reason_kinds"], paths["reasons"],
                 title=f"Reason kinds of the {report['reason_kinds']['cards']:,} cards shown (all turns)")
    atomic_write(paths["markdown"], dialogues_markdown(report, paths))
    return paths


def write_simulation(report: dict, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = _paths(folder, "simulate")
    _write_json(report, paths["json"])
    k = report["config"]["k"]
    plot_hit_by_turn({"ours (convrec agent)": [(row["turn"], row["hit"]) for row in report["hit_by_turn"]]},
                     [COLORS["ours"]], paths["hit_by_turn"],
                     title=f"Simulated users ({report['users']}): target in the top {k} within t turns",
                     ylabel=f"Hit@{k} within t turns", reference=("popularity, no conversation",
                                                                  report["popularity_reference_hit"]))
    plot_latency(report["latency_samples"], paths["latency"],
                 title=f"Per-turn latency (agent LLM: {report['config']['agent_llm'] or 'none'})")
    plot_reasons(report["reason_kinds"], paths["reasons"], title=f"Reason kinds of the top-{k} cards shown")
    atomic_write(paths["markdown"], simulation_markdown(report, paths))
    return paths


# --- plots ---------------------------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_hit_by_turn(series: dict[str, list[tuple[int, float | None]]], colors: list[str], path: Path, *, title: str,
                     ylabel: str, counts: list[int] | None = None,
                     reference: tuple[str, float] | None = None) -> None:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 4.6), layout="constrained")
    top = 0.05
    for (label, points), color in zip(series.items(), colors):
        points = [(turn, value) for turn, value in points if value is not None]
        if points:
            axis.plot(*zip(*points), marker="o", color=color, label=label)
            top = max(top, max(value for _, value in points))
    if reference is not None:
        axis.axhline(reference[1], color="#8c8c8c", linestyle="--", label=reference[0])
        top = max(top, reference[1])
    turns = sorted({turn for points in series.values() for turn, _ in points})
    if counts and len(counts) == len(turns):
        axis.set_xticks(turns, [f"{turn}\n(n={count})" for turn, count in zip(turns, counts)])
    elif turns:
        axis.set_xticks(turns)
    axis.set_ylim(0, min(1.0, top * 1.25 + 0.02))
    axis.set_xlabel("turn")
    axis.set_ylabel(ylabel)
    axis.set_title(title, fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_latency(samples: dict[str, list[float]], path: Path, *, title: str) -> None:
    """Box plots on a log scale: first cards are milliseconds, an LLM turn's end is seconds."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 4.2), layout="constrained")
    names = [name for name, values in samples.items() if values]
    if names:
        axis.boxplot([[max(v, 1e-4) for v in samples[name]] for name in names], vert=False, whis=(5, 95),
                     showfliers=True, flierprops={"markersize": 3, "alpha": 0.4})
        axis.set_yticks(range(1, len(names) + 1), [name.replace("_", " ") for name in names])
        axis.set_xscale("log")
    axis.set_xlabel("seconds per turn (log; whiskers p5-p95)")
    axis.set_title(title, fontsize=10)
    axis.grid(alpha=0.3, axis="x")
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_reasons(kinds: dict, path: Path, *, title: str) -> None:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 4.2), layout="constrained")
    names = list(dict.fromkeys([*kinds["primary"], *kinds["any"]]))
    width = 0.4
    for shift, key, label, alpha in ((-width / 2, "primary", "headline reason", 1.0),
                                     (width / 2, "any", "among its reasons", 0.45)):
        axis.barh([i + shift for i in range(len(names))], [kinds[key].get(name, 0.0) for name in names], width,
                  color=[REASON_COLORS.get(name, "#999999") for name in names], alpha=alpha, label=label)
    axis.set_yticks(range(len(names)), names)
    axis.invert_yaxis()
    axis.set_xlabel("share of cards")
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=8, loc="lower right")
    figure.savefig(path, dpi=110)
    plt.close(figure)


# --- Markdown ------------------------------------------------------------------------------------------------------
def _share(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _seconds(value) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header)))
             + "|"]
    return lines + ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]


def _latency_rows(latency: dict) -> list[list[str]]:
    labels = {"first_cards": "first cards", "final_cards": "final cards (after the LLM's reading)",
              "done": "done (reply and reasons)", "per_case": "whole case"}
    return [[labels.get(name, name), str(row["n"]), _seconds(row["p50"]), _seconds(row["p95"]), _seconds(row["mean"])]
            for name, row in latency.items() if row["n"]]


def _reason_rows(kinds: dict) -> list[list[str]]:
    names = list(dict.fromkeys([*kinds["primary"], *kinds["any"]]))
    return [[f"`{name}`", _share(kinds["primary"].get(name, 0.0)), _share(kinds["any"].get(name, 0.0))]
            for name in names]


def dialogues_markdown(report: dict, paths: dict[str, Path]) -> str:
    config, models, dialogue = report["config"], report["models"], report["dialogue"]
    timings = report["timings_s"]
    backend = f" ({config['llm']})" if config["llm"] else ""
    lines = ["# Dialogue replay: ReDial dev cases", "",
             f"{report['cases']} cases, {report['turns']} seeker turns, replayed through `Agent.turn` with LLM "
             f"**{config.get('llm_choice') or config['llm'] or 'none'}**{backend}; {config['cards']} cards per turn, "
             f"{config['workers']} worker(s), prose {'on' if config['prose'] else 'off'}, semantic search "
             f"{config.get('search', 'on')}. Catalog "
             f"{report['catalog']['name']} ({report['catalog']['items']:,} items). {report['created']}.", "",
             f"Wall time {timings.get('wall', timings['replay']):.1f} s: loading {timings.get('load', 0):.1f} s, "
             f"replay {timings['replay']:.1f} s ({timings['per_case_mean'] * 1000:.0f} ms per case).", "",
             "## Cards after the last seeker turn", ""]
    rows = []
    for model, row in models.items():
        rows.append([MODEL_LABELS[model], *(_number(row[key]) for key, _ in RANKING_COLUMNS[:2]),
                     f"{_number(row['hit@10'])} ± {_number(row['hit@10_ci95'], 2)}",
                     *(_number(row[key]) for key, _ in RANKING_COLUMNS[3:]),
                     _share(row.get("mentioned_share")), _share(row.get("out_of_catalog_share"))])
    lines += _table(["model", *(label for _, label in RANKING_COLUMNS), "already mentioned", "not in catalog"], rows)
    lines += ["", "Hit@10 ± the 95% normal interval. Paired on the same cases (Hit@10; exact McNemar test):", ""]
    lines += _table(["comparison", "only ours hit", "only baseline hit", "both", "p"],
                    [[name.replace("_", " "), str(c["only_ours"]), str(c["only_other"]), str(c["both"]),
                      f"{c['p_value']:.2g}"] for name, c in report["comparisons"].items()])
    targets = report["targets"]
    lines += ["", "Targets: " + "; ".join(f"{name} {'**met**' if t['met'] else '**not met**'}"
                                          for name, t in targets.items()) + ".", "",
              "## The conversation", ""]
    turns = report["turns"]
    questions = dialogue["questions"]
    lines += _table(["", "turns", "share"], [
        ["turns with cards", str(dialogue["turns_with_cards"]),
         _share(dialogue["turns_with_cards"] / turns if turns else None)],
        ["turns with a question", str(dialogue["turns_with_question"]),
         _share(dialogue["turns_with_question"] / turns if turns else None)],
        ["  asking which title was meant", str(questions.get("ambiguity", 0)), ""],
        ["  onboarding (what do you like?)", str(questions.get("elicitation", 0)), ""],
        ["read by the LLM (names left unread)", str(dialogue["turns_read_by_llm"]),
         _share(dialogue["turns_read_by_llm"] / turns if turns else None)],
        ["cards revised by the LLM's reading", str(dialogue["turns_revised_by_llm"]), ""],
        ["descriptions searched (a semantic query)", str(dialogue["turns_with_query"]),
         _share(dialogue["turns_with_query"] / turns if turns else None)],
        ["  words left out as uninformative", str(dialogue["turns_with_words_unsearched"]), ""],
        ["  ... leaving no query at all", str(dialogue["turns_query_dropped"]), ""],
        ["degraded (no or failed LLM)", str(dialogue["turns_degraded"]), ""],
        *([["tool agent: fell back to cards-first", str(dialogue["turns_fell_back"]), ""],
           ["tool agent: tool calls per turn", f"{dialogue['tool_calls_per_turn'] or 0:.2f}", ""]]
          if "turns_fell_back" in dialogue else []),
    ])
    lines += ["", f"Movies the seekers tagged that reached the agent's profile (linked from the text): "
                  f"{_share(dialogue['mentioned_movies_linked'])} of {dialogue['mentioned_movies']}.", "",
              "## Latency per turn", ""]
    lines += _table(["step", "n", "p50", "p95", "mean"], _latency_rows(report["latency_s"]))
    lines += ["", f"![latency]({paths['latency'].name})", "", "## Hit@10 after each turn", ""]
    per_turn = report["per_turn"]
    lines += _table(["turn", "cases", *(MODEL_LABELS[m] for m in per_turn)],
                    [[str(row["turn"]), str(row["cases"]),
                      *(_number(per_turn[m][i]["hit@10"]) for m in per_turn)]
                     for i, row in enumerate(per_turn["ours"])])
    lines += ["", "Turn t counts the cases that have at least t seeker turns; the target is the movie suggested after "
                  "the last one, so early turns are expected to score lower.", "",
              f"![hit-rate by turn]({paths['hit_by_turn'].name})", "", "## Why these cards: reason kinds", ""]
    lines += _table(["kind", "headline reason", "among its reasons"], _reason_rows(report["reason_kinds"]))
    lines += ["", f"![reason kinds]({paths['reasons'].name})", ""]
    lines += _misses_markdown(report)
    lines += ["## Reading these numbers", "",
              "- The agent shows 10 cards here so Hit@10 can be measured; the product shows 5. The first 4 are the "
              "same list (greedy MMR); the 5th differs when the product gives its last slot to an exploration pick.",
              "- The cases are ReDial dialogues mapped to ml-latest-small (9,742 movies, frozen in 2018): 23% of "
              "targets are released 2015 or later and 23% have fewer than 10 ratings. Published ReDial numbers "
              "(iEvaLM: zero-shot ChatGPT Recall@10 0.174) use ReDial's own movie list, other targets and turns: "
              "compare with care.",
              "- Baselines use the seekers' liked/disliked labels from ReDial's forms; the agent reads only the text.",
              "- Latency with several workers includes waiting for the other workers on 2 cores. \"Final cards\" is "
              "when the LLM's reading was done (revised cards or none needed); \"done\" includes one sentence per "
              "card, 10 here against the product's 5, so with an LLM it is about twice what a person waits.", ""]
    return "\n".join(lines)


def _misses_markdown(report: dict) -> list[str]:
    by_id = {result["case_id"]: result for result in report["case_results"]}
    worst = [by_id[case_id] for case_id in report["worst_misses"] if case_id in by_id]
    if not worst:
        return []
    lines = ["## Misses worth reading", "",
             "Missed cases, those a baseline found first, then the best-known targets (ratings in the catalog).", ""]
    for result in worst:
        targets = ", ".join(f"{t['title']} ({t['ratings']} ratings"
                            f"{', ruled out by the profile' if t['allowed_by_profile'] is False else ''})"
                            for t in result["targets"])
        said = " / ".join(f"“{turn}”" for turn in result["seeker_turns"])
        linked = ", ".join(f"{m['title']} {'✓' if m['linked'] else '✗ (not linked)'}" for m in result["mentioned"])
        profile = result["profile"] or {}
        found = [f"{model} at {rank}" for model, rank in result["rank"].items() if rank is not None]
        lines += [f"### {result['case_id']}", "", f"- said: {said}", f"- target: {targets}",
                  f"- mentioned: {linked or 'no movie tagged'}",
                  f"- profile: liked {profile.get('liked')}, genres {profile.get('genres_liked')} / not "
                  f"{profile.get('genres_disliked')}, years {profile.get('year_min')}-{profile.get('year_max')}, "
                  f"query {profile.get('query')!r}",
                  f"- we showed: {', '.join(str(t) for t in result['shown_titles'][:5])}, …",
                  f"- found by: {', '.join(found) or 'nobody'}", ""]
    return lines


def simulation_markdown(report: dict, paths: dict[str, Path]) -> str:
    config = report["config"]
    k, n = config["k"], config["max_turns"]
    messages = report["messages"]
    lines = ["# Simulated users", "",
             f"{report['users']} simulated users (personas from held-out MovieLens users, seed "
             f"{config.get('seed', 0)}), "
             f"at most {n} turns, accepted when the target is in the top {k} cards. Agent LLM: "
             f"**{config.get('llm_choice') or config['agent_llm'] or 'none'}**; simulated user: "
             f"**{config.get('simulator_choice') or config['simulator_llm']}** ({config['simulator_llm']}); semantic "
             f"search {config.get('search', 'on')}. "
             f"{report['created']}.", ""]
    lines += _table(["metric", "value"], [
        [f"Hit@{k} within {n} turns", _number(report["hit_within"])],
        [f"AT@{k} (average turns, a failure = {n + 1})", _number(report["average_turns"], 2)],
        [f"popularity top {k}, no conversation (reference)", _number(report["popularity_reference_hit"])],
        ["messages written", str(messages["total"])],
        ["  by the LLM / template / fallback", " / ".join(str(messages["by_source"][s])
                                                           for s in ("llm", "template", "fallback"))],
        ["  LLM drafts regenerated because they named the target", str(messages["regenerated_for_leaks"])],
        ["  LLM drafts thrown away as no user message (refusal, prompt echoed)", str(messages["unusable_drafts"])],
        ["  final messages that name the target", str(messages["leaked_in_final_messages"])],
    ])
    timings = report["timings_s"]
    lines += ["", f"Wall time {timings.get('wall', timings['simulation']):.1f} s (loading and refitting "
                  f"{timings.get('load', 0):.1f} s, conversations {timings['simulation']:.1f} s).", "",
              f"![hit-rate by turn]({paths['hit_by_turn'].name})", "", "## Latency per turn", ""]
    lines += _table(["step", "n", "p50", "p95", "mean"], _latency_rows(report["latency_s"]))
    lines += ["", f"![latency]({paths['latency'].name})", "", "## Reason kinds of the cards", ""]
    lines += _table(["kind", "headline reason", "among its reasons"], _reason_rows(report["reason_kinds"]))
    lines += ["", f"![reason kinds]({paths['reasons'].name})", "", "## Example conversations", ""]
    for result in report["conversations"][:3]:
        outcome = f"hit at turn {result['turns_to_hit']}" if result["turns_to_hit"] else "missed"
        lines += [f"**{result['target_title']}** (persona liked {', '.join(result['liked'][:3])}): {outcome}", ""]
        for number, turn in enumerate(result["turns"], start=1):
            lines.append(f"{number}. user ({turn['source']}): “{turn['message']}” → "
                         f"{', '.join(turn['shown_titles'])}")
        lines.append("")
    lines += ["## Limits of this simulator", "", *(f"- {limit}" for limit in report["limits"]), ""]
    return "\n".join(lines)


# --- console -------------------------------------------------------------------------------------------------------
def print_dialogues(report: dict, console: Console) -> None:
    table = Table(title=f"ReDial dev replay: {report['cases']} cases, {report['turns']} turns, "
                        "cards after the last turn")
    table.add_column("model")
    for _, label in RANKING_COLUMNS:
        table.add_column(label, justify="right")
    table.add_column("mentioned", justify="right")
    table.add_column("not in catalog", justify="right")
    for model, row in report["models"].items():
        table.add_row(model, *(_number(row[key]) for key, _ in RANKING_COLUMNS),
                      _share(row.get("mentioned_share")), _share(row.get("out_of_catalog_share")))
    console.print(table)
    dialogue, latency = report["dialogue"], report["latency_s"]
    console.print(f"questions in {dialogue['turns_with_question']} of {report['turns']} turns "
                  f"({dialogue['questions']}), cards in {dialogue['turns_with_cards']}; "
                  f"mentioned movies linked {_share(dialogue['mentioned_movies_linked'])}", highlight=False)
    console.print(f"semantic query in {dialogue['turns_with_query']} turns; uninformative words left out in "
                  f"{dialogue['turns_with_words_unsearched']} ({dialogue['turns_query_dropped']} with no query left); "
                  f"LLM read {dialogue['turns_read_by_llm']} turns, revised the cards in "
                  f"{dialogue['turns_revised_by_llm']}", highlight=False)
    if "turns_fell_back" in dialogue:
        console.print(f"tool agent: {dialogue['tool_calls_per_turn'] or 0:.2f} tool calls per turn, "
                      f"{dialogue['turns_fell_back']} turns fell back to cards-first", highlight=False)
    console.print("latency p50/p95: first cards " + f"{_seconds(latency['first_cards']['p50'])} / "
                  f"{_seconds(latency['first_cards']['p95'])}, final cards {_seconds(latency['final_cards']['p50'])} / "
                  f"{_seconds(latency['final_cards']['p95'])}, done {_seconds(latency['done']['p50'])} / "
                  f"{_seconds(latency['done']['p95'])}", highlight=False)
    timings = report["timings_s"]
    console.print(f"replay {timings['replay']:.1f} s"
                  + (f", wall {timings['wall']:.1f} s (load {timings['load']:.1f} s)" if "wall" in timings else ""),
                  highlight=False)
    if report["errors"]:
        console.print(f"[red]{len(report['errors'])} case(s) failed[/red]: {report['errors'][:3]}")


def print_simulation(report: dict, console: Console) -> None:
    k, n = report["config"]["k"], report["config"]["max_turns"]
    table = Table(title=f"Simulated users: {report['users']}, ≤ {n} turns, top {k}")
    for column in (f"Hit@{k} within {n}", f"AT@{k}", "popularity ref.", "LLM / template / fallback msgs",
                   "regenerated", "leaked"):
        table.add_column(column, justify="right")
    messages = report["messages"]
    table.add_row(_number(report["hit_within"]), _number(report["average_turns"], 2),
                  _number(report["popularity_reference_hit"]),
                  " / ".join(str(messages["by_source"][s]) for s in ("llm", "template", "fallback")),
                  str(messages["regenerated_for_leaks"]), str(messages["leaked_in_final_messages"]))
    console.print(table)
    latency = report["latency_s"]
    console.print(f"latency p50/p95: first cards {_seconds(latency['first_cards']['p50'])} / "
                  f"{_seconds(latency['first_cards']['p95'])}, final cards {_seconds(latency['final_cards']['p50'])} / "
                  f"{_seconds(latency['final_cards']['p95'])}; simulation {report['timings_s']['simulation']:.1f} s",
                  highlight=False)
