"""Billable amounts per customer, meter and hour: what the marketplace must be told.

The warehouse model intermediate.int_marketplace__billed_hourly (dbt, see docs/marketplaces.md) gives,
for each customer, meter, usage dimensions and hour, the increase of the customer's billed amount in
that hour AFTER free trials, included usage, prepaid credits and discounts. Its running sum is the
cumulative billed amount; a marketplace dimension reports
    units due at hour H = cumulative billed amount through H / dimension unit price - units already reported
so the marketplace bills exactly what usagebill bills (the parity check guards the unit prices).
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from exports.marketplace.catalog import Dimension
from exports.marketplace.fx import CurrencyConversionError, FxRates
from usagebill.paths import warehouse_path
from usagebill.tenants import DEFAULT_TENANT, qualified_customer

MODEL = "intermediate.int_marketplace__billed_hourly"


@dataclass(frozen=True)
class BilledHour:
    customer_id: str
    meter_id: str
    dimensions: tuple[tuple[str, str], ...]  # usage dimensions of the line (sorted key/value pairs)
    hour_start: datetime  # UTC; an "opening balance" row may carry the sum of all earlier hours
    billed_amount: Decimal  # increase of the cumulative billed amount in this hour (full precision)
    currency: str
    tenant_id: str = DEFAULT_TENANT  # customer ids are unique per tenant only


CustomerRef = tuple[str, str]  # (tenant_id, customer_id)


class BilledSeries:
    """Cumulative billed amount per ((tenant, customer), marketplace dimension) as of the end of any hour, in the
    dimension's (listing) currency: amounts in another currency are converted hour by hour through the
    dated rates table (exports/marketplace/fx.py); a missing rate raises CurrencyConversionError."""

    def __init__(self, rows: Iterable[BilledHour], fx: FxRates | None = None) -> None:
        self.fx = fx or FxRates()
        self._by_meter: dict[tuple[str, str, str], list[BilledHour]] = defaultdict(list)
        for row in rows:
            self._by_meter[(row.tenant_id, row.customer_id, row.meter_id)].append(row)
        self._prefix: dict[
            tuple[CustomerRef, str, tuple[tuple[str, str], ...], str], tuple[list[datetime], list[Decimal]]
        ] = {}

    def _series(self, customer: CustomerRef, dimension: Dimension) -> tuple[list[datetime], list[Decimal]]:
        key = (customer, dimension.meter_id, dimension.filters, dimension.currency)
        if key not in self._prefix:
            per_hour: dict[datetime, Decimal] = defaultdict(Decimal)
            for row in self._by_meter.get((*customer, dimension.meter_id), []):
                dims = dict(row.dimensions)
                if all(dims.get(k) == v for k, v in dimension.filters):
                    try:
                        amount = self.fx.convert(
                            row.billed_amount, row.currency, dimension.currency, row.hour_start.date()
                        )
                    except CurrencyConversionError as exc:
                        raise CurrencyConversionError(
                            f"customer {qualified_customer(*customer)}: {exc}"
                        ) from None
                    per_hour[row.hour_start] += amount
            hours = sorted(per_hour)
            sums: list[Decimal] = []
            total = Decimal(0)
            for hour in hours:
                total += per_hour[hour]
                sums.append(total)
            self._prefix[key] = (hours, sums)
        return self._prefix[key]

    def cumulative_amount(
        self, customer: CustomerRef, dimension: Dimension, through_hour: datetime
    ) -> Decimal:
        """Billed amount of all hours <= through_hour (the hour included)."""
        hours, sums = self._series(customer, dimension)
        index = bisect.bisect_right(hours, through_hour)
        return sums[index - 1] if index else Decimal(0)

    def amount_between(
        self, customer: CustomerRef, dimension: Dimension, start: datetime, end: datetime | None
    ) -> Decimal:
        """Billed amount of the hours in [start, end) (end None: no upper bound)."""
        hours, sums = self._series(customer, dimension)
        lo = bisect.bisect_left(hours, start)
        hi = len(hours) if end is None else bisect.bisect_left(hours, end)
        if hi <= lo:
            return Decimal(0)
        return sums[hi - 1] - (sums[lo - 1] if lo else Decimal(0))


def _dims(dimensions_json: str | None) -> tuple[tuple[str, str], ...]:
    if not dimensions_json:
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in json.loads(dimensions_json).items()))


def read_billed_hours(start: datetime, end: datetime, path: Path | None = None) -> list[BilledHour]:
    """Billed hours in [start, end). Cumulative amounts need every hour since the customer subscribed:
    pass the earliest subscription start as `start`."""
    path = Path(path) if path else warehouse_path()
    s, e = start.astimezone(UTC).replace(tzinfo=None), end.astimezone(UTC).replace(tzinfo=None)
    sql = f"""
        select customer_id, meter_id, dimensions_json, hour_start, billed_amount, currency, tenant_id
        from {MODEL} where hour_start >= ? and hour_start < ?
    """
    with duckdb.connect(str(path), read_only=True) as con:
        records = con.execute(sql, [s, e]).fetchall()
    return [
        BilledHour(c, m, _dims(d), h.replace(tzinfo=UTC), Decimal(a), cur, t)
        for c, m, d, h, a, cur, t in records
    ]
