"""End to end: `usagebill rate` (catalog -> raw -> dbt build -> billing.fct_billing_lines) on the
scenario catalog (tests/rating/scenario), ONE dbt build for the whole module; each customer
exercises one price model or term. Every expected amount is computed by hand in the comments.

Rating window: billing periods starting in [2025-01-01, 2026-07-01), as of 2026-07-01, so May and
June 2026 have ended; July's in-advance fees have started (they are in the warehouse, outside the
window, except where a test reads them through the credit balances).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from cli.rate import main
from usagebill.rating import RatingResult, result_to_json

from .scenario_events import SCENARIO_DIR, scenario_events, write_jsonl

pytestmark = pytest.mark.slow

D = Decimal
MAY = date(2026, 5, 1)
JUNE = date(2026, 6, 1)


def lines(result: RatingResult, customer: str, period_start: date | None = MAY, line_type: str | None = None):
    return [
        line
        for line in result.lines_of(customer)
        if (period_start is None or line["period_start"] == period_start)
        and (line_type is None or line["line_type"] == line_type)
    ]


def total(result: RatingResult, customer: str, period_start: date | None = MAY) -> Decimal:
    return sum((line["amount_rounded"] for line in lines(result, customer, period_start)), D(0))


def test_source_document_gpu_example(rated: RatingResult) -> None:
    # 2,457 ms of GPU at $0.01 per 1K ms: 2457 / 1000 * 0.01 = 0.02457 -> rounded half-up to $0.02
    (line,) = lines(rated, "c_src")
    assert line["quantity"] == D("2457")
    assert line["amount"] == D("0.02457")
    assert line["amount_rounded"] == D("0.02")
    assert line["unit_price"] == D("0.00001")  # 0.01 / 1000 per ms
    assert json.loads(line["dimensions_json"]) == {"gpu_type": "a100"}


@pytest.mark.parametrize(
    ("quantity", "volume", "graduated"),
    [
        # Stripe docs tiers: 1-5 at $7.00, 6-10 at $6.50, 11+ at $6.00
        (1, "7.00", "7.00"),  # 1*7 | 1*7
        (5, "35.00", "35.00"),  # 5*7 | 5*7
        (6, "39.00", "41.50"),  # 6*6.5 | 5*7 + 1*6.5
        (20, "120.00", "127.50"),  # 20*6 | 35 + 5*6.5 + 10*6 = 35 + 32.5 + 60 (20 arrives as 7 + 13)
        (25, "150.00", "157.50"),  # 25*6 | 35 + 32.5 + 15*6
    ],
)
def test_stripe_tiered_examples(rated: RatingResult, quantity: int, volume: str, graduated: str) -> None:
    assert total(rated, f"c_vol_{quantity}") == D(volume)
    assert total(rated, f"c_grad_{quantity}") == D(graduated)
    (grad_line,) = lines(rated, f"c_grad_{quantity}")
    tiers = json.loads(grad_line["tier_breakdown_json"])
    assert sum(D(t["quantity"]) for t in tiers) == D(quantity)


def test_tiers_with_flat_fee(rated: RatingResult) -> None:
    # tiers: 1-10 at $1 + $5 flat, 11+ at $0.50 + $10 flat; 15 units
    # graduated: 10*1 + 5 + 5*0.5 + 10 = 27.50
    assert total(rated, "c_grad_flat") == D("27.50")
    # volume: the 11+ tier prices all 15 units: 15*0.5 + 10 = 17.50
    assert total(rated, "c_vol_flat") == D("17.50")


def test_lago_package_with_free_units(rated: RatingResult) -> None:
    # $5 per package of 100, first 100 units free; 201 units (100 + 101 in two events):
    # billable 101 -> ceil(101/100) = 2 packages = $10
    (line,) = lines(rated, "c_lago")
    assert line["quantity"] == D("201")
    assert line["amount_rounded"] == D("10.00")


def test_killbill_recurring_plus_consumable(rated: RatingResult) -> None:
    # $30 recurring + 13 videos: 5 x $2 + 8 x $1 = $18
    fee = lines(rated, "c_killbill", line_type="recurring_fee")
    usage = lines(rated, "c_killbill", line_type="usage")
    assert [x["amount_rounded"] for x in fee] == [D("30.00")]
    assert [x["amount_rounded"] for x in usage] == [D("18.00")]
    assert [x["billing_timing"] for x in fee + usage] == ["in_advance", "in_arrears"]
    assert fee[0]["unit_price"] == D("30")  # the fee of a recurring line
    assert total(rated, "c_killbill", JUNE) == D("30.00")  # June: fee only, no usage


def test_percentage_with_fixed_fee_free_events_min_max(rated: RatingResult) -> None:
    # 2.9% + $0.30 per transaction, first event free, min $0.50, max $5.00
    # 100 -> free; 10 -> 0.29 + 0.30 = 0.59; 5 -> 0.145 + 0.30 = 0.445 -> min 0.50;
    # 1000 -> 29.00 + 0.30 = 29.30 -> max 5.00. Total 0.59 + 0.50 + 5.00 = 6.09
    (line,) = lines(rated, "c_pct")
    assert line["amount"] == D("6.09")
    assert line["quantity"] == D("1115")  # transaction volume 100 + 10 + 5 + 1000
    detail = json.loads(line["tier_breakdown_json"])[0]
    assert detail["events"] == 4 and detail["free_events"] == 1


def test_percentage_with_free_amount(rated: RatingResult) -> None:
    # 2.9% + $0.30, first $50 of volume free: 30 (covered, free), 30 (20 free, 10 charged: 0.29 + 0.30),
    # 100 (2.90 + 0.30) -> 0.59 + 3.20 = 3.79
    assert total(rated, "c_pct_free") == D("3.79")


@pytest.mark.parametrize(
    ("customer", "expected", "free"),
    [
        # 2.9% + $0.30, free: the first 3 events AND the first $500 (Lago percentage model: "the first
        # 3 events or $500 are free", whichever runs out first ends the free usage).
        # Amount runs out first: 200 (free, $300 left), 200 (free, $100 left), 200 (event 3: the
        # allowance covers 100, 100 charged: 2.90 + 0.30 = 3.20), 50 (event 4: no allowance,
        # 1.45 + 0.30 = 1.75) -> 4.95
        ("c_pct_both_amount", "4.95", 2),
        # Count runs out first: 10, 10, 10 free (events 1-3, $30 of $500 used); event 4 pays in full
        # although $470 of free amount is left: 0.29 + 0.30 = 0.59
        ("c_pct_both_count", "0.59", 3),
    ],
)
def test_percentage_free_while_both_allowances_last(
    rated: RatingResult, customer: str, expected: str, free: int
) -> None:
    (line,) = lines(rated, customer)
    assert line["amount_rounded"] == D(expected)
    assert json.loads(line["tier_breakdown_json"])[0]["free_events"] == free


@pytest.mark.parametrize(
    ("customer", "expected", "billed_tiers"),
    [
        # Kill Bill block usage: a partial block counts as a whole block. $1 per block of 100,
        # 150 + 100 = 250 units -> ceil(2.5) = 3 blocks = $3.00 (exact would be $2.50)
        ("c_block_up", "3.00", None),
        # rounding down: 250 units -> floor(2.5) = 2 blocks = $2.00 (the partial block is free)
        ("c_block_down", "2.00", None),
        # graduated, blocks of 100 rounded up, tiers 0-200 $1/block, beyond $0.50/block (Orb tiered
        # package): 450 -> 5 blocks = 500 units: 2 x 1.00 + 3 x 0.50 = $3.50 (exact: 2 + 2.5 x 0.5 = 3.25)
        ("c_block_grad", "3.50", [("1", "200"), ("2", "300")]),
        # volume, rounded down BEFORE the tier is chosen: 210 -> 2 blocks = 200 units -> tier 1 prices
        # every block: 2 x 1.00 = $2.00 (exact would select tier 2: 2.1 x 0.50 = $1.05)
        ("c_block_vol", "2.00", [("1", "200")]),
    ],
)
def test_block_rounding(rated: RatingResult, customer: str, expected: str, billed_tiers: list | None) -> None:
    (line,) = lines(rated, customer)
    assert line["amount_rounded"] == D(expected)
    if billed_tiers is not None:
        tiers = json.loads(line["tier_breakdown_json"])
        assert [(str(t["tier"]), format(D(t["quantity"]).normalize(), "f")) for t in tiers] == billed_tiers


def test_annual_plan_bills_usage_monthly(rated: RatingResult) -> None:
    # Lago "bill charges monthly" on a yearly plan: $1,200/year in advance, calls at $1 billed every
    # month in arrears, 10% off everything. Year [2026-05-01, 2027-05-01): fee 1200 - 120 = 1080 on
    # the first day; May (3 calls): 3.00 - 0.30; June (4 calls): 4.00 - 0.40, each in its own month
    got = sorted(
        (x["period_start"], x["period_end"], x["line_type"], x["billing_timing"], x["amount_rounded"])
        for x in rated.lines_of("c_annual_monthly")
    )
    year_end, july = date(2027, 5, 1), date(2026, 7, 1)
    assert got == [
        (MAY, JUNE, "discount", "in_arrears", D("-0.30")),
        (MAY, JUNE, "usage", "in_arrears", D("3.00")),
        (MAY, year_end, "discount", "in_advance", D("-120.00")),
        (MAY, year_end, "recurring_fee", "in_advance", D("1200.00")),
        (JUNE, july, "discount", "in_arrears", D("-0.40")),
        (JUNE, july, "usage", "in_arrears", D("4.00")),
    ]
    assert len({x["billing_line_id"] for x in rated.lines_of("c_annual_monthly")}) == 6


def test_quarterly_plan_with_one_charge_billed_monthly(rated: RatingResult) -> None:
    # quarter [2026-04-01, 2026-07-01): $90 fee in advance; calls (bill_monthly) $1 each per month:
    # April 1 call, May 2 calls; units (with the quarter) 5 x $1 at the end of the quarter
    got = sorted(
        (x["period_start"], x["period_end"], x["charge_id"], x["amount_rounded"])
        for x in rated.lines_of("c_quarterly")
    )
    april, july = date(2026, 4, 1), date(2026, 7, 1)
    assert got == [
        (april, MAY, "calls", D("1.00")),
        (april, july, "platform_fee", D("90.00")),
        (april, july, "units", D("5.00")),
        (MAY, JUNE, "calls", D("2.00")),
    ]


def test_unbilled_usage_of_the_scenario_by_design(rated: RatingResult) -> None:
    # c_trial: 3 calls on May 10, inside its 14-day free trial (3.9); c_meters: 1 region_calls event
    # in region "us", refused by the meter's filter (eu only). Reported, not silently dropped.
    by_reason = rated.unbilled_totals()
    assert by_reason["free_trial"] == (3, D("3"))
    assert by_reason["meter_filter"] == (1, D("1"))
    trial = [r for r in rated.unbilled if r["reason"] == "free_trial"]
    assert [(r["meter_id"], r["events"]) for r in trial] == [("api_calls", 3)]


def test_flat_fee_in_arrears(rated: RatingResult) -> None:
    (may,) = lines(rated, "c_arrears")
    assert (may["billing_timing"], may["amount_rounded"]) == ("in_arrears", D("100.00"))


def test_hybrid_fee_included_usage_overage(rated: RatingResult) -> None:
    # $500 fee + 50,000,000 ms included; 60,000,000 ms used (3 x 20M):
    # overage 10,000,000 ms * 0.009 / 1000 = 90.00; total 590.00
    assert [x["amount_rounded"] for x in lines(rated, "c_hybrid")] == [D("500.00"), D("90.00")]


def test_dimensional_prices(rated: RatingResult) -> None:
    # default $0.007 per 1K ms, h100 $0.012: a100 1M -> 7.00, h100 1M -> 12.00, l4 0.5M -> 3.50
    got = {json.loads(x["dimensions_json"])["gpu_type"]: x["amount_rounded"] for x in lines(rated, "c_dim")}
    assert got == {"a100": D("7.00"), "h100": D("12.00"), "l4": D("3.50")}


def test_included_units_and_tiers_pooled_across_groups(rated: RatingResult) -> None:
    # graduated, 1,000 included, then 1-1000 at $1, beyond at $0.50; a100 1500 + h100 1500 = 3000:
    # billable 2000 = 1000*1 + 1000*0.5 = 1500. Groups laid end to end (a100 first):
    # a100 covers [0,1500) -> billable [0,500) -> 500.00; h100 [1500,3000) -> [500,2000) -> 500 + 500 = 1000.00
    got = {
        json.loads(x["dimensions_json"])["gpu_type"]: x["amount_rounded"] for x in lines(rated, "c_pooled")
    }
    assert got == {"a100": D("500.00"), "h100": D("1000.00")}


def test_free_trial_days(rated: RatingResult) -> None:
    # $31/month, 14-day trial from May 1: fee 31.00, trial credit -31 * 14/31 = -14.00;
    # calls on May 10 (in trial) are free, 2 calls on May 20 at $1 = 2.00. Total 19.00
    got = [(x["line_type"], x["amount_rounded"]) for x in lines(rated, "c_trial")]
    assert got == [("recurring_fee", D("31.00")), ("trial_credit", D("-14.00")), ("usage", D("2.00"))]
    assert total(rated, "c_trial", JUNE) == D("31.00")


def test_free_trial_usage_amount(rated: RatingResult) -> None:
    # $5.00 of free usage: May usage 3.00 -> credit -3.00; June usage 4.00 -> credit -(5 - 3) = -2.00
    assert [x["amount_rounded"] for x in lines(rated, "c_trial_amount", line_type="trial_credit")] == [
        D("-3.00")
    ]
    assert [x["amount_rounded"] for x in lines(rated, "c_trial_amount", JUNE, "trial_credit")] == [D("-2.00")]
    assert total(rated, "c_trial_amount", JUNE) == D("2.00")


def test_percentage_discount_once(rated: RatingResult) -> None:
    # 20% once on a $100 fee: May 100 - 20 = 80; June 100 (no discount)
    assert [x["amount_rounded"] for x in lines(rated, "c_disc_once", line_type="discount")] == [D("-20.00")]
    assert total(rated, "c_disc_once") == D("80.00")
    assert total(rated, "c_disc_once", JUNE) == D("100.00")


def test_fixed_discount_for_two_periods(rated: RatingResult) -> None:
    # $15 off for 2 periods: May 85, June 85, July (started, in advance) 100
    assert total(rated, "c_disc_fixed") == D("85.00")
    assert total(rated, "c_disc_fixed", JUNE) == D("85.00")


def test_annual_payment_discount_15_percent(rated: RatingResult) -> None:
    # annual plan $60,000 in advance for [2026-05-01, 2027-05-01), 15% annual discount: -9,000.00
    got = [(x["line_type"], x["billing_timing"], x["amount_rounded"]) for x in lines(rated, "c_annual15")]
    assert got == [("recurring_fee", "in_advance", D("60000.00")), ("discount", "in_advance", D("-9000.00"))]
    assert lines(rated, "c_annual15")[0]["period_end"] == date(2027, 5, 1)


def test_contract_price_overrides_plan(rated: RatingResult) -> None:
    # contract $0.008 per 1K ms instead of the plan's $0.01: 1,000,000 ms -> 8.00 (plan would be 10.00)
    (line,) = lines(rated, "c_contract")
    assert (line["price_source"], line["amount_rounded"]) == ("contract", D("8.00"))


def test_minimum_commitment_true_up(rated: RatingResult) -> None:
    # $50 minimum per month: May usage 10.00 -> true-up 40.00; June usage 60.00 -> none
    got = [(x["line_type"], x["amount_rounded"]) for x in lines(rated, "c_commit")]
    assert got == [("usage", D("10.00")), ("commitment_true_up", D("40.00"))]
    assert [x["line_type"] for x in lines(rated, "c_commit", JUNE)] == ["usage"]


def test_prepaid_credits_burn_order_and_balances(rated: RatingResult) -> None:
    # Prepaid credits pay invoices after tax (docs/invoices.md): they are not billing lines; the
    # invoices' tax-inclusive totals burn the grants. c_credits is in the US without a state: the
    # example tax rates give it the `*` out_of_scope rate (0 %), so each fee invoice totals 100.00.
    # grants: g1 150 (Apr 1 -> expires May 20), g2 200 (Apr 1, never), g3 80 (May 15 -> Jul 1)
    # May 1 invoice 100: g1 (earliest expiry) pays 100.                      -> g1 left 50 (expires May 20)
    # Jun 1 invoice 100: g1 expired; g3 (Jul 1) pays 80, then g2 pays 20.    -> g2 left 180
    # Jul 1 invoice 100: g3 expired (expires_at is exclusive); g2 pays 100.  -> g2 left 80
    assert lines(rated, "c_credits", line_type="credit_applied") == []
    assert total(rated, "c_credits") == D("100.00") and total(rated, "c_credits", JUNE) == D("100.00")
    balances = {
        b["grant_id"]: (b["amount_used"], b["amount_expired"], b["balance"]) for b in rated.credit_balances
    }
    assert balances == {
        "g1_short": (D("100"), D("50"), D("0")),
        "g2_forever": (D("120"), D("0"), D("80")),
        "g3_june": (D("80"), D("0"), D("0")),
    }


def test_proration_of_plan_change(rated: RatingResult) -> None:
    # $100 plan until May 11 (exclusive), then $310 plan: May has 31 days
    # old plan 10 days: 100 * 10/31 = 32.258064516129 -> 32.26; new plan 21 days: 310 * 21/31 = 210.00
    got = {
        x["subscription_id"]: (x["line_type"], x["amount"], x["amount_rounded"])
        for x in lines(rated, "c_change")
    }
    assert got == {
        "sub_c_change_a": ("proration", D("32.258064516129"), D("32.26")),
        "sub_c_change_b": ("proration", D("210"), D("210.00")),
    }
    assert total(rated, "c_change", date(2026, 4, 1)) == D("100.00")  # April: full month of the old plan


def test_annual_periods_with_anchor_day(rated: RatingResult) -> None:
    # anchor 15, started 2025-05-15, $1,200 a year in arrears: period [2025-05-15, 2026-05-15) -> 1200.00
    (line,) = lines(rated, "c_annual_arrears", date(2025, 5, 15), "recurring_fee")
    assert (line["period_end"], line["billing_timing"], line["amount_rounded"]) == (
        date(2026, 5, 15),
        "in_arrears",
        D("1200.00"),
    )
    # anchor 15, started 2026-05-20, $1,200 in advance: period [2026-05-15, 2027-05-15) has 365 days,
    # 360 served: 1200 * 360 / 365 = 1183.561643835616... -> 1183.56
    (line,) = lines(rated, "c_annual_advance", date(2026, 5, 15))
    assert (line["line_type"], line["amount"], line["amount_rounded"]) == (
        "proration",
        D("1183.561643835616"),
        D("1183.56"),
    )


def test_currency_minor_units(rated: RatingResult) -> None:
    # JPY (0 places): 2457 ms at 1.5 JPY per 1K ms = 3.6855 -> 4; 5 calls at 0.5 = 2.5 -> 3 (half-up)
    got = {x["charge_id"]: (x["amount"], x["amount_rounded"]) for x in lines(rated, "c_jpy")}
    assert got == {"gpu": (D("3.6855"), D("4")), "calls": (D("2.5"), D("3"))}
    assert rated.totals("c_jpy") == {"JPY": D("7")}
    # KWD (3 places): 3 calls at 0.0125 = 0.0375 -> 0.038 (half-up)
    (line,) = lines(rated, "c_kwd")
    assert (line["amount"], line["amount_rounded"], line["currency"]) == (D("0.0375"), D("0.038"), "KWD")


def test_prices_versioned_by_effective_date(rated: RatingResult) -> None:
    # $1 per call until 2026-06-01, $2 from then: May 3 calls = 3.00 (v1), June 3 calls = 6.00 (v2)
    (may,) = lines(rated, "c_versioned")
    (june,) = lines(rated, "c_versioned", JUNE)
    assert (may["plan_version"], may["amount_rounded"]) == (1, D("3.00"))
    assert (june["plan_version"], june["amount_rounded"]) == (2, D("6.00"))


def test_meter_aggregations_filters_and_unit_conversion(rated: RatingResult) -> None:
    got = {x["charge_id"]: (x["quantity"], x["amount_rounded"]) for x in lines(rated, "c_meters")}
    assert got == {
        "eu_calls": (D("2"), D("2.00")),  # count, filter region=eu: 2 eu calls of 3
        "peak": (D("7"), D("7.00")),  # max of 3, 7, 5
        "users": (D("2"), D("2.00")),  # unique_count of users a, b, a
        "seats": (D("9"), D("9.00")),  # latest: 4 on May 5, 9 on May 20
        "latency": (D("3"), D("3.00")),  # average of 1, 2, 6
        # time-weighted: 10 GB from May 31 00:00 to 12:00 + 20 GB from 12:00 to the period end = 120 + 240
        "storage": (D("360"), D("3.60")),  # 360 GB-hours at $0.01
        "gpu_seconds": (D("2457"), D("0.02")),  # properties.seconds 2.457 * 1000 = 2457 ms at $0.01 / 1K ms
    }


def test_order_and_totals_of_lines(rated: RatingResult) -> None:
    # sequence_in_period follows the application order: fee, trial credit, usage, discount, true-up, credit
    for customer in ("c_trial", "c_disc_once", "c_credits"):
        ordered = lines(rated, customer)
        assert [x["sequence_in_period"] for x in ordered] == list(range(1, len(ordered) + 1))
        assert [x["application_step"] for x in ordered] == sorted(x["application_step"] for x in ordered)
    assert len({x["billing_line_id"] for x in rated.lines}) == len(rated.lines)


def test_no_float_anywhere(rated: RatingResult, workdir: Path) -> None:
    money_columns = ("quantity", "unit_price", "amount", "amount_rounded")
    for line in rated.lines:
        for column in money_columns:
            assert line[column] is None or isinstance(line[column], Decimal), (column, line[column])
    import duckdb

    con = duckdb.connect(str(workdir / "work" / "rate.duckdb"), read_only=True)
    try:
        types = con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "where (table_schema = 'intermediate' and table_name like 'int_rating%') "
            "or (table_schema = 'billing' and table_name in ('fct_billing_lines', 'fct_credit_balances')) "
            "or (table_schema = 'staging' and table_name like 'stg_catalog%')"
        ).fetchall()
    finally:
        con.close()
    assert len(types) > 100
    floats = [t for t in types if t[3].upper() in ("DOUBLE", "FLOAT", "REAL")]
    assert floats == []
    amounts = {t[2]: t[3] for t in types if t[1] == "fct_billing_lines"}
    assert {amounts[c] for c in money_columns} == {"DECIMAL(38,12)"}


def test_quarantine_and_json_document(rated: RatingResult) -> None:
    # the one event without a timestamp is quarantined with its reason, not dropped silently
    assert rated.events_quarantined == 1
    assert rated.quarantine_reasons[0]["field"] == "timestamp"
    doc = result_to_json(rated)
    src = next(c for c in doc["customers"] if c["customer_id"] == "c_src")
    assert src["totals"] == [{"currency": "USD", "amount": "0.02"}]
    assert src["lines"][0]["amount"] == "0.02457" and src["lines"][0]["amount_rounded"] == "0.02"
    jpy = next(c for c in doc["customers"] if c["customer_id"] == "c_jpy")
    assert jpy["totals"] == [{"currency": "JPY", "amount": "7"}]
    assert {t["currency"] for t in doc["totals"]} == {"JPY", "KWD", "USD"}


def test_rate_cli_reports_invalid_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # nothing is billed from a catalog that does not validate: the CLI exits 1 with file + path + problem
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    for name in ("meters.yaml", "customers.yaml", "subscriptions.yaml"):
        (catalog / name).write_text((SCENARIO_DIR / name).read_text())
    (catalog / "plans.yaml").write_text(
        "plans:\n  - id: p\n    currency: USD\n    versions:\n      - version: 1\n        effective_from: 2025-01-01\n"
        "        charges:\n          - {id: c, type: usage, meter: units, model: per_unit, unit_price: 0.01}\n"
    )
    usage = write_jsonl(tmp_path / "u.jsonl", scenario_events()[:1])
    code = main(
        [
            "--catalog",
            str(catalog),
            "--usage",
            str(usage),
            "--period-start",
            "2026-05-01",
            "--period-end",
            "2026-06-01",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "plans.yaml: plans[0].versions[0].charges[0].unit_price: 0.01 is a YAML float" in err


def test_same_bill_from_shuffled_events_split_into_csv_and_jsonl(rated: RatingResult, tmp_path: Path) -> None:
    # the same events, shuffled and split over a CSV file and a JSON lines file (two batches): identical lines
    import csv
    import random

    from usagebill.rating import rate

    events = scenario_events()
    random.Random(7).shuffle(events)
    half = len(events) // 2
    write_jsonl(tmp_path / "a.jsonl", events[:half])
    with (tmp_path / "b.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["event_id", "customer_id", "meter", "timestamp", "quantity", "dimensions", "properties"]
        )
        for e in events[half:]:
            writer.writerow(
                [
                    e["event_id"],
                    e["customer_id"],
                    e["meter"],
                    e["timestamp"],
                    e.get("quantity", ""),
                    json.dumps(e.get("dimensions", {})),
                    json.dumps(e.get("properties", {})),
                ]
            )
    again = rate(
        SCENARIO_DIR,
        [tmp_path / "b.csv", tmp_path / "a.jsonl"],
        date(2025, 1, 1),
        date(2026, 7, 1),
        as_of=date(2026, 7, 1),
        progress=lambda m: None,
    )
    assert again.events_loaded == len(events) and again.events_quarantined == 0

    def key(result: RatingResult) -> list[tuple]:
        return sorted(
            (x["billing_line_id"], x["quantity"], x["amount"], x["amount_rounded"]) for x in result.lines
        )

    assert key(again) == key(rated)


def test_contract_price_of_a_recurring_fee_from_its_effective_date(rated: RatingResult) -> None:
    # plan fee $100; contract $80 from 2026-06-01: May 100.00 (plan), June 80.00 (contract)
    (may,) = lines(rated, "c_contract_fee")
    (june,) = lines(rated, "c_contract_fee", JUNE)
    assert (may["price_source"], may["amount_rounded"]) == ("plan", D("100.00"))
    assert (june["price_source"], june["amount_rounded"]) == ("contract", D("80.00"))


def test_discount_on_usage_only(rated: RatingResult) -> None:
    # Kill Bill plan ($30 fee + 13 videos = $18) with 10% off usage only: -1.80, on the in-arrears lines
    got = [(x["line_type"], x["billing_timing"], x["amount_rounded"]) for x in lines(rated, "c_usage_disc")]
    assert got == [
        ("recurring_fee", "in_advance", D("30.00")),
        ("usage", "in_arrears", D("18.00")),
        ("discount", "in_arrears", D("-1.80")),
    ]


def test_graduated_overage_after_included_units_with_unit_size(rated: RatingResult) -> None:
    # $2,000 + 300,000,000 ms included, then per 1K ms: first 1,000,000,000 billable ms at $0.008, beyond $0.007.
    # 1,500,000,000 ms used -> billable 1,200,000,000: 1e9/1000*0.008 = 8,000 + 2e8/1000*0.007 = 1,400 -> 9,400.00
    usage = lines(rated, "c_growth", line_type="usage")
    assert [x["amount_rounded"] for x in usage] == [D("9400.00")]
    tiers = json.loads(usage[0]["tier_breakdown_json"])
    assert [(D(t["quantity"]), D(t["amount"])) for t in tiers] == [
        (D("1000000000"), D("8000")),
        (D("200000000"), D("1400")),
    ]


def test_cancelled_mid_period_fee_in_arrears_prorated(rated: RatingResult) -> None:
    # $100/month in arrears, cancelled from May 16 (exclusive end): 15 of 31 days = 48.387096774194 -> 48.39
    (line,) = lines(rated, "c_cancel")
    assert (line["line_type"], line["service_end"], line["amount_rounded"]) == (
        "proration",
        date(2026, 5, 16),
        D("48.39"),
    )
    assert lines(rated, "c_cancel", JUNE) == []


def test_annual_minimum_commitment_true_up(rated: RatingResult) -> None:
    # $1,500 minimum per annual period, the year's fee was $1,200 -> true-up 300.00 when the year ended
    got = [(x["line_type"], x["amount_rounded"]) for x in lines(rated, "c_annual_arrears", date(2025, 5, 15))]
    assert got == [("recurring_fee", D("1200.00")), ("commitment_true_up", D("300.00"))]
