"""A quiet line in the conversation: the welcome, what feedback changed, a warning."""

from __future__ import annotations

from textual.widgets import Static


class Note(Static):
    DEFAULT_CSS = """
    Note {
        margin: 1 0 0 0;
        padding: 0 1;
        color: $text-muted;
    }
    Note.-welcome {
        color: $text;
        border-left: thick $accent;
        padding: 0 1;
    }
    Note.-feedback { color: $success; margin: 0; }
    Note.-warning { color: $warning; }
    Note.-error { color: $error; }
    """

    def __init__(self, text: str, kind: str = "info", *, markup: bool = False, **kwargs) -> None:
        super().__init__(text, markup=markup, **kwargs)
        self.add_class(f"-{kind}")
