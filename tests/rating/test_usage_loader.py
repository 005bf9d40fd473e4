"""The library's rating finds the usage loader without importing the ingestion layer
(docs/architecture.md "Layers"): cli/rate.py passes it, a direct call finds it by entry point."""

from __future__ import annotations

import importlib.metadata
from datetime import date
from pathlib import Path

import pytest

from usagebill import rating


def test_the_installed_usage_loader_is_ingestions_landing_loader() -> None:
    from ingestion.landing import load_landing

    # pyproject.toml: [project.entry-points."usagebill.usage_loaders"] landing = ingestion.landing:load_landing
    assert rating.installed_usage_loader() is load_landing


def test_without_an_installed_loader_rating_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **_: [])
    with pytest.raises(rating.RatingError) as err:
        rating.installed_usage_loader()
    assert "usagebill.usage_loaders" in str(err.value) and "make install-dev" in str(err.value)


def test_the_command_passes_the_landing_loader(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from cli import rate as command
    from ingestion.landing import load_landing

    seen: dict[str, object] = {}

    def fake_rate(*args: object, **kwargs: object) -> None:
        seen.update(kwargs)

    monkeypatch.setattr(rating, "rate", fake_rate)
    command.rate(tmp_path, [], date(2026, 5, 1), date(2026, 6, 1))
    assert seen["load_usage"] is load_landing
