"""Fixtures for the invoicing tests: an isolated warehouse whose upstream tables (billing lines,
customers, subscriptions, usage journal) are written directly at their documented contract, so the
invoicing models are tested on hand-computed inputs without depending on rating's output.

Scenario (all amounts hand-computed in the tests):
- issuer GPU Cloud SAS, France (FR40123456789), prefix UB-{year}-, 30 days payment terms;
- cus_us  (US business, USD, starter): $500 fee in advance + GPU overage + API calls;
- cus_de  (DE business with VAT id, EUR): 1000.00 of usage -> EU reverse charge;
- cus_fr  (FR business, EUR): 250.00 of usage -> 20 % French VAT exclusive;
- cus_gb  (GB individual, GBP): 120.00 of usage, 20 % VAT inclusive;
- cus_exempt (FR, tax exempt, EUR): 80.00 of usage;
- cus_jp  (JP business, JPY): 12345.5 JPY of usage -> JPY has no minor unit.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.warehouse import query
from usagebill.dbt_cli import dbt_path_args

ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT = Path(os.environ.get("USAGEBILL_TEST_DBT_PROJECT", ROOT / "dbt_project"))
DBT = ROOT / ".venv" / "bin" / "dbt"

ISSUER_YAML = """
issuer:
  id: gpu_cloud_sas
  legal_name: GPU Cloud SAS
  address: {line1: 12 rue de la Paix, city: Paris, postal_code: "75002", country: FR}
  country: FR
  tax_id: FR40123456789
  email: billing@gpucloud.example
  invoice_prefix: "UB-{year}-"
  credit_note_prefix: "UBCN-{year}-"
  number_width: 6
  payment_terms_days: 30
"""

TAX_RATES_YAML = """
tax_rates:
  - {id: fr_vat_20, name: TVA, country: FR, percent: "20", inclusive: false, valid_from: 2014-01-01}
  - {id: de_vat_19, name: MwSt, country: DE, percent: "19", inclusive: false, valid_from: 2007-01-01}
  - {id: gb_vat_20_incl, name: VAT, country: GB, customer_type: individual, percent: "20", inclusive: true,
     valid_from: 2011-01-04}
  - {id: jp_ct_10, name: Consumption tax, country: JP, percent: "10", inclusive: false, valid_from: 2019-10-01}
  - {id: out_of_scope, name: Out of scope, country: "*", percent: "0", inclusive: false, valid_from: 2000-01-01}
"""

CUSTOMERS = [
    # customer_id, name, country, currency, type, tax_id, exempt, address
    (
        "cus_de",
        "Berlin Robotics GmbH",
        "DE",
        "EUR",
        "business",
        "DE123456789",
        False,
        {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"},
    ),
    (
        "cus_exempt",
        "Fondation Exemple",
        "FR",
        "EUR",
        "business",
        "FR99999999999",
        True,
        {"line1": "1 place du Parvis", "city": "Lyon", "postal_code": "69001", "country": "FR"},
    ),
    (
        "cus_fr",
        "Lyon Vision SARL",
        "FR",
        "EUR",
        "business",
        "FR11222333444",
        False,
        {"line1": "3 quai du Rhone", "city": "Lyon", "postal_code": "69002", "country": "FR"},
    ),
    (
        "cus_gb",
        "Ada Lovelace",
        "GB",
        "GBP",
        "individual",
        None,
        False,
        {"line1": "10 Baker St", "city": "London", "postal_code": "NW1 6XE", "country": "GB"},
    ),
    (
        "cus_jp",
        "Tokyo Render KK",
        "JP",
        "JPY",
        "business",
        None,
        False,
        {"line1": "1-1 Chiyoda", "city": "Tokyo", "postal_code": "100-0001", "country": "JP"},
    ),
    (
        "cus_us",
        "Acme Robotics",
        "US",
        "USD",
        "business",
        None,
        False,
        {"line1": "1 Main St", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US"},
    ),
]

MAY = ("2026-05-01", "2026-06-01")
JUNE = ("2026-06-01", "2026-07-01")
JULY = ("2026-07-01", "2026-08-01")


def billing_line(
    line_id: str,
    customer: str,
    currency: str,
    charge: str,
    name: str,
    line_type: str,
    timing: str,
    period: tuple[str, str],
    quantity: str,
    unit_price: str | None,
    amount: str,
    seq: int = 1,
    dims: dict[str, str] | None = None,
    plan: str = "payg",
) -> dict[str, Any]:
    return {
        "billing_line_id": line_id,
        "customer_id": customer,
        "subscription_id": f"sub_{customer[4:]}",
        "plan_id": plan,
        "plan_version": 1,
        "charge_id": charge,
        "charge_name": name,
        "price_model": "per_unit",
        "line_type": line_type,
        "billing_timing": timing,
        "period_start": period[0],
        "period_end": period[1],
        "service_start": period[0],
        "service_end": period[1],
        "meter_id": None if line_type != "usage" else charge,
        "quantity": quantity,
        "unit_price": unit_price,
        "tier_breakdown_json": None,
        "amount": amount,
        "amount_rounded": amount,
        "currency": currency,
        "dimensions_json": json.dumps(dims or {}),
        "sequence_in_period": seq,
        "price_id": None,
    }


def usage_line(
    line_id: str, customer: str, currency: str, charge: str, name: str, *figures: Any, **extra: Any
) -> dict[str, Any]:
    """A usage line, billed in arrears (its meter is the charge); `figures` are billing_line's period,
    quantity, unit price and amount."""
    return billing_line(line_id, customer, currency, charge, name, "usage", "in_arrears", *figures, **extra)


def base_billing_lines() -> list[dict[str, Any]]:
    us, h100 = "cus_us", {"gpu_type": "h100"}
    starter_fees = [
        billing_line(
            f"bl_us_fee_{month}", us, "USD", "starter_fee", "Starter plan", "recurring_fee", "in_advance",
            period, "1", "500", "500", plan="starter",
        )
        for month, period in (("may", MAY), ("jun", JUNE), ("jul", JULY))
    ]  # fmt: skip
    # line id, customer, currency, quantity (GPU ms), unit price, amount = quantity x unit price
    gpu_lines = [
        ("bl_de_gpu_may", "cus_de", "EUR", "100000000", "0.00001", "1000"),
        ("bl_fr_gpu_may", "cus_fr", "EUR", "25000000", "0.00001", "250"),
        ("bl_gb_gpu_may", "cus_gb", "GBP", "12000000", "0.00001", "120"),
        ("bl_exempt_gpu_may", "cus_exempt", "EUR", "8000000", "0.00001", "80"),
        ("bl_jp_gpu_may", "cus_jp", "JPY", "1234550", "0.01", "12345.5"),
    ]
    return [
        *starter_fees,
        usage_line(
            "bl_us_gpu_incl_may", us, "USD", "gpu_included", "GPU time included", MAY, "50000000", "0", "0",
            seq=1, dims=h100, plan="starter",
        ),
        # 60,000,000 ms used - 50,000,000 included = 10,000,000 ms = 10,000 x 1K ms x $0.009 = $90.00
        usage_line(
            "bl_us_gpu_over_may", us, "USD", "gpu_overage", "GPU time overage", MAY, "10000000", "0.000009",
            "90.000000000000", seq=2, dims=h100, plan="starter",
        ),
        # 12,345 calls x $0.50 / 1K = $6.1725 -> $6.17 (half-up at the cent)
        usage_line(
            "bl_us_api_may", us, "USD", "api_calls", "API calls", MAY, "12345", "0.0005", "6.1725", seq=3,
            plan="starter",
        ),
        # 250 calls x $0.0005 = $0.125 -> $0.13 (a half cent rounds up)
        usage_line(
            "bl_us_api_half_may", us, "USD", "api_calls_eu", "API calls (EU region)", MAY, "250", "0.0005",
            "0.125", seq=4, plan="starter",
        ),
        usage_line(
            "bl_us_gpu_incl_jun", us, "USD", "gpu_included", "GPU time included", JUNE, "20000000", "0", "0",
            seq=1, dims=h100, plan="starter",
        ),
        *(
            usage_line(line_id, customer, currency, "gpu_ms", "GPU time", MAY, quantity, price, amount)
            for line_id, customer, currency, quantity, price, amount in gpu_lines
        ),
    ]  # fmt: skip


def base_journal() -> list[dict[str, Any]]:
    # the May API calls of cus_us, all arrived before the invoice was issued (2026-06-04)
    return [
        {
            "customer_id": "cus_us",
            "meter_id": "api_calls",
            "event_id": "ev_api_1",
            "event_ts": "2026-05-20 10:00:00",
            "arrived_at": "2026-05-20 10:00:05",
            "quantity": "12345",
        },
    ]


@dataclass
class Warehouse:
    root: Path
    env: dict[str, str]

    @property
    def path(self) -> Path:
        return Path(self.env["USAGEBILL_WAREHOUSE"])

    def write_upstream(
        self,
        billing_lines: list[dict[str, Any]],
        journal: list[dict[str, Any]],
        credit_grants: list[dict[str, Any]] | None = None,
    ) -> None:
        """(Re)create the upstream tables at their contract columns and types."""
        con = duckdb.connect(str(self.path))
        try:
            for schema in ("billing", "staging", "usage"):
                con.execute(f"create schema if not exists {schema}")
            con.execute("drop table if exists billing.fct_billing_lines")
            con.execute(
                """create table billing.fct_billing_lines (billing_line_id varchar, customer_id varchar,
                subscription_id varchar, plan_id varchar, plan_version integer, charge_id varchar,
                charge_name varchar, price_model varchar, line_type varchar, billing_timing varchar,
                period_start date, period_end date, service_start date, service_end date, meter_id varchar,
                quantity decimal(38,12), unit_price decimal(38,12),
                tier_breakdown_json varchar, amount decimal(38,12), amount_rounded decimal(38,12),
                currency varchar, dimensions_json varchar, sequence_in_period integer, price_id varchar)"""
            )
            columns = list(billing_lines[0])
            con.executemany(
                f"insert into billing.fct_billing_lines ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
                [[row[c] for c in columns] for row in billing_lines],
            )
            # a customer is (tenant_id, customer_id); these fixtures are all the default tenant's
            con.execute(
                "alter table billing.fct_billing_lines add column tenant_id varchar default 'default'"
            )
            con.execute("drop table if exists staging.stg_catalog__customers")
            con.execute(
                """create table staging.stg_catalog__customers (customer_id varchar, name varchar, email varchar,
                country varchar, currency varchar, customer_type varchar, tax_id varchar, tax_exempt boolean,
                created_at date, address_json varchar)"""
            )
            con.executemany(
                "insert into staging.stg_catalog__customers values (?, ?, ?, ?, ?, ?, ?, ?, '2026-01-01', ?)",
                [
                    [c[0], c[1], f"billing@{c[0]}.example", c[2], c[3], c[4], c[5], c[6], json.dumps(c[7])]
                    for c in CUSTOMERS
                ],
            )
            con.execute(
                "alter table staging.stg_catalog__customers add column tenant_id varchar default 'default'"
            )
            con.execute("drop table if exists staging.stg_catalog__plan_charges")
            con.execute(
                "create table staging.stg_catalog__plan_charges (price_id varchar, included_units decimal(38,12))"
            )
            con.execute("drop table if exists staging.stg_catalog__subscriptions")
            con.execute(
                """create table staging.stg_catalog__subscriptions as
                select 'sub_' || substr(customer_id, 5) as subscription_id, tenant_id, customer_id, 'payg' as plan_id,
                    date '2026-05-01' as start_date, cast(null as date) as end_date, 1 as billing_anchor_day,
                    'month' as billing_period, 0 as trial_days, currency
                from staging.stg_catalog__customers"""
            )
            con.execute("drop table if exists staging.stg_catalog__credit_grants")
            con.execute(
                """create table staging.stg_catalog__credit_grants (grant_id varchar, tenant_id varchar,
                customer_id varchar, currency varchar, amount decimal(38,12), granted_at date, expires_at date,
                description varchar)"""
            )
            for grant in credit_grants or []:
                con.execute(
                    "insert into staging.stg_catalog__credit_grants values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        grant["grant_id"],
                        grant.get("tenant_id", "default"),
                        grant["customer_id"],
                        grant["currency"],
                        grant["amount"],
                        grant["granted_at"],
                        grant.get("expires_at"),
                        grant.get("description"),
                    ],
                )
            con.execute("drop table if exists usage.fct_usage_journal")
            con.execute(
                """create table usage.fct_usage_journal (tenant_id varchar, event_id varchar, customer_id varchar,
                meter_id varchar, event_ts timestamp, arrived_at timestamp, quantity decimal(38,12))"""
            )
            for j in journal:
                con.execute(
                    "insert into usage.fct_usage_journal values ('default', ?, ?, ?, ?, ?, ?)",
                    [
                        j["event_id"],
                        j["customer_id"],
                        j["meter_id"],
                        j["event_ts"],
                        j["arrived_at"],
                        j["quantity"],
                    ],
                )
        finally:
            con.close()

    def dbt(
        self, *args: str, as_of: str, extra_vars: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        dbt_vars = {"as_of_date": as_of, **(extra_vars or {})}
        command = [
            str(DBT),
            *args,
            "--vars",
            json.dumps(dbt_vars),
            *dbt_path_args(DBT_PROJECT, self.root),
        ]
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise AssertionError(
                f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
            )
        return result

    def build_invoicing(self, as_of: str, extra_vars: dict[str, str] | None = None) -> None:
        self.dbt("build", "--select", "tag:invoicing", as_of=as_of, extra_vars=extra_vars)

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return query(self.path, sql, params)


@pytest.fixture(scope="session")
def make_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Warehouse]:
    def make(name: str) -> Warehouse:
        from usagebill.invoices.tax_config import write_raw

        root = tmp_path_factory.mktemp(name)
        catalog = root / "data" / "catalog"
        catalog.mkdir(parents=True)
        (catalog / "issuer.yaml").write_text(ISSUER_YAML)
        (catalog / "tax_rates.yaml").write_text(TAX_RATES_YAML)
        env = {
            **os.environ,
            "USAGEBILL_WAREHOUSE": str(root / "usagebill.duckdb"),
            "USAGEBILL_RAW_DIR": str(root / "raw"),
            "USAGEBILL_DATA_DIR": str(root / "data"),
            "USAGEBILL_CATALOG_DIR": str(catalog),
            "USAGEBILL_REPORTS_DIR": str(root / "reports"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        write_raw(catalog, root / "raw")
        return Warehouse(root, env)

    return make


def run2_billing_lines() -> list[dict[str, Any]]:
    """Run 2 inputs: the late API-calls event adds 2,000 calls to May of cus_us, and the French
    customer's May line is restated from 250.00 to 200.00 (e.g. a corrected price)."""
    lines = base_billing_lines()
    for line in lines:
        if line["billing_line_id"] == "bl_us_api_may":
            # 14,345 calls x $0.50 / 1K = $7.1725 -> $7.17 (was $6.17: +$1.00)
            line["quantity"], line["amount"] = "14345", "7.1725"
        if line["billing_line_id"] == "bl_fr_gpu_may":
            line["quantity"], line["amount"] = "20000000", "200"
    # June usage line of cus_us: 20,000,000 included GPU ms (already present) + API calls in June
    lines.append(
        usage_line(
            "bl_us_api_jun", "cus_us", "USD", "api_calls", "API calls", JUNE, "4000", "0.0005", "2", seq=3,
            plan="starter",
        )
    )  # fmt: skip
    return lines


def run2_journal() -> list[dict[str, Any]]:
    return base_journal() + [
        {
            "customer_id": "cus_us",
            "meter_id": "api_calls",
            "event_id": "ev_api_late",
            "event_ts": "2026-05-31 23:59:00",
            "arrived_at": "2026-06-10 08:00:00",
            "quantity": "2000",
        },
    ]


@dataclass
class Scenario:
    warehouse: Warehouse
    run1_invoices: list[tuple[Any, ...]]
    run1_lines: list[tuple[Any, ...]]


INVOICE_COLUMNS = (
    "invoice_id, invoice_number, customer_id, currency, issue_date, due_date, subtotal, tax_amount, total, "
    "total_minor, period_start, period_end"
)
LINE_COLUMNS = "invoice_line_id, invoice_id, line_number, billing_line_id, amount, tax_amount, gross_amount"


def build_scenario(
    make_warehouse: Callable[[str], Warehouse], name: str, mode: str, rerun: bool = True
) -> Scenario:
    warehouse = make_warehouse(name)
    extra = {"late_usage_mode": mode}
    warehouse.write_upstream(base_billing_lines(), base_journal())
    warehouse.build_invoicing("2026-06-04", extra)
    run1_invoices = warehouse.query(f"select {INVOICE_COLUMNS} from billing.fct_issued_invoices order by 1")
    run1_lines = warehouse.query(f"select {LINE_COLUMNS} from billing.fct_invoice_lines order by 1")
    warehouse.write_upstream(run2_billing_lines(), run2_journal())
    warehouse.build_invoicing("2026-07-04", extra)
    if rerun:
        warehouse.build_invoicing("2026-07-04", extra)  # re-run: must add nothing
    return Scenario(warehouse, run1_invoices, run1_lines)


@pytest.fixture(scope="session")
def credit_note_scenario(make_warehouse: Callable[[str], Warehouse]) -> Scenario:
    return build_scenario(make_warehouse, "credit_note_mode", "credit_note")


@pytest.fixture(scope="session")
def adjustment_scenario(make_warehouse: Callable[[str], Warehouse]) -> Scenario:
    return build_scenario(make_warehouse, "adjustment_line_mode", "adjustment_line", rerun=False)
