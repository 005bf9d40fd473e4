"""Collector API keys: created once, stored hashed, checked in constant time.

A key looks like ``ubk_<key_id>_<secret>``. Only ``sha256(salt || secret)`` and the salt are
stored, one JSON file per key in ``DATA_DIR/keys/<key_id>.json``; the plain key is printed once
by ``usagebill keys create`` and never written anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

KEY_PREFIX = "ubk"


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    tenant_id: str
    salt: bytes
    digest: bytes
    created_at: str


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode("utf-8")).digest()


def create_key(keys_dir: Path, tenant_id: str) -> str:
    """Create a key for ``tenant_id``; store its salted hash; return the plain key (shown once)."""
    tenant_id = tenant_id.strip()
    if not tenant_id:
        raise ValueError("tenant: must be a non-empty name (usagebill keys create --tenant NAME)")
    keys_dir.mkdir(parents=True, exist_ok=True)
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    record = {
        "key_id": key_id,
        "tenant_id": tenant_id,
        "salt": salt.hex(),
        "sha256": _digest(salt, secret).hex(),
        "created_at": datetime.now(UTC).isoformat(),
    }
    path = keys_dir / f"{key_id}.json"
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(record, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return f"{KEY_PREFIX}_{key_id}_{secret}"


def _load(path: Path) -> KeyRecord:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return KeyRecord(
        key_id=raw["key_id"],
        tenant_id=raw["tenant_id"],
        salt=bytes.fromhex(raw["salt"]),
        digest=bytes.fromhex(raw["sha256"]),
        created_at=raw["created_at"],
    )


def list_keys(keys_dir: Path) -> list[KeyRecord]:
    if not keys_dir.is_dir():
        return []
    return [_load(p) for p in sorted(keys_dir.glob("*.json"))]


class KeyStore:
    """Verifies bearer keys against the hashed records; reloads the folder when a new key id shows up
    (at most once per ``reload_interval`` seconds), so keys created while the collector runs work."""

    def __init__(self, keys_dir: Path, reload_interval: float = 2.0) -> None:
        self.keys_dir = keys_dir
        self.reload_interval = reload_interval
        self._records: dict[str, KeyRecord] = {}
        self._loaded_at = 0.0
        # verified plain key -> tenant; avoids re-hashing on every request of a keep-alive client
        self._verified: dict[bytes, str] = {}
        self.reload()

    def reload(self) -> None:
        self._records = {r.key_id: r for r in list_keys(self.keys_dir)}
        self._loaded_at = time.monotonic()

    def tenant_for(self, key: str) -> str | None:
        """Tenant of a valid key, else None."""
        # cache keyed by a digest of the presented key, so lookups never compare secrets directly
        cache_key = hashlib.sha256(key.encode("utf-8")).digest()
        cached = self._verified.get(cache_key)
        if cached is not None:
            return cached
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            return None
        _, key_id, secret = parts
        record = self._records.get(key_id)
        if record is None and time.monotonic() - self._loaded_at >= self.reload_interval:
            self.reload()
            record = self._records.get(key_id)
        if record is None:
            return None
        if not hmac.compare_digest(_digest(record.salt, secret), record.digest):
            return None
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[cache_key] = record.tenant_id
        return record.tenant_id
