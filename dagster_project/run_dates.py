"""The billing `as of` date of a run: what has closed by then is invoiced."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

import dagster as dg


def configured_as_of_date() -> date:
    """USAGEBILL_AS_OF_DATE (YYYY-MM-DD) if set, else today's UTC date."""
    value = os.environ.get("USAGEBILL_AS_OF_DATE")
    if value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"USAGEBILL_AS_OF_DATE={value!r} is not a date: use YYYY-MM-DD, e.g. 2026-11-05"
            ) from None
    return datetime.now(UTC).date()


def as_of_date_for(context: dg.AssetExecutionContext) -> date:
    """A partitioned run bills as of the end of its window; other runs as of the configured date."""
    if context.has_partition_key:
        return context.partition_time_window.end.date()
    return configured_as_of_date()
