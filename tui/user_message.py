"""What the user said, with a line under it while it waits (for start-up, or for the reply before it)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class UserMessage(Static):
    DEFAULT_CSS = """
    UserMessage {
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: thick $primary;
        background: $boost;
    }
    """

    def __init__(self, text: str, **kwargs) -> None:
        self.text = text
        self.waiting: str | None = None
        super().__init__(self._content(), **kwargs)

    def _content(self) -> Text:
        content = Text(self.text)
        if self.waiting:
            content.append(f"\n⧗ {self.waiting}", style="italic #d7af5f")
        return content

    def set_waiting(self, text: str | None) -> None:
        self.waiting = text
        self.update(self._content())
