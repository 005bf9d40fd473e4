"""int_marketplace__billed_hourly on the real rating models (catalog -> raw -> dbt on DuckDB): an annual
plan that bills its usage charges monthly (bill_charges_monthly, docs/pricing.md 3.17) is billed hour by
hour in every usage month, with that month's included units and final amount; customers are keyed by
(tenant_id, customer_id).

Catalog: plan `annual_monthly_usage`, annual, USD 1,200.00 a year in advance, usage meter `gpu` per unit
at USD 0.01 with 100 included units, billed monthly. acme's cus_1 buys through AWS; globex's cus_1 (same
id, another customer) has no marketplace identity. As of 2026-03-15, January and February have ended,
March is open.

Before the fix the model used the annual billing period: the 100 included units were consumed once a
year (February billed (400 - 150) x 0.01 = 2.50 instead of 1.50) and at the year's end only January's
lines (the usage month that starts on the billing period's first day) replaced the provisional amounts, so
months 2-12 disappeared from the marketplace.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from exports.marketplace.revenue import write_catalog_tables
from tests.rating.scenario_events import write_jsonl
from tests.warehouse import query
from usagebill.rating import rate, run_dbt_build

from .conftest import aws_ident, dim, make_catalog

AS_OF = date(2026, 3, 15)


def _write_catalog(directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "meters.yaml").write_text(
        "meters:\n  - {id: gpu, name: GPU, unit: unit, aggregation: sum}\n", encoding="utf-8"
    )
    (directory / "plans.yaml").write_text(
        """plans:
  - id: annual_monthly_usage
    currency: USD
    billing_period: annual
    bill_charges_monthly: true
    versions:
      - version: 1
        effective_from: 2026-01-01
        charges:
          - {id: platform, type: recurring, amount: "1200.00"}
          - {id: gpu, type: usage, meter: gpu, model: per_unit, unit_price: "0.01", unit_size: "1", included_units: "100"}
""",
        encoding="utf-8",
    )
    (directory / "customers.yaml").write_text(
        """customers:
  - {id: cus_1, tenant_id: acme, name: Acme one, currency: USD, country: US}
  - {id: cus_1, tenant_id: globex, name: Globex one, currency: USD, country: US}
""",
        encoding="utf-8",
    )
    (directory / "subscriptions.yaml").write_text(
        """subscriptions:
  - {id: sub_acme_1, tenant_id: acme, customer_id: cus_1, plan_id: annual_monthly_usage, start_date: 2026-01-01}
  - {id: sub_globex_1, tenant_id: globex, customer_id: cus_1, plan_id: annual_monthly_usage, start_date: 2026-01-01}
""",
        encoding="utf-8",
    )
    return directory


def _event(tenant: str, event_id: str, month: int, quantity: str) -> dict[str, str]:
    return {
        "tenant_id": tenant,
        "event_id": event_id,
        "customer_id": "cus_1",
        "meter": "gpu",
        "timestamp": f"2026-{month:02d}-10T12:00:00Z",
        "quantity": quantity,
    }


@pytest.fixture(scope="module")
def billed_hours(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    root = tmp_path_factory.mktemp("annual_monthly")
    catalog_dir = _write_catalog(root / "catalog")
    events = [
        _event("acme", "a1", 1, "150"),
        _event("acme", "a2", 2, "250"),
        _event("acme", "a3", 3, "130"),
        _event("globex", "g1", 2, "999"),  # globex's cus_1: not a marketplace customer
    ]
    work = root / "work"
    rate(
        catalog_dir,
        [write_jsonl(root / "usage.jsonl", events)],
        date(2026, 1, 1),
        date(2026, 4, 1),
        as_of=AS_OF,
        keep_dir=work,
        progress=lambda _m: None,
    )
    ident = replace(aws_ident(1, tenant="acme"), customer_id="cus_1")  # acme's cus_1 on AWS
    write_catalog_tables(
        make_catalog({"aws": [dim("aws", "gpu_usage", meter="gpu")]}), [ident], work / "raw" / "marketplace"
    )
    run_dbt_build(
        work,
        work / "raw",
        work / "rate.duckdb",
        AS_OF,
        selectors=("+fct_usage_hourly", "stg_marketplace__identities", "int_marketplace__billed_hourly"),
        progress=lambda _m: None,
    )
    return query(
        work / "rate.duckdb",
        "select tenant_id, customer_id, hour_start, period_start, period_end, billed_amount, is_final "
        "from intermediate.int_marketplace__billed_hourly order by hour_start",
    )


def test_every_usage_month_of_an_annual_plan_is_billed_hourly_once(billed_hours):
    # 100 included units per usage month, USD 0.01 per unit beyond:
    #   Jan (ended): 150 - 100 = 50 units -> 0.50   Feb (ended): 250 - 100 = 150 -> 1.50
    #   Mar (open):  130 - 100 = 30 units -> 0.30   total 2.30, one row per hour
    # (usage month, billed amount, month ended as of 2026-03-15), each billed at 12:00 on the 10th
    months = [(1, "0.5", True), (2, "1.5", True), (3, "0.3", False)]
    assert billed_hours == [
        (
            "acme",
            "cus_1",
            datetime(2026, m, 10, 12),
            date(2026, m, 1),
            date(2026, m + 1, 1),
            Decimal(a),
            ended,
        )
        for m, a, ended in months
    ]
    # globex's cus_1 (999 units in February) never reaches acme's marketplace customer
    assert sum(row[5] for row in billed_hours) == Decimal("2.3")


def test_reporter_reads_each_month_for_the_right_tenant(billed_hours):
    """The reporter's running total (BilledSeries) over the three months: 2.30 / 0.01 = 230 units for
    acme/cus_1, nothing for globex/cus_1."""
    from exports.marketplace.billable import BilledHour, BilledSeries

    series = BilledSeries(
        BilledHour(c, "gpu", (), h.replace(tzinfo=UTC), a, "USD", t)
        for t, c, h, _s, _e, a, _f in billed_hours
    )
    gpu = dim("aws", "gpu_usage", meter="gpu")
    end = datetime(2026, 3, 11, tzinfo=UTC)
    assert series.cumulative_amount(("acme", "cus_1"), gpu, end) == Decimal("2.3")
    assert series.cumulative_amount(("globex", "cus_1"), gpu, end) == Decimal(0)
