"""Landing files -> raw layer, as Dagster assets.

Assets (group ``raw``):
- ``["raw", "usage_events"]`` and ``["raw", "quarantine"]`` (one multi-asset, daily partitions by
  arrival day, UTC): loads the landing files of the partition's arrival day(s) from
  DATA_DIR/landing/usage/ and, when USAGEBILL_S3_BUCKET is set, from s3://BUCKET/PREFIX
  (ingestion/landing.py, ingestion/s3_drops.py). Each file is loaded once (manifest), so
  re-materializing a partition loads only files that landed since. Depends on the measurement
  sources' ``["landing", ...]`` assets, which write landing files.
- ``["raw", "cloud_costs"]`` (unpartitioned): DATA_DIR/costs/*.csv (FOCUS 1.x) and *.parquet
  (AWS CUR 2.0), tied to meters / customers by tags or costs/cost_mapping.csv -> raw/cloud_costs.

Sensor ``s3_usage_drop_sensor`` (STOPPED by default; turn it on in the UI after setting
USAGEBILL_S3_BUCKET / USAGEBILL_S3_PREFIX): requests a run of the arrival day of every new object.
"""

import hashlib
import os
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg

from dagster_project import flow
from dagster_project.partitions import HISTORY_START, daily_partitions
from usagebill import paths

USAGE_EVENTS = dg.AssetKey(["raw", "usage_events"])
QUARANTINE = dg.AssetKey(["raw", "quarantine"])
CLOUD_COSTS = dg.AssetKey(["raw", "cloud_costs"])
# the measurement sources land files that this loader reads (dagster_project/defs/sources)
SOURCE_LANDING_ASSETS = [
    dg.AssetKey(["landing", "sql_usage"]),
    dg.AssetKey(["landing", "cloudwatch_usage"]),
    dg.AssetKey(["landing", "s3_storage_usage"]),
]


def s3_drop_location() -> tuple[str, str] | None:
    """(bucket, prefix) from USAGEBILL_S3_BUCKET / USAGEBILL_S3_PREFIX, or None when not configured."""
    bucket = os.environ.get("USAGEBILL_S3_BUCKET", "").strip()
    return (bucket, os.environ.get("USAGEBILL_S3_PREFIX", "")) if bucket else None


def _days(context: dg.AssetExecutionContext) -> list[date]:
    return [date.fromisoformat(key) for key in context.partition_keys]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            USAGE_EVENTS,
            group_name=flow.COLLECT,
            deps=SOURCE_LANDING_ASSETS,
            description="Valid usage events as landed (raw/usage_events/arrival_date=*/), one Parquet file per "
            "landing file; partitioned by arrival day. Duplicated event ids are kept (the journal dedups).",
            kinds={"python", "parquet"},
        ),
        dg.AssetSpec(
            QUARANTINE,
            group_name=flow.COLLECT,
            description="Rejected records with source_file, line_number, raw_record, field, rule and reason "
            "(raw/quarantine/arrival_date=*/).",
            kinds={"python", "parquet"},
        ),
    ],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    name="raw_usage_landing",
)
def raw_usage_landing(context: dg.AssetExecutionContext) -> Any:
    from ingestion.landing import load_landing

    days = _days(context)
    report = load_landing(paths.data_dir(), paths.raw_dir(), arrival_dates=days, progress=context.log.info)
    location = s3_drop_location()
    if location is not None:
        from ingestion.s3_drops import load_s3

        report.merge(
            load_s3(location[0], location[1], paths.raw_dir(), arrival_dates=days, progress=context.log.info)
        )
    for name in report.files_changed:
        context.log.error(
            f"{name} changed after it was loaded: the new content is in raw/quarantine (rule file_changed) and was "
            f"NOT loaded; land corrected data under a new file name"
        )
    context.log.info(f"arrival days {days[0]} .. {days[-1]}: {report.summary()}")
    per_day = {d.isoformat(): counts for d, counts in sorted(report.by_arrival_date.items())}
    yield dg.MaterializeResult(
        asset_key=USAGE_EVENTS,
        metadata={
            "rows_loaded": report.rows_loaded,
            "rows_quarantined": report.rows_quarantined,
            "files_loaded": report.files_loaded,
            "files_already_loaded": report.files_skipped,
            "files_changed_after_load": dg.MetadataValue.json(report.files_changed),
            "files": dg.MetadataValue.json(report.output_files[:200]),
            "by_arrival_date": dg.MetadataValue.json(per_day),
        },
    )
    yield dg.MaterializeResult(
        asset_key=QUARANTINE,
        metadata={
            "rows_quarantined": report.rows_quarantined,
            "files_changed_after_load": len(report.files_changed),
            "files_unsupported": dg.MetadataValue.json(report.files_unsupported),
        },
    )


@dg.asset(
    key=CLOUD_COSTS,
    group_name=flow.ANALYTICS,
    kinds={"python", "parquet"},
    description="Cost exports (DATA_DIR/costs/: FOCUS 1.x *.csv, AWS CUR 2.0 *.parquet, optional "
    "cost_mapping.csv) validated into raw/cloud_costs; amounts are exact decimal strings; bad rows quarantined.",
)
def raw_cloud_costs(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from ingestion.costs import load_costs

    report = load_costs(paths.data_dir(), paths.raw_dir(), progress=context.log.info)
    context.log.info(report.summary())
    return dg.MaterializeResult(
        metadata={
            "rows_loaded": report.rows_loaded,
            "rows_quarantined": report.rows_quarantined,
            "files": dg.MetadataValue.json(report.output_files),
        }
    )


@dg.sensor(
    name="s3_usage_drop_sensor",
    asset_selection=[USAGE_EVENTS, QUARANTINE],
    default_status=dg.DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=60,
    description="Requests a load of the arrival day of every new object under s3://$USAGEBILL_S3_BUCKET/"
    "$USAGEBILL_S3_PREFIX (objects already in the manifest are ignored).",
)
def s3_usage_drop_sensor(context: dg.SensorEvaluationContext) -> Any:
    location = s3_drop_location()
    if location is None:
        return dg.SkipReason(
            "USAGEBILL_S3_BUCKET is not set: set it (and USAGEBILL_S3_PREFIX) to watch S3 drops"
        )
    from ingestion.s3_drops import new_objects, s3_client

    bucket, prefix = location
    fresh = new_objects(s3_client(), bucket, prefix, paths.raw_dir())
    if not fresh:
        return dg.SkipReason(f"no new objects under s3://{bucket}/{prefix}")
    by_day: dict[str, list[str]] = defaultdict(list)
    first, last = date.fromisoformat(HISTORY_START), datetime.now(UTC).date()
    skipped: list[str] = []
    for item in fresh:
        if first <= item.arrival_date <= last:
            by_day[item.arrival_date.isoformat()].append(f"{item.source_file}@{item.etag}")
        else:
            skipped.append(item.source_file)
    if skipped:
        context.log.warning(
            f"{len(skipped)} objects have an arrival day outside the partitions: {skipped[:5]}"
        )
    return [
        dg.RunRequest(
            partition_key=day,
            run_key=f"s3:{day}:{hashlib.sha256('|'.join(sorted(names)).encode()).hexdigest()[:16]}",
            tags={"usagebill/trigger": "s3_drop"},
        )
        for day, names in sorted(by_day.items())
    ]


defs = dg.Definitions(
    assets=[raw_usage_landing, raw_cloud_costs],
    sensors=[s3_usage_drop_sensor],
)
