"""Pricing lab marts on hand-made inputs: margins under a candidate and marketplace price parity.

dbt builds the pricing_lab marts (the real models) on top of tables written here at their contract
columns: billing.fct_billing_lines (what production billed), the candidates' lines and prices as
`usagebill pricing backtest` writes them (raw/pricing_lab_lines, raw/pricing_lab_prices),
analytics.fct_margin_by_customer (the cost) and marketplace.fct_marketplace_price_parity.

May 2026, three customers; `default/cus_m` and `other/cus_m` are two tenants' customers with the same id:
- default/cus_m (plan payg, USD): billed 10.00 GPU + 5.00 fee = 15.00; cost 6.00 variable, 9.70 total
- default/cus_e (plan payg_eur, EUR): billed 100.00 EUR (x 1.08 = 108.00 USD); cost 20.00 variable, 30.00 total
- other/cus_m (plan payg, USD): billed 20.00; cost 1.00 variable, 4.00 total
Candidate `same` repeats every line; candidate `gpu_x2` doubles the payg GPU price ($0.02 per 1K ms):
default/cus_m 20.00 + 5.00 = 25.00, other/cus_m 30.00, and lowers cus_e to 90.00 EUR (97.20 USD).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.usage_models.conftest import Warehouse
from usagebill.pricing_lab import LINE_COLUMNS, read_margins

pytestmark = pytest.mark.slow

MAY = date(2026, 5, 1)
# tenant, customer, plan, charge, currency, amount billed, amount under gpu_x2
LINES = [
    ("default", "cus_m", "payg", "gpu", "USD", "10.00", "20.00"),
    ("default", "cus_m", "payg", "platform_fee", "USD", "5.00", "5.00"),
    ("default", "cus_e", "payg_eur", "gpu", "EUR", "100.00", "90.00"),
    ("other", "cus_m", "payg", "gpu", "USD", "20.00", "30.00"),
]
# tenant, customer, variable cost, total cost (reporting currency, May)
COSTS = [
    ("default", "cus_m", "6.00", "9.70"),
    ("default", "cus_e", "20.00", "30.00"),
    ("other", "cus_m", "1.00", "4.00"),
]
DEC = pa.decimal128(38, 12)


def write_candidate(raw, name: str, column: int, gpu_price: str) -> None:
    rows = [
        {
            "billing_line_id": f"bl_{i}",
            "tenant_id": tenant,
            "customer_id": customer,
            "subscription_id": f"sub_{customer}",
            "plan_id": plan,
            "charge_id": charge,
            "meter_id": "gpu_ms" if charge == "gpu" else None,
            "line_type": "usage" if charge == "gpu" else "recurring_fee",
            "period_start": MAY,
            "period_end": date(2026, 6, 1),
            "quantity": Decimal(1),
            "amount": Decimal(line[column]),
            "amount_rounded": Decimal(line[column]),
            "currency": currency,
            "window_start": MAY,
            "window_end": date(2026, 6, 1),
        }
        for i, line in enumerate(LINES)
        for tenant, customer, plan, charge, currency in [line[:5]]
    ]
    assert set(LINE_COLUMNS) <= set(rows[0])
    folder = raw / "pricing_lab_lines" / f"candidate={name}"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "lines.parquet")
    prices = pa.table(
        {
            "plan_id": ["payg"],
            "plan_version": pa.array([1], pa.int32()),
            "meter_id": ["gpu_ms"],
            "unit_price": pa.array([Decimal(gpu_price)], DEC),
            "unit_size": pa.array([Decimal(1000)], DEC),
        }
    )
    folder = raw / "pricing_lab_prices" / f"candidate={name}"
    folder.mkdir(parents=True)
    pq.write_table(prices, folder / "prices.parquet")


@pytest.fixture(scope="module")
def wh(tmp_path_factory) -> Warehouse:
    wh = Warehouse(tmp_path_factory.mktemp("lab_marts"))
    wh.raw.mkdir()
    con = duckdb.connect(str(wh.path))
    try:
        con.execute("create schema billing; create schema analytics; create schema marketplace")
        con.execute(
            """create table billing.fct_billing_lines (billing_line_id varchar, tenant_id varchar,
            customer_id varchar, plan_id varchar, period_start date, currency varchar,
            amount_rounded decimal(38,12))"""
        )
        for i, (tenant, customer, plan, _charge, currency, billed, _cand) in enumerate(LINES):
            con.execute(
                "insert into billing.fct_billing_lines values (?, ?, ?, ?, ?, ?, ?)",
                [f"bl_{i}", tenant, customer, plan, MAY, currency, billed],
            )
        con.execute(
            """create table analytics.fct_margin_by_customer (tenant_id varchar, customer_id varchar,
            month_start date, variable_cost_reporting decimal(38,12), total_cost_reporting decimal(38,12))"""
        )
        for tenant, customer, variable, total in COSTS:
            con.execute(
                "insert into analytics.fct_margin_by_customer values (?, ?, ?, ?, ?)",
                [tenant, customer, MAY, variable, total],
            )
        # AWS sells GPU hours at 36.00: the catalog's $0.01 per 1K ms x 3,600,000 ms = 36.00 -> ok at 1 %;
        # Azure's API calls have no per-unit catalog price
        con.execute(
            """create table marketplace.fct_marketplace_price_parity as select * from (values
            ('aws', 'off_gpu', 'gpu_hours', 'gpu_ms', 'payg', 1, 'hour', 'USD', 36.00::decimal(38,12),
             3600000::decimal(38,12), 36.00::decimal(38,12), 0::decimal(38,12), 1::decimal(38,12), 'ok'),
            ('azure', 'off_api', 'api_calls', 'api_calls', 'starter', 1, 'call', 'USD', 0.001::decimal(38,12),
             1::decimal(38,12), null::decimal(38,12), null::decimal(38,12), 1::decimal(38,12),
             'no_catalog_price'))
            t(marketplace, offering_id, dimension, meter_id, plan_id, plan_version, unit, currency,
              marketplace_price, meter_units_per_unit, catalog_price, difference_pct, tolerance_pct,
              parity_status)"""
        )
    finally:
        con.close()
    write_candidate(wh.raw, "same", 5, "0.01")
    write_candidate(wh.raw, "gpu_x2", 6, "0.02")
    wh.dbt("seed", ["analytics_fx_rates"])
    wh.dbt(
        "build",
        ["stg_pricing_lab__candidate_lines+", "stg_pricing_lab__candidate_prices+"],
        "--exclude",
        "fct_margin_by_customer",
        "fct_marketplace_price_parity",
    )
    return wh


def test_identical_candidate_changes_no_margin(wh):
    rows = wh.rows(
        """select count(*), sum(abs(margin_change_reporting)),
            sum(abs(candidate_gross_margin_reporting - billed_gross_margin_reporting))
        from pricing_lab.fct_backtest_margins where candidate = 'same'"""
    )
    assert rows == [(3, Decimal(0), Decimal(0))]


def test_margins_under_the_candidate_by_hand(wh):
    rows = wh.rows(
        """select tenant_id, customer_id, billed_revenue_reporting, candidate_revenue_reporting,
            total_cost_reporting, billed_contribution_margin_reporting, candidate_contribution_margin_reporting,
            billed_gross_margin_reporting, candidate_gross_margin_reporting, margin_change_reporting,
            billed_gross_margin_pct, candidate_gross_margin_pct
        from pricing_lab.fct_backtest_margins where candidate = 'gpu_x2' order by 1, 2"""
    )
    d = Decimal
    assert rows == [
        # 100 EUR x 1.08 = 108.00 billed, 90 x 1.08 = 97.20 candidate; cost 30: gross 78.00 -> 67.20 (-10.80);
        # contribution 108 - 20 = 88, 97.20 - 20 = 77.20; 78 / 108 = 72.222222222222 %, 67.2 / 97.2 = 69.135802469136 %
        (
            "default",
            "cus_e",
            d("108"),
            d("97.2"),
            d("30"),
            d("88"),
            d("77.2"),
            d("78"),
            d("67.2"),
            d("-10.8"),
            d("72.222222222222"),
            d("69.135802469136"),
        ),
        # 15 -> 25 on a cost of 9.70 (6.00 variable): gross 5.30 -> 15.30 (+10); contribution 9 -> 19;
        # 5.3 / 15 = 35.333333333333 %, 15.3 / 25 = 61.2 %
        (
            "default",
            "cus_m",
            d("15"),
            d("25"),
            d("9.7"),
            d("9"),
            d("19"),
            d("5.3"),
            d("15.3"),
            d("10"),
            d("35.333333333333"),
            d("61.2"),
        ),
        # the other tenant's cus_m, not merged with default/cus_m: 20 -> 30 on a cost of 4.00
        (
            "other",
            "cus_m",
            d("20"),
            d("30"),
            d("4"),
            d("19"),
            d("29"),
            d("16"),
            d("26"),
            d("10"),
            d("80"),
            d("86.666666666667"),
        ),
    ]
    # by plan: payg is a plan of each tenant (one customer each), never one plan of two customers
    assert wh.rows(
        """select tenant_id, plan_id, customers, billed_gross_margin_reporting, candidate_gross_margin_reporting
        from pricing_lab.fct_backtest_margin_by_plan where candidate = 'gpu_x2' order by 1, 2"""
    ) == [
        ("default", "payg", 1, d("5.3"), d("15.3")),
        ("default", "payg_eur", 1, d("78"), d("67.2")),
        ("other", "payg", 1, d("16"), d("26")),
    ]


def test_candidate_price_breaks_marketplace_parity(wh):
    rows = wh.rows(
        """select candidate, marketplace, candidate_catalog_price, candidate_difference_pct, candidate_parity_status,
            parity_change
        from pricing_lab.fct_backtest_price_parity order by 1, 2"""
    )
    assert rows == [
        # gpu_x2: $0.02 per 1K ms x 3,600,000 ms = 72.00 per hour against AWS's 36.00:
        # (36 - 72) / 72 x 100 = -50 %, beyond the 1 % tolerance -> the listing breaks parity
        ("gpu_x2", "aws", Decimal("72"), Decimal("-50"), "flagged", "breaks"),
        ("gpu_x2", "azure", None, None, "no_catalog_price", "unchanged"),
        # same: 0.01 / 1000 x 3,600,000 = 36.00 = AWS's price -> still ok
        ("same", "aws", Decimal("36"), Decimal("0"), "ok", "unchanged"),
        ("same", "azure", None, None, "no_catalog_price", "unchanged"),
    ]


def test_read_margins_sums_per_candidate(wh):
    margins = read_margins(wh.path, ["same", "gpu_x2"])
    # gpu_x2: billed 5.30 + 78.00 + 16.00 = 99.30; candidate 15.30 + 67.20 + 26.00 = 108.50; +10 - 10.80 + 10 = 9.20
    assert margins["gpu_x2"] == {
        "reporting_currency": "USD",
        "billed_gross_margin": Decimal("99.3"),
        "candidate_gross_margin": Decimal("108.5"),
        "margin_change": Decimal("9.2"),
    }
    assert margins["same"]["margin_change"] == 0
