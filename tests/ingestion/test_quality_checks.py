"""Great Expectations checks on landed usage: pass on good data, fail (and block billing) on a bad batch."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dagster_project.defs.quality.usage_suite import QualityConfig, run_usage_suite
from ingestion.demo_data import generate
from ingestion.landing import USAGE_EVENTS_SCHEMA, load_landing

DAYS = [date(2026, 10, 29), date(2026, 10, 30), date(2026, 10, 31)]
METERS_YAML = "meters:\n  - {id: gpu_ms, name: GPU time, unit: ms, aggregation: sum}\n" \
    "  - {id: api_calls, name: API calls, unit: call, aggregation: count}\n" \
    "  - {id: storage_gb, name: Storage, unit: GB, aggregation: time_weighted_sum}\n"  # fmt: skip


def quiet(_: str) -> None:
    pass


@pytest.fixture
def landed(tmp_path: Path) -> tuple[Path, Path, Path]:
    data, raw = tmp_path / "data", tmp_path / "raw"
    generate(data, size="tiny", progress=quiet)
    (data / "catalog" / "meters.yaml").write_text(METERS_YAML)
    load_landing(data, raw, progress=quiet)
    return data, raw, data / "catalog"


def outcome_map(outcomes: list) -> dict[str, tuple[bool, bool]]:
    return {o.name: (o.passed, o.blocking) for o in outcomes}


def bad_row(**changes: object) -> dict:
    row = {
        "tenant_id": "default",
        "event_id": "bad-1",
        "customer_id": "cus_a",
        "meter": "gpu_ms",
        "event_ts": datetime(2026, 10, 31, 1, tzinfo=UTC),
        "quantity": "1",
        "properties_json": "{}",
        "dimensions_json": "{}",
        "source": "test",
        "source_file": "manual.parquet",
        "arrived_at": datetime(2026, 10, 31, 23, tzinfo=UTC),
        "arrival_date": date(2026, 10, 31),
    }
    row.update(changes)
    return row


@pytest.mark.slow
def test_suite_passes_on_good_data_and_fails_on_bad_batch(landed: tuple[Path, Path, Path]) -> None:
    _, raw, catalog = landed
    good = run_usage_suite(raw, catalog, DAYS, QualityConfig())
    assert outcome_map(good) == {
        "schema": (True, True),
        "no_null_keys": (True, True),
        "non_negative_quantity": (True, True),
        "known_customers": (True, True),
        "known_meters": (True, False),
        "timestamps_in_range": (True, False),
        "volume": (True, False),
    }
    assert {o.metadata["rows"] for o in good} == {544}  # every valid row of the tiny dataset

    # a bad batch written into the 2026-10-31 partition by some other writer
    rows = [
        bad_row(event_id="bad-1", customer_id="cus_nobody"),
        bad_row(event_id="bad-2", quantity="-3"),
        bad_row(event_id=None),
        bad_row(event_id="bad-4", meter="gpu_hours"),
        bad_row(event_id="bad-5", event_ts=datetime(2026, 12, 1, tzinfo=UTC)),  # a month after its arrival
    ]
    path = raw / "usage_events" / "arrival_date=2026-10-31" / "manual.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=USAGE_EVENTS_SCHEMA), path)
    bad = {o.name: o for o in run_usage_suite(raw, catalog, [date(2026, 10, 31)], QualityConfig())}
    assert bad["schema"].passed
    assert not bad["no_null_keys"].passed and bad["no_null_keys"].metadata["unexpected"] == 1
    assert not bad["non_negative_quantity"].passed and bad["non_negative_quantity"].metadata["examples"] == [
        "-3"
    ]
    assert not bad["known_customers"].passed and bad["known_customers"].metadata["examples"] == ["cus_nobody"]
    assert "Add them to the catalog" in bad["known_customers"].description
    assert not bad["known_meters"].passed and bad["known_meters"].metadata["examples"] == ["gpu_hours"]
    assert not bad["timestamps_in_range"].passed and bad["timestamps_in_range"].metadata["unexpected"] == 1

    # a file missing a column breaks the schema check
    pq.write_table(pa.table({"event_id": ["x"]}), path)
    schema = {o.name: o for o in run_usage_suite(raw, catalog, [date(2026, 10, 31)], QualityConfig())}[
        "schema"
    ]
    assert not schema.passed and "expected" in schema.description


@pytest.mark.slow
def test_volume_anomaly(landed: tuple[Path, Path, Path]) -> None:
    _, raw, catalog = landed
    # 2026-10-31 holds 167 rows; the trailing mean is (186 + 191) / 2 = 188.5: ratio 0.886
    ok = {o.name: o for o in run_usage_suite(raw, catalog, [date(2026, 10, 31)], QualityConfig())}["volume"]
    assert ok.passed
    assert ok.metadata["daily"] == [{"arrival_date": "2026-10-31", "rows": 167, "trailing_mean": 188.5,
                                     "ratio": 167 / 188.5}]  # fmt: skip
    # with factor 1.1 the band is [171.4, 207.4]: 167 is below it
    low = {
        o.name: o
        for o in run_usage_suite(raw, catalog, [date(2026, 10, 31)], QualityConfig(volume_factor=1.1))
    }
    assert not low["volume"].passed and not low["volume"].blocking


@pytest.mark.slow
def test_blocking_check_stops_downstream_billing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, sub in (("USAGEBILL_DATA_DIR", "data"), ("USAGEBILL_RAW_DIR", "raw"),
                      ("USAGEBILL_WAREHOUSE", "wh.duckdb"), ("USAGEBILL_REPORTS_DIR", "reports")):  # fmt: skip
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.delenv("USAGEBILL_CATALOG_DIR", raising=False)
    monkeypatch.delenv("USAGEBILL_S3_BUCKET", raising=False)
    generate(tmp_path / "data", size="tiny", progress=quiet)
    (tmp_path / "data" / "catalog" / "meters.yaml").write_text(METERS_YAML)
    stray = tmp_path / "data" / "landing" / "usage" / "arrival_date=2026-10-30" / "stray.jsonl"
    stray.write_text(
        '{"event_id":"s1","customer_id":"cus_unknown","meter":"gpu_ms","timestamp":"2026-10-30T10:00:00Z",'
        '"quantity":"5"}\n'
    )
    os.utime(stray, (datetime(2026, 10, 30, 23, tzinfo=UTC).timestamp(),) * 2)

    from dagster_project.defs.ingestion import raw_usage_landing
    from dagster_project.defs.quality import no_changed_files, raw_usage_events_quality
    from dagster_project.partitions import daily_partitions

    billed: list[str] = []

    @dg.asset(key=["billing", "probe"], deps=[["raw", "usage_events"]], partitions_def=daily_partitions)
    def billing_probe(context):  # noqa: ANN001 - no string annotation: Dagster inspects it
        billed.append(context.partition_key)

    good_day = dg.materialize(
        [raw_usage_landing, raw_usage_events_quality, no_changed_files, billing_probe],
        partition_key="2026-10-29",
        raise_on_error=False,
    )
    assert good_day.success and billed == ["2026-10-29"]
    checks = {e.check_name: e.passed for e in good_day.get_asset_check_evaluations()}
    assert checks["known_customers"] and checks["no_changed_files"]

    bad_day = dg.materialize(
        [raw_usage_landing, raw_usage_events_quality, no_changed_files, billing_probe],
        partition_key="2026-10-30",
        raise_on_error=False,
    )
    evaluations = {e.check_name: e for e in bad_day.get_asset_check_evaluations()}
    assert not evaluations["known_customers"].passed
    assert "cus_unknown" in str(evaluations["known_customers"].metadata["examples"].value)
    assert billed == ["2026-10-29"]  # the blocking check stopped billing for 2026-10-30
