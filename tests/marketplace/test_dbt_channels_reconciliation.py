"""dbt models of issue 14 on DuckDB: one billing channel per subscription, revenue by channel counting
each sale once, and the marketplace reconciliation that blocks only the affected customers' exports.
Upstream tables that other areas own (billing lines, invoices, billed hours) are created at their
contract columns; the marketplace raw tables and ledger are written by the real Python code."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from exports.marketplace.catalog import StatePeriod
from exports.marketplace.fx import load_fx_rates
from exports.marketplace.ledger import Ledger, ReportRow
from exports.marketplace.revenue import load_revenue_feeds, write_catalog_tables
from exports.marketplace.run import blocked_customers
from tests.warehouse import query
from usagebill.dbt_cli import find_dbt

from .conftest import aws_ident, dim, make_catalog

ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT = ROOT / "dbt_project"
EXAMPLES = ROOT / "usagebill" / "marketplace_examples"
H12 = datetime(2026, 5, 10, 12, tzinfo=UTC)
H13 = datetime(2026, 5, 10, 13, tzinfo=UTC)
SINCE = datetime(2026, 5, 1, tzinfo=UTC)


def _dbt(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    dbt = find_dbt()
    assert dbt, "dbt is not installed in the venv: make install-dev"
    command = [
        dbt,
        *args,
        "--profiles-dir",
        str(DBT_PROJECT),
        "--project-dir",
        str(DBT_PROJECT),
        "--target-path",
        str(root / "target"),
        "--log-path",
        str(root / "logs"),
        "--vars",
        json.dumps({"as_of_date": "2026-06-04"}),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (
        f"dbt {' '.join(args)} failed:\n{result.stdout[-5000:]}\n{result.stderr[-2000:]}"
    )
    return result


def _row(
    customer: str, hour: datetime, state: str, quantity: str, sent: str | None = None, tenant: str = "default"
) -> ReportRow:
    return ReportRow(
        "aws",
        customer,
        f"acct-{customer}",
        "gpu",
        "gpu_usage",
        hour,
        state,
        Decimal(quantity),
        Decimal(quantity),
        Decimal(0),
        Decimal("0.01"),
        "USD",
        state in ("acknowledged", "duplicate"),
        sent_quantity=None if sent is None else Decimal(sent),
        tenant_id=tenant,
    )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("mp_dbt")
    path = root / "usagebill.duckdb"
    env = {
        **os.environ,
        "USAGEBILL_WAREHOUSE": str(path),
        "USAGEBILL_RAW_DIR": str(root / "raw"),
        "USAGEBILL_DATA_DIR": str(root / "data"),
        "USAGEBILL_CATALOG_DIR": str(root / "data" / "catalog"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    # catalog: one AWS listing, meter gpu_ms -> gpu_usage at USD 0.01; customers 1..5 on AWS from May 1st,
    # customer 9 only from 2026-07-01 (its May subscription bills through Stripe)
    catalog = make_catalog({"aws": [dim("aws", "gpu_usage")]})
    idents = [aws_ident(n) for n in (1, 2, 3, 4, 5)]
    idents.append(aws_ident(9, (StatePeriod("subscribed", datetime(2026, 7, 1, tzinfo=UTC)),)))
    # tenants (issue 11): cus_0001 of tenant globex is another customer with its own AWS account; cus_0001
    # of tenant initech has no marketplace identity (it bills through Stripe)
    idents.append(aws_ident(1, tenant="globex", account_n=101))
    write_catalog_tables(
        catalog, idents, root / "raw" / "marketplace", fx=load_fx_rates(EXAMPLES / "marketplace_fx_rates.csv")
    )
    feed = root / "aws_feed.csv"
    feed.write_text(
        "billing_event_id,end_user_account_id,product_id,action,transaction_type,amount,currency,invoice_date,invoice_id\n"
        "be-1,000000000001,prod-aws,INVOICED,SELLER_REV_SHARE,1.90,USD,2026-05-31,inv-1\n"
        "be-2,000000000004,prod-aws,INVOICED,SELLER_REV_SHARE,2.50,USD,2026-05-31,inv-4\n"
    )
    load_revenue_feeds({"aws_billing_events": [feed]}, root / "raw" / "marketplace")

    con = duckdb.connect(str(path))
    try:
        for schema in ("intermediate", "billing", "staging"):
            con.execute(f"create schema if not exists {schema}")
        con.execute(
            "create table staging.stg_catalog__currencies as select 'USD' as currency, 2 as minor_unit"
        )
        con.execute(
            """create table intermediate.int_marketplace__billed_hourly (tenant_id varchar, customer_id varchar, meter_id varchar,
            dimensions_json varchar, hour_start timestamp, subscription_id varchar, period_start date,
            usage_quantity decimal(38,12), provisional_amount decimal(38,12), billed_amount decimal(38,12),
            is_final boolean, currency varchar)"""
        )
        billed = [
            ("cus_0001", H12, "1.50", "USD"),
            ("cus_0001", H13, "0.40", "USD"),
            ("cus_0002", H12, "10.00", "EUR"),  # EUR 10.00 x 1.0850 = USD 10.85
            ("cus_0003", H12, "1.00", "USD"),
            ("cus_0004", H12, "2.00", "USD"),
            ("cus_0005", H12, "5.00", "CHF"),  # no CHF -> USD rate
        ]
        con.executemany(
            "insert into intermediate.int_marketplace__billed_hourly values (?, ?, 'gpu_ms', '{}', ?, ?, "
            "'2026-05-01', 0, ?, ?, false, ?)",
            [["default", c, h.replace(tzinfo=None), f"sub_{c}", a, a, cur] for c, h, a, cur in billed]
            # globex's cus_0001: $3.00 billed, 300 units accepted -> ok, and never mixed with default's
            + [
                ["globex", "cus_0001", H12.replace(tzinfo=None), "sub_globex_cus_0001", "3.00", "3.00", "USD"]
            ],
        )
        con.execute(
            """create table billing.fct_billing_lines (billing_line_id varchar, tenant_id varchar, customer_id varchar,
            subscription_id varchar, plan_id varchar, service_start date, service_end date,
            amount decimal(38,12), currency varchar)"""
        )
        con.executemany(
            "insert into billing.fct_billing_lines values (?, ?, ?, ?, 'payg', ?, ?, 1, 'USD')",
            [
                ["bl1", "default", "cus_0001", "sub_cus_0001", "2026-05-01", "2026-06-01"],
                ["bl2", "default", "cus_0009", "sub_cus_0009_may", "2026-05-01", "2026-06-01"],
                ["bl3", "default", "cus_0009", "sub_cus_0009_jul", "2026-07-01", "2026-08-01"],
                ["bl4", "default", "cus_0100", "sub_cus_0100", "2026-05-01", "2026-06-01"],
                ["bl5", "globex", "cus_0001", "sub_globex_cus_0001", "2026-05-01", "2026-06-01"],
                ["bl6", "initech", "cus_0001", "sub_initech_cus_0001", "2026-05-01", "2026-06-01"],
            ],
        )
    finally:
        con.close()

    ledger = Ledger(path, run_id="test")
    ledger.append(
        [
            _row("cus_0001", H12, "acknowledged", "150"),
            _row("cus_0001", H13, "acknowledged", "40"),
            _row("cus_0002", H12, "acknowledged", "1085"),
            _row("cus_0003", H12, "duplicate", "120", sent="100"),  # we sent 100; the marketplace holds 120
            _row("cus_0004", H12, "acknowledged", "200"),
            _row("cus_0004", H13, "failed", "0"),
            _row("cus_0001", H12, "acknowledged", "300", tenant="globex"),
        ]
    )
    _dbt(
        root,
        env,
        "run",
        "--select",
        "stg_marketplace__identities stg_marketplace__dimensions stg_marketplace__fx_rates "
        "stg_marketplace__fees stg_marketplace__reports stg_marketplace__aws_billing_events "
        "stg_marketplace__azure_transactions stg_marketplace__google_usage_reports "
        "int_marketplace__revenue_lines fct_marketplace_revenue fct_marketplace_reporting_ledger "
        "fct_marketplace_reconciliation int_marketplace__subscription_channels",
    )
    return root, path, env


def test_one_billing_channel_per_subscription(warehouse):
    _root, path, _env = warehouse
    rows = dict(
        query(
            path,
            "select subscription_id, billing_channel from intermediate.int_marketplace__subscription_channels",
        )
    )
    assert rows == {
        "sub_cus_0001": "aws",  # AWS identity subscribed during May
        "sub_cus_0009_may": "stripe",  # the AWS subscription only starts on July 1st
        "sub_cus_0009_jul": "aws",
        "sub_cus_0100": "stripe",  # no marketplace identity
        "sub_globex_cus_0001": "aws",  # globex's cus_0001 has its own AWS identity
        # initech's cus_0001 has none: before the fix it matched the default tenant's cus_0001 (aws)
        "sub_initech_cus_0001": "stripe",
    }


def test_reconciliation_flags_exactly_the_disagreeing_customers(warehouse):
    _root, path, _env = warehouse
    rows = {
        r[0]: r[1:]
        for r in query(
            path,
            "select customer_id, billed_amount, accepted_amount, outstanding_amount, feed_billed_amount, status "
            "from marketplace.fct_marketplace_reconciliation where reconciliation_month = date '2026-05-01' "
            "and tenant_id = 'default'",
        )
    }
    # cus_0001: 1.50 + 0.40 = 1.90 billed; 150 + 40 units x 0.01 = 1.90 accepted; feed 1.90 -> ok
    assert rows["cus_0001"] == (Decimal("1.9"), Decimal("1.9"), Decimal("0"), Decimal("1.9"), "ok")
    # cus_0002: EUR 10.00 x 1.0850 = USD 10.85 billed; 1,085 units x 0.01 = 10.85 accepted -> ok
    assert (
        rows["cus_0002"][:3] == (Decimal("10.85"), Decimal("10.85"), Decimal("0"))
        and rows["cus_0002"][4] == "ok"
    )
    # cus_0003: billed 1.00, AWS holds 1.20 -> outstanding -0.20: over-reported
    assert rows["cus_0003"][2] == Decimal("-0.2") and rows["cus_0003"][4] == "over_reported"
    # cus_0004: accepted 2.00 but the billing feed billed 2.50 -> feed mismatch
    assert rows["cus_0004"][3] == Decimal("2.5") and rows["cus_0004"][4] == "feed_mismatch"
    assert rows["cus_0005"][4] == "no_rate"
    # only these customers' AWS exports are blocked; Azure / Google have none
    assert blocked_customers("aws", path) == {("default", c) for c in ("cus_0003", "cus_0004", "cus_0005")}
    assert blocked_customers("azure", path) == set()
    # globex's cus_0001 is its own customer-month: billed 3.00, accepted 300 x 0.01 = 3.00, no feed -> ok.
    # Before the fix the two cus_0001 were one row: billed 1.90 + 3.00, accepted 1.90 + 3.00, and the
    # default tenant's feed (1.90) against 4.90 accepted -> feed_mismatch, blocking both.
    assert query(
        path,
        "select billed_amount, accepted_amount, outstanding_amount, status from "
        "marketplace.fct_marketplace_reconciliation where tenant_id = 'globex'",
    ) == [(Decimal("3"), Decimal("3"), Decimal("0"), "ok")]
    assert query(
        path,
        "select tenant_id, quantity from marketplace.fct_marketplace_reporting_ledger "
        "where customer_id = 'cus_0001' and hour_start = timestamp '2026-05-10 12:00:00' order by tenant_id",
    ) == [("default", Decimal("150")), ("globex", Decimal("300"))]
    # the ledger mart flags the Duplicate whose marketplace quantity differs: 100 sent - 120 held = -20
    assert query(
        path,
        "select customer_id, quantity, sent_quantity, quantity_difference from "
        "marketplace.fct_marketplace_reporting_ledger where quantity_differs",
    ) == [("cus_0003", Decimal("120"), Decimal("100"), Decimal("-20"))]


def test_revenue_by_channel_counts_each_sale_once(warehouse):
    root, path, env = warehouse
    con = duckdb.connect(str(path))
    try:
        con.execute(
            """create or replace table billing.fct_invoices (invoice_id varchar, tenant_id varchar, customer_id varchar,
            subscription_id varchar, currency varchar, period_start date, period_end date,
            subtotal decimal(38,12), billing_channel varchar)"""
        )
        con.executemany(
            "insert into billing.fct_invoices values (?, ?, ?, ?, 'USD', ?, ?, ?, ?)",
            [
                # cus_0001 buys through AWS: its invoice stays in the books but is not a direct sale
                ["in1", "default", "cus_0001", "sub_cus_0001", "2026-05-01", "2026-06-01", "1.90", "aws"],
                ["in2", "default", "cus_0100", "sub_cus_0100", "2026-05-01", "2026-06-01", "50.00", "stripe"],
                [
                    "in3",
                    "default",
                    "cus_0009",
                    "sub_cus_0009_may",
                    "2026-05-01",
                    "2026-06-01",
                    "7.00",
                    "stripe",
                ],
                # initech's cus_0001 buys directly: a direct sale, although the default tenant's cus_0001
                # has an AWS identity (before the fix the test below flagged it as a marketplace period)
                [
                    "in4",
                    "initech",
                    "cus_0001",
                    "sub_initech_cus_0001",
                    "2026-05-01",
                    "2026-06-01",
                    "20.00",
                    "stripe",
                ],
            ],
        )
        # fct_revenue_by_channel takes channel MRR from analytics.fct_mrr (one MRR); billed amounts,
        # asserted here, come from the invoices and the feeds. An empty MRR mart is enough.
        con.execute("create schema if not exists analytics")
        con.execute(
            "create or replace table analytics.fct_mrr (tenant_id varchar, customer_id varchar, month_start date, "
            "currency varchar, mrr decimal(38,12))"
        )
    finally:
        con.close()
    _dbt(
        root,
        env,
        "build",
        "--select",
        "int_marketplace__invoice_channels fct_revenue_by_channel "
        "assert_revenue_by_channel_counts_each_sale_once",
    )
    rows = {
        r[0]: r[1:]
        for r in query(
            path,
            "select channel, billed_amount, customers from marketplace.fct_revenue_by_channel "
            "where revenue_month = date '2026-05-01'",
        )
    }
    # direct = Stripe-channel invoices only: 50.00 + 7.00 + 20.00 = 77.00 from 3 customers (cus_0100,
    # cus_0009, initech/cus_0001); AWS = the feed's 1.90 + 2.50 = 4.40 from 2 (cus_0001, cus_0004)
    assert rows == {"direct": (Decimal("77"), 3), "aws": (Decimal("4.4"), 2)}
