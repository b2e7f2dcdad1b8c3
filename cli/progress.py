"""A rich progress bar behind the layers' `Progress` callback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TaskID, TextColumn,
                           TimeRemainingColumn, TransferSpeedColumn)

from convrec.core.progress import Progress as ProgressFn

console = Console(soft_wrap=True)
_bars = Console(stderr=True)


@contextmanager
def progress_bar(*, transfer: bool = False) -> Iterator[ProgressFn]:
    """Yield a callback that drives one rich bar per task name; `transfer` shows bytes and MB/s."""
    units = [DownloadColumn(), TransferSpeedColumn()] if transfer else [MofNCompleteColumn()]
    with Progress(TextColumn("{task.description}"), BarColumn(), *units, TimeRemainingColumn(),
                  console=_bars, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def report(task: str, done: float, total: float | None = None) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(task, total=total)
            bar.update(tasks[task], completed=done, total=total)

        yield report
