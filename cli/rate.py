"""`usagebill rate`: the library's rating (usagebill.rating) wired to the production usage loader
(ingestion.landing: event contract validation, quarantine). See usagebill/rating.py for the steps."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from ingestion.landing import load_landing
from usagebill import rating
from usagebill.rating import RatingResult


def rate(
    catalog_dir: Path | str,
    usage_files: list[Path | str],
    period_start: date,
    period_end: date,
    **options: Any,
) -> RatingResult:
    """usagebill.rating.rate with ingestion's loader (options: as_of, keep_dir, progress, unit_tests)."""
    return rating.rate(catalog_dir, usage_files, period_start, period_end, load_usage=load_landing, **options)


def main(argv: list[str] | None = None) -> int:
    return rating.main(argv, load_usage=load_landing)


if __name__ == "__main__":
    raise SystemExit(main())
