"""The user simulator: the leak check, regeneration of leaked LLM turns, the template fallback that never leaks,
seeded personas, a short template-only simulation and `convrec eval simulate` through CliRunner. No network."""

from __future__ import annotations

import json

import pytest

from convrec.agent.llm import LLMError, ScriptedLLM
from convrec.agent.memory import Memory
from convrec.agent.policy import Agent
from convrec.catalog.models import Item
from convrec.evaluation.simulator import (GENERIC, Persona, SimulatedUser, choose_personas, copies, leak_title,
                                          leaks, run_simulation, usable)


@pytest.fixture(scope="module")
def demo():
    from convrec.catalog.loaders import load_demo_catalog

    return load_demo_catalog()


# --- the leak check --------------------------------------------------------------------------------------------------
def test_leak_title_is_the_typed_title_without_article_or_year(demo):
    assert leak_title(demo.item("2571")) == "matrix"  # "Matrix, The (1999)"
    assert leak_title(Item(item_id="x", title="Amelie (Fabuleux destin d'Amélie Poulain, Le)", year=2001)) == "amelie"


@pytest.mark.parametrize("message, title, leaked", [
    ("I want to watch The Matrix again!", "matrix", True),
    ("something like the matrx, with kung fu", "matrix", True),  # a typo still names it
    ("A mind-bending sci-fi film about simulated reality", "matrix", False),
    ("Something like Jaws, please", "jaws", True),  # short titles count as whole words...
    ("I need something to cheer me up", "up", False),  # ...unless they are everyday words
    ("no", "lord of the rings fellowship of the ring", False),  # a short message never "contains" a long title
    ("Saving Private Ryan was great", "saving private ryan", True),
])
def test_leaks(message, title, leaked):
    assert leaks(message, title) is leaked


# --- regeneration and fallback ---------------------------------------------------------------------------------------
def matrix_user(demo, llm=None) -> SimulatedUser:
    return SimulatedUser(Persona(user_id="u", liked=("1", "260", "1196"), target="2571"), demo, llm)


def test_a_leaked_llm_message_is_regenerated(demo):
    llm = ScriptedLLM().enqueue("I'd love to see The Matrix again!",
                                "A mind-bending sci-fi action film about a hacker, like Star Wars.")
    said = matrix_user(demo, llm).message(1)
    assert said.text == "A mind-bending sci-fi action film about a hacker, like Star Wars."
    assert (said.source, said.regenerations, said.drafts) == ("llm", 1, ["I'd love to see The Matrix again!"])
    assert "gave the title away" in llm.prompts[1][-1]["content"]
    assert "gave the title away" not in llm.prompts[0][-1]["content"]
    assert "The Matrix" in llm.prompts[0][-1]["content"]  # the simulator knows its secret...
    assert "Matrix" not in llm.prompts[0][-1]["content"].split("What it is about:")[-1]  # ...the plot has it redacted


def test_a_refusal_or_an_echoed_prompt_is_no_user_message_and_is_regenerated(demo):
    refusal, echo = "I'm sorry, but I can't assist with that.", "The movie you have in mind is not among them."
    assert not usable(refusal) and not usable(echo) and not usable("Title: Heat")
    assert usable("I'm sorry, none of those. A movie with a secret twist?")
    llm = ScriptedLLM().enqueue(refusal, echo, "Any clever sci-fi action from the late nineties?")
    said = matrix_user(demo, llm).message(1)
    assert (said.text, said.source, said.unusable) == ("Any clever sci-fi action from the late nineties?", "llm",
                                                       [refusal, echo])
    assert "in the first person" in llm.prompts[1][-1]["content"]


def test_a_draft_copying_the_plot_is_thrown_away(demo):
    plot = demo.item("2571").description
    copied = "I want the one that " + " ".join(plot.split()[12:20])
    assert copies(copied, plot) and not copies("a dystopian future where people fight machines", plot)
    llm = ScriptedLLM().enqueue(copied, "Something mind-bending with kung fu and a hacker hero, please.")
    said = matrix_user(demo, llm).message(1)
    assert said.unusable == [copied] and said.source == "llm"


def test_a_message_that_keeps_leaking_falls_back_to_the_genre_template(demo):
    llm = ScriptedLLM().enqueue(*["the matrix"] * 3)
    said = matrix_user(demo, llm).message(2)
    assert said.source == "fallback" and said.regenerations == 3 and not llm.answers
    assert not leaks(said.text, "matrix")
    assert said.text == "Can you recommend an action, sci-fi and thriller movie from the 1990s?"


def test_a_failing_simulator_llm_falls_back_too(demo):
    said = matrix_user(demo, ScriptedLLM().enqueue(LLMError("down"))).message(1)
    assert said.source == "fallback" and not leaks(said.text, "matrix")


def test_the_fallback_never_leaks_for_any_catalog_title(demo):
    for item_id in demo.items.index:
        user = SimulatedUser(Persona(user_id="u", liked=(), target=item_id), demo)
        assert not leaks(user.fallback(), user.title), demo.item(item_id).label


def test_a_title_made_of_genre_words_gets_the_generic_fallback(demo):
    user = matrix_user(demo)
    user.target = Item(item_id="x", title="Horror", year=2015, genres=("Horror",))
    user.title = leak_title(user.target)
    assert user.fallback() == GENERIC


# --- personas and template messages ----------------------------------------------------------------------------------
def test_personas_are_seeded_and_their_template_messages_never_leak(demo):
    personas = choose_personas(demo, 12, seed=3)
    assert personas == choose_personas(demo, 12, seed=3)
    assert personas != choose_personas(demo, 12, seed=4)
    assert len({p.user_id for p in personas}) == 12
    ratings = demo.ratings
    for persona in personas:
        mine = ratings[ratings["user_id"] == persona.user_id].set_index("item_id")["rating"]
        assert mine[persona.target] >= 4.5 and persona.target not in persona.liked
        assert all(mine[item] >= 4.0 for item in persona.liked) and len(persona.liked) >= 3
        user = SimulatedUser(persona, demo)
        for turn in range(1, 6):
            said = user.message(turn)
            assert said.source == "template" and not leaks(said.text, user.title)
        assert user.said[0].startswith("I loved ")


# --- a short simulation ----------------------------------------------------------------------------------------------
def test_template_simulation_scores_hit_rate_and_average_turns(demo_tools, tmp_path):
    catalog, recommender = demo_tools
    agent = Agent(catalog, recommender, Memory(tmp_path / "sim.sqlite3"), None, cards=5)
    personas = choose_personas(catalog, 4, seed=0)
    report = run_simulation(agent, catalog, personas, max_turns=3, k=5)
    turns = [c["turns_to_hit"] for c in report["conversations"]]
    assert report["users"] == 4 and 0.0 <= report["hit_within"] <= 1.0
    assert report["hit_within"] == sum(t is not None for t in turns) / 4
    assert report["average_turns"] == pytest.approx(sum(4 if t is None else t for t in turns) / 4)
    assert [row["hit"] for row in report["hit_by_turn"]] == sorted(row["hit"] for row in report["hit_by_turn"])
    assert report["messages"]["leaked_in_final_messages"] == 0
    for conversation in report["conversations"]:
        hit = conversation["turns_to_hit"]
        assert len(conversation["turns"]) == (hit or 3)
        assert (conversation["target"] in conversation["turns"][-1]["shown"]) == (hit is not None)


def test_simulation_with_a_scripted_simulator_llm(demo_tools, tmp_path):
    catalog, recommender = demo_tools
    agent = Agent(catalog, recommender, Memory(tmp_path / "sim.sqlite3"), None, cards=5)
    persona = choose_personas(catalog, 1, seed=0)[0]
    title = catalog.item(persona.target).title
    llm = ScriptedLLM().enqueue(f"I want {title}", "Something funny from the nineties", "Anything with heart")
    report = run_simulation(agent, catalog, [persona], simulator_llm=llm, max_turns=2, k=5)
    first = report["conversations"][0]["turns"][0]
    assert first["source"] == "llm" and first["regenerations"] == 1 and first["leaked_drafts"] == [f"I want {title}"]
    assert report["messages"]["regenerated_for_leaks"] == 1 and report["config"]["simulator_llm"] == "scripted"


def test_cli_eval_simulate_template_only(tiny_ml_dir, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from convrec.cli.main import app

    monkeypatch.setenv("CONVREC_CATALOG", str(tiny_ml_dir))
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["eval", "simulate", "--llm", "none", "--users", "2", "--max-turns", "2",
                                      "--report", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "simulate.json").read_text())
    assert report["users"] == 2 and report["config"]["simulator_llm"] == "template"
    assert 1.0 <= report["average_turns"] <= 3.0
    assert "## Limits of this simulator" in (out / "simulate.md").read_text()
    assert (out / "simulate-hit-by-turn.png").is_file()
