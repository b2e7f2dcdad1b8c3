"""The terminal UI, driven by Textual's Pilot over the tiny fixture catalog, with no LLM or a fake one.

The app gets its runtime through a factory (as the real one does), so these tests inject runtimes built here:
the tiny catalog's tools once per module, a fresh memory per test. Nothing waits on wall-clock time: `until`
polls a condition (with a generous bound, so a broken app fails instead of hanging).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from convrec.agent.llm import LLMError
from convrec.agent.memory import Memory
from convrec.agent.policy import Agent
from convrec.agent.prose import excerpt
from convrec.agent.runtime import Runtime, build_runtime
from convrec.core.settings import Settings
from convrec.tools.recommend import Recommender
from convrec.tui.agent_message import AgentMessage
from convrec.tui.app import ConvrecApp
from convrec.tui.card import RecCard, display_title
from convrec.tui.help_screen import HelpScreen
from convrec.tui.note import Note
from convrec.tui.profile_entry_row import ProfileEntryRow
from convrec.tui.quick_picks import QuickPicks
from convrec.tui.sessions_screen import SessionsScreen
from convrec.tui.user_message import UserMessage

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_ml"
SIZE = (110, 36)
BOUND_S = 20  # a bound on waiting for a condition, never an expectation of speed

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny catalog with its CF model and item similarities, built once; no semantic search (no torch)."""
    folder = tmp_path_factory.mktemp("tiny-data")
    base = build_runtime(Settings(catalog=FIXTURE, data_dir=folder, llm="none"), use_llm=False)
    recommender = Recommender(base.catalog, itemsim=base.recommender.itemsim, cf=base.recommender.cf)
    return base.settings, base.catalog, recommender


@pytest.fixture
def make_runtime(tiny, tmp_path):
    settings, catalog, recommender = tiny
    memory = Memory(tmp_path / "state.sqlite3")

    def build(llm=None) -> Runtime:
        return Runtime(settings=settings, catalog=catalog, memory=memory, recommender=recommender, search=None,
                       agent=Agent(catalog, recommender, memory, llm))

    return build


def app_for(runtime: Runtime, **kwargs) -> ConvrecApp:
    return ConvrecApp(factory=lambda **_: runtime, warm_search=False, **kwargs)


async def until(pilot, condition, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BOUND_S
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await pilot.pause(0.05)


async def ready(pilot) -> None:
    await until(pilot, lambda: pilot.app.ready and pilot.app.status_bar.state == "ready", "the app to be ready")


async def idle(pilot) -> None:
    await until(pilot, lambda: not pilot.app.busy and not pilot.app._pending, "the turn to finish")


async def say(pilot, text: str) -> None:
    pilot.app.prompt.focus()
    pilot.app.prompt.value = text
    await pilot.press("enter")
    await idle(pilot)


def card_ids(app: ConvrecApp) -> list[str]:
    return [card.rec.item_id for card in app.cards.cards]


def agent_texts(app: ConvrecApp) -> list[str]:
    return [message.text for message in app.query(AgentMessage)]


def notes(app: ConvrecApp) -> list[str]:
    return [str(note.render()) for note in app.query(Note)]


class GatedLLM:
    """Reads every message as a plain request and phrases every card, but only while `gate` is open; `inside` is
    set once a phrasing call is waiting at the gate."""

    name = "gated"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.inside = threading.Event()
        self.calls = 0

    def structured(self, messages, schema, *, max_tokens):
        return schema()

    def stream_chat(self, messages, *, max_tokens, temperature=0.3, stop=None):
        self.calls += 1
        self.inside.set()
        self.gate.wait(BOUND_S)
        title = messages[-1]["content"].split("\n")[0]
        yield f"A fine pick: {title}."


# -- start-up ---------------------------------------------------------------------------------------------------------
async def test_paints_at_once_and_a_message_typed_while_loading_waits_visibly(make_runtime):
    release = threading.Event()
    runtime = make_runtime()

    def slow_factory(*, status, progress, use_llm):
        status("loading the catalog")
        release.wait(BOUND_S)
        return runtime

    app = ConvrecApp(factory=slow_factory, user="ann", warm_search=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "catalog" in app.status_bar.state, "the loading status")
        assert not app.ready and app.query_one("#prompt").has_focus
        assert any("Welcome to convrec" in text for text in notes(app))
        app.prompt.value = "I loved Toy Story"
        await pilot.press("enter")
        waiting = app.query_one(UserMessage)
        assert waiting.text == "I loved Toy Story" and "loading" in waiting.waiting
        release.set()
        await ready(pilot)
        await idle(pilot)
        assert waiting.waiting is None
        assert any(r.evidence.get("liked_item_id") == "1" for c in app.cards.recommendations for r in c.reasons)
        assert [m.role for m in runtime.memory.messages(app.session)] == ["user", "assistant"]


async def test_model_that_fails_to_build_means_degraded_mode_not_a_crash(make_runtime):
    runtime = make_runtime()

    def factory(*, status, progress, use_llm):
        if use_llm:
            raise LLMError("could not load the local model: bad magic", where="/models/x.gguf",
                           fix="run `convrec model ensure`")
        return runtime

    app = ConvrecApp(factory=factory, user="ann", warm_search=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.status_bar.backend_degraded and "no LLM" in app.status_bar.backend
        assert any("language model is not available" in text and "bad magic" in text for text in notes(app))
        await say(pilot, "I loved Toy Story")
        assert len(app.cards.cards) == 5


async def test_model_whose_weights_fail_to_load_is_dropped(make_runtime):
    class Unloadable(GatedLLM):
        name = "unloadable"

        def load(self):
            raise LLMError("could not load the local model: out of memory", where="model.gguf")

    runtime = make_runtime(Unloadable())
    app = app_for(runtime, user="ann")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert runtime.agent.llm is None and app.status_bar.backend_degraded
        await say(pilot, "I loved Toy Story")
        assert len(app.cards.cards) == 5


async def test_a_broken_catalog_is_reported_in_the_app(make_runtime):
    from convrec.core.errors import CatalogError

    def factory(*, status, progress, use_llm):
        raise CatalogError("movies.csv is missing", where="/nowhere", fix="check the folder")

    app = ConvrecApp(factory=factory, warm_search=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.load_error is not None, "the start-up error")
        assert app.status_bar.state_kind == "error" and any("movies.csv is missing" in t for t in notes(app))
        await pilot.press("f2")  # needs the runtime: a notice, not a crash
        assert not app.profile_panel.shown


# -- onboarding --------------------------------------------------------------------------------------------------------
async def test_onboarding_from_zero_to_first_recommendations(make_runtime):
    runtime = make_runtime()
    app = app_for(runtime, user="newbie")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        picks = app.query_one(QuickPicks)
        assert picks.shown and app.cards.query_one("#cards-title").render().plain.startswith("Popular")
        items = [c for c in picks.question.choices if c.item_id]
        assert len(items) >= 3 and any(c.genre for c in picks.question.choices)
        await pilot.press("tab")  # from the message box to the first chip
        assert app.focused.id == "pick-0"
        await pilot.press("enter")
        await idle(pilot)
        first = items[0]
        assert app.query(UserMessage).last().text == f"I liked {first.label}"
        assert first.item_id in runtime.memory.profile("newbie").liked
        assert any(r.evidence.get("liked_item_id") == first.item_id
                   for c in app.cards.recommendations for r in c.reasons)
        assert not picks.shown


async def test_skip_then_a_genre_chip_from_the_agents_question(make_runtime):
    runtime = make_runtime()
    app = app_for(runtime, user="newbie")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        picks = app.query_one(QuickPicks)
        await pilot.click("#pick-skip")
        assert not picks.shown and app.prompt.has_focus
        await say(pilot, "hi")  # still nothing known: the turn asks, with chips
        assert picks.shown and "which" in app.query(AgentMessage).last().query_one("#question").render().plain.lower()
        genre = next(c for c in picks.question.choices if c.genre)
        await pilot.click(f"#pick-{picks.question.choices.index(genre)}")
        await idle(pilot)
        assert app.query(UserMessage).last().text == f"I like {genre.genre} movies"
        assert genre.genre in runtime.memory.profile("newbie").genres_liked


async def test_which_one_did_you_mean_keeps_the_users_words(make_runtime):
    from convrec.agent.events import Choice, Question
    from convrec.agent.frontend import choice_message

    question = Question(kind="ambiguous", text="Which \u201cpsycho\u201d do you mean?", span="psycho")
    choice = Choice(label="Psycho (1960)", item_id="1219")
    assert choice_message(question, choice, "I hated psycho, honestly") == "I hated Psycho (1960), honestly"
    assert choice_message(question, choice, None) == "Psycho (1960)"
    onboarding = Question(kind="elicit", text="Which of these have you seen?")
    reworded = Question(kind="ambiguous", text="Did you mean one of these?", span="psycho")  # no sentence parsed
    assert choice_message(reworded, choice, "loved psycho") == "loved Psycho (1960)"
    assert choice_message(onboarding, choice, "hi") == "I liked Psycho (1960)"
    assert choice_message(onboarding, Choice(label="Comedy", genre="Comedy")) == "I like Comedy movies"


# -- the turn: cards before prose, cancel ------------------------------------------------------------------------------
async def test_cards_arrive_before_any_prose(make_runtime):
    llm = GatedLLM()
    runtime = make_runtime(llm)
    app = app_for(runtime, user="ann")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.prompt.value = "I loved Toy Story"
        await pilot.press("enter")
        await until(pilot, llm.inside.is_set, "the first phrasing call")
        await until(pilot, lambda: len(app.cards.cards) == 5, "the cards")
        view = app.query(AgentMessage).last()
        assert app.busy and "- **" not in view.text  # cards shown, no sentence yet
        assert all(card.prose is None for card in app.cards.cards)
        llm.gate.set()
        await idle(pilot)
        assert view.text.count("- **") == 5 and "A fine pick" in view.text
        phrased = [card for card in app.cards.cards if excerpt(card.rec, runtime.catalog)]  # the others: no call
        assert phrased and all(card.prose and card.prose.startswith("A fine pick") for card in phrased)
        assert "cards" in app.status_bar.latency and " ms" in app.status_bar.latency


async def test_escape_stops_the_reply_and_the_message_is_kept(make_runtime):
    llm = GatedLLM()
    runtime = make_runtime(llm)
    app = app_for(runtime, user="ann")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.prompt.value = "I loved Toy Story"
        await pilot.press("enter")
        await until(pilot, llm.inside.is_set, "generation to start")
        await pilot.press("escape")
        await idle(pilot)
        view = app.query(AgentMessage).last()
        assert "stopped" in str(view.query_one("#status").render())
        roles = [m.role for m in runtime.memory.messages(app.session)]
        assert roles[0] == "user" and "assistant" not in roles  # the message is saved; no reply was stored
        assert "1" in runtime.memory.profile("ann").liked
        llm.gate.set()  # the stopped generation ends; the next turn runs normally
        await say(pilot, "I loved Forrest Gump")
        assert "assistant" in [m.role for m in runtime.memory.messages(app.session)]


# -- feedback keys -----------------------------------------------------------------------------------------------------
async def test_like_dislike_and_rate_keys_change_the_cards(make_runtime):
    runtime = make_runtime()
    app = app_for(runtime, user="ann")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await say(pilot, "I loved Toy Story")
        before = card_ids(app)
        await pilot.press("tab")
        assert isinstance(app.focused, RecCard) and app.focused.rec.item_id == before[0]
        await pilot.press("l")
        await until(pilot, lambda: card_ids(app) != before, "the re-ranked cards")
        profile = runtime.memory.profile("ann")
        assert before[0] in profile.liked and before[0] not in card_ids(app)
        assert any("Liked" in text for text in notes(app))
        assert "new pick" in str(app.cards.query_one("#cards-note").render())

        second = card_ids(app)
        await pilot.press("down", "d")
        await until(pilot, lambda: card_ids(app) != second, "cards after a dislike")
        assert second[1] in runtime.memory.profile("ann").disliked

        third = card_ids(app)
        await pilot.press("4")
        await until(pilot, lambda: card_ids(app) != third, "cards after a rating")
        assert runtime.memory.profile("ann").ratings[third[1]] == 4.0

        fourth = card_ids(app)
        await pilot.press("x")
        await until(pilot, lambda: card_ids(app) != fourth, "cards after not interested")
        assert fourth[1] in runtime.memory.profile("ann").seen and fourth[1] not in card_ids(app)
        actions = [action for _, action, _ in runtime.memory.feedback("ann")]
        assert actions == ["like", "dislike", "rate", "not_interested"]


async def test_more_like_this_and_keyboard_moves_between_cards(make_runtime):
    runtime = make_runtime()
    app = app_for(runtime, user="ann")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await say(pilot, "I loved Toy Story")
        app.cards.focus_card(0)
        await pilot.press("j", "j", "k")
        assert app.focused is app.cards.cards[1]
        target = app.focused.rec.item_id
        await pilot.press("enter")
        await until(pilot, lambda: target not in card_ids(app), "cards after more like this")
        assert any(r.evidence.get("liked_item_id") == target for c in app.cards.recommendations for r in c.reasons)
        await pilot.press("escape")
        assert app.prompt.has_focus


async def test_a_revised_set_updates_cards_in_place():
    """Unchanged cards keep their widget and are not redrawn; changed ones are marked."""
    from textual.app import App

    from convrec.tools.models import Reason, Recommendation
    from convrec.tui.card_list import CardList

    def rec(item_id, title):
        return Recommendation(item_id=item_id, title=title, year=1999, genres=["Drama"], score=0.5,
                              reasons=[Reason(kind="popular_cold_start", text="Widely loved")])

    class Host(App):
        def compose(self):
            yield CardList(id="cards")

    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        cards = app.query_one(CardList)
        cards.show([rec("1", "One"), rec("2", "Two"), rec("3", "Three")])
        await pilot.pause()
        widgets = cards.cards
        cards.show([rec("1", "One"), rec("4", "Four"), rec("3", "Three")], note="noted you like Heat", highlight=True)
        await pilot.pause()
        assert cards.cards == widgets  # the same widgets, updated in place
        assert [c.has_class("-changed") for c in cards.cards] == [False, True, False]
        assert "noted you like Heat" in str(cards.query_one("#cards-note").render())
        cards.show([rec("1", "One")])
        await pilot.pause()
        assert len(cards.cards) == 1


# -- profile panel -----------------------------------------------------------------------------------------------------
async def test_profile_panel_lists_and_removes_beliefs(make_runtime):
    runtime = make_runtime()
    app = app_for(runtime, user="ann")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await say(pilot, "I loved Toy Story, no horror, and I like comedy")
        profile = runtime.memory.profile("ann")
        assert "1" in profile.liked and "Comedy" in profile.genres_liked and profile.constraints.exclude_genres
        await pilot.press("f2")
        await until(pilot, lambda: len(app.query(ProfileEntryRow)) >= 3, "the profile entries")
        labels = [row.entry.label for row in app.query(ProfileEntryRow)]
        assert "Toy Story (1995)" in labels and "Comedy" in labels and "no Horror" in labels
        assert isinstance(app.focused, ProfileEntryRow) and app.focused.entry.label == "Toy Story (1995)"
        await pilot.press("delete")
        await until(pilot, lambda: "1" not in runtime.memory.profile("ann").liked, "the like to be removed")
        await until(pilot, lambda: "Toy Story (1995)" not in [r.entry.label for r in app.query(ProfileEntryRow)],
                    "the panel to refresh")
        assert not any(r.evidence.get("liked_item_id") == "1" for c in app.cards.recommendations for r in c.reasons)
        assert any("Removed Toy Story (1995)" in text for text in notes(app))
        row = next(r for r in app.query(ProfileEntryRow) if r.entry.label == "no Horror")
        row.focus()
        await pilot.press("x")
        await until(pilot, lambda: not runtime.memory.profile("ann").constraints.exclude_genres, "the limit to go")
        await pilot.press("f2")
        assert not app.profile_panel.shown and app.prompt.has_focus


# -- sessions ----------------------------------------------------------------------------------------------------------
async def test_resumes_the_last_session_and_switches(make_runtime):
    runtime = make_runtime()
    agent = runtime.agent
    old = runtime.memory.new_session("ann")
    await agent.run_turn("ann", "I loved Toy Story", old)
    app = app_for(runtime, user="ann")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.session == old
        assert [m.text for m in app.query(UserMessage)] == ["I loved Toy Story"]
        assert any("Here are a few picks" in text for text in agent_texts(app))
        assert any("Resumed session" in text for text in notes(app))
        assert app.cards.cards and not app.query_one(QuickPicks).shown

        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.session != old, "a new session")
        new = app.session
        assert not app.query(UserMessage) and any("New session" in text for text in notes(app))
        await say(pilot, "I loved Forrest Gump")

        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen), "the session list")
        assert [s.session for s in app.screen.sessions] == [new, old]
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.session == old, "the old session")
        assert [m.text for m in app.query(UserMessage)] == ["I loved Toy Story"]


async def test_an_explicit_session_opens_and_someone_elses_does_not(make_runtime):
    runtime = make_runtime()
    theirs = runtime.memory.new_session("bob")
    app = app_for(runtime, user="ann", session=theirs)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.session != theirs and any("belongs to someone else" in text for text in notes(app))
    app = app_for(runtime, user="ann", session="mine")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.session == "mine" and "mine" in app.status_bar.who


# -- keys, help, palette -----------------------------------------------------------------------------------------------
async def test_input_history_help_and_palette(make_runtime):
    app = app_for(make_runtime(), user="ann")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await say(pilot, "I loved Toy Story")
        await say(pilot, "something funny")
        app.prompt.value = "draft"
        await pilot.press("up")
        assert app.prompt.value == "something funny"
        await pilot.press("up", "up")
        assert app.prompt.value == "I loved Toy Story"
        await pilot.press("down", "down")
        assert app.prompt.value == "draft"

        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert {"New session", "Switch session", "Profile", "Help", "Stop the reply"} <= set(titles)
        await pilot.press("ctrl+p")
        await pilot.press(*"new session")
        await pilot.press("enter")
        await until(pilot, lambda: not app.query(UserMessage), "the palette's new session")


def test_display_titles_put_articles_first():
    assert display_title("Matrix, The (1999)") == "The Matrix (1999)"
    assert display_title("Shawshank Redemption, The") == "The Shawshank Redemption"
    assert display_title("Heat (1995)") == "Heat (1995)"
    assert display_title("Good, the Bad and the Ugly, The (Buono, il brutto, il cattivo, Il) (1966)") == \
        "The Good, the Bad and the Ugly (Buono, il brutto, il cattivo, Il) (1966)"
