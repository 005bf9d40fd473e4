"""Analytics marts on hand-made invoices, billing lines, usage and FOCUS costs
(tests/usage_models/analytics_fixtures.py). Expected numbers are computed by hand in the comments."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from tests.usage_models import analytics_fixtures as afx
from tests.usage_models import raw_fixtures as fx
from tests.usage_models.conftest import ANALYTICS_MODELS, USAGE_MODELS, Warehouse

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wh(make_warehouse) -> Warehouse:
    wh = make_warehouse("analytics")
    fx.write_catalog(wh.raw, {"meters": fx.METERS, "customers": afx.CUSTOMERS})
    fx.write_events(wh.raw, date(2026, 5, 20), "batch", afx.margin_events())
    afx.write_costs(wh.raw)
    afx.create_billing_tables(wh.path)
    # one dbt build: usage models (for unit cost) + analytics marts + their tests
    wh.dbt("build", USAGE_MODELS + ANALYTICS_MODELS)
    return wh


def test_mrr_normalizes_annual_fees_and_includes_usage(wh):
    rows = wh.rows(
        """select month_start::varchar, recurring_mrr, usage_mrr, mrr from analytics.fct_mrr
        where customer_id = 'cus_annual' order by month_start"""
    )
    # 1,200 annual / 12 = 100 per month; + 20 usage in February; tax lines are not MRR
    assert rows == [
        ("2026-02-01", Decimal("100"), Decimal("20"), Decimal("120")),
        ("2026-03-01", Decimal("100"), Decimal("0"), Decimal("100")),
        ("2026-04-01", Decimal("100"), Decimal("0"), Decimal("100")),
        ("2026-05-01", Decimal("100"), Decimal("0"), Decimal("100")),
    ]
    # EUR stays EUR; reporting currency via the static seed: 200 EUR x 1.08 = 216 USD
    assert wh.rows(
        "select mrr, mrr_reporting from analytics.fct_mrr where customer_id = 'cus_eur' and month_start = '2026-01-01'"
    ) == [(Decimal("200"), Decimal("216"))]
    assert wh.rows(
        "select arr from analytics.fct_arr where customer_id = 'cus_annual' and month_start = '2026-03-01'"
    ) == [(Decimal("1200"),)]  # 100 x 12


def test_mrr_movements_in_case_order_including_reactivation(wh):
    rows = wh.rows(
        """select month_start::varchar, previous_mrr, mrr, movement_category from analytics.fct_mrr_movements
        where customer_id = 'cus_new' order by month_start"""
    )
    assert rows == [
        ("2026-01-01", Decimal("0"), Decimal("100"), "new"),
        ("2026-02-01", Decimal("100"), Decimal("100"), "unchanged"),
        ("2026-03-01", Decimal("100"), Decimal("150"), "expansion"),  # 100 fee + 50 usage
        ("2026-04-01", Decimal("150"), Decimal("0"), "churn"),
        ("2026-05-01", Decimal("0"), Decimal("80"), "reactivation"),  # not "new", not "expansion"
    ]
    contraction = wh.rows(
        """select movement_category, mrr_change from analytics.fct_mrr_movements
        where customer_id = 'cus_eur' and month_start = '2026-02-01'"""
    )
    assert contraction == [("contraction", Decimal("-50"))]  # 200 -> 150 EUR


def test_company_growth(wh):
    rows = dict(wh.rows("select month_start::varchar, mrr_reporting from analytics.fct_mrr_growth"))
    # Jan: 100 + 200 x 1.08 = 316; Feb: 100 + 120 + 150 x 1.08 = 382; Mar: 150 + 100 + 162 = 412;
    # Apr: 0 + 100 + 162 = 262; May: 80 + 100 + 162 = 342
    assert rows == {
        "2026-01-01": Decimal("316"),
        "2026-02-01": Decimal("382"),
        "2026-03-01": Decimal("412"),
        "2026-04-01": Decimal("262"),
        "2026-05-01": Decimal("342"),
    }
    mom = wh.rows("select mom_growth from analytics.fct_mrr_growth where month_start = '2026-02-01'")
    assert mom == [(Decimal("0.208860759494"),)]  # (382 - 316) / 316 = 0.2088607594936...


def test_cohort_retention(wh):
    rows = wh.rows(
        """select months_since_signup, cohort_customers, active_customers, logo_retention, net_revenue_retention
        from analytics.fct_cohort_retention where cohort_month = '2026-01-01' order by months_since_signup"""
    )
    # January cohort: cus_new (created 01-10) and cus_eur (01-05); month 0 MRR = 100 + 216 = 316 USD
    # April (month 3): cus_new churned, cus_eur 162 -> logo 1/2, NRR 162 / 316 = 0.512658227848
    # May (month 4): cus_new back with 80 -> logo 2/2, NRR (80 + 162) / 316 = 0.765822784810
    assert rows[0] == (0, 2, 2, Decimal("1"), Decimal("1"))
    assert rows[3] == (3, 2, 1, Decimal("0.5"), Decimal("0.512658227848"))
    assert rows[4] == (4, 2, 2, Decimal("1"), Decimal("0.765822784810"))


def test_revenue_recognition_is_ratable_for_fees_and_at_use_for_usage(wh):
    annual = wh.rows(
        """select count(*), sum(recognized_amount),
            sum(case when recognition_date < date '2026-03-01' then recognized_amount end)
        from analytics.fct_revenue_recognition r
        join billing.fct_invoice_lines l using (invoice_line_id)
        where l.invoice_id = 'inv_ann_02'"""
    )
    days, total, february = annual[0]
    assert days == 365 and total == Decimal("1200")  # [2026-02-01, 2027-02-01) = 365 days, adds up exactly
    # February: 28 days x 1,200 / 365 = 92.0547945... -> 92.05 at the cent
    assert february.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) == Decimal("92.05")
    usage = wh.rows(
        """select recognition_date::varchar, recognized_amount from analytics.fct_revenue_recognition r
        join billing.fct_invoice_lines l using (invoice_line_id)
        where l.invoice_id = 'inv_ann_02u'"""
    )
    assert usage == [("2026-02-28", Decimal("20"))]  # the usage month's last day


def test_revenue_projection_uses_trailing_three_month_growth(wh):
    rows = wh.rows(
        """select month_start::varchar, mrr_reporting, growth_rate_used from analytics.fct_revenue_projection
        where is_projection order by month_start limit 1"""
    )
    # growth Mar 412/382 - 1 = 0.078534, Apr 262/412 - 1 = -0.364078, May 342/262 - 1 = 0.305344
    # average = 0.0066000 -> June = 342 x 1.0066 = 344.257
    month, projected, growth = rows[0]
    expected_growth = (Decimal(412) / 382 - 1 + Decimal(262) / 412 - 1 + Decimal(342) / 262 - 1) / 3
    assert month == "2026-06-01"
    assert abs(growth - expected_growth) < Decimal("1e-11")
    assert projected.quantize(Decimal("0.01")) == (342 * (1 + expected_growth)).quantize(Decimal("0.01"))


def test_unit_cost_fixed_variable_and_per_1k(wh):
    rows = wh.rows(
        """select total_cost, fixed_cost, variable_cost, usage_quantity, cost_per_1k_units
        from analytics.fct_unit_cost where meter_id = 'gpu_ms' and month_start = '2026-05-01'"""
    )
    # 2.70 fixed + 6.00 variable = 8.70 for 600,000 + 400,000 ms -> 8.70 / 1,000 K ms = $0.0087 per 1K ms
    assert rows == [(Decimal("8.7"), Decimal("2.7"), Decimal("6"), Decimal("1000000"), Decimal("0.0087"))]
    shared = wh.rows("select billed_cost from analytics.fct_cost_breakdown where meter_id is null")
    assert shared == [(Decimal("5"),)]  # shared cost stays visible in the breakdown


def test_margin_and_markup_are_both_shown(wh):
    rows = wh.rows(
        """select revenue_reporting, cost_reporting, contribution_margin_reporting, markup_on_cost_pct,
            margin_on_revenue_pct
        from analytics.fct_customer_margin where customer_id = 'cus_m' and sku_id = 'gpu_ms'"""
    )
    revenue, cost, margin, markup_pct, margin_pct = rows[0]
    # pricing-examples.md case 4: $0.01 price per 1K ms on a $0.0087 unit cost, 1,000 K ms:
    # revenue 10.00, cost 8.70; markup (10 - 8.7) / 8.7 = 14.94 %; margin (10 - 8.7) / 10 = 13.0 %
    assert (revenue, cost, margin) == (Decimal("10"), Decimal("8.7"), Decimal("1.3"))
    assert markup_pct.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) == Decimal("14.94")
    assert margin_pct == Decimal("13.0")
    fee = wh.rows(
        "select revenue_reporting, cost_reporting from analytics.fct_customer_margin where sku_id = 'platform_fee'"
    )
    assert fee == [(Decimal("5"), Decimal("0"))]  # a fee without a meter carries no usage cost
