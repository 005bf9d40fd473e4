"""Shared fixture: ONE `usagebill rate` run (catalog -> raw -> dbt build) on the scenario catalog,
reused by the end-to-end and property test modules (each dbt build costs seconds)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from usagebill.rating import RatingResult

from .scenario_events import SCENARIO_DIR, rate_events, scenario_events


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rate")


@pytest.fixture(scope="session")
def rated(workdir: Path) -> RatingResult:
    """Billing periods starting in [2025-01-01, 2026-07-01), rated as of 2026-07-01; the dbt unit tests
    (models/intermediate/rating/_rating__models.yml) and singular tests (tests/singular/rating) run
    in the same build and must pass, else `rate` raises RatingError."""
    return rate_events(
        SCENARIO_DIR,
        scenario_events(),
        date(2025, 1, 1),
        date(2026, 7, 1),
        workdir,
        bad_lines=1,
        unit_tests=True,
    )
