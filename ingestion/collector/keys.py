"""Collector API keys: created once, stored hashed, checked in constant time.

A key looks like ``ubk_<key_id>_<secret>``. Only ``sha256(salt || secret)`` and the salt are
stored, one JSON file per key in ``DATA_DIR/keys/<key_id>.json``; the plain key is printed once
by ``usagebill keys create`` and never written anywhere. ``usagebill keys revoke KEY_ID`` moves the
record to ``DATA_DIR/keys/revoked/``; a running collector stops accepting the key within
``KeyStore.check_interval`` seconds (it stats the keys folder and reloads when it changed).
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

from ingestion.durable import fsync_dir
from usagebill.tenants import check_tenant_name

KEY_PREFIX = "ubk"
FULL_RELOAD_SECONDS = 10.0


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
    try:
        check_tenant_name(tenant_id)
    except ValueError as exc:
        # the same rule the collector and the loader apply, so a key never writes events that the
        # loader would quarantine
        raise ValueError(f"{exc}; nothing was created (usagebill keys create --tenant NAME)") from None
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
    _write_record(keys_dir / f"{key_id}.json", record)
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


def revoke_key(keys_dir: Path, key_id: str) -> KeyRecord:
    """Revoke a key: move its record to ``keys/revoked/`` (kept for audit, stamped with revoked_at).

    Raises KeyError when no active key has that id."""
    if not key_id or "/" in key_id or "\\" in key_id or key_id.startswith("."):
        raise KeyError(f"{key_id!r} is not a key id; `usagebill keys list` shows them")
    path = keys_dir / f"{key_id}.json"
    if not path.is_file():
        raise KeyError(f"no active key with id {key_id!r} in {keys_dir}; `usagebill keys list` shows them")
    record = _load(path)
    revoked_dir = keys_dir / "revoked"
    revoked_dir.mkdir(exist_ok=True)
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["revoked_at"] = datetime.now(UTC).isoformat()
    _write_record(revoked_dir / f"{key_id}.json", raw)
    # removing the active record changes the folder's mtime, which running collectors watch
    path.unlink()
    fsync_dir(keys_dir)
    return record


def _write_record(path: Path, record: dict[str, str]) -> None:
    """Write a key record readable by its owner only, atomically (fsync'd, then renamed into place) and
    durably (the directory fsync'd after the rename: ingestion/durable.py)."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(record, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    fsync_dir(path.parent)


class KeyStore:
    """Verifies bearer keys against the hashed records.

    At most once per ``check_interval`` seconds it stats the keys folder and reloads the records when
    the folder changed (a key created or revoked adds or removes a file, which changes the folder's
    mtime). Verified keys are cached with their key id, and every hit checks that the key id is still
    active, so a revoked key stops working within ``check_interval`` seconds even for a keep-alive
    client whose key is cached."""

    def __init__(self, keys_dir: Path, check_interval: float = 1.0) -> None:
        self.keys_dir = keys_dir
        self.check_interval = check_interval
        self._records: dict[str, KeyRecord] = {}
        self._checked_at = 0.0
        self._loaded_at = 0.0
        self._stamp: tuple[int, int] | None = None
        # digest of a verified plain key -> (key id, tenant); avoids re-hashing on every request
        self._verified: dict[bytes, tuple[str, str]] = {}
        self.reload()

    def _folder_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.keys_dir)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_ino)

    def reload(self) -> None:
        self._stamp = self._folder_stamp()
        self._records = {r.key_id: r for r in list_keys(self.keys_dir)}
        self._checked_at = self._loaded_at = time.monotonic()
        # drop cached verifications of keys that are no longer active
        self._verified = {k: v for k, v in self._verified.items() if v[0] in self._records}

    def _refresh(self) -> None:
        if time.monotonic() - self._checked_at < self.check_interval:
            return
        now = self._checked_at = time.monotonic()
        # a full reload every FULL_RELOAD_SECONDS backs up the mtime check (coarse timestamps can hide
        # two changes made within one clock tick)
        if self._folder_stamp() != self._stamp or now - self._loaded_at >= FULL_RELOAD_SECONDS:
            self.reload()

    def tenant_for(self, key: str) -> str | None:
        """Tenant of a valid, unrevoked key, else None."""
        self._refresh()
        # cache keyed by a digest of the presented key, so lookups never compare secrets directly
        cache_key = hashlib.sha256(key.encode("utf-8")).digest()
        cached = self._verified.get(cache_key)
        if cached is not None:
            return cached[1] if cached[0] in self._records else None
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            return None
        _, key_id, secret = parts
        record = self._records.get(key_id)
        if record is None:
            return None
        if not hmac.compare_digest(_digest(record.salt, secret), record.digest):
            return None
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[cache_key] = (record.key_id, record.tenant_id)
        return record.tenant_id
