"""The billing run: one daily job over every daily (or unpartitioned) asset, on a schedule.

Hourly assets (the marketplace reporters, tag usagebill/cadence=hourly) have their own job and
schedule in the marketplace area."""

from __future__ import annotations

import dagster as dg

from dagster_project.defs.jobs.alerts import report_failed_runs

DAILY_BILLING_JOB = "daily_billing"
HOURLY_EXPORTS_JOB = "marketplace_hourly_job"  # defined in dagster_project/defs/marketplace

hourly_assets = dg.AssetSelection.tag("usagebill/cadence", "hourly")
# Assets with their own cadence (hourly marketplace reports, quarterly executive report) are not
# part of the daily job: a job runs one partitioning.
other_cadences = hourly_assets | dg.AssetSelection.tag("usagebill/cadence", "quarterly")

daily_billing_job = dg.define_asset_job(
    DAILY_BILLING_JOB,
    selection=dg.AssetSelection.all() - other_cadences,
    description="Load the day's usage, rebuild the journal window, rate, invoice, export to Stripe, refresh analytics.",
)

# 06:00 UTC: yesterday's arrival-day partition is complete and the billing date is today.
daily_billing_schedule = dg.build_schedule_from_partitioned_job(
    daily_billing_job, hour_of_day=6, name="daily_billing_schedule"
)

# Marts that read the export ledgers (written by the exporters, read by dbt as source `ledger`),
# refreshed after an export run so that they show what was just sent.
EXPORT_LEDGER_MARTS_JOB = "refresh_export_ledger_marts"
export_ledger_marts_job = dg.define_asset_job(
    EXPORT_LEDGER_MARTS_JOB,
    selection=dg.AssetSelection.key_prefixes(["ledger"], include_sources=True).downstream(include_self=False)
    - other_cadences,
    description="Rebuild the marts that read the export ledgers (after an hourly marketplace run).",
)

# One step at a time, in one process: DuckDB allows a single writer per warehouse file, and dbt,
# the loaders and the exporters all write to it.
defs = dg.Definitions(
    jobs=[daily_billing_job, export_ledger_marts_job],
    schedules=[daily_billing_schedule],
    sensors=[report_failed_runs],
    executor=dg.in_process_executor,
)
