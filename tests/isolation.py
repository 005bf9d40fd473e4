"""Test isolation: point every usagebill path at a temp dir (never the default warehouse paths)."""

from __future__ import annotations

from pathlib import Path

import pytest


def isolate_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse: str = "wh.duckdb") -> None:
    """Set USAGEBILL_WAREHOUSE (tmp_path/<warehouse>), USAGEBILL_RAW_DIR, USAGEBILL_DATA_DIR and
    USAGEBILL_REPORTS_DIR (tmp_path/raw, data, reports) for this test."""
    for name, sub in (
        ("USAGEBILL_WAREHOUSE", warehouse),
        ("USAGEBILL_RAW_DIR", "raw"),
        ("USAGEBILL_DATA_DIR", "data"),
        ("USAGEBILL_REPORTS_DIR", "reports"),
    ):
        monkeypatch.setenv(name, str(tmp_path / sub))
