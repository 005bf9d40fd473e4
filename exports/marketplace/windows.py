"""Each marketplace's acceptance window for an hour of usage, checked BEFORE sending.

- aws:    the record Timestamp (hour start) must be less than `window` hours old (AWS docs say 1h, 6h or
          24h in different places: configurable, default 6); usage of the previous month is refused
          after 06:00 UTC on the 1st (the month-end grace), whatever the window.
- azure:  effectiveStartTime (hour start) within the last 24 hours.
- google: the report window must end less than `window` hours ago ("report within one hour").
An hour is reported only once it has ended (hour_start + 1h <= now).
"""

from __future__ import annotations

from datetime import datetime, timedelta

HOUR = timedelta(hours=1)


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def is_closed(hour_start: datetime, now: datetime) -> bool:
    return hour_start + HOUR <= now


def _aws_month_grace_ok(hour_start: datetime, now: datetime) -> bool:
    if (hour_start.year, hour_start.month) == (now.year, now.month):
        return True
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    previous_month = (first - timedelta(days=1)).replace(day=1)
    same_prev = (hour_start.year, hour_start.month) == (previous_month.year, previous_month.month)
    return same_prev and now < first + timedelta(hours=6)


def is_open(marketplace: str, hour_start: datetime, now: datetime, window_hours: int) -> bool:
    """Would the marketplace still accept usage of this hour at `now`?"""
    window = timedelta(hours=window_hours)
    if marketplace == "aws":
        return now - hour_start < window and _aws_month_grace_ok(hour_start, now)
    if marketplace == "azure":
        return now - hour_start < window
    if marketplace == "google":
        return now - (hour_start + HOUR) < window
    raise ValueError(f"unknown marketplace {marketplace!r}: use aws, azure or google")


def next_open_hour(marketplace: str, hour_start: datetime, now: datetime, window_hours: int) -> datetime:
    """The first hour after `hour_start` that is still open at `now` (where carried usage goes)."""
    candidate = max(hour_start + HOUR, hour_floor(now - timedelta(hours=window_hours)))
    while not is_open(marketplace, candidate, now, window_hours):
        candidate += HOUR
    return candidate
