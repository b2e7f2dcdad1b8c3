"""What `convrec serve` is told on its command line (everything else comes from `Settings`)."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_PORT = 8350
MODEL_ID = "convrec"


@dataclass(frozen=True)
class ServerConfig:
    max_body_bytes: int = 64 * 1024  # larger request bodies: 413
    max_message_chars: int = 4000  # one turn's message; longer: 422
    rate_per_s: float = 10.0  # per key, token bucket refill
    burst: int = 50  # per key, bucket size
    llm_slots: int | None = None  # turns using the LLM at once; None: 1 for the local model, 8 for an API
    llm_queue: int = 16  # turns waiting for the LLM beyond the slots; more: 503 + Retry-After
    cors_origins: tuple[str, ...] = field(default_factory=tuple)  # empty: CORS off
    heartbeat_s: float = 15.0  # SSE comment while a stream waits (keeps proxies from closing it)
    warm: bool = True  # load the LLM weights and the embedding model before reporting ready
