"""convrec's reply: Markdown streamed as the turn's sentences arrive, then any question and a quiet status line
("reading your message…", "stopped", "cards 38 ms · 2.9 s").

The reply is a short Markdown text (a line, then one bullet per card). It is drawn by Rich's Markdown renderable
in one Static, redrawn as each sentence arrives: Textual's Markdown widget builds a widget per block and list
item, which costs more per reply than the reply is worth on a 2-core machine."""

from __future__ import annotations

from textual.containers import Vertical
from textual.widgets import Static


class AgentMessage(Vertical):
    DEFAULT_CSS = """
    AgentMessage {
        height: auto;
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: thick $accent;
    }
    AgentMessage > .part { display: none; }
    AgentMessage > .part.-visible { display: block; }
    AgentMessage > #revision { color: $success; }
    AgentMessage > #question { color: $text; text-style: italic; margin-top: 1; }
    AgentMessage > #status { color: $text-muted; }
    AgentMessage > #status.-warning { color: $warning; }
    AgentMessage > #status.-error { color: $error; }
    """

    def __init__(self, markdown: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.text = markdown

    def compose(self):
        yield Static(self._body(), id="body")
        yield Static("", id="revision", classes="part", markup=False)
        yield Static("", id="question", classes="part", markup=False)
        yield Static("", id="status", classes="part", markup=False)

    def _body(self):
        from rich.markdown import Markdown  # imported on first reply, not at start-up

        return Markdown(self.text, hyperlinks=False)

    async def write(self, fragment: str) -> None:
        """Append Markdown as it arrives."""
        self.text += fragment
        self.query_one("#body", Static).update(self._body())
        self._follow()

    async def finish(self) -> None:
        """Nothing to flush: each fragment is drawn as it arrives."""

    def _follow(self) -> None:
        follow = getattr(self.parent, "follow", None)
        if follow is not None:
            follow()

    def _part(self, name: str, text: str | None, kind: str | None = None) -> None:
        widget = self.query_one(f"#{name}", Static)
        widget.update(text or "")
        widget.set_class(bool(text), "-visible")
        self._follow()
        for style in ("-warning", "-error"):
            widget.set_class(kind == style[1:], style)

    def set_revision(self, text: str | None) -> None:
        self._part("revision", text)

    def set_question(self, text: str | None) -> None:
        self._part("question", text)

    def set_status(self, text: str | None, kind: str | None = None) -> None:
        self._part("status", text, kind)
