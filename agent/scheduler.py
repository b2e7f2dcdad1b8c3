"""Fair, bounded access to one LLM for the turns of many users at once (the HTTP server).

The local model is one in-process llama.cpp instance: two generations at once only fight over the same cores and
KV cache. So a turn that will use the LLM is *admitted* first (a `Ticket`, before anything is stored; when
`slots + max_waiting` turns already hold tickets, `QueueFull` says when to retry), then waits in FIFO order for one
of `slots` places, holds it for its whole LLM phase (reading + prose) and gives it up when it ends or is cancelled.

Tool work never waits here: the turn computes its cards before it asks for a place, and LLM calls run on this
scheduler's own threads, so threads waiting on the model never starve the threads that compute other users' cards.
A cancelled turn leaves the queue at once; a generation already running is told to stop (`Ticket.cancelled`)
and keeps its place until its thread returns, so the next turn never runs two generations at once.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from convrec.core.errors import ConvrecError

R = TypeVar("R")


class QueueFull(ConvrecError):
    """Too many turns are waiting for the LLM; `retry_after` is an estimate in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many requests are waiting for the language model", where="LLM queue",
                         fix=f"retry in about {retry_after} s")
        self.retry_after = retry_after


class LLMScheduler:
    def __init__(self, slots: int = 1, max_waiting: int = 16) -> None:
        if slots < 1 or max_waiting < 0:
            raise ValueError("slots >= 1 and max_waiting >= 0")
        self.slots = slots
        self.max_waiting = max_waiting
        self._executor = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="convrec-llm")
        self._lock = threading.Lock()
        self._admitted = 0  # tickets not closed yet
        self._holders = 0  # places taken
        self._waiters: deque[tuple[asyncio.Future, asyncio.AbstractEventLoop]] = deque()
        self._hold_s = 10.0  # moving average of how long a turn holds a place, for Retry-After

    # -- admission --------------------------------------------------------------------------------------------------
    def admit(self) -> Ticket:
        with self._lock:
            if self._admitted >= self.slots + self.max_waiting:
                raise QueueFull(self._retry_after())
            self._admitted += 1
        return Ticket(self)

    def _retry_after(self) -> int:
        ahead = self._admitted - self.slots + 1
        return max(1, min(300, math.ceil(self._hold_s * ahead / self.slots)))

    def stats(self) -> dict[str, int | float]:
        with self._lock:
            return {"slots": self.slots, "max_waiting": self.max_waiting, "admitted": self._admitted,
                    "running": self._holders, "waiting": len(self._waiters), "mean_hold_s": round(self._hold_s, 2)}

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- places ------------------------------------------------------------------------------------------------------
    async def _acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._holders < self.slots and not self._waiters:
                self._holders += 1
                return
            entry = (loop.create_future(), loop)
            self._waiters.append(entry)
        try:
            await entry[0]
        except asyncio.CancelledError:
            with self._lock:
                try:
                    self._waiters.remove(entry)
                    handed_over = False
                except ValueError:
                    handed_over = True  # the place was given to us just as we were cancelled: pass it on
            if handed_over:
                self._release()
            raise

    def _release(self) -> None:
        """Give the place to the first waiter, or free it. Callable from any thread."""
        with self._lock:
            if not self._waiters:
                self._holders -= 1
                return
            future, loop = self._waiters.popleft()
        loop.call_soon_threadsafe(_grant, future)

    def _ticket_closed(self, held_s: float | None) -> None:
        with self._lock:
            self._admitted -= 1
            if held_s is not None:
                self._hold_s = 0.8 * self._hold_s + 0.2 * held_s


def _grant(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class Ticket:
    """One admitted turn. `call` runs LLM work on the scheduler's threads, first waiting for a place in FIFO
    order; `close` (idempotent) gives the place up once no call of this ticket is still running."""

    def __init__(self, scheduler: LLMScheduler) -> None:
        self._scheduler = scheduler
        self._lock = threading.Lock()
        self._holding = False
        self._closed = False
        self._running = 0
        self._since: float | None = None
        self.cancelled = threading.Event()  # set when the turn is cancelled: a streaming generation stops early

    async def call(self, fn: Callable[..., R], /, *args) -> R:
        if self._closed:
            raise RuntimeError("this ticket is closed")
        if not self._holding:
            await self._scheduler._acquire()
            with self._lock:
                self._holding, self._since = True, time.monotonic()
        with self._lock:
            self._running += 1
        future: Future = self._scheduler._executor.submit(fn, *args)
        future.add_done_callback(self._call_done)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise

    def _call_done(self, _future: Future) -> None:
        with self._lock:
            self._running -= 1
            release = self._closed and self._holding and self._running == 0
            if release:
                self._holding = False
        if release:
            self._scheduler._release()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            held_s = time.monotonic() - self._since if self._since is not None else None
            release = self._holding and self._running == 0
            if release:
                self._holding = False
            if self._running:
                self.cancelled.set()  # the turn is over: a generation still running is no longer wanted
        self._scheduler._ticket_closed(held_s)
        if release:
            self._scheduler._release()
