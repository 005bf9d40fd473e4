"""The usage journal and rollups, built by dbt on hand-made raw files (tests/usage_models/raw_fixtures.py).

Scenario: a day-1 batch (arrived 2026-05-01), then a day-3 batch (arrived 2026-05-03) that
re-sends e1 and brings a late event of day 1. Every expected number is computed by hand below.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.usage_models import raw_fixtures as fx
from tests.usage_models.conftest import INCREMENTAL_USAGE_MODELS, USAGE_MODELS, Warehouse

pytestmark = pytest.mark.slow

DAY3_WINDOW = ("2026-05-03", "2026-05-04")
SNAPSHOT_SQL = {
    "journal": "select * from usage.fct_usage_journal order by tenant_id, event_id",
    "hourly": "select * from usage.fct_usage_hourly order by all",
    "daily": "select * from usage.fct_usage_daily order by all",
    "monthly": "select * from usage.fct_usage_monthly order by all",
    "excluded": "select * from usage.fct_usage_excluded_events order by all",
}


def snapshot(wh: Warehouse) -> dict[str, list[tuple]]:
    return {name: wh.rows(sql) for name, sql in SNAPSHOT_SQL.items()}


@pytest.fixture(scope="module")
def usage(make_warehouse) -> dict[str, object]:
    wh = make_warehouse("usage")
    fx.write_catalog(wh.raw, {"meters": fx.METERS})
    fx.write_events(wh.raw, fx.DAY1, "batch", fx.day1_events())
    # first run: tables do not exist yet -> built from all raw (only day 1 exists), with dbt tests
    wh.dbt("build", USAGE_MODELS)
    after_day1 = snapshot(wh)
    # day 3 arrives; Dagster runs the day-3 partition: window [2026-05-03, 2026-05-04)
    fx.write_events(wh.raw, fx.DAY3, "batch", fx.day3_events())
    wh.dbt("build", INCREMENTAL_USAGE_MODELS, window=DAY3_WINDOW)
    after_day3 = snapshot(wh)
    # the same partition again (a retry): must change nothing
    wh.dbt("run", INCREMENTAL_USAGE_MODELS, window=DAY3_WINDOW)
    after_rerun = snapshot(wh)
    # rebuild everything from raw
    wh.dbt("run", INCREMENTAL_USAGE_MODELS, "--full-refresh")
    after_full_refresh = snapshot(wh)
    return {
        "wh": wh,
        "day1": after_day1,
        "day3": after_day3,
        "rerun": after_rerun,
        "full": after_full_refresh,
    }


def test_day1_journal_keeps_valid_events_and_audits_the_rest(usage):
    wh: Warehouse = usage["wh"]
    journal_ids = {row[1] for row in usage["day1"]["journal"]}
    # 22 day-1 events - x1 (unknown meter) - q1 (no quantity) = 20
    assert len(journal_ids) == 20
    excluded = {(row[1], row[-1]) for row in usage["day1"]["excluded"]}
    assert excluded == {("x1", "unknown_meter"), ("q1", "missing_quantity")}
    assert wh.rows("select count(*) from staging.stg_usage__quarantined_events") == [
        (0,)
    ]  # empty folder: no error


def test_event_seen_on_day1_and_day3_is_counted_once(usage):
    wh: Warehouse = usage["wh"]
    rows = wh.rows(
        "select arrival_date::varchar, arrived_at::varchar from usage.fct_usage_journal where event_id = 'e1'"
    )
    assert rows == [("2026-05-01", "2026-05-01 18:00:00")]  # the first arrival wins
    # day 3 brought e1 (duplicate), late1 and e6 -> 2 new journal rows
    assert len(usage["day3"]["journal"]) == len(usage["day1"]["journal"]) + 2


def test_late_event_lands_in_its_event_day(usage):
    wh: Warehouse = usage["wh"]
    rows = wh.rows(
        """select event_date::varchar, event_hour::varchar, arrival_date::varchar, is_late
        from usage.fct_usage_journal where event_id = 'late1'"""
    )
    assert rows == [("2026-05-01", "2026-05-01 23:00:00", "2026-05-03", True)]
    assert wh.rows("select count(*) from usage.fct_usage_journal where is_late") == [(1,)]


def test_units_and_dimensions(usage):
    wh: Warehouse = usage["wh"]
    q = dict(wh.rows("select event_id, quantity from usage.fct_usage_journal where event_id in ('e2', 'e3')"))
    assert q["e2"] == Decimal("1000")  # from properties.duration_ms
    assert q["e3"] == Decimal("1500")  # 1.5 s x unit_multiplier 1000
    keys = wh.rows(
        "select distinct dimensions_key from usage.fct_usage_journal where event_id in ('e1', 'e2')"
    )
    assert keys == [(fx.GPU_DIMS_KEY,)]  # key order in the event does not matter


def test_incremental_rerun_is_idempotent_and_equals_full_refresh(usage):
    assert usage["rerun"] == usage["day3"]
    assert usage["full"] == usage["day3"]


def daily(wh: Warehouse, customer: str, meter: str, day: str = "2026-05-01") -> tuple[Decimal, int]:
    rows = wh.rows(
        """select quantity, event_count from usage.fct_usage_daily
        where customer_id = ? and meter_id = ? and usage_date = ?""",
        [customer, meter, day],
    )
    assert len(rows) == 1, rows
    return rows[0]


def test_daily_rollup_per_aggregation(usage):
    wh: Warehouse = usage["wh"]
    assert daily(wh, "cus_a", "gpu_ms") == (Decimal("3957"), 3)  # sum: 2457 + 1000 + 500 (late)
    assert daily(wh, "cus_a", "gpu_ms", "2026-05-03") == (Decimal("100"), 1)
    assert daily(wh, "cus_a", "api_calls") == (Decimal("2"), 2)  # count
    assert daily(wh, "cus_b", "peak_connections") == (Decimal("9"), 3)  # max of 3, 9, 4
    assert daily(wh, "cus_b", "active_users") == (Decimal("2"), 3)  # unique users: alice, bob
    assert daily(wh, "cus_b", "seats") == (Decimal("7"), 3)  # latest by time: 08:30 -> 7
    # average: (10 + 20 + 40) / 3 = 23.333333333333 (12 decimals, half-up)
    assert daily(wh, "cus_b", "latency_ms") == (Decimal("23.333333333333"), 3)


def test_time_weighted_gauge_in_gb_hours(usage):
    wh: Warehouse = usage["wh"]
    hourly = wh.rows(
        """select hour_start::varchar, quantity, event_count from usage.fct_usage_hourly
        where meter_id = 'storage_gb' order by hour_start"""
    )
    # 100 GB held 10:00-10:30, 200 GB held 10:30-11:30 (1 h cap), 50 GB held 12:00-13:00:
    # 10h: 100 x 0.5 + 200 x 0.5 = 150; 11h: 200 x 0.5 = 100; 12h: 50 x 1 = 50
    assert hourly == [
        ("2026-05-01 10:00:00", Decimal("150"), 2),
        ("2026-05-01 11:00:00", Decimal("100"), 0),
        ("2026-05-01 12:00:00", Decimal("50"), 1),
    ]
    assert daily(wh, "cus_b", "storage_gb") == (Decimal("300"), 3)  # 150 + 100 + 50 GB-hours


def test_monthly_and_hourly_rollups(usage):
    wh: Warehouse = usage["wh"]
    monthly = wh.rows(
        """select quantity, event_count from usage.fct_usage_monthly
        where customer_id = 'cus_a' and meter_id = 'gpu_ms' and usage_month = date '2026-05-01'"""
    )
    assert monthly == [(Decimal("4057"), 4)]  # 3957 (day 1) + 100 (day 3)
    hourly = wh.rows(
        """select hour_start::varchar, quantity from usage.fct_usage_hourly
        where customer_id = 'cus_a' and meter_id = 'gpu_ms' order by hour_start"""
    )
    assert hourly == [
        ("2026-05-01 13:00:00", Decimal("3457")),  # 2457 + 1000
        ("2026-05-01 23:00:00", Decimal("500")),  # the late event
        ("2026-05-03 01:00:00", Decimal("100")),
    ]
