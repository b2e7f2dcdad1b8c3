"""`convrec eval dialogues`: replay the ReDial dev cases through the whole agent and score its cards.

Each case gets a fresh user and session in a throw-away state database (never the user's own). Its seeker turns go
to `Agent.turn`, one per turn, the event stream the TUI, the server and `convrec ask` consume; the cards of a turn
are its last `cards` event (revised after the LLM's reading when there was one). The agent shows 10 cards here
(5 in the product) so that Hit@10 can be measured; its first 5 are close to what a person sees (see the report).

Scores follow `evaluation/data/redial-dev/README.md`: Hit@1/5/10, Recall@10, NDCG@10, MRR@10 on the cards after the
last seeker turn; the share of shown items the seeker had already mentioned (should be ~0) and of items outside the
catalog (must be 0); questions vs recommendations; per-turn latency. Two baselines run on the same cases in the same
run: popularity and genre-of-liked-items, exactly as that README defines them.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import numpy as np

from convrec.agent.events import Cards, Done, Question, Status, Token
from convrec.agent.policy import Agent
from convrec.agent.tool_agent import ToolAgent
from convrec.catalog.models import Catalog
from convrec.core.errors import InputError
from convrec.evaluation import dialogue_metrics as dm
from convrec.tools.models import Profile, Recommendation
from convrec.tools.rank import allowed
from convrec.tools.reader import read_message

CASES_PATH = Path(__file__).resolve().parent / "data" / "redial-dev" / "cases.jsonl"
CARDS = 10  # cards the agent shows per turn in this evaluation (the product shows 5)
IGNORED_GENRES = frozenset({"IMAX", "(no genres listed)"})
BASELINES = ("popularity", "genre")
MODELS = ("ours", *BASELINES)
LLM_CHOICES = ("none", "local", "openai")
MODEL_ALIASES = {"small": "qwen2.5-coder-0.5b", "default": "qwen2.5-coder-1.5b"}
PARALLEL_BACKENDS = ("none", "openai")  # the local llama.cpp model is one instance: one turn at a time
WORST = 10
# Lines of the vendored cases file (1-based, inclusive): tune on the first part, only score the second in aggregate.
SPLITS: dict[str, tuple[int, int] | None] = {"tune": (1, 400), "check": (401, 550), "all": None}

Progress = Callable[[int, int], None]
T = TypeVar("T")


# --- cases ---------------------------------------------------------------------------------------------------------
def parse_lines(spec: str | None, split: str | None) -> tuple[int, int] | None:
    """`--lines 401-550` or `--split check` → (first, last) line numbers, 1-based and inclusive; None for all."""
    if spec is not None and split is not None:
        raise InputError("--lines and --split both given", fix="use one of them")
    if split is not None:
        if split not in SPLITS:
            raise InputError(f"unknown --split '{split}'", fix=f"use one of: {', '.join(SPLITS)}")
        return SPLITS[split]
    if spec is None:
        return None
    first, _, last = spec.partition("-")
    try:
        bounds = int(first), int(last or first)
    except ValueError:
        bounds = (0, 0)
    if not 1 <= bounds[0] <= bounds[1]:
        raise InputError(f"bad --lines '{spec}'", fix="give FIRST-LAST line numbers, 1-based, e.g. 401-550")
    return bounds


def load_cases(path: Path = CASES_PATH, limit: int | None = None,
               lines: tuple[int, int] | None = None) -> list[dict]:
    """The cases in file order (a random sample when cut: the file is in hash order), at most `limit`, only from
    the line numbers `lines` (1-based, inclusive) when given."""
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    try:
        text_lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise InputError("cannot read the dialogue cases", where=str(path), fix="check the path") from error
    cases = []
    first, last = lines or (1, len(text_lines))
    for number, line in enumerate(text_lines, start=1):
        if not line.strip() or not first <= number <= last:
            continue
        try:
            case = json.loads(line)
            _check_case(case)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise InputError(f"case on line {number} is malformed: {error}", where=str(path),
                             fix="see evaluation/data/redial-dev/README.md for the format") from error
        cases.append(case)
        if limit is not None and len(cases) >= limit:
            break
    return cases


def _check_case(case: dict) -> None:
    for key in ("case_id", "seeker_turns", "seeker_turn_ml_ids", "target_ml_ids", "seeker_mentioned_ml_ids",
                "seeker_liked_ml_ids"):
        case[key]  # noqa: B018 - KeyError names the missing field
    if not case["seeker_turns"] or len(case["seeker_turns"]) != len(case["seeker_turn_ml_ids"]):
        raise ValueError("seeker_turns and seeker_turn_ml_ids must be non-empty and of equal length")
    if not case["target_ml_ids"]:
        raise ValueError("no target")


def mentioned_until(case: dict, turn: int) -> set[str]:
    """The ml ids the seeker had tagged in turns 0..turn."""
    return {item for ids in case["seeker_turn_ml_ids"][:turn + 1] for item in ids}


def liked_until(case: dict, turn: int) -> list[str]:
    mentioned = mentioned_until(case, turn)
    return [item for item in case["seeker_liked_ml_ids"] if item in mentioned]


# --- baselines -----------------------------------------------------------------------------------------------------
class Baselines:
    """Popularity and genre-of-liked-items, as the cases' README defines them (the floor to beat)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        counts = catalog.popularity
        ids = list(catalog.items.index)
        order = sorted(range(len(ids)), key=lambda i: (-int(counts.iloc[i]), _id_key(ids[i])))
        self._ids = ids
        self._popular = [ids[i] for i in order]  # most ratings first, ties by movieId
        self._pop_rank = np.empty(len(ids), dtype=np.int64)
        self._pop_rank[order] = np.arange(len(ids))
        matrix = catalog.genre_matrix
        self._genres = matrix[[g for g in matrix.columns if g not in IGNORED_GENRES]].to_numpy(dtype=np.float64)
        self._row = {item_id: i for i, item_id in enumerate(ids)}

    def popularity(self, exclude: set[str], k: int = CARDS) -> list[str]:
        """The movies with the most ratings, ties by movieId, leaving out `exclude`."""
        return _take(self._popular, exclude, k)

    def genre(self, liked: Sequence[str], exclude: set[str], k: int = CARDS) -> list[str]:
        """Each movie scores Σ over liked movies of the genres it shares with them; ties by popularity.

        With no liked movie in the catalog, popularity.
        """
        rows = [self._row[item] for item in liked if item in self._row]
        if not rows:
            return self.popularity(exclude, k)
        weights = self._genres[rows].sum(axis=0)
        scores = self._genres @ weights
        order = np.lexsort((self._pop_rank, -scores))
        return _take((self._ids[i] for i in order), exclude, k)


def _id_key(item_id: str) -> tuple[int, int | str]:
    return (0, int(item_id)) if item_id.isdigit() else (1, item_id)


def _take(items, exclude: set[str], k: int) -> list[str]:
    chosen = []
    for item in items:
        if item not in exclude:
            chosen.append(item)
            if len(chosen) == k:
                break
    return chosen


# --- one turn, one case ------------------------------------------------------------------------------------------
@dataclass
class TurnOutcome:
    message: str
    first_cards: list[Recommendation]
    cards: list[Recommendation]  # the turn's last cards (revised if the LLM's reading changed the profile)
    question: Question | None
    revised: bool
    degraded: str | None
    first_cards_s: float | None
    final_cards_s: float | None  # when the cards were final: the revised cards, or the LLM's reading changed nothing
    done_s: float | None  # None when prose was skipped
    tool_calls: int | None = None  # --policy agent: the turn's tool calls (None: cards-first)
    fallback: str | None = None  # --policy agent: why the turn fell back to cards-first
    llm_read: bool = False  # the LLM was asked to read the message (only when the reader left names unread)

    @property
    def question_kind(self) -> str | None:
        if self.question is None:
            return None
        return {"ambiguous": "ambiguity", "elicit": "elicitation"}[self.question.kind]


async def play_turn(agent: Agent, user: str, session: str, message: str, *, prose: bool = True) -> TurnOutcome:
    """One turn through `Agent.turn`, timed from the call: first cards, last cards, done.

    With `prose=False` the stream is closed once the cards are final (at the status that prose starts, or the first
    token), so no sentence is written: the scores only need the cards.
    """
    started = time.perf_counter()
    first: list[Recommendation] | None = None
    final: list[Recommendation] = []
    question, revised, degraded = None, False, None
    first_s = final_s = done_s = None
    tool_calls = 0 if isinstance(agent, ToolAgent) else None
    fallback = None
    reading = llm_read = False  # the LLM is reading the message: the cards are final only once it is done
    async with aclosing(agent.turn(user, message, session)) as events:
        async for event in events:
            now = time.perf_counter() - started
            if reading:  # the event after "reading your message…": revised cards, a failure, or on to prose
                reading, final_s = False, now
            if isinstance(event, Status) and event.text.startswith("reading"):
                reading = llm_read = True
            if isinstance(event, Status) and event.tool is not None:
                tool_calls = (tool_calls or 0) + 1
            if isinstance(event, Status) and "tool agent stopped" in event.text:
                fallback = event.text
            if isinstance(event, Cards):
                if first is None:
                    first, first_s = event.recommendations, now
                final, final_s = event.recommendations, now
                revised = revised or event.revision > 0
            elif isinstance(event, Question):
                question = event
            elif isinstance(event, Done):
                done_s, degraded = now, event.degraded
                fallback = event.fallback or fallback
            elif not prose and (isinstance(event, Token) or
                                (isinstance(event, Status) and event.text.startswith("writing"))):
                break
    return TurnOutcome(message=message, first_cards=first or [], cards=final, question=question, revised=revised,
                       degraded=degraded, first_cards_s=first_s, final_cards_s=final_s, done_s=done_s,
                       tool_calls=tool_calls, fallback=fallback, llm_read=llm_read)


@dataclass
class CaseOutcome:
    case: dict
    turns: list[TurnOutcome]
    profile: Profile | None
    error: str | None = None
    seconds: float = 0.0


async def replay_case(agent: Agent, case: dict, *, prose: bool = True) -> CaseOutcome:
    """A fresh user and session; the seeker turns one per turn. An exception ends the case (scored as a miss)."""
    started = time.perf_counter()
    user = f"eval-{case['case_id']}"
    turns: list[TurnOutcome] = []
    try:
        session = await asyncio.to_thread(agent.memory.session, user, None)
        for message in case["seeker_turns"]:
            turns.append(await play_turn(agent, user, session, message, prose=prose))
        profile = await asyncio.to_thread(agent.memory.profile, user)
    except Exception as error:  # noqa: BLE001 - one broken case must not end the run; it is reported
        return CaseOutcome(case, turns, None, error=f"{type(error).__name__}: {error}",
                           seconds=time.perf_counter() - started)
    return CaseOutcome(case, turns, profile, seconds=time.perf_counter() - started)


async def replay_all(agent: Agent, cases: list[dict], *, workers: int = 1, prose: bool = True,
                     progress: Progress = lambda done, total: None) -> list[CaseOutcome]:
    """Every case, up to `workers` at once (each on its own user, so they do not interact)."""
    return await gather_bounded([lambda case=case: replay_case(agent, case, prose=prose) for case in cases],
                                workers=workers, progress=progress)


async def gather_bounded(jobs: Sequence[Callable[[], Awaitable[T]]], *, workers: int,
                         progress: Progress = lambda done, total: None) -> list[T]:
    """Run the jobs, at most `workers` at a time; results in the jobs' order; `progress(done, total)` after each."""
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    gate = asyncio.Semaphore(workers)
    finished = 0

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        nonlocal finished
        async with gate:
            result = await job()
        finished += 1
        progress(finished, len(jobs))
        return result

    return list(await asyncio.gather(*(run(job) for job in jobs)))


# --- scoring -------------------------------------------------------------------------------------------------------
def ids(cards: Sequence[Recommendation]) -> list[str]:
    return [card.item_id for card in cards]


def score(outcomes: list[CaseOutcome], catalog: Catalog, *, per_turn: bool = False) -> dict:
    """The report's numbers from the replayed cases; the baselines are computed here on the same cases."""
    baselines = Baselines(catalog)
    catalog_ids = frozenset(catalog.items.index)
    rows: dict[str, list[dict]] = {model: [] for model in MODELS}
    ranks: dict[str, list[int | None]] = {model: [] for model in MODELS}
    by_turn: dict[str, dict[int, list[float]]] = {model: {} for model in MODELS}
    final_lists, final_mentioned, all_lists, all_mentioned = [], [], [], []
    case_results = []
    for outcome in outcomes:
        case = outcome.case
        targets = set(case["target_ml_ids"])
        complete = outcome.error is None and len(outcome.turns) == len(case["seeker_turns"])
        final = ids(outcome.turns[-1].cards) if complete else []
        shown = {"ours": final}
        exclude = set(case["seeker_mentioned_ml_ids"])
        shown["popularity"] = baselines.popularity(exclude)
        shown["genre"] = baselines.genre(case["seeker_liked_ml_ids"], exclude)
        for model in MODELS:
            rows[model].append(dm.ranking_metrics(shown[model], targets))
            ranks[model].append(dm.first_hit_rank(shown[model], targets))
        final_lists.append(final)
        final_mentioned.append(set(case["seeker_mentioned_ml_ids"]))
        for turn, played in enumerate(outcome.turns):
            all_lists.append(ids(played.cards))
            all_mentioned.append(mentioned_until(case, turn))
        for turn in range(len(case["seeker_turns"])):
            mentioned = mentioned_until(case, turn)
            ours = ids(outcome.turns[turn].cards) if turn < len(outcome.turns) else []
            turn_lists = {"ours": ours, "popularity": baselines.popularity(mentioned),
                          "genre": baselines.genre(liked_until(case, turn), mentioned)}
            for model, items in turn_lists.items():
                by_turn[model].setdefault(turn + 1, []).append(dm.ranking_metrics(items, targets)["hit@10"])
        case_results.append(_case_result(outcome, catalog, shown, per_turn))

    turns = [turn for outcome in outcomes for turn in outcome.turns]
    models = {}
    for model in MODELS:
        summary = dm.mean_metrics(rows[model])
        summary["hit@10_ci95"] = dm.proportion_ci95(summary.get("hit@10"), len(rows[model]))
        models[model] = summary
    mentioned, shown_final = dm.share_of(final_lists, final_mentioned)
    mentioned_all, shown_all = dm.share_of(all_lists, all_mentioned)
    outside, shown_outside = dm.outside_share(all_lists, catalog_ids)
    models["ours"].update(mentioned_share=dm.ratio(mentioned, shown_final),
                          mentioned_share_all_turns=dm.ratio(mentioned_all, shown_all),
                          out_of_catalog_share=dm.ratio(outside, shown_outside))
    for model in BASELINES:
        lists = [result["shown"][model] for result in case_results]
        found, total = dm.share_of(lists, final_mentioned)
        models[model].update(mentioned_share=dm.ratio(found, total),
                             out_of_catalog_share=dm.ratio(*dm.outside_share(lists, catalog_ids)))
    hits = {model: [row["hit@10"] for row in rows[model]] for model in MODELS}
    questions = Counter(turn.question_kind for turn in turns if turn.question is not None)
    linked, mentioned_total = _linking(outcomes)
    return {
        "cases": len(outcomes),
        "turns": len(turns),
        "errors": [{"case_id": o.case["case_id"], "error": o.error} for o in outcomes if o.error],
        "models": models,
        "comparisons": {f"ours_vs_{model}": dm.paired_hits(hits["ours"], hits[model]) for model in BASELINES},
        "dialogue": {
            "turns_with_cards": sum(1 for turn in turns if turn.cards),
            "turns_with_question": sum(questions.values()),
            "questions": dict(questions),
            "turns_read_by_llm": sum(1 for turn in turns if turn.llm_read),
            "turns_revised_by_llm": sum(1 for turn in turns if turn.revised),
            **_query_hygiene(turns, catalog),
            "turns_degraded": sum(1 for turn in turns if turn.degraded),
            **_agent_loop(turns),
            "mentioned_movies_linked": dm.ratio(linked, mentioned_total),
            "mentioned_movies": mentioned_total,
        },
        "latency_s": {
            "first_cards": dm.latency_summary([t.first_cards_s for t in turns if t.first_cards_s is not None]),
            "final_cards": dm.latency_summary([t.final_cards_s for t in turns if t.final_cards_s is not None]),
            "done": dm.latency_summary([t.done_s for t in turns if t.done_s is not None]),
            "per_case": dm.latency_summary([o.seconds for o in outcomes]),
        },
        "latency_samples": {"first_cards": [t.first_cards_s for t in turns if t.first_cards_s is not None],
                            "final_cards": [t.final_cards_s for t in turns if t.final_cards_s is not None],
                            "done": [t.done_s for t in turns if t.done_s is not None]},
        "per_turn": {model: [{"turn": turn, "cases": len(values), "hit@10": sum(values) / len(values)}
                             for turn, values in sorted(by_turn[model].items())] for model in MODELS},
        "reason_kinds": reason_kind_shares([turn.cards for turn in turns]),
        "hit_ranks": {model: dict(Counter(rank for rank in ranks[model] if rank is not None)) for model in MODELS},
        "case_results": case_results,
        "worst_misses": worst_misses(case_results),
    }


def _query_hygiene(turns: list[TurnOutcome], catalog: Catalog) -> dict:
    """How often the deterministic reading of a message searches descriptions, and how often it left words out as
    too uninformative to search (all of them: no query at all)."""
    readings = [read_message(turn.message, catalog) for turn in turns]
    return {"turns_with_query": sum(1 for reading in readings if reading.query),
            "turns_with_words_unsearched": sum(1 for reading in readings if reading.unsearched),
            "turns_query_dropped": sum(1 for reading in readings if reading.unsearched and not reading.query)}


def _agent_loop(turns: list[TurnOutcome]) -> dict:
    """--policy agent: tool calls per turn and turns that fell back to cards-first (empty for cards-first)."""
    counted = [turn.tool_calls for turn in turns if turn.tool_calls is not None]
    fallbacks = [turn for turn in turns if turn.fallback]
    if not counted and not fallbacks:
        return {}
    return {"tool_calls_per_turn": sum(counted) / len(counted) if counted else None,
            "turns_fell_back": len(fallbacks)}


def reason_kind_shares(card_lists: Sequence[Sequence[Recommendation]]) -> dict:
    """Share of shown cards by their first (headline) reason's kind, and by any of their reasons."""
    primary, anywhere, total = Counter(), Counter(), 0
    for cards in card_lists:
        for card in cards:
            total += 1
            if card.reasons:
                primary[card.reasons[0].kind] += 1
                anywhere.update({reason.kind for reason in card.reasons})
            else:
                primary["none"] += 1
    return {"cards": total, "primary": {kind: count / total for kind, count in primary.most_common()} if total else {},
            "any": {kind: count / total for kind, count in anywhere.most_common()} if total else {}}


def _linking(outcomes: list[CaseOutcome]) -> tuple[int, int]:
    """How many of the movies the seekers tagged ended up in the agent's profile (liked, disliked, rated or seen)."""
    linked = total = 0
    for outcome in outcomes:
        mentioned = set(outcome.case["seeker_mentioned_ml_ids"])
        total += len(mentioned)
        if outcome.profile is not None:
            linked += len(mentioned & outcome.profile.known_items())
    return linked, total


def _case_result(outcome: CaseOutcome, catalog: Catalog, shown: dict[str, list[str]], per_turn: bool) -> dict:
    case = outcome.case
    targets = case["target_ml_ids"]
    profile = outcome.profile
    popularity = catalog.popularity
    result = {
        "case_id": case["case_id"],
        "seeker_turns": case["seeker_turns"],
        "targets": [{"item_id": t, "title": _label(catalog, t),
                     "ratings": int(popularity.get(t, 0)) if t in catalog else None,
                     "allowed_by_profile": _allowed(catalog, profile, t)} for t in targets],
        "mentioned": [{"item_id": m, "title": _label(catalog, m),
                       "linked": bool(profile is not None and m in profile.known_items())}
                      for m in case["seeker_mentioned_ml_ids"]],
        "shown": shown,
        "shown_titles": [_label(catalog, item) for item in shown["ours"]],
        "rank": {model: dm.first_hit_rank(items, targets) for model, items in shown.items()},
        "metrics": dm.ranking_metrics(shown["ours"], targets),
        "questions": [turn.question_kind for turn in outcome.turns],
        "profile": _profile_summary(profile, catalog),
        "error": outcome.error,
        "seconds": round(outcome.seconds, 4),
    }
    if outcome.turns and outcome.turns[-1].cards:
        result["reason_kinds"] = [card.reasons[0].kind if card.reasons else None for card in outcome.turns[-1].cards]
    if per_turn:
        result["per_turn"] = [{"message": turn.message, "shown": ids(turn.cards), "first_shown": ids(turn.first_cards),
                               "question": turn.question.text if turn.question else None,
                               "revised": turn.revised, "metrics": dm.ranking_metrics(ids(turn.cards), targets),
                               "first_cards_s": turn.first_cards_s, "final_cards_s": turn.final_cards_s,
                               "done_s": turn.done_s} for turn in outcome.turns]
    return result


def _label(catalog: Catalog, item_id: str) -> str | None:
    return catalog.item(item_id).label if item_id in catalog else None


def _allowed(catalog: Catalog, profile: Profile | None, item_id: str) -> bool | None:
    """Whether the profile's hard constraints and known items still let the target be shown."""
    if profile is None or item_id not in catalog:
        return None
    return bool(allowed(catalog, profile)[catalog.items.index.get_loc(item_id)])


def _profile_summary(profile: Profile | None, catalog: Catalog) -> dict | None:
    if profile is None:
        return None
    constraints = profile.constraints
    return {"liked": [_label(catalog, i) for i in profile.liked],
            "disliked": [_label(catalog, i) for i in profile.disliked],
            "genres_liked": sorted(profile.genres_liked), "genres_disliked": sorted(profile.genres_disliked),
            "exclude_genres": sorted(constraints.exclude_genres), "require_genres": sorted(constraints.require_genres),
            "year_min": constraints.year_min, "year_max": constraints.year_max, "query": profile.query}


def worst_misses(case_results: list[dict], n: int = WORST) -> list[str]:
    """Case ids we missed, the most telling first: a baseline found the target, then the best-known targets."""
    missed = [r for r in case_results if r["rank"]["ours"] is None]

    def telling(result: dict) -> tuple:
        baseline_hit = any(result["rank"][model] is not None for model in BASELINES)
        known = max((t["ratings"] or 0) for t in result["targets"])
        return (not baseline_hit, -known, result["case_id"])

    return [result["case_id"] for result in sorted(missed, key=telling)[:n]]


# --- the whole run -------------------------------------------------------------------------------------------------
def run_dialogues(agent: Agent, catalog: Catalog, cases: list[dict], *, workers: int = 1, prose: bool = True,
                  per_turn: bool = False, config: dict | None = None,
                  progress: Progress = lambda done, total: None) -> dict:
    """Replay `cases` through `agent` (which should show CARDS cards) and score it with both baselines."""
    if not cases:
        raise InputError("no dialogue cases to replay")
    started = time.perf_counter()
    outcomes = asyncio.run(replay_all(agent, cases, workers=workers, prose=prose, progress=progress))
    replay_s = time.perf_counter() - started
    report = {
        "kind": "dialogues",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "catalog": {"name": catalog.name, "fingerprint": catalog.fingerprint[:16], "items": len(catalog)},
        "config": {"cards": agent.cards, "workers": workers, "prose": prose, "per_turn": per_turn,
                   "llm": agent.llm.name if agent.llm is not None else None, **(config or {})},
        **score(outcomes, catalog, per_turn=per_turn),
    }
    report["targets"] = targets(report)
    report["timings_s"] = {"replay": replay_s, "per_case_mean": replay_s / len(cases)}
    return report


def targets(report: dict) -> dict:
    """The issue's bars, measured in this run."""
    models = report["models"]
    ours = models["ours"]["hit@10"]
    best = max(BASELINES, key=lambda model: models[model]["hit@10"] or 0.0)
    return {
        "beats_both_baselines_hit@10": {"ours": ours, "best_baseline": best, "baseline": models[best]["hit@10"],
                                        "met": ours is not None and ours > (models[best]["hit@10"] or 0.0)},
        "hit@10_goal_local_model": {"ours": ours, "goal": 0.25, "met": ours is not None and ours >= 0.25,
                                    "note": "the goal is set for the local 1.5B model"},
        "out_of_catalog_zero": {"ours": models["ours"]["out_of_catalog_share"],
                                "met": models["ours"]["out_of_catalog_share"] in (0, 0.0, None)},
    }


def resolve_model(model: str | None) -> dict:
    """--model small|default|<name>|<path.gguf> → Settings fields."""
    if model is None:
        return {}
    from convrec.agent.weights import MODELS as NAMED

    name = MODEL_ALIASES.get(model, model)
    if name in NAMED:
        return {"model": name}
    path = Path(model).expanduser()
    if path.suffix == ".gguf" or path.exists():
        return {"model_path": path}
    raise InputError(f"unknown model '{model}'", where="--model",
                     fix=f"use small, default, one of {', '.join(NAMED)}, or a path to a .gguf file")


def build_eval_agent(llm: str, model: str | None, state_dir: Path, *, cards: int = CARDS,
                     status: Callable[[str], None] = lambda text: None, policy: str | None = None):
    """(runtime, agent): the runtime the front ends use, and an Agent over its tools with a throw-away memory."""
    from convrec.agent.memory import Memory
    from convrec.agent.runtime import build_policy, build_runtime
    from convrec.core.settings import Settings

    if llm not in LLM_CHOICES:
        raise InputError(f"unknown --llm '{llm}'", fix=f"use one of: {', '.join(LLM_CHOICES)}")
    settings = Settings(llm=llm, **resolve_model(model), **({"policy": policy} if policy else {}))
    runtime = build_runtime(settings, use_llm=llm != "none", status=status)
    runtime.memory.close()  # the user's own state is never touched by an evaluation
    agent = build_policy(settings, runtime.catalog, runtime.recommender, Memory(state_dir / "eval-state.sqlite3"),
                         runtime.agent.llm, cards=cards)
    return runtime, agent


def warm(runtime, agent: Agent, status: Callable[[str], None] = lambda text: None) -> str:
    """Load what a first turn would otherwise pay for (the embedding model, the LLM) before timing turns.

    Returns how semantic search runs: "on", or "off: <why>" when there is no vector index (never built: `convrec
    index`; the same freshness file `convrec info` reads), so turns rank without the query signal.
    """
    settings = runtime.settings
    built = settings.chroma_url is not None or (settings.index_dir / "freshness.json").is_file()
    search = "on"
    if not built:
        search = "off: no vector index (run `convrec index`)"
    else:
        status("loading the embedding model")
        try:
            runtime.search.warm()
        except Exception as error:  # noqa: BLE001 - a broken index: rank without the query signal, and say so
            search = f"off: {type(error).__name__}: {error}"
    if search != "on":
        status(f"semantic search {search}")
        runtime.recommender.query_search = None
    load = getattr(agent.llm, "load", None)
    if load is not None:
        status("loading the LLM")
        load()
    return search


def main(report_dir: Path | None, *, llm: str = "none", model: str | None = None, limit: int | None = None,
         workers: int | None = None, per_turn: bool = False, prose: bool = True,
         cases_path: Path = CASES_PATH, lines: tuple[int, int] | None = None, policy: str | None = None) -> dict:
    """The CLI's entry: build the runtime, replay, print the tables, write the report if asked."""
    from rich.console import Console

    from convrec.evaluation.dialogue_report import print_dialogues, write_dialogues

    if workers is None:
        workers = 4 if llm == "openai" else 1
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if workers > 1 and llm not in PARALLEL_BACKENDS:
        raise InputError(f"--workers {workers} with --llm {llm}: the local model is a single instance",
                         fix="use --workers 1 with the local model (parallel workers suit none and openai)")
    cases = load_cases(cases_path, limit, lines)
    console, status_console = Console(soft_wrap=True), Console(stderr=True)
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="convrec-eval-") as state_dir:
        with status_console.status("loading") as spinner:
            runtime, agent = build_eval_agent(llm, model, Path(state_dir), status=spinner.update, policy=policy)
            search = warm(runtime, agent, spinner.update)
        load_s = time.perf_counter() - wall

        def progress(done: int, total: int) -> None:
            if done == total or done % 25 == 0:
                status_console.print(f"replayed {done}/{total} cases", highlight=False)

        report = run_dialogues(agent, runtime.catalog, cases, workers=workers, prose=prose, per_turn=per_turn,
                               config={"llm_choice": llm, "model": model, "limit": limit, "search": search,
                                       "policy": runtime.settings.policy,
                                       "cases_file": str(cases_path),
                                       "lines": list(lines) if lines else None}, progress=progress)
        agent.memory.close()
    report["timings_s"].update(load=load_s, wall=time.perf_counter() - wall)
    print_dialogues(report, console)
    if report_dir is not None:
        paths = write_dialogues(report, Path(report_dir))
        console.print("report: " + "  ".join(str(path) for path in paths.values()), highlight=False)
    return report
