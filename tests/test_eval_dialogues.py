"""Dialogue evaluation: the metric arithmetic by hand, the baselines' exact lists, one turn's events, a 3-case replay
with its report files, and `convrec eval dialogues` through typer's CliRunner. No network, no LLM, no timings."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from convrec.agent.events import Cards, Done, Question, Status, Token
from convrec.agent.memory import Memory
from convrec.agent.policy import Agent
from convrec.catalog.models import ITEM_COLUMNS, Catalog, RatingScale
from convrec.core.errors import InputError
from convrec.evaluation import dialogue_metrics as dm
from convrec.evaluation.dialogue_report import write_dialogues
from convrec.evaluation.dialogues import (CARDS, Baselines, load_cases, mentioned_until, parse_lines, play_turn,
                                          resolve_model, run_dialogues)
from convrec.tools.models import Reason, Recommendation


# --- metrics, by hand ----------------------------------------------------------------------------------------------
def test_ranking_metrics_dedupe_then_cut_at_ten():
    shown = ["a", "b", "a", "c", "d"]  # → a, b, c, d: the target c is at rank 3, the other target x is never shown
    got = dm.ranking_metrics(shown, {"c", "x"})
    ideal = 1 + 1 / math.log2(3)  # two targets: ideal DCG puts them at ranks 1 and 2
    assert got == pytest.approx({"hit@1": 0.0, "hit@5": 1.0, "hit@10": 1.0, "recall@10": 0.5,
                                 "ndcg@10": (1 / math.log2(4)) / ideal, "mrr@10": 1 / 3})
    assert got["ndcg@10"] == pytest.approx(0.30657, abs=1e-5)
    assert dm.first_hit_rank(shown, {"c", "x"}) == 3


def test_a_target_at_rank_eleven_scores_nothing_and_rank_one_scores_everything():
    eleven = [str(i) for i in range(10)] + ["t"]
    assert set(dm.ranking_metrics(eleven, {"t"}).values()) == {0.0}
    assert dm.first_hit_rank(eleven, {"t"}) == 11
    assert dm.ranking_metrics(["t", "u"], {"t"}) == {"hit@1": 1.0, "hit@5": 1.0, "hit@10": 1.0, "recall@10": 1.0,
                                                      "ndcg@10": 1.0, "mrr@10": 1.0}
    assert dm.first_hit_rank([], {"t"}) is None


def test_mean_metrics_over_cases():
    rows = [{"hit@10": 1.0, "mrr@10": 0.5}, {"hit@10": 0.0, "mrr@10": 0.0}, {"hit@10": 1.0, "mrr@10": 1.0}]
    assert dm.mean_metrics(rows) == pytest.approx({"hit@10": 2 / 3, "mrr@10": 0.5})
    assert dm.mean_metrics([]) == {}


def test_shares_of_mentioned_and_outside_items():
    lists = [["a", "b", "b"], ["c", "d", "zz"]]  # 2 + 3 distinct items shown
    assert dm.share_of(lists, [{"a"}, {"x"}]) == (1, 5)
    assert dm.outside_share(lists, {"a", "b", "c", "d"}) == (1, 5)
    assert dm.ratio(1, 5) == 0.2 and dm.ratio(0, 0) is None
    with pytest.raises(ValueError):
        dm.share_of(lists, [{"a"}])


def test_percentiles_match_numpy_linear_interpolation():
    values = [0.4, 0.1, 0.3, 0.2]
    assert dm.percentile(values, 50) == pytest.approx(0.25)
    assert dm.percentile(values, 95) == pytest.approx(0.385)  # 0.3 + 0.85 × 0.1
    assert dm.percentile(values, 95) == pytest.approx(float(np.percentile(values, 95)))
    assert dm.percentile([], 50) is None
    assert dm.latency_summary([1.0, 3.0]) == {"n": 2, "p50": 2.0, "p95": pytest.approx(2.9), "mean": 2.0, "max": 3.0}


def test_hit_within_and_average_turns_count_a_failure_as_n_plus_one():
    turns = [1, None, 3]
    assert dm.hit_within(turns, 1) == pytest.approx(1 / 3)
    assert dm.hit_within(turns, 5) == pytest.approx(2 / 3)
    assert dm.average_turns(turns, 5) == pytest.approx((1 + 6 + 3) / 3)
    assert dm.average_turns([None, None], 3) == 4.0
    with pytest.raises(ValueError):
        dm.average_turns([7], 5)


def test_paired_comparison_and_interval():
    assert dm.mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert dm.mcnemar_exact(3, 3) == 1.0 and dm.mcnemar_exact(0, 0) == 1.0
    assert dm.mcnemar_exact(1, 4) == pytest.approx(2 * (1 + 5) / 32)
    assert dm.paired_hits([1, 1, 0, 0, 1], [0, 1, 1, 0, 0]) == {"only_ours": 2, "only_other": 1, "both": 1,
                                                                 "p_value": 1.0}
    assert dm.proportion_ci95(0.5, 100) == pytest.approx(0.098)


# --- baselines on a catalog small enough to check by hand -------------------------------------------------------
def tiny_catalog() -> Catalog:
    genres = {"1": ["Action", "IMAX"], "2": ["Comedy"], "3": ["Action", "Comedy"], "4": ["Drama"],
              "10": ["Action"], "11": ["IMAX"]}
    counts = {"1": 5, "2": 4, "3": 4, "4": 1, "10": 2, "11": 6}  # 3 ties 2 at 4 ratings: the lower movieId first
    ids = list(genres)
    items = pd.DataFrame({"title": [f"Movie {i}" for i in ids], "year": pd.array([2000] * len(ids), dtype="Int64"),
                          "genres": [genres[i] for i in ids], "tags": [[] for _ in ids], "description": None,
                          "metadata": [{} for _ in ids]}, index=pd.Index(ids, dtype="str", name="item_id"))
    rows = [(f"u{n}", item) for item, count in counts.items() for n in range(count)]
    ratings = pd.DataFrame({"user_id": [u for u, _ in rows], "item_id": [i for _, i in rows], "rating": 4.0,
                            "timestamp": pd.array([None] * len(rows), dtype="Int64")})
    return Catalog(name="tiny", items=items[ITEM_COLUMNS], ratings=ratings, scale=RatingScale(), fingerprint="tiny")


def test_popularity_baseline_orders_by_ratings_then_movie_id_and_leaves_out_mentioned():
    baselines = Baselines(tiny_catalog())
    assert baselines.popularity(set()) == ["11", "1", "2", "3", "10", "4"]
    assert baselines.popularity({"11", "2"}, k=3) == ["1", "3", "10"]


def test_genre_baseline_counts_shared_genres_without_imax():
    baselines = Baselines(tiny_catalog())
    # liked 1 (Action; IMAX ignored): Action items score 1, the rest 0; ties by popularity
    assert baselines.genre(["1"], {"1"}) == ["3", "10", "11", "2", "4"]
    # liked 1 and 2: genre weights Action 1, Comedy 1 → 3 scores 2, 10 scores 1 (1 and 2 were mentioned), then the
    # genre-less 11 and the Drama 4 score 0 and follow by popularity
    assert baselines.genre(["1", "2"], {"1", "2"}) == ["3", "10", "11", "4"]
    assert baselines.genre(["1", "2"], {"1", "2"}, k=2) == ["3", "10"]
    assert baselines.genre(["999"], {"11"}) == baselines.popularity({"11"})  # no liked movie in the catalog


# --- one turn: the last cards of the stream count ----------------------------------------------------------------
def card(item_id: str) -> Recommendation:
    return Recommendation(item_id=item_id, title=f"Movie {item_id}", score=1.0,
                          reasons=[Reason(kind="genre_match", text="Matches Action")])


class FakeAgent:
    """The event order of Agent.turn: cards, a question, revised cards, prose tokens, done."""

    def __init__(self) -> None:
        self.tokens_sent = 0

    async def turn(self, user, message, session=None):
        yield Cards(recommendations=[card("1"), card("2")])
        yield Question(kind="ambiguous", text="Which \u201cHeat\u201d do you mean?", span="Heat")
        yield Status(text="reading your message\u2026")
        yield Cards(recommendations=[card("3")], revision=1, changed="noted you like Heat (1995)")
        yield Status(text="writing one sentence per card\u2026")
        for _ in range(2):
            self.tokens_sent += 1
            yield Token(text="A sentence.", item_id="3")
        yield Done(reply="…", cards_ms=1.0, total_s=0.1)


def test_play_turn_keeps_the_revised_cards_and_the_question():
    import asyncio

    agent = FakeAgent()
    outcome = asyncio.run(play_turn(agent, "u", "s", "I loved Heat"))
    assert [c.item_id for c in outcome.first_cards] == ["1", "2"]
    assert [c.item_id for c in outcome.cards] == ["3"]
    assert outcome.revised and outcome.question_kind == "ambiguity"
    assert outcome.first_cards_s <= outcome.final_cards_s <= outcome.done_s
    assert outcome.done_s is not None and agent.tokens_sent == 2
    quick = FakeAgent()
    skipped = asyncio.run(play_turn(quick, "u", "s", "I loved Heat", prose=False))
    assert [c.item_id for c in skipped.cards] == ["3"] and skipped.done_s is None and quick.tokens_sent == 0


# --- the cases file ------------------------------------------------------------------------------------------------
def test_vendored_cases_load_in_file_order():
    cases = load_cases()
    assert len(cases) == 550
    assert [case["case_id"] for case in load_cases(limit=3)] == [case["case_id"] for case in cases[:3]]
    first = cases[0]
    assert mentioned_until(first, len(first["seeker_turns"]) - 1) == set(first["seeker_mentioned_ml_ids"])


def test_splits_select_lines_and_bad_specs_are_clear_errors():
    tune, check = load_cases(lines=parse_lines(None, "tune")), load_cases(lines=parse_lines(None, "check"))
    assert (len(tune), len(check)) == (400, 150)
    assert {case["case_id"] for case in tune}.isdisjoint(case["case_id"] for case in check)
    assert [c["case_id"] for c in load_cases(lines=parse_lines("401-402", None))] == [c["case_id"] for c in check[:2]]
    for spec, split in (("x-3", None), ("5-2", None), (None, "dev"), ("1-2", "tune")):
        with pytest.raises(InputError):
            parse_lines(spec, split)


def test_model_aliases():
    assert resolve_model("small") == {"model": "qwen2.5-coder-0.5b"}
    assert resolve_model("default") == {"model": "qwen2.5-coder-1.5b"}
    assert resolve_model(None) == {}


# --- a replay of three cases with --llm none, and its report ------------------------------------------------------
def test_replay_three_cases_writes_a_sane_report(demo_tools, tmp_path):
    catalog, recommender = demo_tools
    agent = Agent(catalog, recommender, Memory(tmp_path / "eval.sqlite3"), None, cards=CARDS)
    cases = load_cases(limit=3)
    report = run_dialogues(agent, catalog, cases, per_turn=True)
    assert report["cases"] == 3 and report["turns"] == sum(len(c["seeker_turns"]) for c in cases)
    assert report["errors"] == []
    for model in ("ours", "popularity", "genre"):
        row = report["models"][model]
        for key in dm.RANKING_KEYS:
            assert 0.0 <= row[key] <= 1.0
        assert row["hit@1"] <= row["hit@5"] <= row["hit@10"]
        assert row["out_of_catalog_share"] == 0.0
    assert report["dialogue"]["turns_with_cards"] == report["turns"]
    assert report["dialogue"]["turns_degraded"] == report["turns"]  # no LLM
    shares = report["reason_kinds"]["primary"]
    assert sum(shares.values()) == pytest.approx(1.0)
    # the popularity baseline is exactly the 10 most rated movies the seeker did not mention
    popular = catalog.ratings.groupby("item_id").size().reset_index(name="n")
    popular["id"] = popular["item_id"].astype(int)
    order = popular.sort_values(["n", "id"], ascending=[False, True])["item_id"].tolist()
    for case, result in zip(cases, report["case_results"]):
        mentioned = set(case["seeker_mentioned_ml_ids"])
        assert result["shown"]["popularity"] == [i for i in order if i not in mentioned][:10]
        assert len(result["shown"]["ours"]) == CARDS
        assert len(result["per_turn"]) == len(case["seeker_turns"])

    paths = write_dialogues(report, tmp_path / "out")
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == sorted(
        ["dialogues.json", "dialogues.md", "dialogues-hit-by-turn.png", "dialogues-latency.png",
         "dialogues-reasons.png"])
    for name in ("hit_by_turn", "latency", "reasons"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(paths["json"].read_text())
    assert saved["models"]["ours"]["hit@10"] == report["models"]["ours"]["hit@10"]
    markdown = paths["markdown"].read_text()
    assert "| ours (convrec agent) |" in markdown and "![hit-rate by turn](dialogues-hit-by-turn.png)" in markdown


# --- the command ---------------------------------------------------------------------------------------------------
def test_cli_eval_dialogues_with_a_small_limit(tiny_ml_dir, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from convrec.cli.main import app

    monkeypatch.setenv("CONVREC_CATALOG", str(tiny_ml_dir))  # 60 movies: CF and EASE fit in a moment, no index
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["eval", "dialogues", "--llm", "none", "--limit", "2", "--report", str(out)])
    assert result.exit_code == 0, result.output
    assert "ReDial dev replay: 2 cases" in result.output
    report = json.loads((out / "dialogues.json").read_text())
    assert report["cases"] == 2 and report["config"]["search"].startswith("off")
    assert report["models"]["ours"]["out_of_catalog_share"] == 0.0
    assert (out / "dialogues.md").is_file() and (out / "dialogues-latency.png").is_file()


def test_cli_eval_dialogues_refuses_parallel_workers_with_the_local_model():
    from typer.testing import CliRunner

    from convrec.cli.main import app

    result = CliRunner().invoke(app, ["eval", "dialogues", "--llm", "local", "--workers", "2", "--limit", "1"])
    assert isinstance(result.exception, InputError) and result.exception.exit_code == 2  # `convrec` exits with 2
    assert "single instance" in str(result.exception)
    assert CliRunner().invoke(app, ["eval", "dialogues", "--llm", "gpt"]).exit_code == 2  # a usage error
