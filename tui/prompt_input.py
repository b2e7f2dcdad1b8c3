"""The message box: enter sends, up/down walk through what was sent before."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input

PLACEHOLDER = "Tell me a movie you loved or hated, a genre or a mood…"


class PromptInput(Input):
    DEFAULT_CSS = """
    PromptInput {
        border: tall $panel-lighten-1;
        margin: 0;
    }
    PromptInput:focus { border: tall $accent; }
    """

    BINDINGS = [
        Binding("up", "history(-1)", "earlier", show=False),
        Binding("down", "history(1)", "later", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(placeholder=PLACEHOLDER, **kwargs)
        self.history: list[str] = []
        self._position = 0  # len(history) means "the draft being typed"
        self._draft = ""

    def remember(self, text: str) -> None:
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self._position = len(self.history)
        self._draft = ""

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        if self._position == len(self.history):
            self._draft = self.value
        position = max(0, min(len(self.history), self._position + step))
        if position == self._position:
            return
        self._position = position
        self.value = self._draft if position == len(self.history) else self.history[position]
        self.cursor_position = len(self.value)
