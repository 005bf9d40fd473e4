"""Two tenants, one customer id: the analytics marts key a customer by (tenant_id, customer_id).

Tenant `acme` and tenant `globex` each have a customer `cus_x` (ids are unique only within a tenant),
both billed in USD on a subscription named `sub_cus_x`:
- acme/cus_x: signed 2026-01-10; 100 fee in January, 100 fee + 10 usage in February (the usage
  invoiced 2026-03-01, which makes 2026-03-01 the as-of date and March the provisional month);
- globex/cus_x: signed 2026-02-01; 50 fee in February.
Costs in February: 16.00 shared by everyone, 3.00 shared by globex only (tagged with its tenant).
Merged on customer_id alone the two would read as one customer with 100 in January and 160 in
February: a 60 "expansion" instead of acme's +10 expansion and globex's 50 of new business.
Every expected figure is computed by hand in the comments.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.usage_models import analytics_fixtures as afx
from tests.usage_models import raw_fixtures as fx
from tests.usage_models.conftest import ANALYTICS_MODELS, USAGE_MODELS, Warehouse

pytestmark = pytest.mark.slow

LINES = [
    ("inv_a_01", "cus_x", "USD", "recurring_fee", "2026-01-01", "2026-02-01", "100"),
    ("inv_a_02", "cus_x", "USD", "recurring_fee", "2026-02-01", "2026-03-01", "100"),
    ("inv_a_02u", "cus_x", "USD", "usage", "2026-02-01", "2026-03-01", "10"),
    ("inv_g_02", "cus_x", "USD", "recurring_fee", "2026-02-01", "2026-03-01", "50"),
]
TENANTS = {"inv_a_01": "acme", "inv_a_02": "acme", "inv_a_02u": "acme", "inv_g_02": "globex"}
CUSTOMERS = [
    {
        "tenant_id": "acme",
        "customer_id": "cus_x",
        "name": "Acme's X",
        "currency": "USD",
        "created_at": date(2026, 1, 10),
    },
    {
        "tenant_id": "globex",
        "customer_id": "cus_x",
        "name": "Globex's X",
        "currency": "USD",
        "created_at": date(2026, 2, 1),
    },
]


@pytest.fixture(scope="module")
def wh(make_warehouse) -> Warehouse:
    wh = make_warehouse("tenants")
    fx.write_catalog(wh.raw, {"meters": fx.METERS, "customers": CUSTOMERS})
    afx.write_costs(
        wh.raw,
        [
            afx.cost_row("fixed", None, "16.00", month="2026-02"),
            afx.cost_row("fixed", None, "3.00", month="2026-02", tenant="globex"),
        ],
    )
    afx.create_billing_tables(
        wh.path,
        LINES,
        tenants=TENANTS,
        issue_dates={"inv_a_02u": "2026-03-01"},
        margin_billing_lines=False,
    )
    # the marts' unique / not-null tests on (tenant_id, customer_id, ...) run in the same build
    wh.dbt("build", USAGE_MODELS + ANALYTICS_MODELS)
    return wh


def test_mrr_and_movements_keep_the_two_customers_apart(wh):
    assert wh.rows(
        """select tenant_id, month_start::varchar, is_provisional, mrr from analytics.fct_mrr
        where customer_id = 'cus_x' order by 1, 2"""
    ) == [
        ("acme", "2026-01-01", False, Decimal("100")),
        ("acme", "2026-02-01", False, Decimal("110")),  # 100 fee + 10 usage
        ("acme", "2026-03-01", True, Decimal("0")),  # provisional: nothing invoiced for March yet
        ("globex", "2026-02-01", False, Decimal("50")),
        ("globex", "2026-03-01", True, Decimal("0")),
    ]
    assert wh.rows(
        """select tenant_id, month_start::varchar, movement_category, mrr_change from analytics.fct_mrr_movements
        order by 1, 2"""
    ) == [
        ("acme", "2026-01-01", "new", Decimal("100")),
        ("acme", "2026-02-01", "expansion", Decimal("10")),  # not +60
        ("globex", "2026-02-01", "new", Decimal("50")),
    ]
    # company February: 110 + 50 = 160, new 50, expansion 10, two active customers
    assert wh.rows(
        """select mrr_reporting, new_mrr_reporting, expansion_mrr_reporting, active_customers
        from analytics.fct_mrr_growth where month_start = '2026-02-01'"""
    ) == [(Decimal("160"), Decimal("50"), Decimal("10"), 2)]
    assert wh.rows("select count(distinct tenant_id), count(*) from analytics.fct_arr") == [(2, 5)]


def test_cohorts_and_balances_per_tenant(wh):
    # acme/cus_x is January's cohort, globex/cus_x February's: one customer each.
    # January cohort in February: 110 / its first full month's 100 = NRR 1.1
    assert wh.rows(
        """select cohort_month::varchar, month_start::varchar, cohort_customers, active_customers,
            net_revenue_retention
        from analytics.fct_cohort_retention order by 1, 2"""
    ) == [
        ("2026-01-01", "2026-01-01", 1, 1, Decimal("1")),
        ("2026-01-01", "2026-02-01", 1, 1, Decimal("1.1")),
        ("2026-02-01", "2026-02-01", 1, 1, Decimal("1")),
    ]
    # end of February: acme billed 100 + 100 (the 10 of usage is invoiced 03-01: unbilled usage),
    # recognized 210; globex billed and recognized 50
    assert wh.rows(
        """select tenant_id, billed_to_date, recognized_to_date, unbilled_usage from analytics.fct_revenue_balances
        where month_start = '2026-02-01' order by 1"""
    ) == [
        ("acme", Decimal("200"), Decimal("210"), Decimal("10")),
        ("globex", Decimal("50"), Decimal("50"), Decimal("0")),
    ]


def test_shared_cost_and_margins_per_tenant(wh):
    # 16.00 shared by revenue: acme 16 x 110 / 160 = 11.00, globex 16 x 50 / 160 = 5.00;
    # the 3.00 tagged globex goes to globex's customers only: globex 5.00 + 3.00 = 8.00
    assert wh.rows(
        """select tenant_id, customer_id, sum(cost_reporting) from analytics.fct_customer_cost
        where allocation_method = 'revenue_share' group by 1, 2 order by 1"""
    ) == [("acme", "cus_x", Decimal("11")), ("globex", "cus_x", Decimal("8"))]
    # gross margin: acme 110 - 11 = 99; globex 50 - 8 = 42
    assert wh.rows(
        """select tenant_id, revenue_reporting, shared_cost_reporting, gross_margin_reporting
        from analytics.fct_margin_by_customer where month_start = '2026-02-01' order by 1"""
    ) == [
        ("acme", Decimal("110"), Decimal("11"), Decimal("99")),
        ("globex", Decimal("50"), Decimal("8"), Decimal("42")),
    ]
    assert wh.rows(
        """select tenant_id, plan_id, customers, revenue_reporting from analytics.fct_margin_by_plan
        where month_start = '2026-02-01' order by 1"""
    ) == [("acme", "(no plan)", 1, Decimal("110")), ("globex", "(no plan)", 1, Decimal("50"))]
    assert wh.rows(
        """select tenant_id, sum(revenue_reporting) from analytics.fct_customer_margin
        where month_start = '2026-02-01' group by 1 order by 1"""
    ) == [("acme", Decimal("110")), ("globex", Decimal("50"))]
