"""The ingestion Dagster assets: a partition loads its arrival day; metadata counts; sensor is off by default."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from ingestion.demo_data import generate


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, sub in (
        ("USAGEBILL_DATA_DIR", "data"),
        ("USAGEBILL_RAW_DIR", "raw"),
        ("USAGEBILL_WAREHOUSE", "wh.duckdb"),
        ("USAGEBILL_REPORTS_DIR", "reports"),
    ):
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.delenv("USAGEBILL_S3_BUCKET", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    generate(tmp_path / "data", size="tiny", progress=lambda m: None)
    return tmp_path


def metadata_of(result: dg.ExecuteInProcessResult, key: list[str]) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(key)]
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.mark.slow
def test_partition_loads_its_arrival_day(env: Path) -> None:
    from dagster_project.defs.ingestion import defs, raw_cloud_costs, raw_usage_landing

    assert {s.name for s in defs.sensors} == {"s3_usage_drop_sensor"}
    assert defs.sensors[0].default_status == dg.DefaultSensorStatus.STOPPED

    result = dg.materialize([raw_usage_landing], partition_key="2026-10-30")
    assert result.success
    usage = metadata_of(result, ["raw", "usage_events"])
    # 2026-10-30 (module docstring of ingestion/demo_data.py): 156 + 35 valid rows, 2 malformed, 2 files
    assert (usage["rows_loaded"], usage["rows_quarantined"], usage["files_loaded"]) == (191, 2, 2)
    assert sorted(p.parent.name for p in (env / "raw" / "usage_events").rglob("*.parquet")) == [
        "arrival_date=2026-10-30",
        "arrival_date=2026-10-30",
    ]
    # the same partition again: nothing new landed, nothing loaded
    again = dg.materialize([raw_usage_landing], partition_key="2026-10-30")
    assert metadata_of(again, ["raw", "usage_events"])["rows_loaded"] == 0

    costs = dg.materialize([raw_cloud_costs])
    assert metadata_of(costs, ["raw", "cloud_costs"])["rows_loaded"] == 21


def test_sensor_skips_without_bucket(env: Path) -> None:
    from dagster_project.defs.ingestion import s3_usage_drop_sensor

    result = s3_usage_drop_sensor(dg.build_sensor_context())
    assert isinstance(result, dg.SkipReason)
    assert "USAGEBILL_S3_BUCKET" in result.skip_message
