"""One reporting run for one marketplace: recover, plan, ledger, send, ledger.

1. Recovery: keys an earlier run left `planned` (crashed during the call: the request may not have
   left) or `sent` (the request left, no definite answer) are resent UNCHANGED (same quantity,
   timestamp, operation id) while the window is open: AWS treats an identical retry as idempotent,
   Azure answers Duplicate/409 with the quantity it holds. Google documents no de-duplication of a
   re-sent operationId, so a Google `sent` key is not resent: it becomes `unconfirmed` (counted, checked
   by the reconciliation against Google's usage report). A key whose hour has left the window:
   `planned` -> carried (its usage goes with the next reported hour), `sent` -> unconfirmed.
2. Plan every requested hour in order (planning.plan_hour), append the rows (`planned` / `carried`).
3. Send in chunks: call the marketplace, append the outcome rows. A row is written `sent` only when the
   request left and no definite answer came back (5xx/timeouts past the retry budget); a definite
   refusal (401/403, a whole-batch 4xx, 429 past the retry budget) is `failed`, not counted, and its
   quantity goes with the next reported hour. A crash during the call leaves the rows `planned` (step 1).
A key already done (acknowledged, duplicate, carried, failed, unconfirmed) is never planned again, so
re-runs and backfills report only the hours never reported.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from exports.marketplace.billable import BilledSeries
from exports.marketplace.catalog import MarketplaceIdentity, OfferingCatalog
from exports.marketplace.fx import CurrencyConversionError
from exports.marketplace.ledger import Ledger, ReportRow
from exports.marketplace.planning import ReportedTotals, pending, plan_hour
from exports.marketplace.transport import Outcome, Transport
from exports.marketplace.windows import is_open, next_open_hour
from usagebill.tenants import qualified_customer

CustomerRef = tuple[str, str]  # (tenant_id, customer_id)


@dataclass
class RunSummary:
    marketplace: str
    hours: int = 0
    planned: int = 0
    recovered: int = 0
    states: Counter[str] = field(default_factory=Counter)
    quantity_sent: dict[str, str] = field(default_factory=dict)
    calls: int = 0
    refused: dict[CustomerRef, str] = field(default_factory=dict)  # customer -> why nothing was reported
    blocked: tuple[CustomerRef, ...] = ()  # (tenant, customer)s held back by the marketplace reconciliation

    def blocked_names(self) -> str:
        """The blocked customers as `customer` (default tenant) or `tenant/customer`, or 'none'."""
        return ", ".join(qualified_customer(*ref) for ref in self.blocked) or "none"

    def __str__(self) -> str:
        states = ", ".join(f"{k}={v}" for k, v in sorted(self.states.items()))
        return (
            f"{self.marketplace}: {self.hours} hour(s), {self.planned} new key(s), {self.recovered} "
            f"recovered, {self.calls} call(s); outcomes: {states or 'none'}"
        )


def _identities_by_customer(
    identities: Iterable[MarketplaceIdentity], marketplace: str
) -> dict[CustomerRef, MarketplaceIdentity]:
    return {i.customer_ref: i for i in identities if i.marketplace == marketplace}


def _apply(ledger: Ledger, outcomes: Sequence[Outcome]) -> list[ReportRow]:
    rows = [
        o.row.next(
            o.state,
            counted=o.counted,
            metering_record_id=o.metering_record_id or o.row.metering_record_id,
            detail=o.detail,
            **(
                {"quantity": o.marketplace_quantity, "sent_quantity": o.row.quantity}
                if o.marketplace_quantity is not None and o.marketplace_quantity != o.row.quantity
                else {}
            ),
        )
        for o in outcomes
    ]
    return ledger.append(rows)


def report_hours(
    marketplace: str,
    hours: Iterable[datetime],
    *,
    catalog: OfferingCatalog,
    identities: Sequence[MarketplaceIdentity],
    billed: BilledSeries,
    ledger: Ledger,
    transport: Transport,
    now: datetime | None = None,
    chunk_size: int = 1000,
    log: Callable[[str], None] = print,
    blocked: Iterable[CustomerRef] = (),
) -> RunSummary:
    """Report the given hours (UTC hour starts) to one marketplace, exactly once per key
    (marketplace, tenant, customer, dimension, hour).
    `blocked`: (tenant, customer)s whose marketplace reconciliation does not agree: nothing of theirs is
    planned or resent (their usage stays in the running total); every other customer is reported."""
    now = now or datetime.now(UTC)
    blocked = set(blocked)
    if blocked:
        identities = [i for i in identities if i.customer_ref not in blocked]
        names = ", ".join(qualified_customer(*ref) for ref in sorted(blocked))
        log(
            f"{marketplace}: exports blocked by the marketplace reconciliation for {names} "
            "(see marketplace.fct_marketplace_reconciliation); the other customers are reported"
        )
    window = catalog.window_hours[marketplace]
    by_customer = _identities_by_customer(identities, marketplace)
    summary = RunSummary(marketplace, blocked=tuple(sorted(blocked)))
    calls_before = transport.calls

    # 1. recovery
    current = ledger.current(marketplace)
    resend: list[ReportRow] = []
    closed: list[ReportRow] = []
    for row in pending(current):
        if row.customer_ref in blocked:
            continue
        window_open = is_open(marketplace, row.hour_start, now, window)
        if row.state == "planned" and window_open:
            resend.append(row)
        elif row.state == "planned":
            closed.append(
                row.next(
                    "carried",
                    counted=False,
                    carried_remainder=row.carried_remainder + row.quantity,
                    carried_to_hour=next_open_hour(marketplace, row.hour_start, now, window),
                    detail="planned by an earlier run that stopped during the call, window closed: "
                    "carried to the next reported hour (the reconciliation flags it if it had arrived)",
                )
            )
        elif window_open and marketplace != "google":
            resend.append(row)
        else:
            closed.append(
                row.next(
                    "unconfirmed",
                    counted=True,
                    detail="sent by an earlier run without a definite answer"
                    + (
                        "; not resent (Google documents no operationId de-duplication)"
                        if window_open
                        else " and the window is closed"
                    )
                    + ": counted as reported; the marketplace reconciliation confirms it against "
                    "the billing feed",
                )
            )
    for row in ledger.append(closed):
        current[row.key] = row
        summary.states[row.state] += 1
    if resend:
        log(f"{marketplace}: resending {len(resend)} record(s) left planned/sent by an earlier run")
        summary.recovered = len(resend)
        for row in _send(
            marketplace,
            resend,
            ledger,
            transport,
            by_customer,
            catalog,
            summary,
            chunk_size,
            log,
            recovery=True,
        ):
            current[row.key] = row

    # 2. plan
    totals = ReportedTotals(current.values())
    planned: list[ReportRow] = []
    for hour in sorted(set(hours)):
        summary.hours += 1
        rows = plan_hour(
            marketplace, hour, now, catalog, identities, billed, totals, current, summary.refused
        )
        planned.extend(ledger.append(rows))
    for row in planned:
        current[row.key] = row
        if row.state == "carried":
            summary.states["carried"] += 1
    to_send = [row for row in planned if row.state == "planned"]
    summary.planned = len(planned)
    log(
        f"{marketplace}: planned {len(to_send)} record(s), carried {len(planned) - len(to_send)} "
        f"for {summary.hours} hour(s)"
    )

    # 3. send
    _send(marketplace, to_send, ledger, transport, by_customer, catalog, summary, chunk_size, log)
    summary.calls = transport.calls - calls_before
    log(str(summary))
    if summary.refused:
        raise CurrencyConversionError(
            f"{marketplace}: usage of {len(summary.refused)} customer(s) was NOT reported (the others were):\n"
            + "\n".join(summary.refused.values()),
            summary.refused,
        )
    return summary


def _send(
    marketplace: str,
    rows: list[ReportRow],
    ledger: Ledger,
    transport: Transport,
    by_customer: dict[CustomerRef, MarketplaceIdentity],
    catalog: OfferingCatalog,
    summary: RunSummary,
    chunk_size: int,
    log: Callable[[str], None],
    recovery: bool = False,
) -> list[ReportRow]:
    written: list[ReportRow] = []
    # Google operations (all dimensions of a consumer-hour) must not be split across chunks
    rows = sorted(rows, key=lambda r: (r.hour_start, r.customer_ref, r.dimension))
    position = 0
    while position < len(rows):
        end = min(position + chunk_size, len(rows))
        while end < len(rows) and (rows[end].hour_start, rows[end].customer_ref) == (
            rows[end - 1].hour_start,
            rows[end - 1].customer_ref,
        ):
            end += 1
        chunk, position = rows[position:end], end
        # no `sent` row before the call: a crash during it leaves the rows `planned` (resent by recovery)
        outcomes = transport.send(chunk, by_customer, catalog, recovery=recovery)
        for row in _apply(ledger, outcomes):
            summary.states[row.state] += 1
            written.append(row)
        unresolved = len(chunk) - len(outcomes)
        if unresolved:
            summary.states["planned (no answer)"] += unresolved
        if len(rows) > chunk_size:
            log(f"{marketplace}: {position}/{len(rows)} record(s) sent")
    return written
