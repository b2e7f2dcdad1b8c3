"""The keys, on one screen (F1)."""

from __future__ import annotations

from rich.table import Table
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("Anywhere", [
        ("enter", "send the message"),
        ("↑ / ↓", "earlier / later messages in the box"),
        ("tab / shift+tab", "move between the box, the quick picks and the cards"),
        ("escape", "stop the reply being written; back to the box"),
        ("ctrl+n", "new session"),
        ("f3", "switch session"),
        ("f2", "show / hide what convrec believes about you (removable)"),
        ("ctrl+p", "command palette"),
        ("f1", "this help"),
        ("ctrl+q", "quit"),
    ]),
    ("On a card", [
        ("l / d", "like / dislike"),
        ("1 – 5", "rate"),
        ("enter", "more like this"),
        ("x", "not interested"),
        ("↑ ↓  or  k j", "previous / next card"),
    ]),
    ("In the profile panel", [
        ("delete / x", "remove the entry"),
    ]),
]


def keys_table(rows: list[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold #5fafd7", justify="right", min_width=16)
    table.add_column()
    for key, what in rows:
        table.add_row(key, what)
    return table


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 78;
        height: auto;
        max-height: 90%;
        padding: 1 2;
        border: round $accent;
        background: $surface;
    }
    HelpScreen #help-title { text-style: bold; }
    HelpScreen .help-section { color: $accent; text-style: bold; margin-top: 1; }
    HelpScreen #help-hint { color: $text-muted; margin-top: 1; }
    """

    BINDINGS = [Binding("escape,f1,q", "dismiss", "close")]

    def compose(self):
        with Vertical():
            yield Static("convrec — keys", id="help-title")
            for section, rows in KEYS:
                yield Static(section, classes="help-section")
                yield Static(keys_table(rows))
            yield Static("Cards appear in a few ms; the local model then refines them and writes one sentence "
                         "per card.\nEverything stays on this machine.  escape closes.", id="help-hint")
