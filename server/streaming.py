"""Running one turn for an HTTP request: in its own task, cancelled when the client goes away, with the agent's
events handed over through a queue (so a stream can send keep-alive comments while a turn waits for the LLM)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field

import anyio
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from convrec.agent.events import Error, Event
from convrec.agent.policy import Agent
from convrec.agent.scheduler import Ticket
from convrec.core.errors import ConvrecError
from convrec.server.security import UserLocks

log = logging.getLogger("convrec.server")


@dataclass
class TurnPlan:
    """What to run for a request, in internal (key-namespaced) ids."""

    user: str
    session: str
    message: str
    absorb: list[str] = field(default_factory=list)  # earlier messages of the platform's history we never saw
    record: bool = True  # False: the message is already stored (a client retrying the same turn)


class _End:
    pass


END = _End()
HEARTBEAT = object()


def error_text(error: BaseException) -> str:
    """What a client may see of a failure: our own explainable errors in a line, anything else generically."""
    if isinstance(error, ConvrecError):
        return error.what
    return "internal error while running the turn"


class TurnTask:
    """One turn running in a task of its own. Iterate `events()`; `cancel()` stops it (the ticket is closed by
    the turn's own cleanup, and again here, idempotently)."""

    def __init__(self, agent: Agent, plan: TurnPlan, ticket: Ticket | None, locks: UserLocks) -> None:
        self.agent, self.plan, self.ticket, self.locks = agent, plan, ticket, locks
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._produce())

    async def _produce(self) -> None:
        try:
            async with self.locks.hold(self.plan.user):
                for earlier in self.plan.absorb:
                    await asyncio.to_thread(self.agent.remember, self.plan.user, earlier, self.plan.session)
                turn = self.agent.turn(self.plan.user, self.plan.message, self.plan.session, ticket=self.ticket,
                                       record=self.plan.record)
                async with aclosing(turn) as events:
                    async for event in events:
                        self.queue.put_nowait(event)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - reported to the client as an error event, logged in full here
            log.exception("turn failed (user %s)", self.plan.user)
            self.queue.put_nowait(Error(message=error_text(error)))
        finally:
            if self.ticket is not None:
                self.ticket.close()
            self.queue.put_nowait(END)

    async def events(self, heartbeat_s: float | None = None) -> AsyncIterator[Event | object]:
        """The agent's events; HEARTBEAT when nothing happened for `heartbeat_s`."""
        while True:
            try:
                item = await asyncio.wait_for(self.queue.get(), heartbeat_s) if heartbeat_s else await self.queue.get()
            except TimeoutError:
                yield HEARTBEAT
                continue
            if item is END:
                return
            yield item

    def cancel(self) -> None:
        self.task.cancel()
        if self.ticket is not None:
            self.ticket.close()


async def wait_for_disconnect(request: Request) -> None:
    """Returns when the client has gone away (the body was already read, so the next message is the disconnect)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def unless_disconnected(request: Request, work: Awaitable, on_disconnect: Callable[[], None]):
    """Await `work`; if the client disconnects first, call `on_disconnect` and raise ClientGone."""
    work_task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(wait_for_disconnect(request))
    try:
        done, _ = await asyncio.wait({work_task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if work_task in done:
        return work_task.result()
    on_disconnect()
    work_task.cancel()
    raise ClientGone()


class ClientGone(Exception):
    pass


class EventStream(StreamingResponse):
    """text/event-stream that listens for the client going away and then cancels the stream at once (whatever
    the ASGI server's send does with a closed socket), and runs `on_close` however the stream ends."""

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[str], on_close: Callable[[], None] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(content, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no",
                                           **(headers or {})})
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:
                async def stream() -> None:
                    try:
                        await self.stream_response(send)
                    except OSError:
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            if self.on_close is not None:
                self.on_close()


def sse(data: str, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return head + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n"
