"""The recommendation cards of the current turn, with a note saying what changed since the last ones.

`show` reuses the card widgets in place: an unchanged card is not touched, a changed one is redrawn, so a revised
set (the LLM's reading, or a re-rank after feedback) updates calmly instead of flickering.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.containers import VerticalScroll
from textual.widgets import Static

from convrec.tui.card import RecCard

if TYPE_CHECKING:
    from convrec.tools.models import Recommendation

EMPTY = "Your picks appear here.\n\nTell me what you like, or pick a quick choice below the input."


class CardList(VerticalScroll, can_focus=False):
    DEFAULT_CSS = """
    CardList {
        width: 1fr;
        height: 1fr;
        padding: 0 1 0 1;
        scrollbar-size-vertical: 1;
    }
    CardList > #cards-title {
        color: $text-muted;
        text-style: bold;
        padding: 0 1;
    }
    CardList > #cards-note {
        color: $success;
        padding: 0 1 1 1;
        display: none;
    }
    CardList > #cards-note.-visible { display: block; }
    CardList > #cards-empty {
        color: $text-muted;
        padding: 1 1;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.recommendations: list[Recommendation] = []

    def compose(self):
        yield Static("Picks", id="cards-title")
        yield Static("", id="cards-note")
        yield Static(EMPTY, id="cards-empty")

    @property
    def cards(self) -> list[RecCard]:
        return list(self.query(RecCard))

    def show(self, recommendations: list[Recommendation], *, title: str | None = None, note: str | None = None,
             highlight: bool = False) -> None:
        """Show these cards, reusing the widgets in place. `highlight` marks the cards whose item changed."""
        self.recommendations = list(recommendations)
        if title is not None:
            self.query_one("#cards-title", Static).update(title)
        self.set_note(note)
        self.query_one("#cards-empty").display = not recommendations
        existing = self.cards
        new = []
        for index, rec in enumerate(recommendations):
            if index < len(existing):
                card = existing[index]
                card.set_card(rec, index)
                if not highlight:
                    card.remove_class("-changed")
            else:
                new.append(RecCard(rec, index))
        for card in existing[len(recommendations):]:
            card.remove()
        if new:
            self.mount(*new)

    def set_note(self, note: str | None) -> None:
        widget = self.query_one("#cards-note", Static)
        widget.update(f"↻ {note}" if note else "")
        widget.set_class(bool(note), "-visible")

    def set_prose(self, item_id: str, text: str) -> None:
        for card in self.cards:
            if card.rec.item_id == item_id:
                card.set_prose(text)

    def focus_card(self, index: int = 0) -> bool:
        cards = self.cards
        if not cards:
            return False
        cards[max(0, min(index, len(cards) - 1))].focus()
        return True

    def on_rec_card_move(self, message: RecCard.Move) -> None:
        message.stop()
        cards = self.cards
        if message.card in cards:
            self.focus_card(cards.index(message.card) + message.step)
