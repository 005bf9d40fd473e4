"""Durable file writes shared by the ingestion writers (standard library only: the client SDK uses it).

A new or renamed file survives a crash only once its directory entry is on disk: fsync the file,
then its directory (POSIX rename(2)/fsync(2); "Ensuring data reaches disk", LWN 457667).
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path | str) -> None:
    """Flush the directory `path` (its entries: files created, renamed or removed in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
