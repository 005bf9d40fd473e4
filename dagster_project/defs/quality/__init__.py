"""Data quality of landed usage as Dagster asset checks (Great Expectations, dagster_project/defs/quality/usage_suite.py).

Checks on ``["raw", "usage_events"]`` (daily partitions by arrival day; run per landed batch):
blocking (a failure stops downstream billing in the same run): ``schema``, ``no_null_keys``,
``non_negative_quantity``, ``known_customers``; warnings: ``known_meters``,
``timestamps_in_range``, ``volume``. Check on ``["raw", "quarantine"]``: ``no_changed_files``
(warning: a landing file changed after it was loaded).

Settings (environment): USAGEBILL_DQ_MAX_EVENT_AGE_DAYS (35), USAGEBILL_DQ_FUTURE_TOLERANCE_MINUTES
(60), USAGEBILL_DQ_VOLUME_FACTOR (3.0), USAGEBILL_DQ_TRAILING_DAYS (7).
"""

import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg

from dagster_project.defs.quality.usage_suite import BLOCKING, NON_BLOCKING, QualityConfig
from dagster_project.partitions import daily_partitions
from usagebill import paths

USAGE_EVENTS = dg.AssetKey(["raw", "usage_events"])
QUARANTINE = dg.AssetKey(["raw", "quarantine"])

_DESCRIPTIONS = {
    "schema": "Columns are exactly the raw usage_events contract (blocking).",
    "no_null_keys": "No nulls in tenant, event, customer, meter, times, source file (blocking).",
    "non_negative_quantity": "Quantities are null or non-negative exact decimals (blocking).",
    "known_customers": "Every customer_id is in the catalog's customers.yaml (blocking).",
    "known_meters": "Every meter is in the catalog's meters.yaml.",
    "timestamps_in_range": "No event in the future of its arrival, none older than the max age.",
    "volume": "Daily volume within a factor of the trailing mean.",
}

# partitioned asset checks are a Dagster 'preview' feature in 1.13: per-partition results are what we want
warnings.filterwarnings(
    "ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec.*"
)

USAGE_CHECK_SPECS = [
    dg.AssetCheckSpec(
        name,
        asset=USAGE_EVENTS,
        blocking=name in BLOCKING,
        description=_DESCRIPTIONS[name],
        partitions_def=daily_partitions,
    )
    for name in (*BLOCKING, *NON_BLOCKING)
]


@dg.multi_asset_check(specs=USAGE_CHECK_SPECS, name="raw_usage_events_quality")
def raw_usage_events_quality(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
    from dagster_project.defs.quality.usage_suite import run_usage_suite

    days = [date.fromisoformat(key) for key in context.partition_keys]
    outcomes = run_usage_suite(paths.raw_dir(), paths.catalog_dir(), days, QualityConfig.from_env())
    for outcome in outcomes:
        if not outcome.passed:
            log = context.log.error if outcome.blocking else context.log.warning
            log(f"{outcome.name}: {outcome.description}")
        yield dg.AssetCheckResult(
            check_name=outcome.name,
            asset_key=USAGE_EVENTS,
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR if outcome.blocking else dg.AssetCheckSeverity.WARN,
            description=outcome.description,
            metadata={
                k: dg.MetadataValue.json(v) if isinstance(v, (list, dict)) else v
                for k, v in outcome.metadata.items()
            },
        )


@dg.asset_check(
    asset=QUARANTINE,
    name="no_changed_files",
    description="No landing file changed content after it was loaded (rule file_changed in raw/quarantine).",
    partitions_def=daily_partitions,
)
def no_changed_files(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    changed: list[str] = []
    for key in context.partition_keys:
        folder = Path(paths.raw_dir()) / "quarantine" / f"arrival_date={key}"
        for path in sorted(folder.glob("*.parquet")):
            table = pq.read_table(path, columns=["source_file", "rule"])
            hits = table.filter(pc.equal(table["rule"], "file_changed"))
            changed += hits["source_file"].to_pylist()
    return dg.AssetCheckResult(
        passed=not changed,
        severity=dg.AssetCheckSeverity.WARN,
        description="no landing file changed after loading"
        if not changed
        else f"{len(changed)} landing files changed after they were loaded: {changed[:5]}; their new content was NOT "
        f"loaded. Land corrected data under new file names (same event ids are deduplicated).",
        metadata={"changed_files": dg.MetadataValue.json(changed)},
    )


defs = dg.Definitions(asset_checks=[raw_usage_events_quality, no_changed_files])
