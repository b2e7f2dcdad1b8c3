"""Switch session (F3): the user's sessions, most recent first; enter opens one, n starts a new one."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

if TYPE_CHECKING:
    from convrec.agent.frontend import SessionSummary

NEW = "\0new"


def when(timestamp: float, now: float | None = None) -> str:
    moment, today = datetime.fromtimestamp(timestamp), datetime.fromtimestamp(now or time.time())
    if moment.date() == today.date():
        return f"today {moment:%H:%M}"
    return f"{moment:%Y-%m-%d %H:%M}"


class SessionsScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    SessionsScreen { align: center middle; }
    SessionsScreen > Vertical {
        width: 90;
        height: auto;
        max-height: 80%;
        padding: 1 2;
        border: round $accent;
        background: $surface;
    }
    SessionsScreen #sessions-title { text-style: bold; }
    SessionsScreen #sessions-hint { color: $text-muted; margin-bottom: 1; }
    SessionsScreen OptionList { height: auto; max-height: 24; border: none; }
    """

    BINDINGS = [
        Binding("escape", "dismiss", "close"),
        Binding("n", "new", "new session"),
    ]

    def __init__(self, sessions: list[SessionSummary], current: str | None) -> None:
        super().__init__()
        self.sessions = sessions
        self.current = current

    def compose(self):
        with Vertical():
            yield Static("Sessions", id="sessions-title")
            yield Static("enter opens · n starts a new session · escape closes", id="sessions-hint")
            options = [Option(self._label(summary), id=summary.session) for summary in self.sessions]
            yield OptionList(*options)

    def _label(self, summary: SessionSummary) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("● " if summary.session == self.current else "  ", style="#5faf5f")
        text.append(f"{when(summary.updated_at):<17}", style="dim")
        text.append(f"{summary.turns:>3} msg  ", style="dim")
        text.append(summary.title)
        return text

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        ids = [summary.session for summary in self.sessions]
        if self.current in ids:
            options.highlighted = ids.index(self.current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_new(self) -> None:
        self.dismiss(NEW)
