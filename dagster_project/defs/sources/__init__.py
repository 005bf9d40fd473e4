"""Measurement sources as Dagster assets: each lands usage events in
DATA_DIR/landing/usage/<source>/arrival_date=YYYY-MM-DD/ (the partition day, or the sample hour's day
for storage), so the landing loader's partition of that day loads them.

Asset keys (all group ``sources``, upstream of the landing loader ``["raw", "usage_events"]``):
- ``["landing", "sql_usage"]``: the configured PostgreSQL queries for a day (daily partitions).
- ``["landing", "cloudwatch_usage"]``: a CloudWatch metric per tagged EC2 instance, per hour of the day
  (daily partitions).
- ``["landing", "s3_storage_usage"]``: bytes stored per customer prefix, sampled for the current hour
  (unpartitioned; its own hourly schedule ``storage_sampling_schedule``).

Configuration comes from environment variables (a source without its configuration records a
skipped materialization with the variable to set, so the daily job still runs):
- SQL: ``USAGEBILL_SQL_SOURCES`` (YAML, see ingestion/sources/sql_source.py; default
  DATA_DIR/sources/sql.yaml); each query names the env var holding its DSN.
- S3: ``USAGEBILL_STORAGE_BUCKET``, ``USAGEBILL_STORAGE_PREFIX`` (default ``customers/``).
- CloudWatch: ``USAGEBILL_CW_NAMESPACE``, ``USAGEBILL_CW_METRIC``, ``USAGEBILL_CW_METER``,
  ``USAGEBILL_CW_STAT`` (default Sum), ``USAGEBILL_CW_TAG_KEY`` (default usagebill:customer).
- AWS credentials, region and endpoint: boto3's own variables (AWS_ACCESS_KEY_ID, AWS_REGION,
  AWS_ENDPOINT_URL, ...).
"""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from dagster_project import flow
from dagster_project.partitions import daily_partitions
from usagebill import paths

SQL_KEY = dg.AssetKey(["landing", "sql_usage"])
S3_KEY = dg.AssetKey(["landing", "s3_storage_usage"])
CW_KEY = dg.AssetKey(["landing", "cloudwatch_usage"])
NO_QUARANTINE = "no_quarantined_rows"


def _window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    day = datetime.strptime(context.partition_key, "%Y-%m-%d").replace(tzinfo=UTC)
    return day, day + timedelta(days=1)


def _skipped(key: dg.AssetKey, why: str) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={"skipped": why, "events": 0, "quarantined": 0},
        check_results=[dg.AssetCheckResult(check_name=NO_QUARANTINE, asset_key=key, passed=True)],
    )


def _result(key: dg.AssetKey, events: int, quarantined: int, files: list[str]) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={"events": events, "quarantined": quarantined, "files": dg.MetadataValue.json(files)},
        check_results=[
            dg.AssetCheckResult(
                check_name=NO_QUARANTINE,
                asset_key=key,
                passed=quarantined == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"quarantined": quarantined},
                description="rows the source produced that break the event contract (see DATA_DIR/quarantine)",
            )
        ],
    )


def _source_asset(key: dg.AssetKey, description: str, kinds: set[str], *, daily: bool = True) -> Any:
    """A usage source: an asset of the collect step, checked for quarantined rows; `daily`: partitioned
    by day and run as one backfill (_window() reads the whole range)."""
    by_day: dict[str, Any] = (
        {"partitions_def": daily_partitions, "backfill_policy": dg.BackfillPolicy.single_run()}
        if daily
        else {}
    )
    check = dg.AssetCheckSpec(
        NO_QUARANTINE, asset=key, description="every measured row is a valid usage event"
    )
    return dg.asset(
        key=key, group_name=flow.COLLECT, check_specs=[check], description=description, kinds=kinds, **by_day
    )


@_source_asset(
    SQL_KEY,
    "Usage measured by SQL queries against operational PostgreSQL databases (USAGEBILL_SQL_SOURCES).",
    {"postgres", "python"},
)
def sql_usage(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from ingestion.sources.sql_source import load_queries, run_query

    config = Path(os.environ.get("USAGEBILL_SQL_SOURCES") or paths.data_dir() / "sources" / "sql.yaml")
    if not config.exists():
        return _skipped(
            SQL_KEY, f"no SQL source config at {config}: set USAGEBILL_SQL_SOURCES to a YAML file"
        )
    start, end = _window(context)
    events = quarantined = 0
    files = []
    for query in load_queries(config):
        context.log.info(f"sql source {query.name}: window [{start.isoformat()}, {end.isoformat()})")
        res = run_query(query, start, end, paths.data_dir())
        events, quarantined = events + res.events, quarantined + res.quarantined
        files.append(str(res.path))
    return _result(SQL_KEY, events, quarantined, files)


@_source_asset(
    S3_KEY,
    "Bytes stored per customer under s3://USAGEBILL_STORAGE_BUCKET/<prefix><customer>/, as storage_gb.",
    {"s3", "python"},
    daily=False,
)
def s3_storage_usage(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    import boto3

    from ingestion.sources.s3_storage import StorageConfig, sample_storage

    bucket = os.environ.get("USAGEBILL_STORAGE_BUCKET")
    if not bucket:
        return _skipped(S3_KEY, "set USAGEBILL_STORAGE_BUCKET to the bucket holding customer data")
    config = StorageConfig(
        bucket=bucket, root_prefix=os.environ.get("USAGEBILL_STORAGE_PREFIX", "customers/")
    )
    res = sample_storage(boto3.client("s3"), config, datetime.now(UTC), paths.data_dir())
    context.log.info(f"storage sample: {res.events} customer(s) -> {res.path}")
    return _result(S3_KEY, res.events, res.quarantined, [str(res.path)])


@_source_asset(
    CW_KEY,
    "A CloudWatch metric per EC2 instance tagged usagebill:customer, one event per instance and hour.",
    {"cloudwatch", "python"},
)
def cloudwatch_usage(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    import boto3

    from ingestion.sources.cloudwatch_metric import MetricConfig, read_metric

    namespace, metric, meter = (
        os.environ.get(v) for v in ("USAGEBILL_CW_NAMESPACE", "USAGEBILL_CW_METRIC", "USAGEBILL_CW_METER")
    )
    if not (namespace and metric and meter):
        return _skipped(CW_KEY, "set USAGEBILL_CW_NAMESPACE, USAGEBILL_CW_METRIC and USAGEBILL_CW_METER")
    config = MetricConfig(
        namespace=namespace,
        metric_name=metric,
        meter=meter,
        stat=os.environ.get("USAGEBILL_CW_STAT", "Sum"),
        tag_key=os.environ.get("USAGEBILL_CW_TAG_KEY", "usagebill:customer"),
        region=boto3.session.Session().region_name or "us-east-1",
    )
    start, end = _window(context)
    res = read_metric(boto3.client("cloudwatch"), boto3.client("ec2"), config, start, end, paths.data_dir())
    return _result(CW_KEY, res.events, res.quarantined, [str(res.path)])


storage_sampling_job = dg.define_asset_job("storage_sampling", selection=[S3_KEY])
storage_sampling_schedule = dg.ScheduleDefinition(
    name="storage_sampling_schedule",
    job=storage_sampling_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
)

defs = dg.Definitions(
    assets=[sql_usage, s3_storage_usage, cloudwatch_usage],
    jobs=[storage_sampling_job],
    schedules=[storage_sampling_schedule],
)
