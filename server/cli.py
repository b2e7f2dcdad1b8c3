"""What `convrec serve` and `convrec keys …` do (cli/main.py wires the options and imports this lazily)."""

from __future__ import annotations

import logging
import time

from convrec.core.errors import InputError
from convrec.core.settings import Settings
from convrec.server.config import ServerConfig


def serve(host: str, port: int, llm: str | None, config: ServerConfig, policy: str | None = None) -> None:
    import uvicorn

    from convrec.agent.runtime import build_runtime
    from convrec.server.app import create_app

    settings = Settings(**({"llm": llm} if llm else {}), **({"policy": policy} if policy else {}))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def factory(status):
        return build_runtime(settings, use_llm=settings.llm != "none", status=status)

    if host not in ("127.0.0.1", "localhost", "::1"):
        logging.getLogger("convrec.server").warning(
            "listening on %s: put TLS in front (a reverse proxy); keys travel in plain text otherwise", host)
    uvicorn.run(create_app(factory, config), host=host, port=port, log_level="info", access_log=False,
                timeout_graceful_shutdown=5)


def _keys():
    from convrec.server.keys import KeyStore

    return KeyStore(Settings().state_db)


def create_key(name: str) -> None:
    try:
        key, token = _keys().create(name)
    except ValueError as error:
        raise InputError(str(error), where="--name", fix="give the key a short name, e.g. --name openwebui") from error
    print(token)
    import sys

    print(f"key {key.key_id} ({key.name}) created; it is shown only this once: store it now", file=sys.stderr)


def list_keys() -> None:
    keys = _keys().all()
    if not keys:
        print("no keys: create one with `convrec keys create --name NAME`")
    for key in keys:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(key.created_at))
        state = "revoked " + time.strftime("%Y-%m-%d %H:%M", time.localtime(key.revoked_at)) if key.revoked_at \
            else "active"
        print(f"{key.key_id}  {key.name}  created {created}  {state}")


def revoke_key(key_id: str) -> None:
    if not _keys().revoke(key_id):
        raise InputError(f"no active key '{key_id}'", fix="see `convrec keys list` for the ids")
    print(f"revoked {key_id} (a running server stops accepting it within 30 s)")
