"""Quick-pick chips for the agent's questions (well-known movies, genres, or "which one did you mean?"), plus skip.

Sits under the message box: `tab` from the box reaches the first chip, `←`/`→` move between chips.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.message import Message
from textual.widgets import Button, Static

from convrec.tui.card import display_title

if TYPE_CHECKING:
    from convrec.agent.events import Choice, Question

MAX_LABEL = 40


class QuickPicks(Vertical):
    DEFAULT_CSS = """
    QuickPicks {
        height: auto;
        max-height: 14;
        padding: 0 1;
        display: none;
    }
    QuickPicks.-visible { display: block; }
    QuickPicks > #picks-text { color: $text-muted; }
    QuickPicks > .picks-row {
        layout: grid;
        grid-size: 2;
        grid-gutter: 0 1;
        grid-rows: 1;
        height: auto;
        margin-top: 1;
    }
    QuickPicks > #picks-genres { grid-size: 4; margin-top: 0; }
    QuickPicks Button { width: 1fr; min-width: 4; margin: 0; }
    QuickPicks Button.-genre { background: $panel; }
    QuickPicks Button.-skip { background: transparent; color: $text-muted; }
    """

    BINDINGS = [
        Binding("left", "app.focus_previous", "previous", show=False),
        Binding("right", "app.focus_next", "next", show=False),
    ]

    class Picked(Message):
        def __init__(self, question: Question, choice: Choice) -> None:
            super().__init__()
            self.question = question
            self.choice = choice

    class Skipped(Message):
        pass

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.question: Question | None = None

    def compose(self):
        yield Static("", id="picks-text", markup=False)
        yield Container(id="picks-items", classes="picks-row")
        yield Container(id="picks-genres", classes="picks-row")

    async def show(self, question: Question) -> None:
        self.question = question
        self.query_one("#picks-text", Static).update(question.text)
        items, genres = self.query_one("#picks-items"), self.query_one("#picks-genres")
        await items.remove_children()
        await genres.remove_children()
        item_buttons = [self._button(i, c) for i, c in enumerate(question.choices) if c.genre is None]
        genre_buttons = [self._button(i, c, "-genre") for i, c in enumerate(question.choices) if c.genre]
        genre_buttons.append(Button("skip", id="pick-skip", classes="-skip", compact=True))
        await items.mount_all(item_buttons)
        await genres.mount_all(genre_buttons)
        items.display = bool(item_buttons)
        self.add_class("-visible")

    def hide(self) -> None:
        self.question = None
        self.remove_class("-visible")

    @property
    def shown(self) -> bool:
        return self.has_class("-visible")

    def focus_first(self) -> None:
        buttons = list(self.query(Button))
        if buttons:
            buttons[0].focus()

    @staticmethod
    def _button(index: int, choice: Choice, classes: str = "") -> Button:
        label = display_title(choice.label)
        label = label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1] + "…"
        button = Button(label, id=f"pick-{index}", classes=classes, compact=True)
        button.tooltip = choice.label
        return button

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "pick-skip":
            self.hide()
            self.post_message(self.Skipped())
            return
        if self.question is None or not event.button.id:
            return
        choice = self.question.choices[int(event.button.id.removeprefix("pick-"))]
        self.post_message(self.Picked(self.question, choice))
