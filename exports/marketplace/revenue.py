"""Marketplace revenue feeds -> raw Parquet (read by dbt: marketplace.fct_marketplace_revenue), and the
listing fee arithmetic.

Formats (docs/marketplaces.md; samples in usagebill/marketplace_examples/):
- AWS billing event feed (Seller Delivery Data Feeds, billing_event, CSV subset):
  billing_event_id, end_user_account_id, product_id, action (INVOICED | FORGIVEN | DISBURSED),
  transaction_type (SELLER_REV_SHARE | AWS_REV_SHARE | SELLER_TAX_SHARE | AWS_TAX_SHARE | ...),
  amount, currency, invoice_date (YYYY-MM-DD), invoice_id.
- Azure transaction history (Partner Center payout export, CSV subset): transaction_id, resource_id,
  offer_id, plan_id, transaction_date, billed_amount, currency.
- Google usage/disbursement report (CSV subset): report_line_id, usage_reporting_id, product_id,
  usage_date, billed_amount, currency.
Amounts stay exact decimal strings in the raw layer; bad rows are quarantined with their reason.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from exports.marketplace.catalog import MarketplaceIdentity, OfferingCatalog
from exports.marketplace.fx import FxRates
from usagebill.money import MINOR_UNITS, round_money
from usagebill.paths import raw_dir

FEEDS: dict[str, tuple[str, ...]] = {
    "aws_billing_events": (
        "billing_event_id",
        "end_user_account_id",
        "product_id",
        "action",
        "transaction_type",
        "amount",
        "currency",
        "invoice_date",
        "invoice_id",
    ),
    "azure_transactions": (
        "transaction_id",
        "resource_id",
        "offer_id",
        "plan_id",
        "transaction_date",
        "billed_amount",
        "currency",
    ),
    "google_usage_reports": (
        "report_line_id",
        "usage_reporting_id",
        "product_id",
        "usage_date",
        "billed_amount",
        "currency",
    ),
}
_AMOUNT = {
    "aws_billing_events": "amount",
    "azure_transactions": "billed_amount",
    "google_usage_reports": "billed_amount",
}
_DATE = {
    "aws_billing_events": "invoice_date",
    "azure_transactions": "transaction_date",
    "google_usage_reports": "usage_date",
}
AWS_ACTIONS = {"INVOICED", "FORGIVEN", "DISBURSED"}


@dataclass(frozen=True)
class FeeSplit:
    billed: Decimal
    fee: Decimal
    payout: Decimal
    currency: str


def listing_fee(billed: Decimal, fee_pct: Decimal, currency: str) -> FeeSplit:
    """Fee = billed x pct / 100, rounded once half-up to the minor unit; payout = billed - fee."""
    fee = round_money(billed * fee_pct / Decimal(100), currency)
    return FeeSplit(billed, fee, billed - fee, currency)


def read_feed(kind: str, path: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Valid rows and quarantined rows (with field, rule, reason) of one feed file."""
    columns = FEEDS[kind]
    good: list[dict[str, str]] = []
    bad: list[dict[str, str]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(columns)} "
                "(see docs/marketplaces.md)"
            )
        for line, row in enumerate(reader, start=2):
            problem = _check(kind, row)
            record = {c: (row.get(c) or "").strip() for c in columns}
            if problem:
                bad.append(
                    {
                        "source_file": str(path),
                        "line_number": str(line),
                        "raw_record": str(row),
                        "field": problem[0],
                        "rule": problem[1],
                        "reason": f"{path}:{line}: {problem[2]}",
                    }
                )
            else:
                good.append(record | {"source_file": str(path)})
    return good, bad


def _check(kind: str, row: dict[str, str]) -> tuple[str, str, str] | None:
    for column in FEEDS[kind]:
        if column != "invoice_id" and not (row.get(column) or "").strip():
            return column, "required", f"{column} is empty"
    amount_column = _AMOUNT[kind]
    try:
        Decimal(row[amount_column])
    except InvalidOperation:
        return amount_column, "decimal", f"{amount_column} {row[amount_column]!r} is not a decimal"
    if row["currency"].upper() not in MINOR_UNITS:
        return "currency", "iso4217", f"unknown currency {row['currency']!r}"
    try:
        date.fromisoformat(row[_DATE[kind]])
    except ValueError:
        return _DATE[kind], "date", f"{_DATE[kind]} {row[_DATE[kind]]!r} is not YYYY-MM-DD"
    if kind == "aws_billing_events" and row["action"] not in AWS_ACTIONS:
        return "action", "enum", f"action {row['action']!r} is not one of {sorted(AWS_ACTIONS)}"
    return None


def _write(table: str, rows: list[dict[str, str]], columns: tuple[str, ...], out_dir: Path) -> Path:
    (out_dir / table).mkdir(parents=True, exist_ok=True)
    schema = pa.schema([(c, pa.string()) for c in columns])
    data = {c: [r.get(c) for r in rows] for c in columns}
    path = out_dir / table / "data.parquet"
    pq.write_table(pa.table(data, schema=schema), path)
    return path


def load_revenue_feeds(files: dict[str, list[Path]], out_dir: Path | None = None) -> dict[str, int]:
    """Validate the feed files and (re)write raw/marketplace/<feed>/data.parquet (idempotent)."""
    out_dir = out_dir or raw_dir() / "marketplace"
    counts: dict[str, int] = {}
    quarantined: list[dict[str, str]] = []
    for kind in FEEDS:
        rows: list[dict[str, str]] = []
        for path in files.get(kind, []):
            good, bad = read_feed(kind, path)
            rows += good
            quarantined += bad
        _write(kind, rows, (*FEEDS[kind], "source_file"), out_dir)
        counts[kind] = len(rows)
    _write(
        "feed_quarantine",
        quarantined,
        ("source_file", "line_number", "raw_record", "field", "rule", "reason"),
        out_dir,
    )
    counts["quarantined"] = len(quarantined)
    return counts


def write_catalog_tables(
    catalog: OfferingCatalog,
    identities: list[MarketplaceIdentity],
    out_dir: Path | None = None,
    fx: FxRates | None = None,
) -> dict[str, int]:
    """The offering catalog, identities and listing-currency rates as raw Parquet for dbt (parity,
    channel mapping, fees, reconciliation)."""
    out_dir = out_dir or raw_dir() / "marketplace"
    fx_rows = [
        {
            "from_currency": src,
            "to_currency": dst,
            "rate": str(rate),
            "effective_date": effective.isoformat(),
        }
        for (src, dst), effective, rate in (fx or FxRates()).rows()
    ]
    _write("fx_rates", fx_rows, ("from_currency", "to_currency", "rate", "effective_date"), out_dir)
    dims = [
        {
            "marketplace": d.marketplace,
            "offering_id": d.offering_id,
            "product_id": catalog.listing(d.marketplace, d.offering_id).product_id,
            "dimension": d.name,
            "meter_id": d.meter_id,
            "unit": d.unit,
            "unit_price": str(d.unit_price),
            "currency": d.currency,
            "meter_units_per_unit": None if d.meter_units_per_unit is None else str(d.meter_units_per_unit),
            "filters_json": "{" + ",".join(f'"{k}":"{v}"' for k, v in d.filters) + "}",
            "plan_id": plan_id,
        }
        for d in catalog.dimensions()
        for plan_id in catalog.listing(d.marketplace, d.offering_id).plans
    ]
    _write("dimensions", dims, tuple(dims[0]) if dims else ("marketplace",), out_dir)
    fees = [
        {
            "marketplace": mp,
            "listing_fee_pct": str(pct),
            "parity_tolerance_pct": str(catalog.parity_tolerance_pct),
        }
        for mp, pct in catalog.listing_fee_pct.items()
    ]
    _write("fees", fees, ("marketplace", "listing_fee_pct", "parity_tolerance_pct"), out_dir)
    ident_rows = []
    for ident in identities:
        for i, period in enumerate(ident.states):
            until = ident.states[i + 1].since if i + 1 < len(ident.states) else None
            ident_rows.append(
                {
                    "tenant_id": ident.tenant_id,
                    "customer_id": ident.customer_id,
                    "marketplace": ident.marketplace,
                    "offering_id": ident.offering_id,
                    "marketplace_customer": ident.marketplace_customer,
                    "account_id": ident.account_id,
                    "customer_identifier": ident.customer_identifier,
                    "license_arn": ident.license_arn,
                    "resource_id": ident.resource_id,
                    "plan_id": ident.plan_id,
                    "usage_reporting_id": ident.usage_reporting_id,
                    "state": period.state,
                    "valid_from": period.since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "valid_to": until.strftime("%Y-%m-%dT%H:%M:%SZ") if until else None,
                }
            )
    columns = (
        "tenant_id",
        "customer_id",
        "marketplace",
        "offering_id",
        "marketplace_customer",
        "account_id",
        "customer_identifier",
        "license_arn",
        "resource_id",
        "plan_id",
        "usage_reporting_id",
        "state",
        "valid_from",
        "valid_to",
    )
    _write("identities", ident_rows, columns, out_dir)
    return {
        "dimensions": len(dims),
        "fees": len(fees),
        "identities": len(ident_rows),
        "fx_rates": len(fx_rows),
    }
