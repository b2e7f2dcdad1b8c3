"""Progress reporting that keeps the layers UI-agnostic: the CLI passes a rich bar, the TUI a status line."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, task: str, done: float, total: float | None = None) -> None:
        """Report that `done` of `total` units of `task` are finished (total None: unknown)."""


def no_progress(task: str, done: float, total: float | None = None) -> None:
    """The default: report nothing."""
