"""What is due per customer, marketplace dimension and hour (pure functions: no I/O).

Rules (docs/marketplaces.md):
- units due at hour H = cumulative billed amount through H / unit price - units already counted as
  reported for that customer and dimension (any hour, any billing period). Computing from the running
  total means a remainder, a window-missed hour or a rejected record is never lost (the next reported
  hour includes it) and never doubled (what was reported is subtracted). Negative -> 0.
- aws, google: whole units; the fractional remainder stays in the running total (`carried_remainder`).
- azure: quantity > 0 only (6 decimal places; the rest carried); zero -> no event.
- aws, google: one record for every subscribed customer and dimension every hour, zero included.
- an hour that the marketplace would no longer accept is recorded `carried` (quantity 0); its usage
  goes with the next reported hour (`carried_to_hour` = the next open hour).
- google: one operation per consumer and hour; windows contiguous: start = previous report's end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from exports.marketplace.billable import BilledSeries
from exports.marketplace.catalog import Dimension, MarketplaceIdentity, OfferingCatalog
from exports.marketplace.fx import CurrencyConversionError
from exports.marketplace.ledger import DONE_STATES, ReportRow
from exports.marketplace.windows import HOUR, is_closed, is_open, next_open_hour

AZURE_DECIMALS = Decimal("0.000001")
UNITS_PRECISION = Decimal("1e-12")
# Namespace of the deterministic Google operation ids (UUIDv5 of service|consumer|window).
OPERATION_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://usagebill.dev/marketplace/google/operation")

Key = tuple[str, str, str, str, datetime]  # (marketplace, tenant, customer, dimension, hour): ReportRow.key
CustomerRef = tuple[str, str]  # (tenant_id, customer_id)


def units_from_amount(amount: Decimal, unit_price: Decimal) -> Decimal:
    """Billed amount -> marketplace units, exact to 12 places (rounded down: never over-report)."""
    return (amount / unit_price).quantize(UNITS_PRECISION, rounding=ROUND_DOWN)


def reportable_quantity(marketplace: str, available_units: Decimal) -> Decimal:
    """The part of the available units this marketplace can take now; the rest stays carried."""
    if available_units <= 0:
        return Decimal(0)
    if marketplace == "azure":
        return available_units.quantize(AZURE_DECIMALS, rounding=ROUND_DOWN)
    return available_units.to_integral_value(rounding=ROUND_DOWN)


def google_operation_id(service: str, consumer: str, start: datetime, end: datetime) -> str:
    name = f"{service}|{consumer}|{start.isoformat()}|{end.isoformat()}"
    return str(uuid.uuid5(OPERATION_NAMESPACE, name))


class ReportedTotals:
    """Units counted as reported per (marketplace, tenant, customer, dimension), from the ledger's
    current rows: the same customer id in two tenants has two running totals."""

    def __init__(self, current: Iterable[ReportRow]) -> None:
        self.units: dict[tuple[str, str, str, str], Decimal] = {}
        self.google_window_end: dict[str, datetime] = {}
        self.google_first_hour: dict[str, datetime] = {}  # first hour a consumer was due (any state)
        for row in sorted(current, key=lambda r: r.hour_start):
            self.add(row)

    def get(self, marketplace: str, customer: CustomerRef, dimension: str) -> Decimal:
        return self.units.get((marketplace, *customer, dimension), Decimal(0))

    def add(self, row: ReportRow) -> None:
        if row.marketplace == "google":
            self.google_first_hour.setdefault(row.marketplace_customer, row.hour_start)
        if row.counted:
            k = (row.marketplace, row.tenant_id, row.customer_id, row.dimension)
            self.units[k] = self.units.get(k, Decimal(0)) + row.quantity
        if row.marketplace == "google" and row.window_end is not None and row.counted:
            prev = self.google_window_end.get(row.marketplace_customer)
            if prev is None or row.window_end > prev:
                self.google_window_end[row.marketplace_customer] = row.window_end


def plan_hour(
    marketplace: str,
    hour_start: datetime,
    now: datetime,
    catalog: OfferingCatalog,
    identities: Iterable[MarketplaceIdentity],
    billed: BilledSeries,
    totals: ReportedTotals,
    existing: dict[Key, ReportRow],
    refused: dict[CustomerRef, str] | None = None,
) -> list[ReportRow]:
    """New ledger rows (`planned` or `carried`) for one hour's keys not yet in the ledger.
    Updates `totals` as it goes, so consecutive hours planned in one run see each other.
    A customer whose billed amount cannot be converted into the listing currency gets no rows (its
    usage stays in the running total); the reason goes into `refused` ((tenant, customer) -> message)."""
    if not is_closed(hour_start, now):
        return []
    window = catalog.window_hours[marketplace]
    open_now = is_open(marketplace, hour_start, now, window)
    rows: list[ReportRow] = []
    for ident in identities:
        if ident.marketplace != marketplace or not ident.subscribed_for_hour(hour_start):
            continue
        listing = catalog.listing(marketplace, ident.offering_id)
        window_start = window_end = None
        request_key: str | None = None
        if marketplace == "google":
            # contiguous: start where the consumer's last accepted window ended; before any, at the first
            # hour the consumer was due (so a rejected or carried first hour is still covered)
            consumer = ident.marketplace_customer
            window_start = totals.google_window_end.get(consumer) or min(
                hour_start, totals.google_first_hour.get(consumer, hour_start)
            )
            window_end = hour_start + HOUR
            if window_start >= window_end:  # a later window was already reported: nothing left to cover
                window_start = None
        elif marketplace == "aws":
            request_key = ident.license_arn or listing.product_code
        else:
            request_key = ident.plan_id
        try:
            for dim in listing.dimensions:  # convert first: all of a customer's hour, or nothing
                billed.amount_between(ident.customer_ref, dim, hour_start, hour_start + HOUR)
        except CurrencyConversionError as exc:
            if refused is None:
                raise
            refused[ident.customer_ref] = str(exc)
            continue
        for dim in listing.dimensions:
            key = (marketplace, ident.tenant_id, ident.customer_id, dim.name, hour_start)
            if key in existing:
                continue
            row = _plan_key(
                marketplace,
                hour_start,
                now,
                window,
                open_now,
                ident,
                dim,
                billed,
                totals,
                window_start,
                window_end,
                request_key,
            )
            if row is None:
                continue
            totals.add(row)
            rows.append(row)
    if marketplace == "google":
        rows = _assign_operation_ids(rows, catalog)
    return rows


def _plan_key(
    marketplace: str,
    hour_start: datetime,
    now: datetime,
    window: int,
    open_now: bool,
    ident: MarketplaceIdentity,
    dim: Dimension,
    billed: BilledSeries,
    totals: ReportedTotals,
    window_start: datetime | None,
    window_end: datetime | None,
    request_key: str | None,
) -> ReportRow | None:
    # only the billed amounts of hours in which the customer was subscribed on this marketplace count
    through = hour_start + HOUR
    amount = sum(
        (
            billed.amount_between(
                ident.customer_ref, dim, start, through if end is None else min(end, through)
            )
            for start, end in ident.subscribed_intervals()
        ),
        Decimal(0),
    )
    cumulative_units = units_from_amount(amount, dim.unit_price)
    available = cumulative_units - totals.get(marketplace, ident.customer_ref, dim.name)
    base = dict(
        marketplace=marketplace,
        tenant_id=ident.tenant_id,
        customer_id=ident.customer_id,
        marketplace_customer=ident.marketplace_customer,
        offering_id=ident.offering_id,
        dimension=dim.name,
        hour_start=hour_start,
        cumulative_units=cumulative_units,
        unit_price=dim.unit_price,
        currency=dim.currency,
        request_key=request_key,
    )
    if not open_now or (marketplace == "google" and window_start is None):
        return ReportRow(
            **base,
            state="carried",
            quantity=Decimal(0),
            carried_remainder=available,
            counted=False,
            carried_to_hour=next_open_hour(marketplace, hour_start, now, window),
            detail=f"hour outside the {marketplace} window ({window} h) at {now.isoformat()}: "
            "usage goes with the next reported hour",
        )
    quantity = reportable_quantity(marketplace, available)
    if marketplace == "azure" and quantity == 0:
        return None  # Azure takes quantity > 0 only; the running total keeps what is due
    return ReportRow(
        **base,
        state="planned",
        quantity=quantity,
        carried_remainder=available - quantity,
        counted=True,
        window_start=window_start,
        window_end=window_end,
    )


def _assign_operation_ids(rows: list[ReportRow], catalog: OfferingCatalog) -> list[ReportRow]:
    out = []
    for row in rows:
        if row.state == "planned" and row.window_start is not None and row.window_end is not None:
            service = catalog.listing("google", row.offering_id).service_name or ""
            op = google_operation_id(service, row.marketplace_customer, row.window_start, row.window_end)
            row = row.next("planned", request_key=op)
        out.append(row)
    return out


def pending(current: dict[Key, ReportRow]) -> list[ReportRow]:
    """Keys left planned or sent by an earlier run (crash, throttling): resend them unchanged."""
    return sorted(
        (row for row in current.values() if row.state not in DONE_STATES),
        key=lambda r: (r.hour_start, r.tenant_id, r.customer_id, r.dimension),
    )
