"""Cloud marketplaces: usage reporting to AWS / Azure / Google (hourly partitions) and revenue feeds.

Assets
- ["raw", "marketplace_catalog"]: marketplace_offerings.yaml + marketplace_customers.yaml validated and
  written as raw Parquet (dbt sources raw.marketplace_dimensions / _fees / _identities).
- ["raw", "marketplace_revenue_feeds"]: AWS billing event feed, Azure and Google report CSVs -> raw Parquet.
- ["exports", "<aws|azure|google>_marketplace_usage"]: hourly partitions (from 2026-05-01, UTC); each run
  reports its hours through the exactly-once ledger (ledger.marketplace_reports). Depends on
  ["usage", "fct_usage_hourly"] and the billed-hours model. A backfill of a range of hours runs as one
  run, hours in order, and reports only keys never reported (the ledger decides).
Schedule: `marketplace_hourly_schedule` reports the hour that just ended, 10 minutes past each hour.
Clock: the wall clock (production). A run tag `usagebill/marketplace_now` (else USAGEBILL_MARKETPLACE_NOW)
set to an RFC 3339 time fixes it; `replay` (fake mode, the demo) judges each hour at its end + 10 minutes.
Settings and secrets come from environment variables only (docs/marketplaces.md).
"""

import dagster as dg

from dagster_project import flow
from exports.marketplace.run import (
    REPLAY_DELAY,
    configured_now,
    load_catalog_tables,
    load_feeds,
    replay_requested,
    report,
)

HISTORY_START = "2026-05-01-00:00"
hourly_partitions = dg.HourlyPartitionsDefinition(start_date=HISTORY_START, timezone="UTC")

USAGE_HOURLY = dg.AssetKey(["usage", "fct_usage_hourly"])
BILLED_HOURLY = dg.AssetKey(["intermediate", "int_marketplace__billed_hourly"])
CATALOG = dg.AssetKey(["raw", "marketplace_catalog"])
# Run tag overriding USAGEBILL_MARKETPLACE_NOW for one run: an RFC 3339 time, or `replay` (fake mode only).
CLOCK_TAG = "usagebill/marketplace_now"


@dg.asset(
    key=CATALOG,
    group_name=flow.MARKETPLACES,
    description="Marketplace offering catalog and customer identities "
    "(YAML, validated) as raw Parquet for dbt.",
)
def marketplace_catalog(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return _row_counts(load_catalog_tables(context.log.info))


def _row_counts(counts: dict[str, int]) -> dg.MaterializeResult:
    """Rows written per raw table, as the materialization's metadata."""
    return dg.MaterializeResult(metadata={k: dg.MetadataValue.int(v) for k, v in counts.items()})


@dg.asset(
    key=["raw", "marketplace_revenue_feeds"],
    deps=[CATALOG],
    group_name=flow.MARKETPLACES,
    description="Marketplace revenue feeds (AWS billing events, Azure/Google reports) as raw Parquet. "
    "Bad rows are quarantined with their reason.",
)
def marketplace_revenue_feeds(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return _row_counts(load_feeds(context.log.info))


def _usage_asset(marketplace: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["exports", f"{marketplace}_marketplace_usage"],
        deps=[USAGE_HOURLY, BILLED_HOURLY, CATALOG],
        partitions_def=hourly_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=flow.MARKETPLACES,
        tags={"usagebill/cadence": "hourly"},  # excluded from the daily billing job (defs/jobs)
        description=f"Hourly usage reported to the {marketplace} marketplace exactly once "
        "(ledger.marketplace_reports; mart marketplace.fct_marketplace_reporting_ledger).",
    )
    def _report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        window = context.partition_time_window
        setting = context.run.tags.get(CLOCK_TAG) or None
        if replay_requested(setting):
            now_label = f"replay: each hour at its end + {REPLAY_DELAY.seconds // 60} minutes"
            summary = report(marketplace, window.start, window.end, replay=True, log=context.log.info)
        else:
            now = configured_now(setting)
            now_label = now.isoformat()
            summary = report(
                marketplace, window.start, window.end, now=now, replay=False, log=context.log.info
            )
        if summary.states.get("sent") or summary.states.get("planned (no answer)"):
            context.log.warning(
                f"{summary.states.get('sent', 0) + summary.states.get('planned (no answer)', 0)} record(s) "
                "without a definite answer (server errors); the next run resends them unchanged (Google: "
                "unconfirmed, settled by the marketplace reconciliation)"
            )
        if summary.states.get("failed"):
            context.log.warning(
                f"{summary.states['failed']} record(s) refused (see ledger detail): not counted, their usage "
                "goes with the next reported hour"
            )
        return dg.MaterializeResult(
            metadata={
                "hours": summary.hours,
                "new_keys": summary.planned,
                "recovered": summary.recovered,
                "calls": summary.calls,
                "now": now_label,
                "blocked_by_reconciliation": summary.blocked_names(),
                **{f"state_{k.replace(' ', '_')}": v for k, v in summary.states.items()},
            }
        )

    return _report


usage_assets = [_usage_asset(mp) for mp in ("aws", "azure", "google")]

marketplace_hourly_job = dg.define_asset_job(
    "marketplace_hourly_job", selection=dg.AssetSelection.assets(*usage_assets)
)

marketplace_hourly_schedule = dg.build_schedule_from_partitioned_job(
    marketplace_hourly_job,
    minute_of_hour=10,
    name="marketplace_hourly_schedule",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

# The exactly-once reporting ledger, written by the usage assets above and read by dbt (source
# `ledger`): declared here so that it sits in the marketplaces step of the lineage.
marketplace_reports_ledger = dg.AssetSpec(
    ["ledger", "marketplace_reports"],
    group_name=flow.MARKETPLACES,
    description="The marketplace reporting ledger (warehouse schema `ledger`): one row per state change of "
    "a customer-dimension-hour; written only by the marketplace usage assets.",
)

defs = dg.Definitions(
    assets=[marketplace_catalog, marketplace_revenue_feeds, *usage_assets, marketplace_reports_ledger],
    jobs=[marketplace_hourly_job],
    schedules=[marketplace_hourly_schedule],
)
