"""HTTP API keys: one per integration (a chat platform, a bot). Only a salted sha256 of the secret is stored; the
token (`crk_<key id>_<secret>`) is shown once, at creation.

The keys live in the state database, in a table this module owns (`http_api_keys`). Keys made while they lived in
agent/memory.py's `api_keys` table are carried over, once, the first time a KeyStore opens the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from convrec.core.sqlite import PrivateDatabase

KEY_PREFIX = "crk"
MAX_TOKEN_CHARS = 200


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    created_at: float
    revoked_at: float | None = None


@dataclass(frozen=True)
class ActiveKey:
    """What checking a token needs, kept in memory by the server's verifier."""

    key: ApiKey
    salt: bytes
    digest: bytes


def key_digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode("utf-8", "replace")).digest()


def parse_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) if `token` has the shape of one of our keys, else None."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    return (key_id, secret) if prefix == KEY_PREFIX and key_id and secret else None


def match_token(keys: Mapping[str, ActiveKey], token: str) -> ApiKey | None:
    """The active key `token` belongs to, else None. An unknown key id costs the same hash and constant-time
    compare as a known one, so the answer's timing tells nothing."""
    parsed = parse_token(token)
    if parsed is None:
        return None
    key_id, secret = parsed
    known = keys.get(key_id)
    salt, digest = (known.salt, known.digest) if known is not None else (_NO_SALT, _NO_DIGEST)
    same = hmac.compare_digest(key_digest(salt, secret), digest)
    return known.key if known is not None and same else None


_NO_SALT, _NO_DIGEST = bytes(16), bytes(32)


class KeyStore(PrivateDatabase):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.generation = 0  # bumped by every create/revoke through this object, so a verifier re-reads at once
        self._migrate()

    def _migrate(self) -> None:
        with self.transaction("IMMEDIATE") as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "http_api_keys" not in tables:
                db.execute("CREATE TABLE http_api_keys (key_id TEXT PRIMARY KEY, name TEXT NOT NULL, "
                           "salt BLOB NOT NULL, digest BLOB NOT NULL, created_at REAL NOT NULL, revoked_at REAL)")
            if "api_keys" in tables:  # the layout before the keys moved here
                db.execute("INSERT OR IGNORE INTO http_api_keys (key_id, name, salt, digest, created_at, revoked_at) "
                           "SELECT key_id, name, salt, digest, created_at, revoked_at FROM api_keys")
                db.execute("DROP TABLE api_keys")

    def create(self, name: str) -> tuple[ApiKey, str]:
        """A new key: (its record, the secret token). The token is returned once and never stored."""
        name = name.strip()
        if not name or len(name) > 100:
            raise ValueError("a key name is 1-100 characters")
        key_id, secret, salt = secrets.token_hex(4), secrets.token_urlsafe(32), secrets.token_bytes(16)
        now = time.time()
        self._write("INSERT INTO http_api_keys VALUES (?, ?, ?, ?, ?, NULL)",
                    (key_id, name, salt, key_digest(salt, secret), now))
        self.generation += 1
        return ApiKey(key_id, name, now), f"{KEY_PREFIX}_{key_id}_{secret}"

    def active(self) -> dict[str, ActiveKey]:
        """Every unrevoked key, by id."""
        rows = self._read("SELECT key_id, name, created_at, salt, digest FROM http_api_keys WHERE revoked_at IS NULL")
        return {key_id: ActiveKey(ApiKey(key_id, name, created_at), salt, digest)
                for key_id, name, created_at, salt, digest in rows}

    def all(self) -> list[ApiKey]:
        return [ApiKey(*row) for row in
                self._read("SELECT key_id, name, created_at, revoked_at FROM http_api_keys ORDER BY created_at")]

    def revoke(self, key_id: str) -> bool:
        """True if an active key was revoked."""
        revoked = self._write("UPDATE http_api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                              (time.time(), key_id)).rowcount > 0
        self.generation += 1
        return revoked
