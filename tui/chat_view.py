"""The scrolling conversation: the user's messages, convrec's replies and quiet notes, newest at the bottom."""

from __future__ import annotations

from textual.containers import VerticalScroll

from convrec.tui.agent_message import AgentMessage
from convrec.tui.note import Note
from convrec.tui.user_message import UserMessage


class ChatView(VerticalScroll, can_focus=False):
    """Not focusable: tab goes from the message box to the quick picks and the cards; page up/down scroll it."""

    DEFAULT_CSS = """
    ChatView {
        height: 1fr;
        padding: 0 1 1 1;
        scrollbar-size-vertical: 1;
    }
    """

    def follow(self) -> None:
        """Keep the newest message in view: top-aligned while everything fits, then anchored to the bottom (until
        the user scrolls up)."""
        self.call_after_refresh(self._anchor_when_full)

    def _anchor_when_full(self) -> None:
        if not self.is_anchored and self.max_scroll_y > 0:
            self.anchor()

    def add_user(self, text: str) -> UserMessage:
        message = UserMessage(text)
        self.mount(message)
        self.follow()
        return message

    async def add_agent(self, markdown: str = "") -> AgentMessage:
        message = AgentMessage(markdown)
        await self.mount(message)
        self.follow()
        return message

    def add_note(self, text: str, kind: str = "info", *, markup: bool = False) -> Note:
        note = Note(text, kind, markup=markup)
        self.mount(note)
        self.follow()
        return note

    async def clear(self) -> None:
        await self.remove_children()
        self.anchor(False)
