"""Helpers for tests that compare the files a loader wrote."""

from __future__ import annotations

import hashlib
from pathlib import Path


def quiet(_: str) -> None:
    """A progress callback that prints nothing."""


def digest(root: Path) -> dict[str, str]:
    """sha256 of every Parquet file under root, by relative path: equal digests = byte-identical output."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }
