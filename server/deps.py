"""What the app and its routers share: the server's state, errors as JSON, and the caller's key.

Keys are checked by `Authenticate`, a pure ASGI layer in front of the routes, so a request without a valid key is
refused (401) before its body is read or parsed; `authenticated` hands the checked key to an endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from convrec.agent.runtime import Runtime
from convrec.agent.scheduler import LLMScheduler
from convrec.core.errors import ConvrecError
from convrec.server.config import ServerConfig
from convrec.server.keys import KeyStore
from convrec.server.schemas import ErrorBody
from convrec.server.security import KeyVerifier, Principal, RateLimiter, UserLocks
from convrec.server.streaming import error_text

log = logging.getLogger("convrec.server")

RuntimeFactory = Callable[[Callable[[str], None]], Runtime]  # called with a status callback
NOT_READY_RETRY_S = 5
API_SLOTS_DEFAULT = 8  # turns at once against an OpenAI-compatible endpoint
PROTECTED = "/v1/"  # every path under it needs a key
PRINCIPAL = "convrec.principal"  # where `Authenticate` leaves the checked key in the request's scope

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 405: "invalid_request_error", 409: "conflict_error",
               413: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error",
               503: "service_unavailable"}
ERROR_RESPONSES = {status: {"model": ErrorBody} for status in (400, 401, 404, 413, 422, 429, 503)}


class ServerState:
    def __init__(self, config: ServerConfig, factory: RuntimeFactory) -> None:
        self.config = config
        self.factory = factory
        self.runtime: Runtime | None = None
        self.status = "starting"
        self.keys: KeyStore | None = None
        self.verifier: KeyVerifier | None = None
        self.limiter = RateLimiter(config.rate_per_s, config.burst)
        self.locks = UserLocks()
        self.scheduler: LLMScheduler | None = None

    def load(self) -> None:
        """Build the runtime (a worker thread): catalog, CF, item similarities, then LLM weights and embeddings."""
        try:
            runtime = self.factory(self._set_status)
            llm = runtime.agent.llm
            if llm is not None:
                if self.config.warm and hasattr(llm, "load"):
                    self._set_status("loading the language model")
                    llm.load()
                slots = self.config.llm_slots or (API_SLOTS_DEFAULT if _remote(llm) else 1)
                self.scheduler = LLMScheduler(slots=slots, max_waiting=self.config.llm_queue)
                runtime.agent.scheduler = self.scheduler
            if self.config.warm and runtime.search is not None:
                self._set_status("loading the embedding model")
                try:
                    runtime.search.warm()
                except Exception:  # noqa: BLE001 - semantic search is one signal; the rest still works
                    log.warning("could not warm the semantic search; it will be tried on first use", exc_info=True)
            self.keys = KeyStore(runtime.memory.path)
            self.verifier = KeyVerifier(self.keys)
            self.runtime = runtime
            self._set_status("ready")
        except Exception as error:  # noqa: BLE001 - reported by /readyz and the log
            log.exception("start-up failed")
            self._set_status(f"failed: {error_text(error) if isinstance(error, ConvrecError) else type(error).__name__}")

    def _set_status(self, text: str) -> None:
        self.status = text
        log.info("%s", text)


def _remote(llm) -> bool:
    from convrec.agent.openai_backend import OpenAICompatibleLLM

    return isinstance(llm, OpenAICompatibleLLM)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    kind = ERROR_TYPES.get(status, "server_error")
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status,
                        headers=headers)


def state_of(request: Request) -> ServerState:
    return request.app.state.convrec


class Authenticate:
    """Pure ASGI, in front of the routes: 503 while starting, 401 without a valid key, 429 over the key's rate.
    A refused request's body is never read."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED):
            await self.app(scope, receive, send)
            return
        outcome = await self._check(scope)
        if isinstance(outcome, JSONResponse):
            await outcome(scope, receive, send)
            return
        scope[PRINCIPAL] = outcome
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope) -> Principal | JSONResponse:
        state = self.state
        if state.runtime is None or state.verifier is None:
            return error_response(503, f"not ready: {state.status}", headers={"Retry-After": str(NOT_READY_RETRY_S)})
        token = _bearer_token(scope)
        if token is None:
            return error_response(401, "missing API key: send Authorization: Bearer <key>",
                                  headers={"WWW-Authenticate": "Bearer"})
        principal = await state.verifier.verify(token)
        if principal is None:
            return error_response(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})
        wait = state.limiter.take(principal.key_id)
        if wait is not None:
            return error_response(429, f"rate limit exceeded for this key; retry in {wait} s",
                                  headers={"Retry-After": str(wait)})
        return principal


def _bearer_token(scope: Scope) -> str | None:
    header = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
    scheme, _, token = header.decode("latin-1").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


bearer = HTTPBearer(auto_error=False, description="an API key from `convrec keys create --name NAME`")


async def authenticated(request: Request,
                        credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    """The caller's key, as `Authenticate` checked it (`credentials` only declares the scheme in the OpenAPI)."""
    principal = request.scope.get(PRINCIPAL)
    if principal is None:
        raise HTTPException(401, "missing API key: send Authorization: Bearer <key>",
                            headers={"WWW-Authenticate": "Bearer"})
    return principal
