"""One recommendation card: title, year, genres, the reason(s) from its evidence, a score bar.

Focus it and press `l` like, `d` dislike, `1`–`5` rate, `enter` more like this, `x` not interested: the card
posts `RecCard.Feedback` and the app does the rest. Updating a card with the same data does nothing (no flicker).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

if TYPE_CHECKING:
    from convrec.tools.models import Recommendation

BAR_CELLS = 14
_ARTICLE = re.compile(r"^(?P<rest>.+?), (?P<article>The|A|An|Les|La|Le|L'|Il|El|Der|Die|Das)"
                      r"(?P<alt> \([^()]*\))?(?P<year> \(\d{4}\))?$")


def display_title(title: str) -> str:
    """"Matrix, The" → "The Matrix", "Matrix, The (1999)" → "The Matrix (1999)" (the catalog files articles last;
    people do not)."""
    match = _ARTICLE.match(title)
    if not match:
        return title
    article, rest = match.group("article"), match.group("rest")
    joined = f"{article}{rest}" if article.endswith("'") else f"{article} {rest}"
    return joined + (match.group("alt") or "") + (match.group("year") or "")


def score_bar(score: float, cells: int = BAR_CELLS) -> Text:
    fraction = min(max(score, 0.0), 1.0)
    filled = round(fraction * cells)
    bar = Text()
    bar.append("━" * filled, style="bold #5fafd7")
    bar.append("━" * (cells - filled), style="#3a3a3a")
    bar.append(f" {score:.2f}", style="dim")
    return bar


class RecCard(Widget, can_focus=True):
    DEFAULT_CSS = """
    RecCard {
        height: auto;
        padding: 0 1;
        margin: 0 0 1 0;
        border: round $panel-lighten-2;
        background: $surface;
    }
    RecCard:focus {
        border: round $accent;
        background: $boost;
    }
    RecCard.-changed {
        border: round $success;
    }
    """

    BINDINGS = [
        Binding("l", "feedback('like')", "like"),
        Binding("d", "feedback('dislike')", "dislike"),
        Binding("1", "rate(1)", "rate 1–5"),
        Binding("2", "rate(2)", "rate", show=False),
        Binding("3", "rate(3)", "rate", show=False),
        Binding("4", "rate(4)", "rate", show=False),
        Binding("5", "rate(5)", "rate", show=False),
        Binding("enter", "feedback('more_like_this')", "more like this"),
        Binding("x", "feedback('not_interested')", "not interested"),
        Binding("up,k", "move(-1)", "previous", show=False),
        Binding("down,j", "move(1)", "next", show=False),
    ]

    class Feedback(Message):
        """The user gave feedback on this card."""

        def __init__(self, card: RecCard, item_id: str, label: str, action: str, value: float | None) -> None:
            super().__init__()
            self.card = card
            self.item_id = item_id
            self.label = label
            self.action = action
            self.value = value

    class Move(Message):
        def __init__(self, card: RecCard, step: int) -> None:
            super().__init__()
            self.card = card
            self.step = step

    def __init__(self, rec: Recommendation, index: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rec = rec
        self.index = index
        self.prose: str | None = None

    # -- data in ---------------------------------------------------------------------------------------------------
    def set_card(self, rec: Recommendation, index: int) -> bool:
        """Show `rec`; returns True if anything visible changed."""
        if rec == self.rec and index == self.index:
            return False
        same_item = rec.item_id == self.rec.item_id
        self.rec, self.index = rec, index
        if not same_item:
            self.prose = None
        self.set_class(not same_item, "-changed")
        self.refresh(layout=True)
        return True

    def set_prose(self, text: str) -> None:
        if text != self.prose:
            unchanged_view = self._is_template(text)
            self.prose = text
            if not unchanged_view:  # a template sentence is already shown as one of the reasons
                self.refresh(layout=True)

    def _is_template(self, text: str) -> bool:
        """The fallback sentence is one of the card's reasons (not always the first: see prose.fallback_sentence)."""
        return any(text == reason.text for reason in self.rec.reasons)

    # -- drawing -----------------------------------------------------------------------------------------------------
    def render(self) -> Table:
        rec = self.rec
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(width=2, justify="right", style="dim")
        grid.add_column(ratio=1, overflow="fold")
        title = Text(display_title(rec.title), style="bold")
        if rec.year:
            title.append(f"  {rec.year}", style="dim")
        grid.add_row(str(self.index + 1), title)
        if rec.genres:
            grid.add_row("", Text(" · ".join(rec.genres), style="italic #87afaf"))
        for reason in rec.reasons:
            grid.add_row(Text("›", style="#5fafd7"), Text(reason.text))
        if self.prose and not self._is_template(self.prose):
            grid.add_row(Text("“", style="#5fafd7"), Text(self.prose + "”", style="italic"))
        grid.add_row("", score_bar(rec.score))
        return grid

    # -- keys --------------------------------------------------------------------------------------------------------
    def action_feedback(self, action: str) -> None:
        self.post_message(self.Feedback(self, self.rec.item_id, _label(self.rec), action, None))

    def action_rate(self, value: int) -> None:
        self.post_message(self.Feedback(self, self.rec.item_id, _label(self.rec), "rate", float(value)))

    def action_move(self, step: int) -> None:
        self.post_message(self.Move(self, step))


def _label(rec: Recommendation) -> str:
    return f"{rec.title} ({rec.year})" if rec.year else rec.title
