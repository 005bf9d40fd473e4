"""Source files land under <source>/arrival_date=<day the measurement is for>/, so loading one arrival
day (a backfilled partition) picks them up even though their mtime is today."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import boto3
import duckdb
import psycopg
import pytest

from ingestion.landing import load_landing
from ingestion.sources.cloudwatch_metric import MetricConfig, read_metric
from ingestion.sources.s3_storage import StorageConfig, sample_storage
from ingestion.sources.sql_source import SqlQuery, run_query

DAY = date(2023, 3, 7)  # long before the files' mtime (the test's wall clock)


def quiet(_: str) -> None:
    pass


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2023, 3, day, hour, minute, tzinfo=UTC)


def test_aws_sources_land_in_the_measured_day(aws_env: str, data_dir: Path, tmp_path: Path) -> None:
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    s3.create_bucket(Bucket="arrival-data")
    s3.put_object(Bucket="arrival-data", Key="customers/cus_a/f.bin", Body=b"x" * 2000)
    s3.put_object(Bucket="arrival-data", Key="customers/cus_b/f.bin", Body=b"x" * 500)
    storage = StorageConfig(bucket="arrival-data")
    late = sample_storage(s3, storage, t(7, 23, 59), data_dir)  # the 23:00 hour of 03-07
    nxt = sample_storage(s3, storage, t(8, 0, 10), data_dir)  # the 00:00 hour of 03-08: the next day
    assert (
        late.path
        == data_dir / "landing/usage/s3_storage/arrival_date=2023-03-07/arrival-data__20230307T23.jsonl"
    )
    assert (
        nxt.path
        == data_dir / "landing/usage/s3_storage/arrival_date=2023-03-08/arrival-data__20230308T00.jsonl"
    )

    ec2 = boto3.client("ec2", endpoint_url=aws_env, region_name="us-east-1")
    cw = boto3.client("cloudwatch", endpoint_url=aws_env, region_name="us-east-1")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "usagebill:customer", "Value": "cus_a"}]}]
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=tags)["Instances"][0][
        "InstanceId"
    ]
    for ts, value in ((t(7, 13, 5), 1000), (t(7, 13, 47), 1457), (t(7, 20, 0), 3)):
        cw.put_metric_data(
            Namespace="Arrival/Usage",
            MetricData=[{"MetricName": "gpu_ms", "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                         "Timestamp": ts, "Value": value}],
        )  # fmt: skip
    metric = MetricConfig(namespace="Arrival/Usage", metric_name="gpu_ms", meter="gpu_ms")
    cw_result = read_metric(cw, ec2, metric, t(7, 0), t(8, 0), data_dir)  # the daily partition 2023-03-07
    assert cw_result.path is not None and cw_result.path.parent.name == "arrival_date=2023-03-07"
    assert cw_result.events == 2  # 13h: 1000 + 1457 = 2457; 20h: 3

    # a re-run rewrites the same file (same name, same bytes)
    first = cw_result.path.read_bytes()
    again = read_metric(cw, ec2, metric, t(7, 0), t(8, 0), data_dir)
    assert again.path == cw_result.path and again.path.read_bytes() == first
    assert len(list((data_dir / "landing/usage/cloudwatch").rglob("*.jsonl"))) == 1

    raw = tmp_path / "raw"
    report = load_landing(data_dir, raw, arrival_dates=[DAY], progress=quiet)
    # 03-07: the storage sample (cus_a, cus_b = 2 events) + the CloudWatch file (2 events); 03-08 waits
    assert (report.files_loaded, report.rows_loaded, report.rows_quarantined) == (2, 2 + 2, 0)
    assert report.by_arrival_date == {DAY: {"files": 2, "rows_loaded": 4, "rows_quarantined": 0}}
    got = duckdb.sql(
        f"select meter, customer_id, quantity from read_parquet('{raw}/usage_events/*/*.parquet') order by all"
    ).fetchall()
    # 2,000 bytes = 0.000002 GB, 500 bytes = 0.0000005 GB; gpu_ms 13h: 1000 + 1457 = 2457, 20h: 3
    assert got == [
        ("gpu_ms", "cus_a", "2457"),
        ("gpu_ms", "cus_a", "3"),
        ("storage_gb", "cus_a", "0.000002"),
        ("storage_gb", "cus_b", "0.0000005"),
    ]
    assert (
        sorted(p.parent.name for p in (raw / "usage_events").rglob("*.parquet"))
        == ["arrival_date=2023-03-07"] * 2
    )
    # the next day's partition gets the 00:00 sample; re-loading 03-07 loads nothing twice
    assert load_landing(data_dir, raw, arrival_dates=[date(2023, 3, 8)], progress=quiet).rows_loaded == 2
    rerun = load_landing(data_dir, raw, arrival_dates=[DAY], progress=quiet)
    assert (rerun.files_loaded, rerun.files_skipped) == (0, 2)


def test_sql_source_lands_in_the_partition_day(
    postgres: str, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_ARRIVAL_DSN", postgres)
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute("drop table if exists arrival_jobs")
        conn.execute("create table arrival_jobs (account text, finished_at timestamptz, gpu_ms numeric)")
        conn.execute(
            "insert into arrival_jobs values ('cus_a', '2023-03-07T13:47:00Z', 2457), "
            "('cus_b', '2023-03-07T23:59:59Z', 5), ('cus_a', '2023-03-08T00:00:00Z', 1)"
        )
    query = SqlQuery(
        name="arrival_jobs",
        connection_env="TEST_ARRIVAL_DSN",
        sql="select account as customer_id, 'gpu_ms' as meter, finished_at as timestamp, gpu_ms as quantity "
        "from arrival_jobs where finished_at >= %(window_start)s and finished_at < %(window_end)s",
    )
    result = run_query(query, t(7, 0), t(8, 0), data_dir)  # the daily partition 2023-03-07
    assert result.path == (
        data_dir
        / "landing/usage/sql/arrival_date=2023-03-07/arrival_jobs__20230307T000000Z_20230308T000000Z.jsonl"
    )
    raw = tmp_path / "raw"
    report = load_landing(data_dir, raw, arrival_dates=[DAY], progress=quiet)
    # [03-07, 03-08): 2457 (cus_a) and 5 (cus_b); the 03-08T00:00 row is outside the half-open window
    assert (report.files_loaded, report.rows_loaded) == (1, 2)
    assert report.by_arrival_date == {DAY: {"files": 1, "rows_loaded": 2, "rows_quarantined": 0}}
