"""The FastAPI application: start-up, readiness, auth and limits, errors as JSON (never a traceback).

`create_app(runtime_factory, config)`: the factory builds the Runtime (catalog, indexes, LLM) in a thread at
start-up, so `/healthz` answers at once and `/readyz` turns 200 when the runtime is there. Tests pass a factory
that returns a runtime they built (scripted LLM, no LLM, the tiny catalog).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from convrec.agent.runtime import Runtime
from convrec.agent.scheduler import LLMScheduler, QueueFull
from convrec.core.errors import ConvrecError
from convrec.server.config import ServerConfig
from convrec.server.schemas import ErrorBody, Health, Readiness
from convrec.server.security import BodyLimit, KeyVerifier, Principal, RateLimiter, UserLocks
from convrec.server.streaming import error_text

log = logging.getLogger("convrec.server")

RuntimeFactory = Callable[[Callable[[str], None]], Runtime]  # called with a status callback
NOT_READY_RETRY_S = 5
API_SLOTS_DEFAULT = 8  # turns at once against an OpenAI-compatible endpoint

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
            self.verifier = KeyVerifier(runtime.memory)
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


bearer = HTTPBearer(auto_error=False, description="an API key from `convrec keys create --name NAME`")


async def authenticated(request: Request,
                        credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    """The caller's key; 503 while starting, 401 without a valid key, 429 over the key's rate."""
    state = state_of(request)
    if state.runtime is None or state.verifier is None:
        raise HTTPException(503, f"not ready: {state.status}", headers={"Retry-After": str(NOT_READY_RETRY_S)})
    if credentials is None:
        raise HTTPException(401, "missing API key: send Authorization: Bearer <key>",
                            headers={"WWW-Authenticate": "Bearer"})
    principal = await state.verifier.verify(credentials.credentials)
    if principal is None:
        raise HTTPException(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})
    wait = state.limiter.take(principal.key_id)
    if wait is not None:
        raise HTTPException(429, f"rate limit exceeded for this key; retry in {wait} s",
                            headers={"Retry-After": str(wait)})
    return principal


def create_app(runtime_factory: RuntimeFactory, config: ServerConfig | None = None) -> FastAPI:
    config = config or ServerConfig()
    state = ServerState(config, runtime_factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        threading.Thread(target=state.load, name="convrec-load", daemon=True).start()
        yield
        if state.scheduler is not None:
            state.scheduler.shutdown()

    app = FastAPI(title="convrec", version="1", lifespan=lifespan, redoc_url=None,
                  description="A conversational movie recommender: an OpenAI-compatible chat endpoint for chat "
                              "platforms, and a native API whose stream carries the structured cards.")
    app.state.convrec = state

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return error_response(error.status_code, str(error.detail), headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = error.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
        if first.get("type") == "json_invalid":
            return error_response(400, "the body is not valid JSON")
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
        return error_response(422, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(QueueFull)
    async def queue_full(request: Request, error: QueueFull) -> JSONResponse:
        return error_response(503, f"{error.what}; retry in about {error.retry_after} s",
                              headers={"Retry-After": str(error.retry_after)})

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
        return error_response(500, "internal error")

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Health:
        """Liveness: the process answers."""
        return Health()

    @app.get("/readyz", response_model=Readiness, tags=["health"], responses={503: {"model": Readiness}})
    async def readyz() -> JSONResponse:
        """Readiness: catalog, indexes and LLM are loaded."""
        runtime = state.runtime
        body = Readiness(ready=runtime is not None, status=state.status,
                         llm=(runtime.agent.llm.name if runtime.agent.llm is not None else "none") if runtime else None,
                         queue=state.scheduler.stats() if state.scheduler else None)
        headers = None if runtime else {"Retry-After": str(NOT_READY_RETRY_S)}
        return JSONResponse(body.model_dump(), status_code=200 if runtime else 503, headers=headers)

    from convrec.server.native_api import router as native_router
    from convrec.server.openai_api import router as openai_router

    app.include_router(openai_router)
    app.include_router(native_router)

    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    if config.cors_origins:  # outermost, so that refusals (413, 401, 429) carry the CORS headers too
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-Convrec-Session"],
                           expose_headers=["X-Convrec-Session", "Retry-After"])
    return app
