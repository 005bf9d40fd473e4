"""Per-key limits of the collector: an event rate (token bucket) and a daily quarantine budget.

Rate: each key has a bucket of ``burst`` tokens refilled at ``rate`` tokens per second. A request
is admitted while the bucket holds at least one token and then costs max(1, number of events), so the bucket
may go negative (a large batch is never refused for its size alone) and the key waits until it
refills: **429** with ``Retry-After`` (whole seconds, RFC 9110 section 10.2.3) in the meantime.

Quarantine: the bytes of quarantine lines each key may add per UTC day. Past it, rejected events
are still answered ``rejected`` with their reason (the sender's SDK keeps them in its dead-letter
file), but not written to the collector's quarantine, so a broken or hostile sender cannot fill
the disk; ``usagebill_collector_quarantine_refused_total`` counts them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_TRACKED_KEYS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class KeyLimits:
    def __init__(self, rate: float, burst: float, quarantine_bytes_per_day: int) -> None:
        self.rate = rate
        self.burst = max(burst, rate, 1.0)
        self.quarantine_bytes_per_day = quarantine_bytes_per_day
        self._buckets: dict[str, _Bucket] = {}
        self._quarantine_day = ""
        self._quarantine_used: dict[str, int] = {}
        self.quarantine_refused = 0
        self.rate_limited = 0

    # ------------------------------------------------------------------ rate
    def _bucket(self, key_id: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key_id)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_KEYS:
                self._buckets.clear()
            bucket = self._buckets[key_id] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        return bucket

    def retry_after(self, key_id: str, now: float | None = None) -> int | None:
        """Seconds the key must wait before its next request, or None when it may send now."""
        if self.rate <= 0:
            return None
        bucket = self._bucket(key_id, time.monotonic() if now is None else now)
        if bucket.tokens >= 1:
            return None
        self.rate_limited += 1
        return max(1, math.ceil((1 - bucket.tokens) / self.rate))

    def charge(self, key_id: str, events: int, now: float | None = None) -> None:
        if self.rate > 0:
            self._bucket(key_id, time.monotonic() if now is None else now).tokens -= max(1, events)

    # ------------------------------------------------------------------ quarantine
    def quarantine_allowance(self, key_id: str, sizes: list[int]) -> int:
        """How many of these quarantine lines (in order) the key may still write today; books them."""
        if self.quarantine_bytes_per_day <= 0:
            return len(sizes)
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        if day != self._quarantine_day:
            self._quarantine_day, self._quarantine_used = day, {}
        used = self._quarantine_used.get(key_id, 0)
        allowed = 0
        for size in sizes:
            if used + size > self.quarantine_bytes_per_day:
                break
            used += size
            allowed += 1
        self._quarantine_used[key_id] = used
        self.quarantine_refused += len(sizes) - allowed
        return allowed
