"""One line at the bottom: what convrec is doing, the LLM backend, the catalog, who and which session, and the last
turn's latency (cards in ms, whole turn in s)."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SEPARATOR = ("  │  ", "#585858")
ELAPSED_AFTER_S = 2  # a busy state shows its elapsed seconds after this long


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.state = "starting…"
        self.state_kind = "busy"  # busy | ready | warning | error
        self.backend = "…"
        self.backend_degraded = False
        self.catalog = "…"
        self.who = ""
        self.latency = ""
        self.extra = ""  # a background task, e.g. "loading search model"
        self._frame = 0
        self._since = time.monotonic()  # when the current busy stretch began
        self._timer = None

    def on_mount(self) -> None:
        self._timer = self.set_interval(0.12, self._tick, pause=self.state_kind != "busy")
        self._redraw()

    def set_state(self, text: str, kind: str = "busy") -> None:
        if kind != "busy" or self.state_kind != "busy":
            self._since = time.monotonic()
        self.state, self.state_kind = text, kind
        if self._timer is not None:
            if kind == "busy":
                self._timer.resume()
            else:
                self._timer.pause()
        self._redraw()

    def set_fields(self, **fields) -> None:
        for name, value in fields.items():
            setattr(self, name, value)
        self._redraw()

    def _tick(self) -> None:
        self._frame = (self._frame + 1) % len(SPINNER)
        self._redraw()

    def _redraw(self) -> None:
        icon, style = {"busy": (SPINNER[self._frame], "#d7af5f"), "ready": ("●", "#5faf5f"),
                       "warning": ("▲", "#d7af5f"), "error": ("✗", "#d75f5f")}[self.state_kind]
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{icon} ", style=style)
        text.append(self.state, style=style if self.state_kind != "ready" else "")
        elapsed = time.monotonic() - self._since
        if self.state_kind == "busy" and elapsed >= ELAPSED_AFTER_S:
            text.append(f" {elapsed:.0f} s", style="dim")
        parts = [(self.backend, "bold #d7af5f" if self.backend_degraded else "bold"),
                 (f"catalog {self.catalog}", ""), (self.who, "dim")]
        if self.latency:
            parts.append((self.latency, ""))
        if self.extra:
            parts.append((self.extra, "italic dim"))
        for value, part_style in parts:
            if value:
                text.append(*SEPARATOR)
                text.append(value, style=part_style)
        self.update(text, layout=False)  # one line, fixed height: no layout pass (the spinner ticks 8×/s)
