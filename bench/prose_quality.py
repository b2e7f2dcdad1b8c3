"""Card sentences with the local model: how often they fall back, how much they tell, what they cost.

Run: nice -n 5 .venv/bin/python bench/prose_quality.py [--models qwen2.5-coder-0.5b qwen2.5-coder-1.5b] [--turns 40]
     [--offset 200] [--threads N]
(no index needed: the cards come from EASE + CF + genres, without the semantic query signal)

Each turn is one message to a fresh user: a ReDial dev seeker message (from case `--offset` on; the first seeker
turn that names a movie, else the first of five words or more) or, for the last eighth, one of ours. Cases 1-400 are
the tune split; the prompt was tuned on cases 9-50 and the cut-back/retry round on cases 101-190; the default offset
reports on cases from 201 on, the last README row on cases 251-285 (`--offset 250`). The cards
come from the deterministic turn (no LLM); then the same cards are phrased twice, by the current prompt and by
main's (title + template reason only, `BASELINE_SYSTEM`, every card, the whole completion), in alternating order,
both checked by the current check and given the current fallback (what is shown must pass it). Per model and prompt:
- fallback rate: the share of cards showing a template (one of the card's reasons, or the fallback composed from its
  excerpt and a reason in brief: `agent.prose.fallback_sentence`) instead of a model sentence;
- cut-back share: cards showing a rejected model sentence cut back to its opening clause + the reason in brief
  (`agent.prose.salvage`): model words, but not the model's whole sentence;
- the rule the check rejected each model sentence by (`agent.prose.REJECTIONS`), and how many second asks
  (`agent.policy.PROSE_RETRY_BUDGET_S`) there were and how many of them were shown;
- informative share: the share of cards whose shown sentence (a whole or cut-back model sentence) has a content word
  from the item's excerpt that the card's reasons do not already have (`agent.prose.informative`), and the same
  counting whole model sentences only;
- distinctness violations: pairs of shown sentences in one reply sharing six words in a row, titles aside (all
  pairs, and those with a model sentence in them: two cards showing the same template reason are the rest);
- the words per accepted sentence;
- tokens per card prefilled and decoded by llama.cpp (independent of the machine's load), and per reply;
- time to the first sentence after the cards, and to the last (all five), medians, with the load average per turn.
The machine is shared: llama.cpp runs on one thread when the machine is already busy (two spinning threads under
contention decode at 0.5 tok/s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from convrec.agent.events import Token
from convrec.agent.llama_backend import LlamaCppLLM
from convrec.agent.memory import Memory
from convrec.agent.policy import PROSE_MAX_TOKENS, Agent
from convrec.agent.prose import (REJECTIONS, distinctness_violations, excerpt, faithful, fallback_sentence,
                                 informative)
from convrec.agent.weights import MODELS, ensure_model
from convrec.catalog.loaders import load_demo_catalog
from convrec.core.settings import Settings
from convrec.tools.cf import SVDScorer
from convrec.tools.cfmodel import load_or_train
from convrec.tools.itemsim import EASE
from convrec.tools.recommend import Recommender
from convrec.tools.textnorm import spoken_title, words

CASES = Path(__file__).resolve().parents[1] / "evaluation" / "data" / "redial-dev" / "cases.jsonl"
OURS = [
    "I loved Alien and Blade Runner, but nothing too old please. Something scary?",
    "Something funny for a family night with kids, like Toy Story or Shrek",
    "I liked Heat and The Godfather; I want a gritty crime drama",
    "Give me a romantic movie that isn't too cheesy. I loved Amelie.",
    "I want a mind-bending sci-fi film like Inception or The Matrix",
    "Any good war movies? Saving Private Ryan was great",
    "My favorites are Pulp Fiction, Fargo and The Big Lebowski",
    "Something animated but for adults, I enjoyed Spirited Away",
]
BASELINE_SYSTEM = """You rewrite one fact about a movie recommendation as one short, friendly sentence for the person.
Mention the movie's title. Use only the facts given: no other movies, no new numbers, no plot, no description.
Example. Movie: Heat. Fact: Because you liked The Godfather (similarity 0.61).
Sentence: Since you liked The Godfather, Heat should be right up your alley."""


class BaselineAgent(Agent):
    """main's phrasing: the card's title and template reason, nothing else, for every card, the whole completion."""

    def _worth_phrasing(self, card):
        return bool(card.reasons)

    def _checked_phrase(self, card, cancelled=None, shown=(), language="en", retry=False):
        return super()._checked_phrase(card, cancelled, shown, language, retry=False)  # main asked once

    def _phrase(self, card, cancelled=None, language="en", retry=False):
        messages = [{"role": "system", "content": BASELINE_SYSTEM},
                    {"role": "user", "content": f"Movie: {spoken_title(card.title)}\nFact: {card.reasons[0].text}"}]
        return "".join(self.llm.stream_chat(messages, max_tokens=PROSE_MAX_TOKENS, temperature=0.3,
                                            stop=["\n"])).strip()


class Rejections(logging.Handler):
    """Counts the rule by which the check kept the template (the policy logs each at DEBUG)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[str] = Counter()
        self.rejected: list[tuple[str, str, str | None]] = []  # (rule, the model's sentence, what was cut back)
        self.retries: list[tuple[str | None, str, str | None]] = []  # the same for the second ask

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "rejection"):
            self.counts[record.rejection] += 1
            self.rejected.append((record.rejection, str(record.args[-1]), record.salvaged))
        elif hasattr(record, "retry_rejection"):
            self.retries.append((record.retry_rejection, str(record.args[-1]), record.salvaged))

    def cut_back(self) -> set[str]:
        return {salvaged for _, _, salvaged in self.rejected + self.retries if salvaged}


def messages(turns: int, offset: int) -> list[str]:
    ours = OURS[:max(1, turns // 8)]
    picked = []
    for line in CASES.read_text(encoding="utf-8").splitlines()[offset:]:
        case = json.loads(line)
        named = [t for t, ids in zip(case["seeker_turns"], case["seeker_turn_ml_ids"]) if ids]
        long = [t for t in case["seeker_turns"] if len(t.split()) >= 5]
        if named or long:
            picked.append((named or long)[0])
        if len(picked) >= turns - len(ours):
            break
    return picked + ours


async def phrase_all(agent: Agent, cards, llm: LlamaCppLLM) -> dict:
    prefilled, decoded = llm.tokens_evaluated()
    load = os.getloadavg()[0]
    started = time.perf_counter()
    shown, times = [], []
    by_id = {card.item_id: card for card in cards}
    async for event in agent._prose(cards, True, None):
        if isinstance(event, Token):
            times.append(time.perf_counter() - started)
            shown.append((event.text, by_id[event.item_id]))
    after = llm.tokens_evaluated()
    return {"shown": shown, "first_s": times[0] if times else None, "all_s": times[-1] if times else None,
            "prefilled": after[0] - prefilled, "decoded": after[1] - decoded, "load": load}


def is_template(sentence: str, card, earlier, catalog) -> bool:
    """One of the card's reasons, or the fallback composed from its excerpt and a reason in brief."""
    return sentence in {reason.text for reason in card.reasons} or sentence == fallback_sentence(
        card, earlier, excerpt(card, catalog))


def score(result: dict, catalog, cut_back: set[str]) -> dict:
    """`cut_back`: the model sentences the check rejected and `agent.prose.salvage` cut back to an opening clause
    + the reason in brief: counted apart from whole model sentences and from templates."""
    shown = result["shown"]
    templated = [is_template(s, c, shown[:i], catalog) for i, (s, c) in enumerate(shown)]
    model = [(s, c) for (s, c), template in zip(shown, templated) if not template]
    whole = [(s, c) for s, c in model if s not in cut_back]
    earlier_ok = [faithful(s, c, catalog, earlier=shown[:i])
                  for i, ((s, c), template) in enumerate(zip(shown, templated)) if not template]
    return {
        "sentences": [s for s, _ in shown], "cards": len(shown), "fallbacks": len(shown) - len(model),
        "cut_back": len(model) - len(whole),
        "informative": sum(1 for s, c in model if informative(s, c, excerpt(c, catalog))),
        "informative_whole": sum(1 for s, c in whole if informative(s, c, excerpt(c, catalog))),
        "violations": distinctness_violations(shown),
        "model_violations": distinctness_violations(shown) - distinctness_violations(
            [(s, c) for (s, c), template in zip(shown, templated) if template]),  # pairs with a model sentence in them
        "model_words": [len(words(s)) for s, _ in model],
        "shown_pass": sum(earlier_ok), "shown_model": len(model),
        "first_s": result["first_s"], "all_s": result["all_s"], "prefilled": result["prefilled"],
        "decoded": result["decoded"], "load": result["load"],
    }


def summarize(rows: list[dict], rejections: Counter[str]) -> dict:
    cards = sum(r["cards"] for r in rows)
    lengths = [n for r in rows for n in r["model_words"]]
    later = rows[1:] or rows  # the first reply also prefills the system prompt; later ones restore it from the cache
    return {
        "turns": len(rows), "cards": cards,
        "fallback_rate": round(sum(r["fallbacks"] for r in rows) / max(1, cards), 3),
        "rejections": {rule: rejections[rule] for rule in REJECTIONS if rejections[rule]},
        "retries": sum(len(r["retries"]) for r in rows),
        "retries_shown": sum(1 for r in rows for why, _, salvaged in r["retries"] if salvaged or why is None),
        "cut_back_share": round(sum(r["cut_back"] for r in rows) / max(1, cards), 3),
        "informative_share": round(sum(r["informative"] for r in rows) / max(1, cards), 3),
        "informative_share_whole_model_sentences": round(sum(r["informative_whole"] for r in rows) / max(1, cards), 3),
        "distinctness_violations": sum(r["violations"] for r in rows),
        "distinctness_violations_with_a_model_sentence": sum(r["model_violations"] for r in rows),
        "words_per_model_sentence_median": statistics.median(lengths) if lengths else None,
        "shown_model_sentences_passing_check": f"{sum(r['shown_pass'] for r in rows)}/"
                                               f"{sum(r['shown_model'] for r in rows)}",
        "prefilled_tokens_per_card": round(sum(r["prefilled"] for r in later)
                                           / max(1, sum(r["cards"] for r in later)), 1),
        "decoded_tokens_per_card": round(sum(r["decoded"] for r in rows) / max(1, cards), 1),
        "tokens_per_reply_median": statistics.median(r["prefilled"] + r["decoded"] for r in later),
        "first_sentence_s_median": round(statistics.median(r["first_s"] for r in rows), 2),
        "whole_reply_s_median": round(statistics.median(r["all_s"] for r in rows), 2),
        "load_average_median": round(statistics.median(r["load"] for r in rows), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"],
                        choices=sorted(MODELS))
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--offset", type=int, default=200, help="first ReDial dev case (tuned on cases 9-50 and 101-190)")
    parser.add_argument("--threads", type=int, default=None, help="default: 1 if the machine is busy, else 2")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "prose_quality.json")
    args = parser.parse_args()
    settings = Settings()
    threads = args.threads or (1 if os.getloadavg()[0] > 0.7 else 2)
    policy_log = logging.getLogger("convrec.agent.policy")
    policy_log.setLevel(logging.DEBUG)
    policy_log.propagate = False
    catalog = load_demo_catalog()
    folder = Path(tempfile.mkdtemp(prefix="prose-bench-"))
    algo, _ = load_or_train(catalog, folder)
    recommender = Recommender(catalog, itemsim=EASE.load_or_fit(catalog, folder), cf=SVDScorer(algo, catalog))
    memory = Memory(folder / "state.sqlite3")
    plain = Agent(catalog, recommender, memory, None)
    turns = [(f"bench-{i}", message) for i, message in enumerate(messages(args.turns, args.offset))]
    cards = [(message, asyncio.run(plain.run_turn(user, message)).recommendations) for user, message in turns]
    report = {"command": " ".join(sys.argv), "threads": threads, "models": {}}
    for name in args.models:
        llm = LlamaCppLLM(ensure_model(MODELS[name], settings.models_dir), n_ctx=2048, n_threads=threads)
        llm.load()
        variants = {"new": Agent(catalog, recommender, memory, llm),
                    "old": BaselineAgent(catalog, recommender, memory, llm)}
        rows = {"new": [], "old": []}
        rejections = {"new": Counter(), "old": Counter()}
        load_before = os.getloadavg()
        for i, (message, recommendations) in enumerate(cards):
            order = ["new", "old"] if i % 2 == 0 else ["old", "new"]  # neither always pays for the cache switch
            for variant in order:
                handler = Rejections()
                policy_log.addHandler(handler)
                try:
                    result = asyncio.run(phrase_all(variants[variant], recommendations, llm))
                finally:
                    policy_log.removeHandler(handler)
                rejections[variant] += handler.counts
                rows[variant].append({"message": message, **score(result, catalog, handler.cut_back()),
                                       "rejected": handler.rejected, "retries": handler.retries})
            print(f"{name} {i + 1}/{len(cards)} new {rows['new'][-1]['all_s']:.1f}s "
                  f"old {rows['old'][-1]['all_s']:.1f}s  load {os.getloadavg()[0]:.2f}", file=sys.stderr)
        ratios = [n["all_s"] / o["all_s"] for n, o in zip(rows["new"], rows["old"]) if o["all_s"]]
        report["models"][name] = {
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "new": summarize(rows["new"], rejections["new"]), "old": summarize(rows["old"], rejections["old"]),
            "whole_reply_ratio_new_over_old_median": round(statistics.median(ratios), 2),
            "turns": rows,
        }
        del llm
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")  # a slow second model loses nothing
    for name, result in report["models"].items():
        print(f"\n{name} (threads {threads}, load {result['load_average_before']} → {result['load_average_after']})")
        for key in result["new"]:
            print(f"{key:>40}  new {result['new'][key]!s:>10}  old {result['old'][key]!s:>10}")
        print(f"{'whole reply new/old (median per turn)':>40}  {result['whole_reply_ratio_new_over_old_median']}")
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
