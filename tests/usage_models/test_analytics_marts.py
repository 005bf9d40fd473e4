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


# The annual 1,200 of cus_annual is recognized by day: 1,200 / 365 = 3.287671232876712... per day,
# held at 12 decimals (3.287671232877), the last day of the year taking the remainder.
DAILY_1200 = (Decimal(1200) / 365).quantize(Decimal("1e-12"), rounding=ROUND_HALF_UP)
D12 = Decimal("1e-12")


def q12(value: Decimal) -> Decimal:
    return value.quantize(D12, rounding=ROUND_HALF_UP)


def test_mrr_spreads_fees_by_days_like_revenue_recognition(wh):
    rows = wh.rows(
        """select month_start::varchar, is_provisional, recurring_mrr, usage_mrr, mrr from analytics.fct_mrr
        where customer_id = 'cus_annual' order by month_start"""
    )
    # Feb 28 days, Mar 31, Apr 30, May 31 of the daily rate; + 20 usage in February; tax is not MRR;
    # June (as-of month, 30 days invoiced in advance) is the provisional run-rate; July on is future
    assert rows == [
        ("2026-02-01", False, 28 * DAILY_1200, Decimal("20"), 28 * DAILY_1200 + 20),
        ("2026-03-01", False, 31 * DAILY_1200, Decimal("0"), 31 * DAILY_1200),
        ("2026-04-01", False, 30 * DAILY_1200, Decimal("0"), 30 * DAILY_1200),
        ("2026-05-01", False, 31 * DAILY_1200, Decimal("0"), 31 * DAILY_1200),
        ("2026-06-01", True, 30 * DAILY_1200, Decimal("0"), 30 * DAILY_1200),
    ]
    # MRR and recognized revenue agree per customer, currency and month (to the last digit)
    assert wh.rows(
        """with r as (select customer_id, currency, date_trunc('month', recognition_date) as m,
                sum(recognized_amount) as amount from analytics.fct_revenue_recognition group by all)
        select count(*) from analytics.fct_mrr f join r
          on f.customer_id = r.customer_id and f.currency = r.currency and f.month_start = r.m
        where f.mrr != r.amount"""
    ) == [(0,)]
    # EUR stays EUR; reporting currency via the static seed: 200 EUR x 1.08 = 216 USD
    assert wh.rows(
        "select mrr, mrr_reporting from analytics.fct_mrr where customer_id = 'cus_eur' and month_start = '2026-01-01'"
    ) == [(Decimal("200"), Decimal("216"))]
    assert wh.rows(
        "select arr from analytics.fct_arr where customer_id = 'cus_annual' and month_start = '2026-03-01'"
    ) == [(31 * DAILY_1200 * 12,)]


def test_annual_fee_from_mid_month_lands_in_its_thirteen_months(wh):
    # 3,650 for [2026-03-15, 2027-03-15) = 365 days = 10 per day: March 17 days, April 30, May 31,
    # ..., February 2027 28 days, March 2027 14 days (the year's last 14 days)
    months = dict(
        wh.rows(
            """select month_start::varchar, sum(monthly_amount) from intermediate.int_analytics__mrr_lines_by_month
            where customer_id = 'cus_annual_mid' group by 1"""
        )
    )
    assert len(months) == 13
    assert months["2026-03-01"] == Decimal("170")
    assert months["2026-04-01"] == Decimal("300")
    assert months["2027-02-01"] == Decimal("280")
    assert months["2027-03-01"] == Decimal("140")
    assert sum(months.values()) == Decimal("3650")
    # in fct_mrr the customer has MRR in every month of its contract up to the as-of month
    assert wh.rows(
        """select month_start::varchar, mrr from analytics.fct_mrr where customer_id = 'cus_annual_mid'
        order by 1"""
    ) == [
        ("2026-03-01", Decimal("170")),
        ("2026-04-01", Decimal("300")),
        ("2026-05-01", Decimal("310")),
        ("2026-06-01", Decimal("300")),
    ]


def test_as_of_date_defaults_to_the_latest_billed_usage(wh):
    # latest usage line: cus_eur's May usage [2026-05-01, 2026-06-01) -> as-of 2026-06-01, June provisional
    assert wh.rows(
        "select as_of_date::varchar, as_of_source, provisional_month::varchar from intermediate.int_analytics__as_of"
    ) == [("2026-06-01", "latest_billed_usage", "2026-06-01")]
    assert wh.rows("select distinct month_start::varchar from analytics.fct_mrr where is_provisional") == [
        ("2026-06-01",)
    ]
    # no movement, no cohort month and no projection base from the provisional month
    assert wh.rows("select count(*) from analytics.fct_mrr_movements where month_start >= '2026-06-01'") == [
        (0,)
    ]
    assert wh.rows(
        "select count(*) from analytics.fct_cohort_retention where month_start >= '2026-06-01'"
    ) == [(0,)]
    assert wh.rows(
        "select min(month_start)::varchar from analytics.fct_revenue_projection where is_projection"
    ) == [("2026-06-01",)]


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


def test_mid_month_signup_remainder_is_new_not_expansion(wh):
    rows = wh.rows(
        """select month_start::varchar, mrr, movement_category, new_mrr, expansion_mrr
        from analytics.fct_mrr_movements where customer_id = 'cus_mid' order by month_start"""
    )
    # signup 2026-03-15 at 62 / month: 34 (17 of 31 days) new in March, the other 28 new in April
    assert rows == [
        ("2026-03-01", Decimal("34"), "new", Decimal("34"), Decimal("0")),
        ("2026-04-01", Decimal("62"), "new", Decimal("28"), Decimal("0")),
        ("2026-05-01", Decimal("62"), "unchanged", Decimal("0"), Decimal("0")),
    ]
    assert wh.rows(
        "select distinct first_full_month::varchar from analytics.fct_mrr where customer_id = 'cus_mid'"
    ) == [("2026-04-01",)]


def company_mrr() -> dict[str, Decimal]:
    """Company MRR in USD by hand (EUR x 1.08; cus_annual at DAILY_1200 per day; cus_annual_mid 10 / day)."""
    return {
        "2026-01-01": Decimal(100 + 216),  # cus_new 100 + cus_eur 200 EUR
        "2026-02-01": 100 + 28 * DAILY_1200 + 20 + 162,  # + cus_annual from Feb 1, cus_eur 150 EUR
        # cus_new 100 + 50 usage, cus_mid 34, cus_annual_mid 17 days = 170
        "2026-03-01": 150 + 31 * DAILY_1200 + 162 + 34 + 170,
        "2026-04-01": 0 + 30 * DAILY_1200 + 162 + 62 + 300,
        # cus_new back with 80; cus_eur 150 + 10 usage = 160 EUR = 172.8 USD; cus_m 10 usage + 5 fee
        "2026-05-01": 80 + 31 * DAILY_1200 + Decimal("172.8") + 62 + 310 + 15,
    }


def test_company_growth(wh):
    rows = dict(
        wh.rows(
            "select month_start::varchar, mrr_reporting from analytics.fct_mrr_growth where not is_provisional"
        )
    )
    assert rows == company_mrr()
    expected = company_mrr()
    mom = wh.rows("select mom_growth from analytics.fct_mrr_growth where month_start = '2026-02-01'")
    assert mom == [(q12((expected["2026-02-01"] - 316) / 316),)]
    # the provisional June: run-rate so far (cus_annual 30 days + cus_annual_mid 300), no growth figure
    assert wh.rows(
        "select mrr_reporting, mom_growth, new_mrr_reporting from analytics.fct_mrr_growth where is_provisional"
    ) == [(30 * DAILY_1200 + 300, None, None)]


def test_cohort_retention(wh):
    rows = wh.rows(
        """select months_since_signup, cohort_customers, active_customers, logo_retention, net_revenue_retention
        from analytics.fct_cohort_retention where cohort_month = '2026-01-01' order by months_since_signup"""
    )
    # January cohort: cus_new (created 01-10, served from 01-01) and cus_eur (01-05, served from 01-01);
    # both first full months are January: base = 100 + 216 = 316 USD
    # April (month 3): cus_new churned, cus_eur 162 -> logo 1/2, NRR 162 / 316 = 0.512658227848
    # May (month 4): cus_new back with 80, cus_eur 172.8 -> logo 2/2, NRR 252.8 / 316 = 0.8
    assert rows[0] == (0, 2, 2, Decimal("1"), Decimal("1"))
    assert rows[3] == (3, 2, 1, Decimal("0.5"), Decimal("0.512658227848"))
    assert rows[4] == (4, 2, 2, Decimal("1"), Decimal("0.8"))
    assert len(rows) == 5  # complete months only: June is provisional


def test_net_revenue_retention_starts_at_the_first_full_month(wh):
    rows = wh.rows(
        """select month_start::varchar, nrr_base_month::varchar, starting_mrr_reporting, net_revenue_retention
        from analytics.fct_cohort_retention where cohort_month = '2026-03-01' order by month_start"""
    )
    # March cohort: cus_mid and cus_annual_mid, both signed 03-15 -> first full month April;
    # base = 62 + 300 = 362; March has no NRR (half a month is not a base);
    # May = (62 + 310) / 362 = 1.027624309392...
    assert rows == [
        ("2026-03-01", "2026-04-01", None, None),
        ("2026-04-01", "2026-04-01", Decimal("362"), Decimal("1")),
        ("2026-05-01", "2026-04-01", Decimal("362"), q12(Decimal(372) / 362)),
    ]


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


def test_deferred_and_unbilled_revenue_at_month_end(wh):
    rows = wh.rows(
        """select month_start::varchar, billed_to_date, recognized_to_date, deferred_revenue, unbilled_usage,
            unbilled_fees
        from analytics.fct_revenue_balances where customer_id = 'cus_annual' order by month_start"""
    )
    feb, mar = rows[0], rows[1]
    # end of Feb: 1,200 invoiced 02-01, 28 days recognized -> deferred 1,200 - 28 x daily;
    # the 20 of February usage is invoiced 03-01 -> unbilled (accrued) usage 20 at the end of Feb
    assert feb == (
        "2026-02-01",
        Decimal("1200"),
        28 * DAILY_1200 + 20,
        1200 - 28 * DAILY_1200,
        Decimal("20"),
        0,
    )
    # end of March: usage invoiced, 59 days of the fee recognized
    assert mar == ("2026-03-01", Decimal("1220"), 59 * DAILY_1200 + 20, 1200 - 59 * DAILY_1200, 0, 0)
    # cus_eur at the end of May: its May usage (10 EUR) is invoiced 06-01 -> 10 EUR accrued usage
    assert wh.rows(
        """select currency, unbilled_usage, deferred_revenue from analytics.fct_revenue_balances
        where customer_id = 'cus_eur' and month_start = '2026-05-01'"""
    ) == [("EUR", Decimal("10"), Decimal("0"))]


def test_revenue_projection_uses_trailing_three_month_growth(wh):
    rows = wh.rows(
        """select month_start::varchar, mrr_reporting, growth_rate_used from analytics.fct_revenue_projection
        where is_projection order by month_start limit 1"""
    )
    # starts from the last COMPLETE month (May), grown by the average MoM growth of Mar, Apr, May
    m = company_mrr()
    growth = [
        q12(m["2026-03-01"] / m["2026-02-01"] - 1),
        q12(m["2026-04-01"] / m["2026-03-01"] - 1),
        q12(m["2026-05-01"] / m["2026-04-01"] - 1),
    ]
    expected_growth = sum(growth) / 3
    month, projected, rate = rows[0]
    assert month == "2026-06-01"
    assert abs(rate - expected_growth) < Decimal("1e-11")
    assert projected.quantize(Decimal("0.01")) == (m["2026-05-01"] * (1 + expected_growth)).quantize(
        Decimal("0.01")
    )


def complete_month_growth() -> dict[str, Decimal]:
    """MoM growth of each complete month after the first, at 12 decimals like the mart."""
    m = company_mrr()
    months = sorted(m)
    return {b: q12(m[b] / m[a] - 1) for a, b in zip(months, months[1:], strict=False)}


def test_revenue_projection_band_from_growth_percentiles(wh):
    rows = wh.rows(
        """select month_start::varchar, mrr_low_reporting, mrr_reporting, mrr_high_reporting, low_growth_rate,
            high_growth_rate, band_growth_months
        from analytics.fct_revenue_projection where is_projection order by month_start"""
    )
    g = complete_month_growth()
    # Feb 374.05 / 316 - 1 = 0.1837; Mar 617.92 / 374.05 - 1 = 0.6520; Apr 622.63 / 617.92 - 1 = 0.0076;
    # May 741.72 / 622.63 - 1 = 0.1913. Four rates, 10th percentile by nearest rank: rank ceil(0.1 x 4) = 1
    # -> the lowest (April); 90th: rank ceil(0.9 x 4) = 4 -> the highest (March).
    assert sorted(g, key=g.get) == ["2026-04-01", "2026-02-01", "2026-05-01", "2026-03-01"]
    may = company_mrr()["2026-05-01"]
    assert len(rows) == 6
    for k, (month, low, central, high, low_rate, high_rate, n) in enumerate(rows, start=1):
        assert (low_rate, high_rate, n) == (g["2026-04-01"], g["2026-03-01"], 4)
        # May's 741.72 compounded k months at each rate (the mart rounds each step at 12 decimals)
        cent = Decimal("0.01")
        assert low.quantize(cent) == (may * (1 + g["2026-04-01"]) ** k).quantize(cent), month
        assert high.quantize(cent) == (may * (1 + g["2026-03-01"]) ** k).quantize(cent), month
        assert low < central < high
    # first projected month: 741.72 x 1.0076 = 747.37 (low), 741.72 x 1.6519 = 1,225.28 (high)
    assert rows[0][1].quantize(Decimal("0.01")) == Decimal("747.37")
    assert rows[0][3].quantize(Decimal("0.01")) == Decimal("1225.28")
    # actual months carry no band: low = high = the actual MRR
    assert wh.rows(
        """select count(*) from analytics.fct_revenue_projection where not is_projection
        and (mrr_low_reporting != mrr_reporting or mrr_high_reporting != mrr_reporting)"""
    ) == [(0,)]


def test_revenue_projection_band_percentile_var_and_widening(wh):
    """Rebuilds only the projection: 25th / 75th percentiles of the 4 rates by nearest rank."""
    out = wh.dbt("run", ["fct_revenue_projection"], dbt_vars={"projection_band_pct": 60}, expect_failure=True)
    assert "projection_band_pct must be 0..50 (got 60)" in out
    wh.dbt("run", ["fct_revenue_projection"], dbt_vars={"projection_band_pct": 25})
    try:
        g = complete_month_growth()
        rows = wh.rows(
            """select low_growth_rate, growth_rate_used, high_growth_rate, mrr_reporting, mrr_high_reporting
            from analytics.fct_revenue_projection where is_projection"""
        )
        # low: rank ceil(0.25 x 4) = 1 -> April 0.0076; high: rank ceil(0.75 x 4) = 3 -> May 0.1913, below the
        # central (Mar + Apr + May) / 3 = 0.2837, so the band is widened to the central rate: high = central
        for low_rate, central_rate, high_rate, central, high in rows:
            assert low_rate == g["2026-04-01"]
            assert g["2026-05-01"] < central_rate == high_rate
            assert high == central
    finally:
        wh.dbt("run", ["fct_revenue_projection"])


def test_unit_cost_fixed_variable_and_per_1k(wh):
    rows = wh.rows(
        """select total_cost, fixed_cost, variable_cost, usage_quantity, cost_per_1k_units
        from analytics.fct_unit_cost where meter_id = 'gpu_ms' and month_start = '2026-05-01'"""
    )
    # 2.70 fixed + 6.00 variable = 8.70 for 600,000 + 400,000 ms -> 8.70 / 1,000 K ms = $0.0087 per 1K ms
    assert rows == [(Decimal("8.7"), Decimal("2.7"), Decimal("6"), Decimal("1000000"), Decimal("0.0087"))]
    shared = wh.rows(
        "select billed_cost from analytics.fct_cost_breakdown where meter_id is null and customer_id is null"
    )
    assert shared == [(Decimal("5"),)]  # shared cost stays visible in the breakdown


def test_margin_and_markup_are_both_shown(wh):
    rows = wh.rows(
        """select revenue_reporting, variable_cost_reporting, cost_reporting, contribution_margin_reporting,
            gross_margin_reporting, markup_on_cost_pct, margin_on_revenue_pct
        from analytics.fct_customer_margin where customer_id = 'cus_m' and sku_id = 'gpu_ms'"""
    )
    revenue, variable, cost, contribution, gross, markup_pct, margin_pct = rows[0]
    # pricing-examples.md case 4: $0.01 price per 1K ms on a $0.0087 unit cost, 1,000 K ms:
    # revenue 10.00, cost 8.70 (6.00 variable + 2.70 fixed); contribution 10 - 6 = 4; gross 10 - 8.7 = 1.3;
    # markup (10 - 8.7) / 8.7 = 14.94 %; margin (10 - 8.7) / 10 = 13.0 %
    assert (revenue, variable, cost, contribution, gross) == (10, 6, Decimal("8.7"), 4, Decimal("1.3"))
    assert markup_pct.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) == Decimal("14.94")
    assert margin_pct == Decimal("13.0")
    fee = wh.rows(
        "select revenue_reporting, cost_reporting from analytics.fct_customer_margin where sku_id = 'platform_fee'"
    )
    assert fee == [(Decimal("5"), Decimal("0"))]  # a fee without a meter carries no usage cost


def test_gpu_types_priced_differently_are_not_blended(wh):
    unit = wh.rows(
        """select dimension_value, usage_quantity, cost_per_1k_units from analytics.fct_unit_cost
        where month_start = '2026-04-01' order by 1"""
    )
    # a100: 8.70 / 1,000 K ms = 0.0087; h100: 8.70 / 500 K ms = 0.0174 (blended would be 0.0116)
    assert unit == [
        ("a100", Decimal("1000000"), Decimal("0.0087")),
        ("h100", Decimal("500000"), Decimal("0.0174")),
    ]
    costs = dict(
        wh.rows(
            """select customer_id, sum(cost_reporting) from analytics.fct_customer_cost
            where month_start = '2026-04-01' group by 1"""
        )
    )
    # cus_g1: 600 K a100 ms x 0.0087 = 5.22 (blended: 600 x 0.0116 = 6.96);
    # cus_g2: 400 K a100 x 0.0087 + 500 K h100 x 0.0174 = 3.48 + 8.70 = 12.18
    assert costs == {"cus_g1": Decimal("5.22"), "cus_g2": Decimal("12.18")}


def may_revenue() -> Decimal:
    return company_mrr()["2026-05-01"]


def test_cost_allocation_direct_usage_and_shared(wh):
    rows = wh.rows(
        """select allocation_method, meter_id, variable_cost_reporting, fixed_cost_reporting, cost_reporting
        from analytics.fct_customer_cost where customer_id = 'cus_m' and month_start = '2026-05-01'
        order by allocation_method"""
    )
    # direct: the 1.00 dedicated to cus_m; usage: cus_m is all of May's GPU usage -> 6.00 + 2.70;
    # revenue_share: shared 5.00 x cus_m's May revenue 15 / the company's May revenue
    shared = q12(5 * Decimal(15) / may_revenue())
    assert rows == [
        ("direct", None, Decimal("0"), Decimal("1"), Decimal("1")),
        ("revenue_share", None, Decimal("0"), shared, shared),
        ("usage", "gpu_ms", Decimal("6"), Decimal("2.7"), Decimal("8.7")),
    ]
    # the shared 5.00 is spread over every customer with May revenue, and adds back up (within rounding)
    total = wh.rows(
        """select sum(cost_reporting) from analytics.fct_customer_cost
        where allocation_method = 'revenue_share' and month_start = '2026-05-01'"""
    )[0][0]
    assert abs(total - 5) < Decimal("1e-10")


def test_margins_per_customer_plan_and_company(wh):
    shared = q12(5 * Decimal(15) / may_revenue())
    customer = wh.rows(
        """select revenue_reporting, variable_cost_reporting, fixed_cost_reporting, shared_cost_reporting,
            contribution_margin_reporting, gross_margin_reporting, contribution_margin_pct
        from analytics.fct_margin_by_customer where customer_id = 'cus_m' and month_start = '2026-05-01'"""
    )
    # cus_m May: revenue 15; variable 6; fixed 2.70 + 1.00 direct; shared by revenue share;
    # contribution 15 - 6 = 9 (60 %); gross 15 - 6 - 3.7 - shared
    assert customer == [
        (
            Decimal("15"),
            Decimal("6"),
            Decimal("3.7"),
            shared,
            Decimal("9"),
            Decimal("5.3") - shared,
            Decimal("60"),
        )
    ]
    plan = wh.rows(
        """select customers, revenue_reporting, contribution_margin_reporting, gross_margin_reporting
        from analytics.fct_margin_by_plan where plan_id = 'payg' and month_start = '2026-05-01'"""
    )
    assert plan == [(1, Decimal("15"), Decimal("9"), Decimal("5.3") - shared)]  # cus_m is the payg plan
    company = wh.rows(
        """select month_start::varchar, revenue_reporting, variable_cost_reporting, total_cost_reporting,
            unallocated_cost_reporting, contribution_margin_reporting, gross_margin_reporting
        from analytics.fct_margin_monthly where month_start in ('2026-04-01', '2026-05-01') order by 1"""
    )
    m = company_mrr()
    # April: 17.40 of GPU cost, all used (cus_g1, cus_g2); May: 6 variable + 2.70 + 5 + 1 fixed = 14.70
    # and the shared 5 allocated in full (up to rounding at 12 decimals)
    april, may = company
    assert april == (
        "2026-04-01",
        m["2026-04-01"],
        Decimal("17.4"),
        Decimal("17.4"),
        Decimal("0"),
        m["2026-04-01"] - Decimal("17.4"),
        m["2026-04-01"] - Decimal("17.4"),
    )
    assert may[:4] == ("2026-05-01", m["2026-05-01"], Decimal("6"), Decimal("14.7"))
    assert abs(may[4]) < Decimal("1e-10")
    assert may[5:] == (m["2026-05-01"] - 6, m["2026-05-01"] - Decimal("14.7"))
    # margins use revenue spread by service period: revenue = the company's MRR of the month
    assert wh.rows(
        """select count(*) from analytics.fct_margin_monthly m join analytics.fct_mrr_growth g using (month_start)
        where m.revenue_reporting != g.mrr_reporting"""
    ) == [(0,)]


def test_as_of_date_var_moves_the_provisional_month(wh):
    """Last in the module: rebuilds the MRR marts with --vars as_of_date (reproducible re-runs)."""
    out = wh.dbt("run", ["int_analytics__as_of"], dbt_vars={"as_of_date": "May 15"}, expect_failure=True)
    assert "is not a date like 2026-11-01" in out
    wh.dbt(
        "run",
        ["int_analytics__as_of", "fct_mrr", "fct_mrr_movements", "fct_mrr_growth"],
        dbt_vars={"as_of_date": "2026-05-15"},
    )
    assert wh.rows("select as_of_date::varchar, as_of_source from intermediate.int_analytics__as_of") == [
        ("2026-05-15", "var")
    ]
    # May is now the provisional month: no movement for it, June is not a month yet
    assert wh.rows("select max(month_start)::varchar from analytics.fct_mrr") == [("2026-05-01",)]
    assert wh.rows("select distinct month_start::varchar from analytics.fct_mrr where is_provisional") == [
        ("2026-05-01",)
    ]
    assert wh.rows("select max(month_start)::varchar from analytics.fct_mrr_movements") == [("2026-04-01",)]
