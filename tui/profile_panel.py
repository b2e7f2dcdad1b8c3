"""What convrec believes about you (F2): liked and disliked movies, ratings, genres, limits, what you are looking
for. Every entry can be removed; the cards are re-ranked without it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.containers import VerticalScroll
from textual.widgets import Static

from convrec.tui.profile_entry_row import ProfileEntryRow

if TYPE_CHECKING:
    from convrec.agent.frontend import ProfileEntry
    from convrec.agent.policy import Agent

EMPTY = "Nothing yet. Tell me a movie or a genre you like (or not), and it shows up here."


class ProfilePanel(VerticalScroll, can_focus=False):
    DEFAULT_CSS = """
    ProfilePanel {
        dock: right;
        width: 44;
        height: 1fr;
        padding: 0 1;
        border-left: tall $accent;
        background: $surface;
        display: none;
    }
    ProfilePanel.-visible { display: block; }
    ProfilePanel > .title { text-style: bold; padding: 0 1; }
    ProfilePanel > .hint { color: $text-muted; padding: 0 1 1 1; }
    ProfilePanel > .section { color: $accent; text-style: bold; padding: 1 1 0 1; }
    ProfilePanel > .empty { color: $text-muted; padding: 1; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.entries: list[ProfileEntry] = []

    @property
    def shown(self) -> bool:
        return self.has_class("-visible")

    def toggle(self) -> bool:
        self.toggle_class("-visible")
        return self.shown

    @work(thread=True, group="profile", exit_on_error=False)
    def load(self, agent: Agent, user: str, focus: bool = False) -> None:
        """Read `user`'s profile on a worker thread, then show it (`focus`: and focus its first entry)."""
        from convrec.agent.frontend import profile_entries

        entries = profile_entries(agent, user)
        try:
            self.app.call_from_thread(self.show_entries, entries, focus=focus)
        except RuntimeError:  # the app is closing
            pass

    async def show_entries(self, entries: list[ProfileEntry], *, focus: bool = False) -> None:
        from convrec.agent.frontend import SECTION_TITLES

        focused = self.app.focused
        position = None
        if isinstance(focused, ProfileEntryRow) and focused in self.query(ProfileEntryRow):
            position = list(self.query(ProfileEntryRow)).index(focused)
        self.entries = list(entries)
        widgets = [Static("What convrec believes about you", classes="title"),
                   Static("del or x removes · f2 hides", classes="hint")]
        section = None
        for entry in entries:
            if entry.section != section:
                section = entry.section
                widgets.append(Static(SECTION_TITLES.get(section, section), classes="section"))
            widgets.append(ProfileEntryRow(entry))
        if not entries:
            widgets.append(Static(EMPTY, classes="empty"))
        await self.remove_children()
        await self.mount_all(widgets)
        rows = list(self.query(ProfileEntryRow))
        if position is not None and rows:
            rows[min(position, len(rows) - 1)].focus()
        if focus:
            self.focus_first()

    def focus_first(self) -> bool:
        rows = list(self.query(ProfileEntryRow))
        if rows:
            rows[0].focus()
        return bool(rows)
