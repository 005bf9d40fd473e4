"""The billing run: one daily job over every daily (or unpartitioned) asset, on a schedule, and the
hourly marketplace reporting job. Hourly assets carry the tag usagebill/cadence=hourly."""

from __future__ import annotations

import dagster as dg


DAILY_BILLING_JOB = "daily_billing"
HOURLY_EXPORTS_JOB = "hourly_marketplace_reporting"

hourly_assets = dg.AssetSelection.tag("usagebill/cadence", "hourly")

daily_billing_job = dg.define_asset_job(
    DAILY_BILLING_JOB,
    selection=dg.AssetSelection.all() - hourly_assets,
    description="Load the day's usage, rebuild the journal window, rate, invoice, export to Stripe, refresh analytics.",
)

hourly_marketplace_job = dg.define_asset_job(
    HOURLY_EXPORTS_JOB,
    selection=hourly_assets,
    description="Report the hour's billable usage to the AWS, Azure and Google Cloud marketplaces.",
)

# 06:00 UTC: yesterday's arrival-day partition is complete and the billing date is today.
daily_billing_schedule = dg.build_schedule_from_partitioned_job(
    daily_billing_job, hour_of_day=6, name="daily_billing_schedule"
)

defs = dg.Definitions(jobs=[daily_billing_job, hourly_marketplace_job], schedules=[daily_billing_schedule])
