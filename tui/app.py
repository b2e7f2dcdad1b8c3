"""The convrec terminal UI: a conversation on the left, the recommendation cards on the right.

The layout paints at once; the runtime (catalog, CF, item similarities, the LLM's weights) loads in a thread worker
while the status bar says what it is doing. Messages typed before that wait, visibly. Turns run as async workers
that consume `Agent.turn`'s events (their blocking work runs on the agent's threads); feedback, profile edits and
session switches run in thread workers. Widgets post messages up; the app calls methods down.

Nothing heavy is imported at module import time: the agent's modules load inside the start-up worker.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widget import MountError
from textual.widgets import Footer

from convrec.tui.agent_message import AgentMessage
from convrec.tui.chat_view import ChatView
from convrec.tui.note import Note
from convrec.tui.prompt_input import PromptInput
from convrec.tui.status_bar import StatusBar
from convrec.tui.user_message import UserMessage

if TYPE_CHECKING:
    from textual.worker import Worker

    from convrec.agent.events import Cards, Done, Error, Question, Status, Token
    from convrec.agent.frontend import RuntimeFactory
    from convrec.agent.runtime import Runtime
    from convrec.tools.models import Recommendation
    from convrec.tui.card import RecCard
    from convrec.tui.card_list import CardList
    from convrec.tui.profile_entry_row import ProfileEntryRow
    from convrec.tui.profile_panel import ProfilePanel
    from convrec.tui.quick_picks import QuickPicks

WELCOME = ("[b]Welcome to convrec.[/b] Tell me a movie you loved or hated, a genre or a mood, and I'll suggest a "
           "few.\nType below or pick a quick choice; [b]tab[/b] reaches the cards ([b]l[/b] like · [b]d[/b] dislike "
           "· [b]1–5[/b] rate) · [b]f1[/b] lists every key.")
WRITING = "writing one sentence per card…  ·  esc stops"
FEEDBACK_ICONS = {"like": "♥", "dislike": "✗", "rate": "★", "more_like_this": "⤷", "not_interested": "–"}


@dataclass
class Loaded:
    """What the start-up worker hands to the UI."""

    runtime: Runtime
    degraded: str | None
    session: str
    session_note: str | None
    history: list[tuple[str, str]]
    question: Question | None
    cards: list[Recommendation]
    known_user: bool
    backend: str


@dataclass
class Reply:
    """One turn's reply while it streams: the message it is written into, and the cards its sentences explain."""

    view: AgentMessage
    shown: dict[str, Recommendation] = field(default_factory=dict)
    language: str = "en"  # the user's message's, so the reply's (agent.locale.language_of)


def error_text(error: BaseException) -> str:
    render = getattr(error, "render", None)
    return render() if callable(render) else f"{type(error).__name__}: {error}"


class ConvrecApp(App):
    TITLE = "convrec"
    CSS = """
    #main { height: 1fr; }
    #left { width: 3fr; }
    #right {
        width: 2fr;
        min-width: 44;
        border-left: solid $panel-lighten-1;
    }
    StatusBar { height: 1; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "stop / back", show=False),
        Binding("f1", "help", "help"),
        Binding("f2", "toggle_profile", "profile"),
        Binding("f3", "sessions", "sessions"),
        Binding("ctrl+n", "new_session", "new session"),
        Binding("pageup", "scroll_chat(-1)", "scroll up", show=False),
        Binding("pagedown", "scroll_chat(1)", "scroll down", show=False),
    ]

    class Ready(Message):
        """The runtime is loaded and the app takes turns (tests and the start-up benchmark wait for it)."""

    def __init__(self, *, user: str = "me", session: str | None = None, factory: RuntimeFactory | None = None,
                 settings: dict[str, Any] | None = None, warm_search: bool = True) -> None:
        """`factory(status=, progress=, use_llm=)` builds the Runtime (tests inject fakes); without one, the real
        runtime is built from `Settings(**settings)` in the start-up worker."""
        super().__init__()
        self.user = user
        self.requested_session = session
        self.factory = factory
        self.settings_overrides = dict(settings or {})
        self.warm_search = warm_search
        self.runtime: Runtime | None = None
        self.session: str | None = None
        self.degraded: str | None = None
        self.load_error: str | None = None
        self._pending: deque[tuple[str, UserMessage]] = deque()
        self._turn_worker: Worker | None = None
        self._last_user_message: str | None = None
        self._state_lock = threading.Lock()  # feedback and profile edits: one read-modify-write at a time
        self._welcome: Note | None = None
        self._laid_out = False

    # -- layout ------------------------------------------------------------------------------------------------------
    def compose(self):
        with Horizontal(id="main"):
            with Vertical(id="left"):
                with ChatView(id="chat"):
                    self._welcome = Note(WELCOME, "welcome", markup=True)
                    yield self._welcome
                yield PromptInput(id="prompt")
            yield Vertical(id="right")  # the cards, the quick picks and the profile panel mount after the first paint
        yield StatusBar(id="status")

    async def _finish_layout(self) -> None:
        from convrec.tui.card_list import CardList
        from convrec.tui.profile_panel import ProfilePanel
        from convrec.tui.quick_picks import QuickPicks

        try:
            await self.query_one("#right").mount(CardList(id="cards"))
            await self.query_one("#left").mount(QuickPicks(id="picks"))
            await self.query_one("#main").mount(ProfilePanel(id="profile"))
            await self.mount(Footer())
        except MountError:  # the app closed before its first frame was out
            return
        self._laid_out = True
        self._load()  # its imports (pandas, pydantic, …) would otherwise compete with the first paint

    @property
    def chat(self) -> ChatView:
        return self.query_one("#chat", ChatView)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one("#prompt", PromptInput)

    @property
    def picks(self) -> QuickPicks:
        return self.query_one("#picks")

    @property
    def cards(self) -> CardList:
        return self.query_one("#cards")

    @property
    def profile_panel(self) -> ProfilePanel:
        return self.query_one("#profile")

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    @property
    def ready(self) -> bool:
        return self.runtime is not None

    @property
    def busy(self) -> bool:
        return self._turn_worker is not None

    def on_mount(self) -> None:
        self.status_bar.set_fields(who=self._who())
        self.prompt.focus()
        self.call_after_refresh(self._finish_layout)

    def _who(self) -> str:
        return f"{self.user} · {self.session}" if self.session else self.user

    # -- start-up ----------------------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load(self) -> None:
        def status(text: str) -> None:
            self._from_thread(self.status_bar.set_state, text.rstrip("…") + "…")

        shown = [-1]

        def progress(task: str, done: float, total: float | None = None) -> None:
            percent = int(100 * done / total) if total else None
            if percent is not None and percent != shown[0]:
                shown[0] = percent
                self._from_thread(self.status_bar.set_state, f"{task} {percent} %")

        try:
            status("loading libraries")
            from convrec.agent import frontend

            factory = self.factory
            if factory is None:
                from convrec.core.settings import Settings

                factory = frontend.runtime_factory(Settings(**self.settings_overrides))
            started = frontend.start_runtime(factory, status, progress)
            runtime = started.runtime
            status("opening your session")
            note = None
            try:
                session = runtime.memory.session(self.user, self.requested_session)
            except PermissionError:
                session = runtime.memory.session(self.user)
                note = f"Session {self.requested_session} belongs to someone else; opened your latest instead."
            history = frontend.conversation(runtime.memory, session)
            known = bool(frontend.profile_entries(runtime.agent, self.user))
            question = None if history else frontend.onboarding_question(runtime.agent, self.user)
            cards = runtime.agent.recommend(self.user, session)
            loaded = Loaded(runtime, started.degraded, session, note, history, question, cards, known,
                            frontend.backend_label(runtime))
        except Exception as error:  # noqa: BLE001 - shown in the app; it stays open to read
            self._from_thread(self._load_failed, error_text(error))
            return
        self._from_thread(self._on_loaded, loaded)

    def _from_thread(self, callback, *args, **kwargs) -> None:
        try:
            self.call_from_thread(callback, *args, **kwargs)
        except RuntimeError:  # the app is closing
            pass

    def _load_failed(self, text: str) -> None:
        self.load_error = text
        self.status_bar.set_state("could not start", "error")
        self.chat.add_note(f"convrec could not start: {text}", "error")
        for _, waiting in self._pending:
            waiting.set_waiting("not sent: convrec could not start")
        self._pending.clear()

    async def _on_loaded(self, loaded: Loaded) -> None:
        self.runtime, self.session, self.degraded = loaded.runtime, loaded.session, loaded.degraded
        self.status_bar.set_fields(backend=loaded.backend + (" (model failed to load)" if loaded.degraded else ""),
                                   backend_degraded=bool(loaded.degraded), catalog=loaded.runtime.catalog.name,
                                   who=self._who())
        if loaded.degraded:
            self.chat.add_note(f"The language model is not available: {loaded.degraded}\nContinuing without it: "
                               "the picks work as usual; reasons use templates.", "warning")
        if loaded.session_note:
            self.chat.add_note(loaded.session_note, "warning")
        await self._show_conversation(loaded.history, loaded.known_user)
        await self._show_cards(loaded.cards, loaded.known_user)
        if loaded.question is not None and not self._pending:  # typed something already: no need to ask
            await self.picks.show(loaded.question)
        self.status_bar.set_state("ready", "ready")
        self.post_message(self.Ready())
        self._pump()
        if self.warm_search and loaded.runtime.search is not None:
            self._warm_search()

    async def _show_conversation(self, history: list[tuple[str, str]], known_user: bool) -> None:
        """The stored conversation goes first; anything typed while loading stays after it."""
        if history:
            if self._welcome is not None:
                await self._welcome.remove()
                self._welcome = None
            widgets = [UserMessage(text) if role == "user" else AgentMessage(text) for role, text in history]
            widgets.append(Note(f"Resumed session {self.session} · f3 lists your sessions · ctrl+n starts a new "
                                "one"))
            await self.chat.mount_all(widgets, before=0)
            self.chat.follow()
        elif known_user:
            self.chat.add_note("Welcome back: your profile carries over from earlier sessions (f2 shows it).")

    async def _show_cards(self, cards: list[Recommendation], known_user: bool) -> None:
        title = "Picks for you" if known_user else "Popular picks to start with"
        self.cards.show(cards, title=title)

    @work(thread=True, group="warm", exit_on_error=False)
    def _warm_search(self) -> None:
        """The embedding model (a 5-19 s torch import) loads in the background, so the first message that needs
        semantic search does not wait for it."""
        self._from_thread(self.status_bar.set_fields, extra="loading the search model…")
        try:
            self.runtime.search.warm()
            extra = ""
        except Exception as error:  # noqa: BLE001 - search is one signal among several; the rest works
            extra = f"semantic search unavailable ({type(error).__name__})"
        self._from_thread(self.status_bar.set_fields, extra=extra)

    # -- sending messages --------------------------------------------------------------------------------------------
    def on_input_submitted(self, event: PromptInput.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            return
        self.prompt.remember(text)
        self.prompt.value = ""
        self.send(text)

    def send(self, text: str) -> None:
        """Show the message at once; it is sent when the runtime is ready and the previous turn is done."""
        if self.load_error is not None:
            self.chat.add_user(text).set_waiting("not sent: convrec could not start")
            return
        if self._laid_out:
            self.picks.hide()
        view = self.chat.add_user(text)
        self._pending.append((text, view))
        if not self.ready:
            view.set_waiting("waiting for convrec to finish loading; it is sent as soon as it is ready")
        elif self.busy:
            view.set_waiting("queued: sent when the reply above is done")
        self._pump()

    def _pump(self) -> None:
        if not self.ready or self.busy or not self._pending:
            return
        text, view = self._pending.popleft()
        view.set_waiting(None)
        self._last_user_message = text
        self._turn_worker = self.run_worker(self._turn(text), group="turn", exit_on_error=False)

    async def _turn(self, text: str) -> None:
        from contextlib import aclosing

        from convrec.agent.locale import language_of

        view: AgentMessage | None = None
        self.status_bar.set_state("finding picks…")
        try:
            view = await self.chat.add_agent()
            view.set_status("finding picks…")
            reply = Reply(view, language=language_of(text))
            async with aclosing(self.runtime.agent.turn(self.user, text, self.session)) as events:
                async for event in events:
                    await getattr(self, f"_stream_{event.type}")(reply, event)  # one handler per event type
        except asyncio.CancelledError:
            if view is not None:
                view.set_status("stopped · your message is saved; the reply was not finished", "warning")
            raise
        except Exception as error:  # noqa: BLE001 - one failed turn must not close the app
            if view is not None:
                view.set_status(f"something went wrong: {error_text(error)}", "error")
            else:
                self.chat.add_note(f"something went wrong: {error_text(error)}", "error")
        finally:
            if view is not None:
                try:
                    await view.finish()
                except Exception:  # noqa: BLE001 - the stream may already be gone
                    pass
            self._turn_worker = None
            self.status_bar.set_state("ready", "ready")
            if self.profile_panel.shown:
                self.profile_panel.load(self.runtime.agent, self.user)
            self._pump()

    async def _stream_cards(self, reply: Reply, event: Cards) -> None:
        from convrec.agent.policy import reply_head

        reply.shown = {card.item_id: card for card in event.recommendations}
        if event.revision == 0:
            self.cards.show(event.recommendations, title="Picks for you")
            await reply.view.write(reply_head(event.recommendations, reply.language))
            reply.view.set_status(WRITING if self.runtime.agent.llm is not None else None)
        else:
            self.cards.show(event.recommendations, note=event.changed, highlight=True)
            await reply.view.write(f"\n\n*↻ Updated the picks: {event.changed}.*\n")

    async def _stream_question(self, reply: Reply, event: Question) -> None:
        reply.view.set_question(event.text)
        if event.choices:
            await self.picks.show(event)

    async def _stream_status(self, reply: Reply, event: Status) -> None:
        reply.view.set_status(f"{event.text}  ·  esc stops")
        self.status_bar.set_state(event.text)

    async def _stream_token(self, reply: Reply, event: Token) -> None:
        from convrec.agent.policy import card_line

        card = reply.shown.get(event.item_id) if event.item_id else None
        await reply.view.write("\n" + (card_line(card, event.text) if card else event.text))
        if card is not None:
            self.cards.set_prose(card.item_id, event.text)
        if self.runtime.agent.llm is not None:
            reply.view.set_status(WRITING)
            self.status_bar.set_state("writing…")

    async def _stream_done(self, reply: Reply, event: Done) -> None:
        latency = f"cards {event.cards_ms:.0f} ms · total {event.total_s:.1f} s"
        self.status_bar.set_fields(latency=latency)
        failed = event.degraded if self.runtime.agent.llm is not None else None
        reply.view.set_status(failed or latency, "warning" if failed else None)

    async def _stream_error(self, reply: Reply, event: Error) -> None:
        reply.view.set_status(event.message, "error")

    def action_cancel(self) -> None:
        """escape: stop the reply being written (and anything queued); otherwise back to the message box."""
        if self.busy or self._pending:
            for _, waiting in self._pending:
                waiting.set_waiting("not sent (stopped)")
            self._pending.clear()
            if self._turn_worker is not None:
                self._turn_worker.cancel()
            self.status_bar.set_state("stopped", "warning")
        self.prompt.focus()

    # -- quick picks -------------------------------------------------------------------------------------------------
    def on_quick_picks_picked(self, message: QuickPicks.Picked) -> None:
        from convrec.agent.frontend import choice_message

        self.picks.hide()
        self.send(choice_message(message.question, message.choice, self._last_user_message))
        self.prompt.focus()

    def on_quick_picks_skipped(self, message: QuickPicks.Skipped) -> None:
        self.chat.add_note("Skipped. Tell me what you are in the mood for whenever you like.")
        self.prompt.focus()

    # -- feedback on cards -------------------------------------------------------------------------------------------
    def on_rec_card_feedback(self, message: RecCard.Feedback) -> None:
        message.stop()
        if self.ready:
            self._feedback(message.item_id, message.label, message.action, message.value,
                           list(self.cards.recommendations))

    @work(thread=True, group="feedback", exit_on_error=False)
    def _feedback(self, item_id: str, label: str, action: str, value: float | None,
                  before: list[Recommendation]) -> None:
        from convrec.agent.frontend import feedback_note

        agent = self.runtime.agent
        try:
            with self._state_lock:
                agent.feedback(self.user, item_id, action, value, self.session)
                after = agent.recommend(self.user, self.session)
        except Exception as error:  # noqa: BLE001 - said in the chat; nothing else changes
            self._from_thread(self.chat.add_note, f"Could not save that: {error_text(error)}", "error")
            return
        icon = FEEDBACK_ICONS.get(action, "·")
        self._from_thread(self._reranked, after,
                          f"{icon} {feedback_note(action, item_id, label, value, before, after, short=True)}",
                          f"{icon} {feedback_note(action, item_id, label, value, before, after)}")

    def _reranked(self, cards: list[Recommendation], short: str, note: str) -> None:
        self.cards.show(cards, title="Picks for you", note=short, highlight=True)
        self.chat.add_note(note, "feedback")
        if self.profile_panel.shown:
            self.profile_panel.load(self.runtime.agent, self.user)

    # -- profile panel -----------------------------------------------------------------------------------------------
    def action_toggle_profile(self) -> None:
        if not self._need_ready():
            return
        if self.profile_panel.toggle():
            self.profile_panel.load(self.runtime.agent, self.user, focus=True)
        else:
            self.prompt.focus()

    def on_profile_entry_row_remove(self, message: ProfileEntryRow.Remove) -> None:
        message.stop()
        self._remove_entry(message.entry, list(self.cards.recommendations))

    @work(thread=True, group="profile-edit", exit_on_error=False)
    def _remove_entry(self, entry, before: list[Recommendation]) -> None:
        from convrec.agent.frontend import profile_entries, remove_profile_entry, rerank_note

        agent = self.runtime.agent
        try:
            with self._state_lock:
                remove_profile_entry(agent, self.user, entry)
                after = agent.recommend(self.user, self.session)
                entries = profile_entries(agent, self.user)
        except Exception as error:  # noqa: BLE001
            self._from_thread(self.chat.add_note, f"Could not remove that: {error_text(error)}", "error")
            return
        self._from_thread(self.profile_panel.show_entries, entries)
        self._from_thread(self._reranked, after, f"✕ Removed {entry.label}: {rerank_note(before, after, short=True)}",
                          f"✕ Removed {entry.label} from your profile: {rerank_note(before, after)}")

    # -- sessions ----------------------------------------------------------------------------------------------------
    def action_sessions(self) -> None:
        if self._need_ready():
            self._list_sessions()

    @work(thread=True, group="sessions", exit_on_error=False)
    def _list_sessions(self) -> None:
        from convrec.agent.frontend import session_summaries
        from convrec.tui.sessions_screen import SessionsScreen

        summaries = session_summaries(self.runtime.memory, self.user)
        self._from_thread(self.push_screen, SessionsScreen(summaries, self.session), self._session_chosen)

    def _session_chosen(self, choice: str | None) -> None:
        from convrec.tui.sessions_screen import NEW

        if choice == NEW:
            self.action_new_session()
        elif choice is not None and choice != self.session:
            self._open_session(choice)

    def action_new_session(self) -> None:
        if self._need_ready():
            self._open_session(None)

    def _open_session(self, session: str | None) -> None:
        if self.busy:
            self.action_cancel()
        self.picks.hide()
        self._switch_session(session)

    @work(thread=True, exclusive=True, group="switch", exit_on_error=False)
    def _switch_session(self, session: str | None) -> None:
        from convrec.agent import frontend

        runtime = self.runtime
        session = runtime.memory.new_session(self.user) if session is None else runtime.memory.session(self.user,
                                                                                                          session)
        history = frontend.conversation(runtime.memory, session)
        known = bool(frontend.profile_entries(runtime.agent, self.user))
        question = None if history else frontend.onboarding_question(runtime.agent, self.user)
        cards = runtime.agent.recommend(self.user, session)
        self._from_thread(self._session_opened, session, history, known, question, cards)

    async def _session_opened(self, session: str, history, known: bool, question, cards) -> None:
        self.session = session
        self._last_user_message = None
        self.status_bar.set_fields(who=self._who(), latency="")
        await self.chat.clear()
        self._welcome = None
        if history:
            await self._show_conversation(history, known)
        else:
            self.chat.add_note(f"New session {session}." + (" Your profile carries over (f2 shows it)."
                                                            if known else ""))
            if not known:
                self.chat.add_note(WELCOME, "welcome", markup=True)
        await self._show_cards(cards, known)
        if question is not None:
            await self.picks.show(question)
        self.status_bar.set_state("ready", "ready")
        self.prompt.focus()

    # -- help, palette -----------------------------------------------------------------------------------------------
    def action_help(self) -> None:
        from convrec.tui.help_screen import HelpScreen

        self.push_screen(HelpScreen())

    def action_scroll_chat(self, direction: int) -> None:
        if direction < 0:
            self.chat.scroll_page_up()
        else:
            self.chat.scroll_page_down()

    def action_focus_cards(self) -> None:
        if not self.cards.focus_card(0):
            self.notify("No cards yet: say what you like first.")

    def _need_ready(self) -> bool:
        if self.ready:
            return True
        self.notify("Still loading; this works in a moment." if self.load_error is None else
                    "convrec could not start; see the message in the conversation.", severity="warning")
        return False

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("New session", "Start a new conversation; your profile carries over (ctrl+n)",
                            self.action_new_session)
        yield SystemCommand("Switch session", "List your sessions and open one (f3)", self.action_sessions)
        yield SystemCommand("Profile", "Show or hide what convrec believes about you; remove entries (f2)",
                            self.action_toggle_profile)
        yield SystemCommand("Focus the cards", "Rate or dismiss the picks with the keyboard (tab)",
                            self.action_focus_cards)
        yield SystemCommand("Stop the reply", "Stop the reply being written (escape)", self.action_cancel)
        yield SystemCommand("Help", "Every key of convrec on one screen (f1)", self.action_help)
        yield from super().get_system_commands(screen)


def run_tui(*, user: str = "me", session: str | None = None, llm: str | None = None,
            catalog: str | None = None, policy: str | None = None) -> int:
    """`convrec` / `convrec tui`. Returns the exit code."""
    import os
    import sys

    settings: dict[str, Any] = {}
    if llm:
        settings["llm"] = llm
    if catalog:
        settings["catalog"] = catalog
    if policy:
        settings["policy"] = policy
    app = ConvrecApp(user=user, session=session, settings=settings)
    # Our own loop: `asyncio.run` would join the worker threads on the way out, and one may be in the middle of a
    # 5-19 s load (the catalog, the model, the search model). Everything the user said is already committed
    # (SQLite, WAL), so quitting does not wait for them.
    app.run(loop=asyncio.new_event_loop())
    code = app.return_code or 0
    if threading.active_count() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
