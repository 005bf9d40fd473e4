"""What every marketplace transport shares: outcomes, retry with backoff, batching, env settings."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from exports.marketplace.catalog import MarketplaceIdentity, OfferingCatalog
from exports.marketplace.ledger import COUNTED_STATES, ReportRow
from exports.marketplace.windows import is_open

T = TypeVar("T")
# (tenant_id, customer_id) -> the customer's marketplace identity (ReportRow.customer_ref)
Identities = dict[tuple[str, str], MarketplaceIdentity]
MAX_BATCH = 25  # AWS BatchMeterUsage and Azure batchUsageEvent both take at most 25 records


@dataclass(frozen=True)
class Outcome:
    """What the marketplace said about one row. `sent`: the request left, no definite answer (resent by
    the next run while the window is open); `failed`: a definite refusal, not counted (the quantity goes
    with the next reported hour). Rows without an outcome stay `planned`."""

    row: ReportRow
    state: str  # acknowledged | duplicate | unconfirmed | sent (counted) | carried | failed (not counted)
    metering_record_id: str | None = None
    detail: str | None = None
    # Duplicate answers carrying the quantity the marketplace holds (Azure acceptedMessage): the ledger
    # records that quantity and keeps ours in sent_quantity, flagging the difference
    marketplace_quantity: Decimal | None = None

    @property
    def counted(self) -> bool:
        """Whether the row's quantity counts as reported (the rule of ledger.COUNTED_STATES)."""
        return self.state in COUNTED_STATES


class RetryableError(Exception):
    """Throttling or a server error: try again after a pause. `throttled` (HTTP 429, AWS
    ThrottlingException) means the marketplace did not process the request: past the retry budget it is
    a definite refusal (failed, carried to the next hour); otherwise (5xx) the outcome is unknown."""

    def __init__(self, message: str, throttled: bool = False) -> None:
        super().__init__(message)
        self.throttled = throttled


def unanswered(rows: Sequence[ReportRow], exc: RetryableError, marketplace: str) -> list[Outcome]:
    """Outcomes for rows whose request got no definite answer within the retry budget."""
    if exc.throttled:
        return [
            Outcome(
                row,
                "failed",
                detail=f"{marketplace}: throttled past the retry budget ({exc}): not processed, "
                "the quantity goes with the next reported hour",
            )
            for row in rows
        ]
    return [
        Outcome(
            row,
            "sent",
            detail=f"{marketplace}: no definite answer ({exc}): resent by the next run while the window is open",
        )
        for row in rows
    ]


def refused(rows: Sequence[ReportRow], reason: str) -> list[Outcome]:
    """A definite refusal of a whole request (401/403, a whole-batch 4xx): failed, not counted."""
    return [
        Outcome(row, "failed", detail=f"{reason}; the quantity goes with the next reported hour")
        for row in rows
    ]


@dataclass
class Backoff:
    """Exponential backoff: base, 2*base, 4*base... capped; `sleep` is injectable for tests."""

    max_attempts: int = 5
    base_seconds: float = 0.2
    cap_seconds: float = 10.0
    sleep: Callable[[float], None] = time.sleep

    def run(self, call: Callable[[], T], on_retry: Callable[[int, Exception], None] | None = None) -> T:
        for attempt in range(1, self.max_attempts + 1):
            try:
                return call()
            except RetryableError as exc:
                if attempt == self.max_attempts:
                    raise
                if on_retry:
                    on_retry(attempt, exc)
                self.sleep(min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1)))
        raise AssertionError("unreachable")


def split_by_window(
    marketplace: str, rows: Sequence[ReportRow], now: datetime, window_hours: int, closed: str
) -> tuple[list[ReportRow], list[Outcome]]:
    """The rows the marketplace still accepts at `now`, and a `carried` outcome (detail `closed`) for
    each row whose window has closed: every transport enforces the window before sending
    (docs/marketplaces.md, "4. Marketplace rules")."""
    still_open: list[ReportRow] = []
    carried: list[Outcome] = []
    for row in rows:
        if is_open(marketplace, row.hour_start, now, window_hours):
            still_open.append(row)
        else:
            carried.append(Outcome(row, "carried", detail=closed))
    return still_open, carried


class WindowedTransport:
    """What the AWS, Azure and Google transports share: the reporting window is enforced before
    anything is sent (rows whose window has closed are `carried`, docs/marketplaces.md "4. Marketplace
    rules"), then `_send_open` reports the rest the marketplace's way; calls retry with `backoff`.
    The interface the reporter uses (`Transport`): `marketplace`, `calls` and `send`."""

    marketplace: str
    closed_detail: str  # why a row is carried; "{window}" is replaced by the window in hours
    calls: int  # requests made (the runner reports it)

    def __init__(
        self,
        backoff: Backoff | None,
        now: Callable[[], datetime] | None,
        log: Callable[[str], None],
        window_hours: int | None = None,
    ) -> None:
        self.backoff = backoff or Backoff()
        self.now = now or (lambda: datetime.now(UTC))
        self.log = log
        self.window_hours = window_hours  # None: the offering catalog's window for the marketplace
        self.calls = 0

    def send(
        self,
        rows: Sequence[ReportRow],
        identities: Identities,
        catalog: OfferingCatalog,
        recovery: bool = False,
    ) -> list[Outcome]:
        """Send rows; `recovery`: they were left `planned`/`sent` by an earlier run (may have arrived)."""
        window = self.window_hours or catalog.window_hours[self.marketplace]
        closed = self.closed_detail.format(window=window)
        still_open, outcomes = split_by_window(self.marketplace, rows, self.now(), window, closed)
        return outcomes + self._send_open(still_open, identities, catalog, recovery)

    def _send_open(
        self, rows: list[ReportRow], identities: Identities, catalog: OfferingCatalog, recovery: bool
    ) -> list[Outcome]:
        raise NotImplementedError

    def _retrying(self, call: Callable[[], T]) -> T:
        """`call` with the backoff on RetryableError, each retry logged."""
        return self.backoff.run(call, lambda n, e: self.log(f"{self.marketplace}: retry {n} after {e}"))


# The type the reporter and the runner take: every marketplace transport is a WindowedTransport (test
# doubles wrap one, tests/marketplace/conftest.py `Crashing`).
Transport = WindowedTransport


class HttpTransport(WindowedTransport):
    """A windowed transport over HTTP (Azure, Google): an HTTP session and the API's base URL, given or
    read from the environment variable `endpoint_env` (default `default_endpoint`)."""

    endpoint_env: str
    default_endpoint: str

    def __init__(
        self,
        endpoint: str | None,
        session: Any,
        backoff: Backoff | None,
        now: Callable[[], datetime] | None,
        log: Callable[[str], None],
    ) -> None:
        super().__init__(backoff, now, log)
        self.session = session
        self.endpoint = (endpoint or env(self.endpoint_env, self.default_endpoint) or "").rstrip("/")

    @staticmethod
    def check_status(response: Any, refusal: type[Exception], refused_what: str) -> None:
        """HTTP 429 / 5xx: RetryableError (429 = throttled, not processed); any other status but 200: a
        definite refusal, `refusal("<refused_what>: HTTP <status> <body>")`."""
        status = response.status_code
        if status == 429 or status >= 500:
            raise RetryableError(f"HTTP {status}: {response.text[:200]}", throttled=status == 429)
        if status != 200:
            raise refusal(f"{refused_what}: HTTP {status} {response.text[:300]}")


def chunks(items: Sequence[T], size: int = MAX_BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def env(name: str, default: str | None = None, required: bool = False) -> str | None:
    value = os.environ.get(name, default)
    if required and not value:
        raise RuntimeError(
            f"environment variable {name} is not set: export it (secrets come from the "
            "environment only; see docs/marketplaces.md)"
        )
    return value


def rfc3339(moment) -> str:  # type: ignore[no-untyped-def]
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
