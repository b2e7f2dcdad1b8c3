"""Chinese messages through the whole agent: are titles linked, exclusions kept, replies in Chinese, cards real?

Each case (tests/data/chinese_messages.jsonl, written before the Chinese vocabulary and never tuned on) is one
message from a new user with the profile it should leave:
`{"category": "title", "text": "我喜欢黑客帝国，不要恐怖片", "expected": {"liked": ["2571"], "exclude_genres": ["Horror"]}}`
(optional keys: liked, disliked, genres_liked, exclude_genres, year_min, year_max; a year is read when it is a hard
limit or a soft era).
`--no-aliases` drops the catalog's alias table, so titles can come only from the LLM: the two title sources are
measured apart.

Halves: the odd lines of the file are the `tune` half, the even lines the `check` half (each category is split
evenly). Work on the Chinese reading may look at the tune half's misses; the check half is reported in aggregate
only. Every run reports both halves; `--split` runs one.
`--cases PATH` runs messages of your own in the same format (a tuning set: its misses are listed).
`--split heldout` runs a second, blind set (tests/data/chinese_messages_heldout.jsonl), written after the first was
read in full and committed before any tuning on it: reported in aggregate only, like the check half.
`--split blind` runs a third set (tests/data/chinese_messages_blind.jsonl, 50 messages), written without looking at
the Chinese reading, its vocabulary or the other sets: reported in aggregate only too.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections import Counter
from contextlib import aclosing
from dataclasses import replace
from pathlib import Path

from convrec.agent.events import Cards, Done, Question, Token
from convrec.agent.locale import language_of
from convrec.agent.policy import Agent, reply_head
from convrec.catalog.models import Catalog
from convrec.core.errors import InputError
from convrec.tools.chinese import is_chinese
from convrec.tools.models import Profile

CASES_PATH = Path(__file__).resolve().parents[1] / "tests" / "data" / "chinese_messages.jsonl"
HELDOUT_PATH = CASES_PATH.with_name("chinese_messages_heldout.jsonl")
BLIND_PATH = CASES_PATH.with_name("chinese_messages_blind.jsonl")
WHOLE_SETS = {"heldout": HELDOUT_PATH, "blind": BLIND_PATH}  # run whole, never split into halves

HALVES = ("tune", "check")
SPLITS = ("tune", "check", "all", *WHOLE_SETS)


def load_cases(path: Path, *, half: str | None = None) -> list[dict]:
    """The cases, each with its half (`tune`: odd lines, `check`: even lines; or `half` for all of them)."""
    if not path.is_file():
        raise InputError("Chinese test messages not found", where=str(path), fix="pass --cases PATH")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{**json.loads(line), "half": half or HALVES[number % 2]} for number, line in enumerate(lines)]


def cases_of_split(split: str) -> list[dict]:
    """`tune`, `check` or `all` of the first set, or the whole blind `heldout` or `blind` set."""
    if split in WHOLE_SETS:
        return load_cases(WHOLE_SETS[split], half=split)
    return [case for case in load_cases(CASES_PATH) if split in ("all", case["half"])]


def score_case(case: dict, profile: Profile, cards: list, reply: str, catalog: Catalog) -> dict:
    """What one turn got right, as counts that add up over cases."""
    expected = case["expected"]
    liked, disliked = set(expected.get("liked", [])), set(expected.get("disliked", []))
    excluded = set(expected.get("exclude_genres", []))
    linked = set(profile.liked) | set(profile.disliked)
    shown_excluded = [card.item_id for card in cards if excluded & set(card.genres)]
    years = {key: expected[key] for key in ("year_min", "year_max") if key in expected}
    # A decade is a hard limit, "old movies" or "not too old" a soft era (tools/models.py): either counts.
    got_years = {key: getattr(profile.constraints, key) if getattr(profile.constraints, key) is not None
                 else getattr(profile.era, key, None) for key in ("year_min", "year_max")}
    return {
        "titles": len(liked | disliked),
        "titles_linked": len(liked & set(profile.liked)) + len(disliked & set(profile.disliked)),
        "titles_wrong": len(linked - liked - disliked),
        "exclusions": len(excluded),
        "exclusions_kept": len(excluded & profile.constraints.exclude_genres) if not shown_excluded else 0,
        "exclusions_extra": len(profile.constraints.exclude_genres - excluded),
        "genres": len(expected.get("genres_liked", [])),
        "genres_read": len(set(expected.get("genres_liked", [])) & profile.genres_liked),
        "years": len(years),
        "years_read": sum(got_years[key] == value for key, value in years.items()),
        "years_extra": sum(value is not None and key not in years for key, value in got_years.items()),
        "turns": 1,
        "replies_chinese": int(is_chinese(reply)),
        "cards": len(cards),
        "cards_outside_catalog": sum(card.item_id not in catalog for card in cards),
    }


async def run_case(agent: Agent, case: dict, user: str, *, prose: bool) -> dict:
    cards, question, reply = [], None, ""
    async with aclosing(agent.turn(user, case["text"])) as events:
        async for event in events:
            if isinstance(event, Cards):
                cards = event.recommendations
            elif isinstance(event, Question):
                question = event
            elif isinstance(event, Token) and not prose:
                break  # the reading is done; the reply's language shows in its head, question and reasons
            elif isinstance(event, Done):
                reply = event.reply
    if not reply:
        language = language_of(case["text"])
        reply = "\n".join([reply_head(cards, language), *(c.reasons[0].text for c in cards if c.reasons),
                           question.text if question else ""])
    return score_case(case, agent.memory.profile(user), cards, reply, agent.catalog)


def run_chinese(agent: Agent, cases: list[dict], *, prose: bool) -> dict:
    totals: Counter = Counter()
    by_category: dict[str, Counter] = {}
    by_half: dict[str, Counter] = {}
    misses = []
    for number, case in enumerate(cases):
        scores = asyncio.run(run_case(agent, case, f"zh-{number}", prose=prose))
        totals.update(scores)
        by_category.setdefault(case["category"], Counter()).update(scores)
        by_half.setdefault(case.get("half", "all"), Counter()).update(scores)
        missed = scores["titles_linked"] < scores["titles"] or scores["exclusions_kept"] < scores["exclusions"] or \
            scores["titles_wrong"] or scores["genres_read"] < scores["genres"] or scores["years_read"] < scores["years"]
        if missed and case.get("half") == "tune":  # the check half and the blind set: in aggregate only
            misses.append({"text": case["text"], **{k: v for k, v in scores.items() if v}})
    return {"cases": len(cases), "totals": dict(totals), "rates": rates(totals),
            "by_half": {name: {"counts": dict(counts), "rates": rates(counts)} for name, counts in by_half.items()},
            "by_category": {name: rates(counts) for name, counts in by_category.items()}, "misses": misses}


def rates(counts: Counter) -> dict[str, float | int]:
    def share(part: str, whole: str) -> float | None:
        return round(counts[part] / counts[whole], 3) if counts[whole] else None

    return {"titles_linked": share("titles_linked", "titles"), "titles_wrong": counts["titles_wrong"],
            "exclusions_kept": share("exclusions_kept", "exclusions"), "exclusions_extra": counts["exclusions_extra"],
            "genres_read": share("genres_read", "genres"), "years_read": share("years_read", "years"),
            "years_extra": counts["years_extra"], "replies_chinese": share("replies_chinese", "turns"),
            "cards_outside_catalog": counts["cards_outside_catalog"]}


def main(report: Path | None, *, llm: str = "none", model: str | None = None, aliases: bool = True,
         prose: bool = True, split: str = "all", cases_path: Path | None = None) -> dict:
    from rich.console import Console

    from convrec.evaluation.dialogues import build_eval_agent

    # messages of your own (--cases) are a tuning set: their misses are listed
    cases = load_cases(cases_path, half="tune") if cases_path else cases_of_split(split)
    console = Console(soft_wrap=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="convrec-eval-zh-") as state_dir:
        _, agent = build_eval_agent(llm, model, Path(state_dir))
        if not aliases:
            agent.catalog = replace(agent.catalog, aliases={})
        result = run_chinese(agent, cases, prose=prose)
        agent.memory.close()
    result["config"] = {"llm": llm, "model": model, "aliases": aliases, "prose": prose,
                        "split": split if cases_path is None else str(cases_path)}
    result["seconds"] = round(time.perf_counter() - started, 1)
    console.print(f"Chinese messages: {len(cases)} cases, --llm {llm}{'' if aliases else ', no aliases'}",
                  highlight=False)
    for name, value in result["rates"].items():
        console.print(f"  {name:24} {value}", highlight=False)
    for name, half in result["by_half"].items():
        counts = half["counts"]
        console.print(f"  {name} half: titles {counts.get('titles_linked', 0)}/{counts.get('titles', 0)} linked, "
                      f"{counts.get('titles_wrong', 0)} wrong; exclusions {counts.get('exclusions_kept', 0)}/"
                      f"{counts.get('exclusions', 0)} kept", highlight=False)
    for name, values in result["by_category"].items():
        console.print(f"  {name:9} " + "  ".join(f"{k}={v}" for k, v in values.items() if v is not None),
                      highlight=False)
    if report is not None:
        report.mkdir(parents=True, exist_ok=True)
        (report / "chinese.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
        console.print(f"report: {report / 'chinese.json'}", highlight=False)
    for miss in result["misses"] if cases_path else []:
        console.print(f"  missed: {miss['text']}  " + " ".join(f"{k}={v}" for k, v in miss.items() if k != "text"),
                      highlight=False)
    return result
