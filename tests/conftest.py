"""Fixtures shared by several test areas."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.isolation import isolate_paths


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated USAGEBILL_DATA_DIR (tmp_path/data, created), the other usagebill paths isolated too."""
    d = tmp_path / "data"
    d.mkdir()
    isolate_paths(tmp_path, monkeypatch)
    return d
