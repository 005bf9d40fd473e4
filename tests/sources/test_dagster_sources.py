"""The source assets materialize in Dagster against the real servers and land their files."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import dagster as dg
import psycopg
import pytest

from dagster_project.defs.sources import (
    CW_KEY,
    S3_KEY,
    SQL_KEY,
    cloudwatch_usage,
    s3_storage_usage,
    sql_usage,
)


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_source_assets_materialize(
    postgres: str,
    aws_env: str,
    data_dir: Path,
    tmp_path: Path,
    dagster_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute("drop table if exists jobs")
        conn.execute("create table jobs (account text, finished_at timestamptz, gpu_ms numeric)")
        conn.execute(
            "insert into jobs values ('cus_a', '2026-05-02T13:47:00Z', 2457), ('cus_a', '2026-05-03T00:00:00Z', 1)"
        )
    cfg = tmp_path / "sql.yaml"
    cfg.write_text(
        "queries:\n  - name: gpu_jobs\n    connection_env: TEST_JOBS_DSN\n    sql: |\n"
        "      select account as customer_id, 'gpu_ms' as meter, finished_at as timestamp, gpu_ms as quantity\n"
        "      from jobs where finished_at >= %(window_start)s and finished_at < %(window_end)s\n"
    )
    monkeypatch.setenv("TEST_JOBS_DSN", postgres)
    monkeypatch.setenv("USAGEBILL_SQL_SOURCES", str(cfg))
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="dagster-data")
    s3.put_object(Bucket="dagster-data", Key="customers/cus_a/f.bin", Body=b"x" * 2000)
    monkeypatch.setenv("USAGEBILL_STORAGE_BUCKET", "dagster-data")
    for name in ("USAGEBILL_CW_NAMESPACE", "USAGEBILL_CW_METRIC", "USAGEBILL_CW_METER"):
        monkeypatch.delenv(name, raising=False)

    result = dg.materialize([sql_usage, cloudwatch_usage], partition_key="2026-05-02")
    assert result.success
    sql_mat = result.asset_materializations_for_node("landing__sql_usage")[0]
    assert sql_mat.metadata["events"].value == 1  # the 2026-05-03T00:00 row is outside [05-02, 05-03)
    cw_mat = result.asset_materializations_for_node("landing__cloudwatch_usage")[0]
    assert "USAGEBILL_CW_NAMESPACE" in cw_mat.metadata["skipped"].value
    (line,) = (data_dir / "landing/usage/sql").rglob("*.jsonl")
    assert line.parent.name == "arrival_date=2026-05-02"  # the partition day
    assert json.loads(line.read_text())["quantity"] == "2457"

    result = dg.materialize([s3_storage_usage])
    assert result.success
    (f,) = (data_dir / "landing/usage/s3_storage").rglob("*.jsonl")
    # 2,000 bytes = 0.000002 GB
    assert json.loads(f.read_text())["quantity"] == "0.000002"


def test_definitions_expose_the_source_assets() -> None:
    from dagster_project.defs.sources import defs

    keys = {a.key for a in defs.assets}  # type: ignore[union-attr]
    assert keys == {SQL_KEY, S3_KEY, CW_KEY}
    assert defs.resolve_schedule_def("storage_sampling_schedule").cron_schedule == "5 * * * *"
