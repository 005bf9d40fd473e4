"""The rollups built day by day by incremental runs equal a full rebuild, and the monthly rollup
stays exact for the aggregations that do not add up from days (unique_count, average), which the
monthly model recomputes from the journal while it adds up the daily rollup for the others.

Scenario (June 2026, customer cus_c), three arrival days, each run with its own window:
  day 1 (arrived 06-01): users alice, bob; latency 10; seats 5 at 08:00; peak 3; gpu 1000;
                         storage 100 GB at 23:30 (held 1 h: into day 2)
  day 2 (arrived 06-02): users alice, carol; latency 20, 40; seats 7 at 08:00; peak 9; gpu 500
  day 3 (arrived 06-03): user dave (06-03); LATE: latency 60 of 06-01, seats 4 of 06-01 09:00,
                         storage 200 GB of 06-02 00:15 (shortens the 23:30 sample's hold)
Every expected number is computed by hand below.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from tests.usage_models import raw_fixtures as fx
from tests.usage_models.conftest import INCREMENTAL_USAGE_MODELS, USAGE_MODELS, Warehouse
from tests.usage_models.test_usage_journal import snapshot

pytestmark = pytest.mark.slow

A1, A2, A3 = "2026-06-01T23:59:00Z", "2026-06-02T23:59:00Z", "2026-06-03T06:00:00Z"


def ev(
    event_id: str, meter: str, at: str, quantity: str | None, arrived: str, user: str | None = None
) -> dict:
    properties = {"user_id": user} if user else None
    return fx.event(event_id, "cus_c", meter, at, quantity, properties=properties, arrived=arrived)


DAYS = {
    "2026-06-01": [
        ev("u1", "active_users", "2026-06-01T09:00:00Z", None, A1, "alice"),
        ev("u2", "active_users", "2026-06-01T10:00:00Z", None, A1, "bob"),
        ev("a1", "latency_ms", "2026-06-01T07:00:00Z", "10", A1),
        ev("l1", "seats", "2026-06-01T08:00:00Z", "5", A1),
        ev("m1", "peak_connections", "2026-06-01T09:00:00Z", "3", A1),
        ev("g1", "gpu_ms", "2026-06-01T12:00:00Z", "1000", A1),
        ev("s1", "storage_gb", "2026-06-01T23:30:00Z", "100", A1),
    ],
    "2026-06-02": [
        ev("u3", "active_users", "2026-06-02T09:00:00Z", None, A2, "alice"),
        ev("u4", "active_users", "2026-06-02T10:00:00Z", None, A2, "carol"),
        ev("a2", "latency_ms", "2026-06-02T07:00:00Z", "20", A2),
        ev("a3", "latency_ms", "2026-06-02T07:01:00Z", "40", A2),
        ev("l2", "seats", "2026-06-02T08:00:00Z", "7", A2),
        ev("m2", "peak_connections", "2026-06-02T09:00:00Z", "9", A2),
        ev("g2", "gpu_ms", "2026-06-02T12:00:00Z", "500", A2),
    ],
    "2026-06-03": [
        ev("u5", "active_users", "2026-06-03T01:00:00Z", None, A3, "dave"),
        ev("a4", "latency_ms", "2026-06-01T08:00:00Z", "60", A3),
        ev("l3", "seats", "2026-06-01T09:00:00Z", "4", A3),
        ev("s2", "storage_gb", "2026-06-02T00:15:00Z", "200", A3),
    ],
}
NEXT_DAY = {"2026-06-01": "2026-06-02", "2026-06-02": "2026-06-03", "2026-06-03": "2026-06-04"}


@pytest.fixture(scope="module")
def day_by_day(make_warehouse) -> dict[str, object]:
    wh = make_warehouse("day_by_day")
    fx.write_catalog(wh.raw, {"meters": fx.METERS})
    first, *later = DAYS
    fx.write_events(wh.raw, fx.ts(first + "T00:00:00Z").date(), "batch", DAYS[first])
    wh.dbt("build", USAGE_MODELS)  # first run: the tables do not exist yet
    after_day = {}
    for day in later:  # each arrival day lands, then its window runs (with the data tests)
        fx.write_events(wh.raw, fx.ts(day + "T00:00:00Z").date(), "batch", DAYS[day])
        wh.dbt("build", INCREMENTAL_USAGE_MODELS, window=(day, NEXT_DAY[day]))
        after_day[day] = snapshot(wh)
    wh.dbt("build", INCREMENTAL_USAGE_MODELS, "--full-refresh")
    return {"wh": wh, "incremental": after_day["2026-06-03"], "full": snapshot(wh), "after_day": after_day}


def test_day_by_day_equals_full_refresh(day_by_day):
    incremental, full = day_by_day["incremental"], day_by_day["full"]
    for name in ("hourly", "daily", "monthly", "journal"):
        assert incremental[name] == full[name], name
    assert len(full["journal"]) == 18  # 7 + 7 + 4 events, none excluded


def rollup(wh: Warehouse, table: str, period: str, meter: str, when: str) -> tuple[Decimal, int]:
    rows = wh.rows(
        f"select quantity, event_count from usage.{table} where meter_id = ? and {period} = ?",
        [meter, when],
    )
    assert len(rows) == 1, rows
    return rows[0]


def test_monthly_exact_for_every_aggregation(day_by_day):
    wh: Warehouse = day_by_day["wh"]

    def month(meter: str) -> tuple[Decimal, int]:
        return rollup(wh, "fct_usage_monthly", "usage_month", meter, "2026-06-01")

    # unique users over the month: alice, bob, carol, dave = 4 (days say 2 + 2 + 1 = 5)
    assert month("active_users") == (Decimal("4"), 5)
    # average of the month's events: (10 + 20 + 40 + 60) / 4 = 32.5 (days' averages 35, 30: not 32.5)
    assert month("latency_ms") == (Decimal("32.5"), 4)
    assert month("seats") == (Decimal("7"), 3)  # the last event: 06-02 08:00 -> 7 (the late 4 is older)
    assert month("peak_connections") == (Decimal("9"), 2)  # max(3, 9)
    assert month("gpu_ms") == (Decimal("1500"), 2)  # 1000 + 500
    # 100 GB 23:30-00:15 = 0.75 h -> 75; 200 GB 00:15-01:15 = 1 h -> 200; total 275 GB-hours
    assert month("storage_gb") == (Decimal("275"), 2)


def test_late_events_recompute_their_days(day_by_day):
    wh: Warehouse = day_by_day["wh"]

    def day(meter: str, when: str) -> tuple[Decimal, int]:
        return rollup(wh, "fct_usage_daily", "usage_date", meter, when)

    assert day("latency_ms", "2026-06-01") == (Decimal("35"), 2)  # (10 + 60) / 2
    assert day("seats", "2026-06-01") == (Decimal("4"), 2)  # 09:00 (late, 4) is after 08:00 (5)
    # 100 GB from 23:30 to midnight = 0.5 h -> 50 GB-hours on day 1 (unchanged by the late sample)
    assert day("storage_gb", "2026-06-01") == (Decimal("50"), 1)
    # day 2: 100 GB 00:00-00:15 = 25, 200 GB 00:15-01:15 = 200 -> 225 (before day 3 arrived: 100 x 0.5 = 50)
    assert day("storage_gb", "2026-06-02") == (Decimal("225"), 1)
    before = [r for r in day_by_day["after_day"]["2026-06-02"]["daily"] if r[2] == "storage_gb"]
    assert [(str(r[3]), r[-2]) for r in before] == [
        ("2026-06-01", Decimal("50")),
        ("2026-06-02", Decimal("50")),
    ]
    hours = wh.rows(
        """select hour_start::varchar, quantity from usage.fct_usage_hourly
        where meter_id = 'storage_gb' and usage_date = date '2026-06-02' order by 1"""
    )
    # 00h: 100 x 0.25 + 200 x 0.75 = 175; 01h: 200 x 0.25 = 50
    assert hours == [("2026-06-02 00:00:00", Decimal("175")), ("2026-06-02 01:00:00", Decimal("50"))]


def test_data_tests_check_the_window_and_all_history_on_demand(day_by_day):
    """A wrong hourly row on 06-01: the run of window [06-02, 06-03) (its arrivals touched only
    06-02) does not read 06-01; the run of 06-01's window and a full-history run catch it."""
    wh: Warehouse = day_by_day["wh"]
    test = ["assert_usage_rollups_match_journal"]
    corrupt = """update usage.fct_usage_hourly set quantity = quantity + {delta}
        where meter_id = 'gpu_ms' and usage_date = date '2026-06-01'"""
    con = duckdb.connect(str(wh.path))
    con.execute(corrupt.format(delta=1))  # 1000 -> 1001, journal says 1000
    con.close()
    try:
        wh.dbt("test", test, window=("2026-06-02", "2026-06-03"))
        wh.dbt("test", test, window=("2026-06-01", "2026-06-02"), expect_failure=True)
        wh.dbt(
            "test",
            test,
            window=("2026-06-02", "2026-06-03"),
            dbt_vars={"usage_data_tests": "full"},
            expect_failure=True,
        )
        wh.dbt("test", test, expect_failure=True)  # no window: all history
    finally:
        con = duckdb.connect(str(wh.path))
        con.execute(corrupt.format(delta=-1))
        con.close()
