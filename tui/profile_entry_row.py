"""One removable line of the profile panel: `delete`, `backspace`, `x` or a click removes it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

if TYPE_CHECKING:
    from convrec.agent.frontend import ProfileEntry


class ProfileEntryRow(Widget, can_focus=True):
    DEFAULT_CSS = """
    ProfileEntryRow { height: auto; padding: 0 1; }
    ProfileEntryRow:hover { background: $boost; }
    ProfileEntryRow:focus { background: $accent 30%; }
    """

    BINDINGS = [
        Binding("delete,backspace,x", "remove", "remove"),
        Binding("up,k", "app.focus_previous", "previous", show=False),
        Binding("down,j", "app.focus_next", "next", show=False),
    ]

    class Remove(Message):
        def __init__(self, entry: ProfileEntry) -> None:
            super().__init__()
            self.entry = entry

    def __init__(self, entry: ProfileEntry, **kwargs) -> None:
        super().__init__(**kwargs)
        self.entry = entry

    def render(self) -> Text:
        text = Text(overflow="fold")
        text.append("✕ ", style="#d75f5f" if self.has_focus else "#585858")
        text.append(self.entry.label)
        return text

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_click(self) -> None:
        self.action_remove()

    def action_remove(self) -> None:
        self.post_message(self.Remove(self.entry))
