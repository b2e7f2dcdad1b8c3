"""The FastAPI application: start-up, readiness, auth and limits, errors as JSON (never a traceback).

What the routers share with it (the state, errors, the caller's key) is in server/deps.py.

`create_app(runtime_factory, config)`: the factory builds the Runtime (catalog, indexes, LLM) in a thread at
start-up, so `/healthz` answers at once and `/readyz` turns 200 when the runtime is there. Tests pass a factory
that returns a runtime they built (scripted LLM, no LLM, the tiny catalog).
"""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from convrec.agent.scheduler import QueueFull
from convrec.server.config import ServerConfig
from convrec.server.deps import NOT_READY_RETRY_S, Authenticate, RuntimeFactory, ServerState, error_response
from convrec.server.native_api import router as native_router
from convrec.server.openai_api import router as openai_router
from convrec.server.schemas import Health, Readiness
from convrec.server.security import BodyLimit

log = logging.getLogger("convrec.server")


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

    app.include_router(openai_router)
    app.include_router(native_router)

    app.add_middleware(Authenticate, state=state)  # innermost: checked before a route reads the body
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    if config.cors_origins:  # outermost, so that refusals (413, 401, 429) carry the CORS headers too
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-Convrec-Session"],
                           expose_headers=["X-Convrec-Session", "Retry-After"])
    return app
