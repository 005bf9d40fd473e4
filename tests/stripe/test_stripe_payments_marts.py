"""Payments marts built by dbt from landed Stripe events; every expected figure is computed by hand."""

from __future__ import annotations

import os
import subprocess
from calendar import timegm
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from exports.stripe.events import EventStore
from usagebill.dbt_cli import dbt_path_args

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# invoice_id, currency, total_minor, issue_date, due_date
INVOICES = [
    ("I1", "USD", 51234, "2026-11-04", "2026-12-04"),
    ("I2", "USD", 10000, "2026-10-16", "2026-11-15"),
    ("I3", "JPY", 1234, "2026-09-01", "2026-09-30"),
    ("I4", "USD", 5000, "2026-07-01", "2026-08-01"),
    ("I5", "USD", 2000, "2026-09-15", "2026-10-15"),
    ("I6", "USD", 3000, "2026-09-01", "2026-10-01"),
    ("I7", "USD", 4000, "2026-09-01", "2026-10-01"),
    ("I8", "USD", 1000, "2026-09-01", "2026-10-01"),
    ("I9", "USD", 9900, "2026-12-02", "2027-01-01"),
    ("I10", "ISK", 15000, "2026-11-01", "2026-11-20"),
    ("I11", "USD", 30, "2026-11-01", "2026-11-20"),
    ("I12", "ISK", 15000, "2026-11-01", "2026-12-20"),
    # I13: a customer buying through AWS Marketplace; AWS collects it (no Stripe event ever)
    ("I13", "USD", 7000, "2026-09-01", "2026-10-01"),
]
# billing_channel of an invoice (default: stripe)
CHANNELS = {"I13": "aws"}


def ts(text: str) -> int:
    return timegm(datetime.fromisoformat(text).timetuple())


def inv_event(
    n: int,
    type_: str,
    at: str,
    inv: str,
    currency: str,
    status: str,
    total: int,
    remaining: int,
    paid: int = 0,
    attempts: int = 0,
) -> dict:
    return {
        "id": f"evt_{n:04d}",
        "object": "event",
        "type": type_,
        "created": ts(at),
        "livemode": False,
        "data": {
            "object": {
                "id": f"in_{inv}",
                "object": "invoice",
                "currency": currency.lower(),
                "status": status,
                "total": total,
                "amount_due": total - 0,
                "amount_paid": paid,
                "amount_remaining": remaining,
                "attempt_count": attempts,
                "metadata": {"usagebill_invoice_id": inv, "usagebill_customer_id": "c1"},
            }
        },
    }


EVENTS = [
    # I1: never reached Stripe -> owed in full
    inv_event(1, "invoice.finalized", "2026-10-16T10:00:00", "I2", "USD", "open", 10000, 10000),
    # I2: a 25.00 credit note on the open invoice leaves 75.00 to pay
    inv_event(2, "invoice.updated", "2026-11-20T10:00:00", "I2", "USD", "open", 10000, 7500),
    inv_event(3, "invoice.finalized", "2026-09-01T10:00:00", "I3", "JPY", "open", 1234, 1234),
    inv_event(
        4, "invoice.payment_failed", "2026-11-02T10:00:00", "I3", "JPY", "open", 1234, 1234, attempts=1
    ),
    inv_event(5, "invoice.finalized", "2026-07-01T10:00:00", "I4", "USD", "open", 5000, 5000),
    inv_event(
        6, "invoice.payment_failed", "2026-11-10T10:00:00", "I5", "USD", "open", 2000, 2000, attempts=1
    ),
    inv_event(7, "invoice.paid", "2026-11-20T10:00:00", "I5", "USD", "paid", 2000, 0, paid=2000, attempts=2),
    inv_event(8, "invoice.finalized", "2026-09-01T10:00:00", "I6", "USD", "open", 3000, 3000),
    # paid at the first instant after the as-of day: still owed as of 2026-11-30 (half-open cutoff)
    inv_event(9, "invoice.paid", "2026-12-01T00:00:00", "I6", "USD", "paid", 3000, 0, paid=3000, attempts=1),
    inv_event(10, "invoice.voided", "2026-10-05T10:00:00", "I7", "USD", "void", 4000, 4000),
    inv_event(
        11, "invoice.payment_failed", "2026-11-05T10:00:00", "I8", "USD", "open", 1000, 1000, attempts=1
    ),
    inv_event(
        12,
        "invoice.marked_uncollectible",
        "2026-11-25T10:00:00",
        "I8",
        "USD",
        "uncollectible",
        1000,
        1000,
        attempts=1,
    ),
    # I10: 15,000 ISK paid; Stripe's API keeps ISK two-decimal: 1500000 = 15,000.00 ISK
    inv_event(20, "invoice.paid", "2026-11-10T10:00:00", "I10", "ISK", "paid", 1500000, 0, paid=1500000),
    # I11: 0.30 USD is below Stripe's 0.50 USD minimum: marked paid with nothing charged, 30 cents carried
    inv_event(21, "invoice.paid", "2026-11-10T10:00:00", "I11", "USD", "paid", 30, 0, paid=0),
    # I12: 15,000 ISK open, 5,000 ISK paid: 1000000 Stripe units remain = 10,000 ISK owed
    inv_event(22, "invoice.finalized", "2026-11-01T10:00:00", "I12", "ISK", "open", 1500000, 1000000),
]


def dbt(args: list[str], env: dict[str, str], tmp: Path) -> None:
    cmd = [
        str(ROOT / ".venv" / "bin" / "dbt"),
        *args,
        *dbt_path_args(ROOT / "dbt_project", tmp),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT / "dbt_project", timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


@pytest.fixture(scope="module")
def marts(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    tmp = tmp_path_factory.mktemp("payments_marts")
    db, raw = tmp / "usagebill.duckdb", tmp / "raw"
    con = duckdb.connect(str(db))
    con.execute("create schema billing")
    con.execute(
        "create table billing.fct_invoices (invoice_id varchar, invoice_number varchar, customer_id varchar,"
        " currency varchar, issue_date date, due_date date, total decimal(38, 12), total_minor bigint,"
        " status varchar, tenant_id varchar, billing_channel varchar)"
    )
    for inv_id, cur, minor, issue, due in INVOICES:
        total = Decimal(minor) if cur in ("JPY", "ISK") else Decimal(minor) / 100
        con.execute(
            "insert into billing.fct_invoices values (?, ?, 'c1', ?, ?, ?, ?, ?, 'issued', 't1', ?)",
            [inv_id, f"UB-{inv_id}", cur, issue, due, total, minor, CHANNELS.get(inv_id, "stripe")],
        )
    con.close()
    EventStore(raw / "stripe_events").land(EVENTS, source="polling")
    env = dict(
        os.environ,
        USAGEBILL_WAREHOUSE=str(db),
        USAGEBILL_RAW_DIR=str(raw),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    dbt(["seed", "--select", "invoicing_currency_minor_units", "stripe_currency_units"], env, tmp)
    select = [
        "--select",
        "path:models/staging/stripe",
        "path:models/marts/payments",
        "path:tests/singular/payments",
    ]
    dbt(["build", *select, "--vars", "{as_of_date: '2026-11-30'}"], env, tmp)
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def test_ar_aging_buckets_by_hand(marts):
    rows = marts.execute(
        "select invoice_id, aging_bucket, days_past_due, outstanding_amount, currency "
        "from payments.fct_ar_aging order by invoice_id"
    ).fetchall()
    assert rows == [
        # due 2026-12-04, as of 2026-11-30: 4 days before due -> current; no Stripe event: all 512.34 owed
        ("I1", "current", -4, Decimal("512.34"), "USD"),
        # 1000000 Stripe units / 100 = 10,000 ISK (ISO: 0 decimals); due 12-20 -> 20 days before due: current
        ("I12", "current", -20, Decimal("10000"), "ISK"),
        # due 11-15 -> 15 days past due; 100.00 - 25.00 credit note = 75.00
        ("I2", "1-30", 15, Decimal("75.00"), "USD"),
        # due 09-30 -> 31 (Oct) + 30 (Nov) = 61 days; ¥1,234
        ("I3", "61-90", 61, Decimal("1234"), "JPY"),
        # due 08-01 -> 30 (rest of Aug) + 30 + 31 + 30 = 121 days
        ("I4", "90+", 121, Decimal("50.00"), "USD"),
        # due 10-01 -> 30 + 30 = 60 days (the 31-60 upper boundary); paid only on 12-01 00:00, after the cutoff
        ("I6", "31-60", 60, Decimal("30.00"), "USD"),
    ]  # I5 paid, I7 void, I8 uncollectible, I9 issued after the as-of date: not receivable;
    # I13 (70.00, 60 days past due, never in Stripe) is an AWS Marketplace invoice: AWS collects it,
    # so without the channel filter it would wrongly show as 70.00 owed via Stripe in 31-60
    assert marts.execute(
        "select distinct tenant_id, billing_channel from payments.fct_ar_aging"
    ).fetchall() == [("t1", "stripe")]


def test_dunning_and_revenue_recovery_by_hand(marts):
    dunning = marts.execute(
        "select usagebill_invoice_id, dunning_state, failed_attempts from payments.fct_dunning order by 1"
    ).fetchall()
    # I5 failed once (attempt 1) and was paid on attempt 2: one failed attempt
    assert dunning == [("I3", "retrying", 1), ("I5", "recovered", 1), ("I8", "written_off", 1)]
    recovery = marts.execute(
        "select currency, failure_month, failed_invoices, failed_amount, recovered_amount, "
        "written_off_amount, retrying_amount, recovery_rate from payments.fct_revenue_recovery "
        "order by currency"
    ).fetchall()
    assert recovery == [
        (
            "JPY",
            datetime(2026, 11, 1).date(),
            1,
            Decimal("1234"),
            Decimal("0"),
            Decimal("0"),
            Decimal("1234"),
            Decimal("0"),
        ),
        # USD: I5 20.00 recovered + I8 10.00 written off = 30.00 failed; 20 / 30 = 0.666666666667 (12 dp, half-up)
        (
            "USD",
            datetime(2026, 11, 1).date(),
            2,
            Decimal("30.00"),
            Decimal("20.00"),
            Decimal("10.00"),
            Decimal("0"),
            Decimal("0.666666666667"),
        ),
    ]


def test_payments_by_hand(marts):
    rows = marts.execute(
        "select usagebill_invoice_id, amount_paid, is_recovered, failed_attempts_before_payment, "
        "carried_to_balance, is_below_minimum from payments.fct_payments order by 1"
    ).fetchall()
    assert rows == [
        # ISK: 1500000 Stripe units x 0.01 = 15000.00 ISK (not 1,500,000 krona)
        ("I10", Decimal("15000.00"), False, 0, Decimal("0.00"), False),
        # below the 0.50 USD minimum: 0.00 paid, 0.30 carried to the customer balance
        ("I11", Decimal("0.00"), False, 0, Decimal("0.30"), True),
        ("I5", Decimal("20.00"), True, 1, Decimal("0.00"), False),
        ("I6", Decimal("30.00"), False, 0, Decimal("0.00"), False),
    ]
