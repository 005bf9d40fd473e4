"""Planning rules computed by hand: delta units, exact carry, zero records, Azure > 0, windows."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from exports.marketplace.catalog import StatePeriod
from exports.marketplace.ledger import ReportRow
from exports.marketplace.planning import ReportedTotals, plan_hour, units_from_amount

from .conftest import H0, SINCE, aws_ident, azure_ident, billed, dim, make_catalog


def _reported_row(customer: str, dimension: str, hour: datetime, quantity: str) -> ReportRow:
    return ReportRow(
        "aws",
        customer,
        "x",
        "gpu",
        dimension,
        hour,
        "acknowledged",
        Decimal(quantity),
        Decimal(quantity),
        Decimal(0),
        Decimal("0.01"),
        "USD",
        True,
    )


def test_delta_units_100_billed_75_reported_gives_2500():
    # $100.00 billed so far, $75.00 already reported at $0.01 per unit (7,500 units):
    # (100.00 - 75.00) / 0.01 = 2,500 units due now.
    catalog = make_catalog({"aws": [dim("aws", "gpu_usage")]})
    ident = aws_ident(1)
    series = billed(
        [("cus_0001", "gpu_ms", H0 - timedelta(hours=1), "75.00"), ("cus_0001", "gpu_ms", H0, "25.00")]
    )
    earlier = _reported_row("cus_0001", "gpu_usage", H0 - timedelta(hours=1), "7500")
    totals = ReportedTotals([earlier])
    rows = plan_hour(
        "aws",
        H0,
        H0 + timedelta(hours=1, minutes=5),
        catalog,
        [ident],
        series,
        totals,
        {earlier.key: earlier},
    )
    assert [(r.state, r.quantity) for r in rows] == [("planned", Decimal("2500"))]
    assert rows[0].cumulative_units == Decimal("10000")  # 100.00 / 0.01
    assert rows[0].carried_remainder == 0


def test_aws_fractional_remainder_carried_exactly_over_three_hours():
    # 0.4 units per hour (at $0.01/unit: $0.004 billed per hour): cumulative 0.4, 0.8, 1.2
    # -> whole units reported 0, 0, 1; remainders 0.4, 0.8, 0.2 (never lost, never doubled).
    catalog = make_catalog({"aws": [dim("aws", "gpu_usage")]})
    hours = [H0 + timedelta(hours=i) for i in range(3)]
    series = billed([("cus_0001", "gpu_ms", h, "0.004") for h in hours])
    totals = ReportedTotals([])
    out = []
    for h in hours:
        out += plan_hour(
            "aws", h, hours[-1] + timedelta(hours=1, minutes=5), catalog, [aws_ident(1)], series, totals, {}
        )
    assert [r.quantity for r in out] == [Decimal(0), Decimal(0), Decimal(1)]
    assert [r.carried_remainder for r in out] == [Decimal("0.4"), Decimal("0.8"), Decimal("0.2")]


def test_zero_records_for_every_subscribed_customer_and_dimension_but_not_unsubscribed():
    catalog = make_catalog({"aws": [dim("aws", "gpu_usage"), dim("aws", "api", "api_calls", "0.5")]})
    gone = aws_ident(
        3, (StatePeriod("subscribed", SINCE), StatePeriod("unsubscribed", H0 - timedelta(days=1)))
    )
    suspended = aws_ident(
        4, (StatePeriod("subscribed", SINCE), StatePeriod("suspended", H0 + timedelta(minutes=30)))
    )  # mid-hour
    rows = plan_hour(
        "aws",
        H0,
        H0 + timedelta(hours=2),
        catalog,
        [aws_ident(1), aws_ident(2), gone, suspended],
        billed([]),
        ReportedTotals([]),
        {},
    )
    # 2 subscribed customers x 2 dimensions = 4 zero records; the unsubscribed/suspended ones get none
    assert sorted((r.customer_id, r.dimension, r.quantity) for r in rows) == [
        ("cus_0001", "api", 0),
        ("cus_0001", "gpu_usage", 0),
        ("cus_0002", "api", 0),
        ("cus_0002", "gpu_usage", 0),
    ]


def test_azure_reports_quantity_above_zero_only_and_keeps_six_decimals():
    # gpu_hours at $36.00/hour: $9.00 billed -> 0.25 hours; $0 billed -> no event at all.
    # $1.00 billed -> 1/36 = 0.027777... -> 0.027777 sent, 0.000000777777 carried.
    catalog = make_catalog({"azure": [dim("azure", "gpu_hours", price="36.00")]})
    series = billed([("cus_0001", "gpu_ms", H0, "9.00"), ("cus_0003", "gpu_ms", H0, "1.00")])
    rows = plan_hour(
        "azure",
        H0,
        H0 + timedelta(hours=2),
        catalog,
        [azure_ident(1), azure_ident(2), azure_ident(3)],
        series,
        ReportedTotals([]),
        {},
    )
    assert {r.customer_id: r.quantity for r in rows} == {
        "cus_0001": Decimal("0.25"),
        "cus_0003": Decimal("0.027777"),
    }
    assert rows[1].carried_remainder == Decimal("0.000000777777")  # 0.027777777777 - 0.027777


def test_window_missed_hour_is_carried_to_the_next_open_hour():
    # AWS window 6 h. At 20:05 the 12:00 hour is 8 h old: carried (quantity 0); the next open hour is 15:00
    # (20:05 - 6 h = 14:05 -> first whole hour inside the window is 15:00).
    catalog = make_catalog({"aws": [dim("aws", "gpu_usage")]})
    series = billed(
        [("cus_0001", "gpu_ms", H0, "1.50"), ("cus_0001", "gpu_ms", H0 + timedelta(hours=3), "0.25")]
    )
    now = H0 + timedelta(hours=8, minutes=5)
    totals = ReportedTotals([])
    old = plan_hour("aws", H0, now, catalog, [aws_ident(1)], series, totals, {})
    assert [(r.state, r.quantity, r.carried_remainder) for r in old] == [("carried", 0, Decimal("150"))]
    assert old[0].carried_to_hour == H0 + timedelta(hours=3)
    later = plan_hour("aws", H0 + timedelta(hours=3), now, catalog, [aws_ident(1)], series, totals, {})
    # 150 carried units + 25 new units = 175 reported with the 15:00 hour
    assert [(r.state, r.quantity) for r in later] == [("planned", Decimal("175"))]


def test_units_from_amount_is_exact_for_cents():
    assert units_from_amount(Decimal("100.00"), Decimal("0.01")) == Decimal("10000")
    assert units_from_amount(Decimal("0.004"), Decimal("0.01")) == Decimal("0.4")


def test_only_usage_of_subscribed_hours_is_reported():
    # subscribed from 12:30 (the 12:00 hour is not whole: first counted hour 13:00), suspended 15:00-16:00.
    # billed $0.10 (10 units) every hour from 10:00 to 16:00; at 16:00 the counted hours are 13, 14 and 16
    # -> 30 units; 10, 11, 12 (before) and 15 (suspended) are not the marketplace's to bill.
    catalog = make_catalog({"aws": [dim("aws", "gpu_usage")]})
    ident = aws_ident(
        1,
        (
            StatePeriod("subscribed", H0 + timedelta(minutes=30)),
            StatePeriod("suspended", H0 + timedelta(hours=3)),
            StatePeriod("subscribed", H0 + timedelta(hours=4)),
        ),
    )
    series = billed([("cus_0001", "gpu_ms", H0 + timedelta(hours=h), "0.10") for h in range(-2, 5)])
    hour16 = H0 + timedelta(hours=4)
    rows = plan_hour(
        "aws", hour16, hour16 + timedelta(hours=1), catalog, [ident], series, ReportedTotals([]), {}
    )
    assert [(r.state, r.quantity) for r in rows] == [("planned", Decimal(30))]
