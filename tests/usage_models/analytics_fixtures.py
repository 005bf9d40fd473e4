"""Upstream tables and raw files for the analytics marts, at the documented contract columns.

billing.fct_invoices / fct_invoice_lines (invoice engineer) and billing.fct_billing_lines (rating
engineer) are created as plain tables in the test
warehouse; dbt then builds only the analytics models on top of them. Every number the tests
assert is computed by hand in test_analytics_marts.py.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.costs import CLOUD_COSTS_SCHEMA
from tests.usage_models.raw_fixtures import event, ts

# (invoice_id, customer_id, currency, line_type, period_start, period_end, amount)
INVOICE_LINES: list[tuple[str, str, str, str, str, str, str]] = [
    # cus_new (USD): 100 Jan, 100 Feb, 100 + 50 usage Mar, nothing Apr (churn), 80 May (reactivation)
    ("inv_new_01", "cus_new", "USD", "recurring_fee", "2026-01-01", "2026-02-01", "100"),
    ("inv_new_02", "cus_new", "USD", "recurring_fee", "2026-02-01", "2026-03-01", "100"),
    ("inv_new_03", "cus_new", "USD", "recurring_fee", "2026-03-01", "2026-04-01", "100"),
    ("inv_new_03", "cus_new", "USD", "usage", "2026-03-01", "2026-04-01", "50"),
    ("inv_new_03", "cus_new", "USD", "tax", "2026-03-01", "2026-04-01", "15"),
    ("inv_new_05", "cus_new", "USD", "recurring_fee", "2026-05-01", "2026-06-01", "80"),
    # cus_annual (USD): 1,200 annual in advance from 2026-02-01 (= 100 / month) + 20 usage in Feb
    ("inv_ann_02", "cus_annual", "USD", "recurring_fee", "2026-02-01", "2027-02-01", "1200"),
    ("inv_ann_02u", "cus_annual", "USD", "usage", "2026-02-01", "2026-03-01", "20"),
    # cus_eur (EUR): 200 Jan, 150 Feb, Mar, Apr, May + 10 usage in May, invoiced 2026-06-01: the
    # latest billed usage, so the default as-of date is 2026-06-01 (June is the provisional month)
    ("inv_eur_01", "cus_eur", "EUR", "recurring_fee", "2026-01-01", "2026-02-01", "200"),
    ("inv_eur_02", "cus_eur", "EUR", "recurring_fee", "2026-02-01", "2026-03-01", "150"),
    ("inv_eur_03", "cus_eur", "EUR", "recurring_fee", "2026-03-01", "2026-04-01", "150"),
    ("inv_eur_04", "cus_eur", "EUR", "recurring_fee", "2026-04-01", "2026-05-01", "150"),
    ("inv_eur_05", "cus_eur", "EUR", "recurring_fee", "2026-05-01", "2026-06-01", "150"),
    ("inv_eur_05u", "cus_eur", "EUR", "usage", "2026-05-01", "2026-06-01", "10"),
    # cus_mid (USD): signs up 2026-03-15 on a 62 / month plan: proration 62 x 17 / 31 = 34 for
    # [03-15, 04-01), then 62 in April and May
    ("inv_mid_03", "cus_mid", "USD", "proration", "2026-03-15", "2026-04-01", "34"),
    ("inv_mid_04", "cus_mid", "USD", "recurring_fee", "2026-04-01", "2026-05-01", "62"),
    ("inv_mid_05", "cus_mid", "USD", "recurring_fee", "2026-05-01", "2026-06-01", "62"),
    # cus_annual_mid (USD): 3,650 annual in advance for [2026-03-15, 2027-03-15) = 365 days = 10 / day
    ("inv_amid_03", "cus_annual_mid", "USD", "recurring_fee", "2026-03-15", "2027-03-15", "3650"),
    # cus_m (USD, plan payg): May GPU usage 10 (1,000,000 ms at $0.01 per 1K ms) + 5 platform fee
    ("inv_m_05", "cus_m", "USD", "usage", "2026-05-01", "2026-06-01", "10"),
    ("inv_m_05", "cus_m", "USD", "recurring_fee", "2026-05-01", "2026-06-01", "5"),
]

# charge_id of a line (default: its line_type)
CHARGE_IDS = {("inv_m_05", "usage"): "gpu", ("inv_m_05", "recurring_fee"): "platform_fee"}

# Invoices issued on another day than their period start (default): usage billed in arrears
ISSUE_DATES = {"inv_ann_02u": "2026-03-01", "inv_eur_05u": "2026-06-01"}

CUSTOMERS: list[dict[str, Any]] = [
    {
        "customer_id": "cus_new",
        "name": "New Co",
        "currency": "USD",
        "created_at": date.fromisoformat("2026-01-10"),
    },
    {
        "customer_id": "cus_eur",
        "name": "Euro GmbH",
        "currency": "EUR",
        "created_at": date.fromisoformat("2026-01-05"),
    },
    {
        "customer_id": "cus_annual",
        "name": "Annual Inc",
        "currency": "USD",
        "created_at": date.fromisoformat("2026-02-01"),
    },
    {
        "customer_id": "cus_mid",
        "name": "Mid Month Co",
        "currency": "USD",
        "created_at": date.fromisoformat("2026-03-15"),
    },
    {
        "customer_id": "cus_annual_mid",
        "name": "Annual Mid Co",
        "currency": "USD",
        "created_at": date.fromisoformat("2026-03-15"),
    },
    {
        "customer_id": "cus_m",
        "name": "Margin Ltd",
        "currency": "USD",
        "created_at": date.fromisoformat("2026-05-01"),
    },
]


def create_billing_tables(
    warehouse: Path,
    lines: list[tuple[str, str, str, str, str, str, str]] = INVOICE_LINES,
    *,
    tenants: dict[str, str] | None = None,
    issue_dates: dict[str, str] = ISSUE_DATES,
    margin_billing_lines: bool = True,
) -> None:
    """billing.* tables from `lines`; `tenants` maps an invoice id to its tenant (default: 'default')."""
    tenants = tenants or {}
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("create schema if not exists billing")
        con.execute("create schema if not exists staging")
        con.execute(
            """create or replace table billing.fct_invoices (invoice_id varchar, invoice_number varchar,
            customer_id varchar, subscription_id varchar, currency varchar, period_start date, period_end date,
            issue_date date, due_date date, subtotal decimal(38,12), tax_amount decimal(38,12),
            total decimal(38,12), total_minor bigint, tenant_id varchar)"""
        )
        con.execute(
            """create or replace table billing.fct_invoice_lines (invoice_line_id varchar, invoice_id varchar,
            line_number integer, charge_id varchar, line_type varchar, description varchar,
            quantity decimal(38,12), amount decimal(38,12), amount_minor bigint, currency varchar,
            period_start date, period_end date)"""
        )
        invoices = {}
        for number, (invoice_id, customer, currency, line_type, start, end, amount) in enumerate(lines):
            invoices.setdefault(invoice_id, (customer, currency, start, end))
            con.execute(
                "insert into billing.fct_invoice_lines values (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
                [
                    f"{invoice_id}_l{number}",
                    invoice_id,
                    number,
                    CHARGE_IDS.get((invoice_id, line_type), line_type),
                    line_type,
                    line_type,
                    amount,
                    int(round(float(amount) * 100)),
                    currency,
                    start,
                    end,
                ],
            )
        for invoice_id, (customer, currency, start, end) in invoices.items():
            con.execute(
                "insert into billing.fct_invoices values (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, ?)",
                [
                    invoice_id,
                    invoice_id,
                    customer,
                    f"sub_{customer}",
                    currency,
                    start,
                    end,
                    issue_dates.get(invoice_id, start),
                    issue_dates.get(invoice_id, start),
                    tenants.get(invoice_id, "default"),
                ],
            )
        con.execute(
            """create or replace table billing.fct_billing_lines (billing_line_id varchar, customer_id varchar,
            subscription_id varchar, plan_id varchar, plan_version integer, charge_id varchar,
            charge_name varchar, charge_type varchar, price_model varchar, price_id varchar,
            price_source varchar, meter_id varchar, line_type varchar, billing_timing varchar,
            period_start date, period_end date, service_start date, service_end date,
            quantity decimal(38,12), unit_price decimal(38,12), tier_breakdown_json varchar,
            amount decimal(38,12), amount_rounded decimal(38,12), currency varchar, minor_unit integer,
            dimensions_json varchar, application_step integer, sequence_in_period integer,
            tenant_id varchar default 'default')"""
        )
        if margin_billing_lines:
            # $0.01 per 1K ms = $0.00001 per ms; 1,000,000 ms -> $10.00; plus a $5 monthly fee (no meter)
            con.execute(
                """insert into billing.fct_billing_lines values
                ('bl_m_gpu', 'cus_m', 'sub_cus_m', 'payg', 1, 'gpu', 'GPU time', 'usage', 'per_unit', 'p_gpu',
                 'plan', 'gpu_ms', 'usage', 'in_arrears', '2026-05-01', '2026-06-01', '2026-05-01', '2026-06-01',
                 1000000, 0.00001, null, 10, 10, 'USD', 2, '{}', 1, 1, 'default'),
                ('bl_m_fee', 'cus_m', 'sub_cus_m', 'payg', 1, 'platform_fee', 'Platform fee', 'recurring', 'flat',
                 'p_fee', 'plan', null, 'recurring_fee', 'in_advance', '2026-05-01', '2026-06-01', '2026-05-01',
                 '2026-06-01', 1, 5, null, 5, 5, 'USD', 2, '{}', 1, 2, 'default')"""
            )

    finally:
        con.close()


def cost_row(
    kind: str,
    meter: str | None,
    cost: str,
    *,
    month: str = "2026-05",
    dimension: tuple[str, str] | None = None,
    customer: str | None = None,
    tenant: str | None = None,
) -> dict[str, Any]:
    """One attributed cost row (raw.cloud_costs); a customer's row defaults to the default tenant."""
    return {
        "billing_period_start": ts(f"{month}-01T00:00:00Z"),
        "charge_period_start": ts(f"{month}-01T00:00:00Z"),
        "charge_period_end": ts(f"{month}-02T00:00:00Z"),
        "provider_name": "AWS",
        "service_name": "EC2",
        "sku_id": f"sku_{kind}_{dimension[1] if dimension else ''}{customer or ''}{tenant or ''}",
        "resource_id": "i-1",
        "charge_category": "Usage",
        "billed_cost": cost,
        "billing_currency": "USD",
        "consumed_quantity": "1",
        "consumed_unit": "Hours",
        "cost_kind": kind,
        "usagebill_meter": meter,
        "dimension_name": dimension[0] if dimension else None,
        "dimension_value": dimension[1] if dimension else None,
        "tenant_id": tenant or ("default" if customer else None),
        "customer_id": customer,
        "attribution_source": "columns",
        "source_file": "costs/focus.csv",
        "line_number": 1,
    }


def write_costs(raw_dir: Path, rows: list[dict[str, Any]] | None = None) -> None:
    row = cost_row
    rows = rows or [
        # May, GPU: fixed 2.70 + variable 6.00 = 8.70 for 1,000,000 ms -> $0.0087 per 1K ms;
        # shared 5.00 (no meter, no customer); 1.00 dedicated to cus_m (direct)
        row("fixed", "gpu_ms", "2.70"),
        row("variable", "gpu_ms", "6.00"),
        row("fixed", None, "5.00"),
        row("fixed", None, "1.00", customer="cus_m"),
        # April, GPU priced by type: a100 8.70 for 1,000,000 ms ($0.0087 per 1K ms),
        # h100 8.70 for 500,000 ms ($0.0174 per 1K ms); blended it would be 17.40 / 1,500 K = $0.0116
        row("variable", "gpu_ms", "8.70", month="2026-04", dimension=("gpu_type", "a100")),
        row("variable", "gpu_ms", "8.70", month="2026-04", dimension=("gpu_type", "h100")),
    ]
    folder = raw_dir / "cloud_costs"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=CLOUD_COSTS_SCHEMA), folder / "focus.parquet")


def margin_events() -> list[dict[str, Any]]:
    arrived = "2026-05-20T12:00:00Z"
    return [
        event("gm1", "cus_m", "gpu_ms", "2026-05-10T10:00:00Z", "600000", arrived=arrived),
        event("gm2", "cus_m", "gpu_ms", "2026-05-11T10:00:00Z", "400000", arrived=arrived),
        # April GPU usage by type: cus_g1 600,000 ms a100; cus_g2 400,000 ms a100 + 500,000 ms h100
        event(
            "gg1",
            "cus_g1",
            "gpu_ms",
            "2026-04-10T10:00:00Z",
            "600000",
            dimensions={"gpu_type": "a100"},
            arrived=arrived,
        ),
        event(
            "gg2",
            "cus_g2",
            "gpu_ms",
            "2026-04-10T10:00:00Z",
            "400000",
            dimensions={"gpu_type": "a100"},
            arrived=arrived,
        ),
        event(
            "gg3",
            "cus_g2",
            "gpu_ms",
            "2026-04-11T10:00:00Z",
            "500000",
            dimensions={"gpu_type": "h100"},
            arrived=arrived,
        ),
    ]
