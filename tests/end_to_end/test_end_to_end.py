"""End to end: `python -m cli.demo` on the tiny dataset materializes every Dagster asset into a fresh
DuckDB warehouse, exports to the local Stripe and marketplace servers, and a second run changes
no table and sends nothing twice.

Every expected amount below is computed by hand from the tiny dataset (ingestion/demo_data.py
docstring) and the demo catalog (usagebill/catalog/examples/gpu_cloud/plans.yaml,
usagebill/invoices/examples/tax_rates.yaml; the seller is in FR). October 2026 is billed as of
2026-11-08: October's usage invoice closes on 2026-11-01 + 3 grace days.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from usagebill.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow


def run_demo(env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cli.demo", "--size", "tiny"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"demo failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    return result.stdout


def table_fingerprints(warehouse: Path) -> dict[str, tuple[int, str]]:
    """Row count and content hash of every table except the export ledgers (append-only logs)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        out = {}
        for schema, table in con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_schema <> 'ledger' order by 1, 2"
        ).fetchall():
            rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()
            digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
            out[f"{schema}.{table}"] = (len(rows), digest)
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    env = {
        **os.environ,
        "USAGEBILL_DATA_DIR": str(root / "data"),
        "USAGEBILL_RAW_DIR": str(root / "raw"),
        "USAGEBILL_WAREHOUSE": str(root / "warehouse.duckdb"),
        "USAGEBILL_REPORTS_DIR": str(root / "reports"),
        "DBT_TARGET_PATH": str(root / "dbt_target"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    for name in ("STRIPE_API_KEY", "STRIPE_API_BASE", "USAGEBILL_MARKETPLACE_MODE", "USAGEBILL_AS_OF_DATE"):
        env.pop(name, None)
    first_output = run_demo(env)
    warehouse = root / "warehouse.duckdb"
    first = table_fingerprints(warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    stripe_ledger_rows = con.execute("select count(*) from ledger.stripe_exports").fetchall()[0][0]
    marketplace_ledger_rows = con.execute("select count(*) from ledger.marketplace_reports").fetchall()[0][0]
    con.close()
    second_output = run_demo(env)
    return {
        "root": root,
        "warehouse": warehouse,
        "first": first,
        "second": table_fingerprints(warehouse),
        "first_output": first_output,
        "second_output": second_output,
        "stripe_ledger_rows": stripe_ledger_rows,
        "marketplace_ledger_rows": marketplace_ledger_rows,
    }


@pytest.fixture(scope="module")
def con(demo_run):
    connection = duckdb.connect(str(demo_run["warehouse"]), read_only=True)
    yield connection
    connection.close()


def rows(con, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def test_every_layer_has_rows(con, demo_run):
    for table in [
        "staging.stg_usage__events",
        "usage.fct_usage_journal",
        "usage.fct_usage_hourly",
        "usage.fct_usage_daily",
        "usage.fct_usage_monthly",
        "billing.fct_billing_lines",
        "billing.fct_invoices",
        "billing.fct_invoice_lines",
        "analytics.fct_mrr",
        "analytics.fct_arr",
        "analytics.fct_cohort_retention",
        "analytics.fct_unit_cost",
        "ledger.stripe_exports",
        "ledger.marketplace_reports",
    ]:
        assert rows(con, f"select count(*) from {table}")[0][0] > 0, f"{table} is empty"
    invoice_documents = list((demo_run["root"] / "reports" / "invoices").glob("*.pdf"))
    assert len(invoice_documents) == 6


def test_journal_dedups_and_quarantine_keeps_bad_events(con):
    # 548 records landed: 541 unique valid events + 3 duplicates + 4 malformed (quarantined).
    assert rows(con, "select count(*), count(distinct event_id) from usage.fct_usage_journal")[0] == (
        541,
        541,
    )
    assert rows(con, "select count(*) from staging.stg_usage__quarantined_events")[0][0] == 4
    # 2,457 + 72,000,000 + 9,000,000 + 18,000,000 + 4,800,000 GPU ms
    assert rows(con, "select sum(quantity) from usage.fct_usage_journal where meter_id = 'gpu_ms'")[0][
        0
    ] == Decimal("103802457")


def invoice_for(con, customer: str, issue_date: str = "2026-11-04") -> tuple:
    found = rows(
        con,
        "select invoice_id, currency, subtotal, tax_amount, total, total_minor from billing.fct_invoices "
        "where customer_id = ? and issue_date = ?",
        [customer, issue_date],
    )
    assert len(found) == 1, f"expected one invoice for {customer} issued {issue_date}, found {found}"
    return found[0]


def line_amounts(con, invoice_id: str) -> dict[str, Decimal]:
    return dict(
        rows(
            con,
            "select charge_id, sum(amount) from billing.fct_invoice_lines where invoice_id = ? group by 1",
            [invoice_id],
        )
    )


def test_source_document_example_gpu_ms_at_one_cent_per_thousand(con):
    # cus_a, pay as you go: 2,457 ms x $0.01 / 1,000 ms = $0.02457 -> $0.02 (rounded once, half-up)
    # 30 API calls x $0.50 / 1,000 = $0.015 -> $0.02 (half-up); 1.5 GB x 72 h = 108 GB-h x $0.0001 = $0.0108 -> $0.01
    invoice_id, currency, subtotal, tax, total, total_minor = invoice_for(con, "cus_a")
    assert currency == "USD"
    assert line_amounts(con, invoice_id) == {
        "gpu": Decimal("0.02"),
        "api_calls": Decimal("0.02"),
        "storage": Decimal("0.01"),
    }
    # US customer of a French seller: out of scope, 0 tax.
    assert (subtotal, tax, total, total_minor) == (Decimal("0.05"), Decimal("0.00"), Decimal("0.05"), 5)


def test_starter_plan_fee_in_advance_and_overage(con):
    # cus_b, starter: October's fee had its own invoice at the start (issued 2026-10-04, $500).
    # The invoice issued 2026-11-04 carries November's fee in advance and October's usage:
    # GPU (72,000,000 - 50,000,000 included) ms x $0.009 / 1,000 = $198.00; 60 calls x $0.0005 = $0.03;
    # 7,200 GB-h x $0.0001 = $0.72; plus $500 -> $698.75.
    assert invoice_for(con, "cus_b", "2026-10-04")[4] == Decimal("500.00")
    invoice_id, currency, subtotal, tax, total, total_minor = invoice_for(con, "cus_b")
    assert line_amounts(con, invoice_id) == {
        "platform_fee": Decimal("500.00"),
        "gpu": Decimal("198.00"),
        "api_calls": Decimal("0.03"),
        "storage": Decimal("0.72"),
    }
    assert (currency, total, total_minor) == ("USD", Decimal("698.75"), 69875)


def test_eu_reverse_charge_jpy_tax_and_exempt_customer(con):
    # cus_c, EUR, German business with a VAT id, French seller: reverse charge, 0 tax.
    # 9,000,000 ms x EUR 0.01 / 1,000 = 90.00; 15 calls x 0.0005 = 0.0075 -> 0.01; 18 GB-h x 0.0001 = 0.0018 -> 0.00
    _, currency, subtotal, tax, total, _ = invoice_for(con, "cus_c")
    assert (currency, subtotal, tax, total) == ("EUR", Decimal("90.01"), Decimal("0.00"), Decimal("90.01"))
    # cus_d, JPY (no minor unit), Japanese consumption tax 10%:
    # 18,000,000 ms x JPY 1.5 / 1,000 = 27,000; 144 GB-h x JPY 0.015 = 2.16 -> 2; subtotal 27,002;
    # tax 2,700.2 -> 2,700; total 29,702 = 29,702 minor units.
    _, currency, subtotal, tax, total, total_minor = invoice_for(con, "cus_d")
    assert (currency, subtotal, tax, total, total_minor) == (
        "JPY",
        Decimal("27002"),
        Decimal("2700"),
        Decimal("29702"),
        29702,
    )
    # cus_e, tax exempt, ended 2026-10-31: 4,800,000 ms x $0.01 / 1,000 = $48.00, no tax.
    _, currency, subtotal, tax, total, _ = invoice_for(con, "cus_e")
    assert (currency, subtotal, tax, total) == ("USD", Decimal("48.00"), Decimal("0.00"), Decimal("48.00"))


def test_totals_per_currency_and_mrr(con):
    # USD: 500.00 (cus_b October fee) + 698.75 + 0.05 + 48.00 = 1,246.80
    totals = dict(rows(con, "select currency, sum(total) from billing.fct_invoices group by 1"))
    assert totals == {"USD": Decimal("1246.80"), "EUR": Decimal("90.01"), "JPY": Decimal("29702")}
    # October MRR (usage-inclusive, before tax): USD 0.05 + 500 + 198.75 + 48.00 = 746.80
    mrr = dict(
        rows(
            con,
            "select currency, sum(mrr) from analytics.fct_mrr where month_start = date '2026-10-01' group by 1",
        )
    )
    assert mrr["USD"] == Decimal("746.80")
    assert rows(
        con,
        "select sum(arr) from analytics.fct_arr where month_start = date '2026-10-01' and currency = 'USD'",
    )[0][0] == Decimal("8961.60")  # 746.80 x 12


def test_second_run_changes_no_table_and_sends_nothing_twice(demo_run):
    assert demo_run["first"] == demo_run["second"]
    con = duckdb.connect(str(demo_run["warehouse"]), read_only=True)
    try:
        # The Stripe ledger logs every call; the second run made none.
        assert rows(con, "select count(*) from ledger.stripe_exports")[0][0] == demo_run["stripe_ledger_rows"]
        assert (
            rows(con, "select count(*) from ledger.marketplace_reports")[0][0]
            == demo_run["marketplace_ledger_rows"]
        )
        # Exactly one Stripe invoice per usagebill invoice of a Stripe-channel subscription. cus_a buys
        # through Google and cus_b through Azure (the demo's marketplace identities): their 3 invoices
        # (cus_a October; cus_b October's fee and the November invoice) stay in the books and are
        # never sent to Stripe; cus_c, cus_d and cus_e's 3 invoices are, once each.
        assert rows(
            con,
            "select count(distinct usagebill_id), count(*) from ledger.stripe_exports "
            "where step = 'finalize' and status = 'ok'",
        )[0] == (3, 3)
        channels = dict(
            rows(con, "select customer_id, min(billing_channel) from billing.fct_invoices group by 1")
        )
        assert channels == {
            "cus_a": "google",
            "cus_b": "azure",
            "cus_c": "stripe",
            "cus_d": "stripe",
            "cus_e": "stripe",
        }
        sent_to_stripe = {
            r[0]
            for r in rows(
                con,
                "select distinct i.customer_id from ledger.stripe_exports e join billing.fct_invoices i "
                "on e.usagebill_id = i.invoice_id where e.step = 'finalize' and e.status = 'ok'",
            )
        }
        assert sent_to_stripe == {"cus_c", "cus_d", "cus_e"}
    finally:
        con.close()
    assert "Stripe -> LOCAL Stripe-compatible server" in demo_run["second_output"]
