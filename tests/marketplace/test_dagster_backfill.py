"""Dagster: hourly partitioned reporting asset, then a backfill of the whole day reports only the hours
never reported (fake mode: the contract fakes run in-process)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from exports.marketplace.ledger import Ledger

OFFERINGS = """
currency: USD
parity_tolerance_pct: "1"
listing_fee_pct: {aws: "3", azure: "3", google: "3"}
window_hours: {aws: 48}
offerings:
  - id: gpu
    plans: [payg]
    marketplaces:
      aws:
        product_id: prod-1
        dimensions:
          - {name: gpu_usage, meter: gpu_ms, unit: usd_cent, unit_price: "0.01"}
"""
CUSTOMERS = """
customers:
  - customer_id: cus_a
    aws:
      offering: gpu
      account_id: "111122223333"
      license_arn: arn:aws:license-manager::111122223333:license:l-0001
      states: [{state: subscribed, since: 2026-05-01}]
"""
DAY = datetime(2026, 5, 10, tzinfo=UTC)


@pytest.fixture
def warehouse(isolated, monkeypatch):
    catalog = isolated / "catalog"
    catalog.mkdir()
    (catalog / "marketplace_offerings.yaml").write_text(OFFERINGS)
    (catalog / "marketplace_customers.yaml").write_text(CUSTOMERS)
    monkeypatch.setenv("USAGEBILL_CATALOG_DIR", str(catalog))
    monkeypatch.setenv("USAGEBILL_MARKETPLACE_MODE", "fake")
    monkeypatch.setenv("USAGEBILL_MARKETPLACE_NOW", (DAY + timedelta(days=1, minutes=10)).isoformat())
    dagster_home = isolated / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("")
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    path = isolated / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema intermediate")
        con.execute("""create table intermediate.int_marketplace__billed_hourly as
            select 'default' as tenant_id, 'cus_a' as customer_id, 'gpu_ms' as meter_id, '{}' as dimensions_json,
                   timestamp '2026-05-10 00:00:00' + to_hours(h) as hour_start,
                   cast('0.25' as decimal(38, 12)) as billed_amount, 'USD' as currency
            from range(24) t(h)""")  # $0.25 = 25 units every hour
    return path


def test_hourly_partition_then_day_backfill_reports_only_never_reported_hours(warehouse):
    import dagster as dg

    from dagster_project.defs.marketplace import defs

    asset = next(a for a in defs.assets if a.key == dg.AssetKey(["exports", "aws_marketplace_usage"]))
    assert dg.AssetKey(["usage", "fct_usage_hourly"]) in asset.asset_deps[asset.key]
    result = dg.materialize([asset], partition_key="2026-05-10-12:00")
    assert result.success
    ledger = Ledger(warehouse)
    assert {k[4] for k in ledger.current("aws")} == {DAY + timedelta(hours=12)}
    # hour 12 alone: cumulative $0.25 x 13 hours = 325 units (hours 0-11 had not been reported yet)
    assert (
        ledger.current("aws")[("aws", "default", "cus_a", "gpu_usage", DAY + timedelta(hours=12))].quantity
        == 325
    )

    result = dg.materialize(
        [asset],
        tags={
            "dagster/asset_partition_range_start": "2026-05-10-00:00",
            "dagster/asset_partition_range_end": "2026-05-10-23:00",
        },
    )
    assert result.success
    current = ledger.current("aws")
    assert len(current) == 24 and {r.state for r in current.values()} == {"acknowledged"}
    history = ledger.history("aws")
    hour12 = [r.state for r in history if r.hour_start == DAY + timedelta(hours=12)]
    assert hour12 == ["planned", "acknowledged"]  # not planned again by the backfill
    # hours 0-11: cumulative minus the 325 already reported -> 0 each; 13-23: 25 each; total 24 x 25 = 600
    assert sum(r.quantity for r in current.values()) == 600
    assert [
        current[("aws", "default", "cus_a", "gpu_usage", DAY + timedelta(hours=h))].quantity
        for h in (0, 11, 13, 23)
    ] == [0, 0, 25, 25]


def test_replay_judges_each_hour_at_its_own_end_so_a_day_in_one_run_is_all_acknowledged(warehouse):
    """A fixed clock 24h10m after the day's start leaves most hours outside a 6 h AWS window (carried);
    replay judges hour H at H + 1h10m, inside the window, as the hourly schedule would have."""
    import dagster as dg

    from dagster_project.defs.marketplace import CLOCK_TAG, defs
    from exports.marketplace.run import catalog_dir

    offerings = catalog_dir() / "marketplace_offerings.yaml"
    offerings.write_text(offerings.read_text().replace("window_hours: {aws: 48}", "window_hours: {aws: 6}"))
    asset = next(a for a in defs.assets if a.key == dg.AssetKey(["exports", "aws_marketplace_usage"]))
    tags = {
        "dagster/asset_partition_range_start": "2026-05-10-00:00",
        "dagster/asset_partition_range_end": "2026-05-10-23:00",
        CLOCK_TAG: "replay",
    }
    assert dg.materialize([asset], tags=tags).success
    current = Ledger(warehouse).current("aws")
    assert len(current) == 24 and {r.state for r in current.values()} == {"acknowledged"}
    # $0.25 = 25 units in every hour, each reported in its own hour: 25 x 24 = 600
    assert [r.quantity for _, r in sorted(current.items())] == [25] * 24
    # a second run of the same range plans nothing new (ledger unchanged)
    before = len(Ledger(warehouse).history("aws"))
    assert dg.materialize([asset], tags=tags).success
    assert len(Ledger(warehouse).history("aws")) == before


def test_replay_refuses_live_mode_and_fixes_nothing_else(warehouse, monkeypatch):
    from exports.marketplace.run import configured_now, replay_now, report

    assert replay_now(DAY + timedelta(hours=23)) == DAY + timedelta(days=1, minutes=10)
    assert configured_now("2026-05-11T00:10:00Z") == DAY + timedelta(days=1, minutes=10)
    monkeypatch.setenv("USAGEBILL_MARKETPLACE_NOW", "replay")
    with pytest.raises(ValueError, match="replay gives every hour its own clock"):
        configured_now()
    monkeypatch.setenv("USAGEBILL_MARKETPLACE_MODE", "live")
    with pytest.raises(ValueError, match="needs USAGEBILL_MARKETPLACE_MODE=fake"):
        report("aws", DAY, DAY + timedelta(hours=1))
