"""What the UI asks of the agent (agent/frontend.py, the LazySearch start-up behaviour) and the `convrec [tui]`
command line, without a terminal."""

from __future__ import annotations

import threading

import pytest
from typer.testing import CliRunner

from convrec.agent import frontend
from convrec.agent.runtime import LazySearch
from convrec.core.settings import Settings
from convrec.tools.models import Constraints, Profile, Reason, Recommendation
from test_tui import FIXTURE, make_runtime, tiny  # noqa: F401 - fixtures


def rec(item_id: str, title: str) -> Recommendation:
    return Recommendation(item_id=item_id, title=title, year=2000, score=0.5,
                          reasons=[Reason(kind="popular_cold_start", text="Widely loved")])


def test_a_missing_model_falls_back_without_rebuilding_the_catalog(tmp_path, monkeypatch):
    from convrec.agent import runtime as runtime_module

    builds = []
    real = runtime_module.build_runtime

    def counting(*args, **kwargs):
        builds.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(frontend, "build_runtime", counting)
    settings = Settings(catalog=FIXTURE, data_dir=tmp_path, llm="local", model_path=tmp_path / "missing.gguf")
    statuses = []
    started = frontend.start_runtime(frontend.runtime_factory(settings), statuses.append)
    assert started.runtime.agent.llm is None and "model file not found" in started.degraded
    assert len(builds) == 1 and "continuing without an LLM" in statuses
    assert frontend.backend_label(started.runtime) == "no LLM"


def test_a_loaded_model_gets_a_one_slot_scheduler(make_runtime):  # noqa: F811
    class Loadable:
        name = "loadable"
        loaded = False

        def load(self):
            self.loaded = True

    llm = Loadable()
    runtime = make_runtime(llm)
    started = frontend.start_runtime(lambda **_: runtime)
    assert started.degraded is None and llm.loaded and runtime.agent.scheduler.slots == 1
    assert frontend.backend_label(runtime) == "loadable"


def test_profile_entries_cover_every_kind_and_each_can_be_removed(make_runtime):  # noqa: F811
    runtime = make_runtime()
    agent, memory = runtime.agent, runtime.memory
    memory.save_profile("ann", Profile(
        liked={"1": 1.0}, disliked={"2": 1.0}, ratings={"32": 4.5}, genres_liked={"Comedy"},
        genres_disliked={"Horror"}, query="mind bending",
        constraints=Constraints(year_min=1990, year_max=2005, exclude_genres={"War"}, require_genres={"Drama"},
                                exclude_items={"47"})))
    memory.add_feedback("ann", "1", "like")
    entries = frontend.profile_entries(agent, "ann")
    labels = {(e.section, e.label) for e in entries}
    assert ("liked", "Toy Story (1995)") in labels and ("rated", "Twelve Monkeys (a.k.a. 12 Monkeys) (1995) ★ 4.5") \
        in labels
    assert {("constraint", "from 1990"), ("constraint", "up to 2005"), ("constraint", "no War"),
            ("constraint", "only Drama"), ("query", "\u201cmind bending\u201d")} <= labels
    for entry in entries:
        frontend.remove_profile_entry(agent, "ann", entry)
    emptied = memory.profile("ann")
    assert emptied.signal_count == 0 and emptied.query is None
    assert emptied.constraints.model_dump() == {"year_min": None, "year_max": None, "exclude_genres": set(),
                                                "require_genres": set(), "exclude_items": set()}
    assert {"1", "2", "32"} <= emptied.seen  # removed items are still never recommended
    assert memory.feedback("ann") == []  # the feedback behind the like went with it
    assert frontend.profile_entries(agent, "ann") == []


def test_onboarding_only_for_someone_we_know_nothing_about(make_runtime):  # noqa: F811
    runtime = make_runtime()
    question = frontend.onboarding_question(runtime.agent, "new")
    assert question is not None and question.kind == "elicit" and [c for c in question.choices if c.item_id] and \
        [c for c in question.choices if c.genre]
    runtime.agent.feedback("new", "1", "like")
    assert frontend.onboarding_question(runtime.agent, "new") is None


def test_session_summaries_and_conversation(make_runtime):  # noqa: F811
    memory = make_runtime().memory
    first = memory.new_session("ann")
    memory.add_message(first, "user", "I loved Toy Story " + "and more " * 20)
    memory.add_message(first, "elicit", "Which of these?")
    memory.add_message(first, "assistant", "Here are a few picks")
    summaries = frontend.session_summaries(memory, "ann")
    assert summaries[0].session == first and summaries[0].turns == 1 and summaries[0].title.endswith("…")
    assert frontend.conversation(memory, first) == [("user", "I loved Toy Story " + "and more " * 20),
                                                    ("assistant", "Here are a few picks")]


def test_rerank_notes_say_what_changed():
    before = [rec("1", "One"), rec("2", "Two"), rec("3", "Three")]
    after = [rec("2", "Two"), rec("3", "Three"), rec("4", "Four")]
    assert frontend.feedback_note("like", "1", "One (2000)", None, before, after) == \
        "Liked One (2000): 1 new pick (Four (2000))"
    assert frontend.feedback_note("rate", "1", "One (2000)", 4.0, before, after, short=True) == \
        "Rated One (2000) 4/5: 1 new pick"
    assert frontend.rerank_note(before, [rec("3", "Three"), rec("2", "Two"), rec("1", "One")]) == \
        "same picks, re-ordered"
    assert frontend.rerank_note(before, before[:2]) == "Three (2000) dropped"


def test_search_does_not_hold_the_cards_while_another_thread_loads_it(tiny):  # noqa: F811
    settings, catalog, _ = tiny
    search = LazySearch(settings, catalog)
    loading, release = threading.Event(), threading.Event()

    def slow_warm():
        with search._lock:
            loading.set()
            release.wait(10)

    worker = threading.Thread(target=slow_warm)
    worker.start()
    try:
        assert loading.wait(10)
        assert search("something tense", 10) == []  # returns at once: ranked without the query match
    finally:
        release.set()
        worker.join()


# -- the command line --------------------------------------------------------------------------------------------------
@pytest.fixture
def launched(monkeypatch):
    calls = []
    import convrec.tui.app as tui_app

    monkeypatch.setattr(tui_app, "run_tui", lambda **kwargs: calls.append(kwargs) or 0)
    return calls


def test_convrec_with_no_command_opens_the_ui(launched):
    from convrec.cli.main import app

    result = CliRunner().invoke(app, [])
    assert result.exit_code == 0, result.output
    assert launched == [{"user": "me", "session": None, "llm": None, "catalog": None, "policy": None}]
    result = CliRunner().invoke(app, ["--user", "bob", "--llm", "none", "--catalog", str(FIXTURE)])
    assert result.exit_code == 0 and launched[-1] == {"user": "bob", "session": None, "llm": "none",
                                                      "catalog": str(FIXTURE), "policy": None}


def test_convrec_tui_takes_the_same_options(launched):
    from convrec.cli.main import app

    result = CliRunner().invoke(app, ["tui", "--user", "ann", "--session", "s1", "--llm", "openai",
                                      "--policy", "agent"])
    assert result.exit_code == 0, result.output
    assert launched == [{"user": "ann", "session": "s1", "llm": "openai", "catalog": None, "policy": "agent"}]
    assert CliRunner().invoke(app, ["tui", "--llm", "gpt"]).exit_code == 2
    assert CliRunner().invoke(app, ["tui", "--policy", "smart"]).exit_code == 2
    assert CliRunner().invoke(app, ["--user", "bob", "info"]).exit_code == 2  # UI options before another command
    assert launched == [{"user": "ann", "session": "s1", "llm": "openai", "catalog": None, "policy": "agent"}]
