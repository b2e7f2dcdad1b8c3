"""Keys, per-key rate limits, request size limits, and the namespacing that keeps one key's users from another's.

A key's end users and sessions are stored under `<key_id>:<id>`: a request can only ever name ids inside its own
key's namespace, so another key's user or session is simply not found (404), never "forbidden".
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convrec.server.keys import ActiveKey, KeyStore, match_token, parse_token

KEY_REFRESH_S = 30.0  # the active keys are re-read at least this often (the delay of a revocation)
MISS_REFRESH_S = 1.0  # an unknown key id re-reads them at most this often


@dataclass(frozen=True)
class Principal:
    """The caller: one API key, i.e. one integration (a platform, a bot), with its own users."""

    key_id: str
    name: str

    def internal(self, external_id: str) -> str:
        return f"{self.key_id}:{external_id}"

    def external(self, internal_id: str) -> str:
        prefix = f"{self.key_id}:"
        return internal_id[len(prefix):] if internal_id.startswith(prefix) else internal_id


class KeyVerifier:
    """Checks bearer tokens against an in-memory copy of the active keys' salted hashes, so a wrong guess costs no
    database read. The copy is re-read every KEY_REFRESH_S (a revoked key stops working within that), at most every
    MISS_REFRESH_S when an unknown key id comes (a key made by `convrec keys create` works within a second), and at
    once after a key was made or revoked through this process's KeyStore."""

    def __init__(self, store: KeyStore, *, miss_refresh_s: float = MISS_REFRESH_S) -> None:
        self.store = store
        self.miss_refresh_s = miss_refresh_s
        self._keys: dict[str, ActiveKey] = {}
        self._read_at = -math.inf
        self._generation: int | None = None
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> Principal | None:
        parsed = parse_token(token)
        if parsed is None:
            return None
        if self._stale(parsed[0]):
            async with self._lock:
                if self._stale(parsed[0]):  # not already re-read by a request that held the lock before us
                    generation = self.store.generation
                    self._keys = await asyncio.to_thread(self.store.active)
                    self._read_at, self._generation = time.monotonic(), generation
        key = match_token(self._keys, token)
        return Principal(key.key_id, key.name) if key is not None else None

    def _stale(self, key_id: str) -> bool:
        age = time.monotonic() - self._read_at
        return (age > KEY_REFRESH_S or self._generation != self.store.generation
                or (key_id not in self._keys and age > self.miss_refresh_s))


class RateLimiter:
    """A token bucket per key: `rate` requests per second on average, bursts of up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, key: str) -> int | None:
        """None if the request may go ahead; else the seconds to wait (for Retry-After)."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate)) if self.rate > 0 else 60


class UserLocks:
    """One lock per (internal) user: a profile is read, changed and written by a turn or a piece of feedback,
    so two requests for the same person take turns instead of losing each other's update."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    class _Held:
        def __init__(self, owner: UserLocks, user: str) -> None:
            self.owner, self.user = owner, user

        async def __aenter__(self) -> None:
            lock, count = self.owner._locks.get(self.user, (None, 0))
            if lock is None:
                lock = asyncio.Lock()
            self.owner._locks[self.user] = (lock, count + 1)
            try:
                await lock.acquire()
            except BaseException:
                self._drop()
                raise

        async def __aexit__(self, *exc) -> None:
            self.owner._locks[self.user][0].release()
            self._drop()

        def _drop(self) -> None:
            lock, count = self.owner._locks[self.user]
            if count <= 1:
                del self.owner._locks[self.user]
            else:
                self.owner._locks[self.user] = (lock, count - 1)

    def hold(self, user: str) -> UserLocks._Held:
        return UserLocks._Held(self, user)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"request body larger than {limit} bytes")


class BodyLimit:
    """Pure ASGI: refuse bodies over `limit` bytes, by Content-Length up front or while streaming in."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _plain_error(send, 413 if declared.isdigit() else 400,
                               f"request body larger than {self.limit} bytes" if declared.isdigit()
                               else "invalid Content-Length")
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited, send)


async def _plain_error(send: Send, status: int, message: str) -> None:
    import json

    kind = "invalid_request_error"
    body = json.dumps({"error": {"message": message, "type": kind, "code": status}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
