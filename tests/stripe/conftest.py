"""Fixtures for the Stripe tests: the real SDK over HTTP against the fake on 127.0.0.1, or against Stripe
test mode when STRIPE_LIVE_TESTS=1 and STRIPE_API_KEY=sk_test_... (fault injection is fake-only)."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import stripe

from exports.fakes.stripe_server import serve
from exports.stripe.api import RetryPolicy, StripeApi
from exports.stripe.exporter import RunSummary, StripeExporter
from tests.isolation import isolate_paths

LIVE = os.environ.get("STRIPE_LIVE_TESTS") == "1" and os.environ.get("STRIPE_API_KEY", "").startswith(
    "sk_test_"
)


@dataclass
class Target:
    kind: str  # fake | live
    api_key: str
    base_url: str | None
    suffix: str  # appended to usagebill ids so live test-mode runs do not find each other's objects

    @property
    def is_fake(self) -> bool:
        return self.kind == "fake"

    def client(self) -> stripe.StripeClient:
        base = {"api": self.base_url} if self.base_url else None
        return stripe.StripeClient(self.api_key, base_addresses=base, max_network_retries=0)

    def api(self, hook: Any = None, max_attempts: int = 5) -> StripeApi:
        policy = RetryPolicy(max_attempts=max_attempts, base_seconds=0.01, cap_seconds=0.05)
        return StripeApi(self.client(), policy=policy, hook=hook, seed=7)

    def control(self, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> dict[str, Any]:
        if not self.is_fake:
            pytest.skip("fault injection and request counting exist only on the fake")
        data = json.dumps(body or {}).encode() if method == "POST" else None
        req = urllib.request.Request(f"{self.base_url}/_fake/{path}", data=data, method=method)
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read())

    def requests(self) -> list[dict[str, Any]]:
        return self.control("requests", method="GET")["requests"]

    def export(self, con: duckdb.DuckDBPyConnection, api: StripeApi | None = None, **kw: Any) -> RunSummary:
        """One quiet export run of the warehouse behind `con` to this target."""
        return StripeExporter(con, api or self.api(), progress=lambda m: None, **kw).run()


@pytest.fixture(scope="module")
def fake_server():
    server, url = serve()
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["fake", pytest.param("live", marks=pytest.mark.stripe_live)])
def target(request, fake_server) -> Target:
    if request.param == "live":
        if not LIVE:
            pytest.skip(
                "set STRIPE_LIVE_TESTS=1 and STRIPE_API_KEY=sk_test_... to run against Stripe test mode"
            )
        return Target("live", os.environ["STRIPE_API_KEY"], None, "_" + uuid.uuid4().hex[:8])
    t = Target("fake", "sk_test_usagebill_fake", fake_server, "")
    t.control("reset")
    return t


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_paths(tmp_path, monkeypatch, warehouse="usagebill.duckdb")
    for name in (
        "STRIPE_API_KEY",
        "STRIPE_API_BASE",
        "STRIPE_WEBHOOK_SECRET",
        "STRIPE_IGNORE_RECONCILIATION",
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def seed():
    """The warehouse seeding function (test modules cannot import siblings under --import-mode=importlib)."""
    return seed_warehouse


@pytest.fixture
def seeded_db(isolated_env: Path) -> Path:
    """The isolated warehouse, seeded by seed_warehouse."""
    db = isolated_env / "usagebill.duckdb"
    seed_warehouse(db)
    return db


@pytest.fixture
def con(seeded_db: Path):
    """An open connection to the warehouse seeded by seed_warehouse (any target), closed after the test."""
    connection = duckdb.connect(str(seeded_db))
    yield connection
    connection.close()


@pytest.fixture
def seeded_con(target: Target, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The `con` fixture, for the tests that read the fake's state or inject faults into it (skipped
    against live Stripe)."""
    if not target.is_fake:
        pytest.skip("reads the fake's state or injects faults: runs against the fake only")
    return con


BILLING_DDL = """
create schema if not exists billing;
create schema if not exists staging;
create table billing.fct_invoices (
    invoice_id varchar, invoice_number varchar, customer_id varchar, subscription_id varchar, currency varchar,
    period_start date, period_end date, issue_date date, due_date date, subtotal decimal(38, 12),
    tax_amount decimal(38, 12), total decimal(38, 12), total_minor bigint, status varchar);
create table billing.fct_invoice_lines (
    invoice_line_id varchar, invoice_id varchar, line_number integer, charge_id varchar, line_type varchar,
    description varchar, quantity decimal(38, 12), unit_price decimal(38, 12), amount decimal(38, 12),
    amount_minor bigint, tax_rate_id varchar, tax_amount decimal(38, 12), currency varchar, period_start date,
    period_end date, net_amount decimal(38, 12), tax_rate decimal(38, 12), is_tax_inclusive boolean);
create table billing.fct_credit_notes (
    credit_note_id varchar, credit_note_number varchar, kind varchar, original_invoice_id varchar,
    customer_id varchar, currency varchar, period_start date, period_end date, reason varchar,
    amount decimal(38, 12), amount_minor bigint, tax_amount decimal(38, 12), issue_date date);
create table billing.fct_credit_note_lines (
    credit_note_line_id varchar, credit_note_id varchar, line_number integer, charge_id varchar, line_type varchar,
    description varchar, quantity decimal(38, 12), unit_price decimal(38, 12), amount decimal(38, 12),
    amount_minor bigint, tax_rate_id varchar, tax_rate decimal(38, 12), tax_amount decimal(38, 12),
    net_amount decimal(38, 12), currency varchar, period_start date, period_end date);
create table staging.stg_catalog__customers (
    customer_id varchar, name varchar, email varchar, country varchar, currency varchar);
"""


def seed_warehouse(path: Path, suffix: str = "", notes: bool = False) -> dict[str, int]:
    """Three issued invoices and one draft. Expected totals in minor units, computed by hand:
    inv_a (USD): 500.00 + 12.34 = 512.34 USD = 51234 cents
    inv_b (JPY): 1234 yen, JPY has no minor unit = 1234
    inv_c (USD): 100.00 + 20% VAT 20.00 = 120.00 USD = 12000 cents
    With notes=True also: credit note cn_1 of 12.34 USD on inv_a (inv_a then has 51234 - 1234 = 50000 due)
    and debit note dn_1 of 100 JPY on inv_b (a new Stripe invoice of 100).
    """
    a, b, c, d = (f"inv_a{suffix}", f"inv_b{suffix}", f"inv_c{suffix}", f"inv_d{suffix}")
    acme, tokyo = f"cust_acme{suffix}", f"cust_tokyo{suffix}"
    con = duckdb.connect(str(path))
    con.execute(BILLING_DDL)
    con.executemany(
        "insert into billing.fct_invoices values (?, ?, ?, null, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        # invoice id, number, customer, currency, period start, period end, issue date, due date,
        # subtotal, tax, total, total in minor units, status
        [
            [a, "UB-0001", acme, "USD", "2026-10-01", "2026-11-01", "2026-11-04", "2026-12-04", "512.34", "0", "512.34", 51234, "issued"],
            [b, "UB-0002", tokyo, "JPY", "2026-10-01", "2026-11-01", "2026-11-04", "2026-11-18", "1234", "0", "1234", 1234, "issued"],
            [c, "UB-0003", acme, "USD", "2026-10-01", "2026-11-01", "2026-11-04", "2026-12-04", "100.00", "20.00", "120.00", 12000, "issued"],
            [d, "UB-0004", acme, "USD", "2026-11-01", "2026-12-01", "2026-12-04", "2027-01-03", "1.00", "0", "1.00", 100, "draft"],
        ],
    )  # fmt: skip
    con.executemany(
        "insert into billing.fct_invoice_lines values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, null, null)",
        # line id, invoice, line number, charge, line type, description, quantity, unit price, amount,
        # amount in minor units, tax rate id, tax amount, currency, period start, period end
        [
            [f"{a}-1", a, 1, "gpu_ms", "usage", "GPU time per 1K ms", "50000", "0.01", "500.00", 50000, None, "0", "USD", "2026-10-01", "2026-11-01"],
            [f"{a}-2", a, 2, "storage", "usage", "Storage GB-month", "1234", "0.01", "12.34", 1234, None, "0", "USD", "2026-10-01", "2026-11-01"],
            [f"{b}-1", b, 1, "gpu_ms", "usage", "GPU time", "1234", "1", "1234", 1234, None, "0", "JPY", "2026-10-01", "2026-11-01"],
            [f"{c}-1", c, 1, "platform", "recurring_fee", "Platform fee", "1", "100.00", "100.00", 10000, "vat_20", "20.00", "USD", "2026-10-01", "2026-11-01"],
            [f"{d}-1", d, 1, "platform", "usage", "Draft line", "1", "1.00", "1.00", 100, None, "0", "USD", "2026-11-01", "2026-12-01"],
        ],
    )  # fmt: skip
    con.execute("update billing.fct_invoice_lines set net_amount = amount")  # all test rates are exclusive
    con.execute(
        "update billing.fct_invoice_lines set tax_rate = 0.20, is_tax_inclusive = false where tax_rate_id = 'vat_20'"
    )
    con.executemany(
        "insert into staging.stg_catalog__customers values (?, ?, ?, ?, ?)",
        [
            [acme, "Acme GPU Labs", f"billing{suffix}@acme.example", "US", "USD"],
            [tokyo, "Tokyo Render KK", f"ap{suffix}@tokyo.example", "JP", "JPY"],
        ],
    )
    expected = {a: 51234, b: 1234, c: 12000}
    if notes:
        con.executemany(
            "insert into billing.fct_credit_notes values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    f"cn_1{suffix}",
                    "CN-0001",
                    "credit",
                    a,
                    acme,
                    "USD",
                    "2026-10-01",
                    "2026-11-01",
                    "storage overbilled",
                    "-12.34",
                    -1234,
                    "0",
                    "2026-11-10",
                ],
                [
                    f"dn_1{suffix}",
                    "DN-0001",
                    "debit",
                    b,
                    tokyo,
                    "JPY",
                    "2026-10-01",
                    "2026-11-01",
                    "late GPU usage",
                    "100",
                    100,
                    "0",
                    "2026-11-10",
                ],
            ],
        )
        # the debit note's one line: 10 more GPU-hours at 10 JPY, no tax = 100 JPY
        con.execute(
            "insert into billing.fct_credit_note_lines values (?, ?, 1, 'gpu_hours', 'adjustment', "
            "'Adjustment to invoice UB-0002: GPU hours', 10, 10, 100, 100, null, null, 0, 100, 'JPY', "
            "'2026-10-01', '2026-11-01')",
            [f"dn_1{suffix}:1", f"dn_1{suffix}"],
        )
        expected[f"dn_1{suffix}"] = 100
    con.close()
    return expected
