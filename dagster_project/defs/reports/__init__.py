"""Reports for people: the executive report (HTML + PDF) per quarter, and the pricing lab.

Asset ``["reports", "executive_report"]`` (quarterly partitions, key = the quarter's first day,
e.g. 2026-07-01 = 2026-Q3): reads the analytics, marketplace and pricing-lab marts and writes
``<reports dir>/executive/executive-2026-Q3.{html,pdf}``. Not part of the daily billing job (tag
usagebill/cadence=quarterly): materialize a quarter from the UI once it is complete.
"""

from datetime import date

import dagster as dg

from dagster_project import flow
from usagebill.paths import catalog_dir, raw_dir, reports_dir, warehouse_path

quarterly_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1,4,7,10 *", start="2026-01-01", fmt="%Y-%m-%d", timezone="UTC"
)

ANALYTICS_INPUTS = [
    dg.AssetKey(["analytics", name])
    for name in (
        "fct_mrr",
        "fct_mrr_growth",
        "fct_cohort_retention",
        "fct_unit_cost",
        "fct_customer_margin",
        "fct_revenue_projection",
    )
] + [dg.AssetKey(["marketplace", "fct_revenue_by_channel"])]


def quarter_label(partition_key: str) -> str:
    start = date.fromisoformat(partition_key)
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


@dg.asset(
    key=["reports", "executive_report"],
    group_name=flow.REPORTS,
    deps=ANALYTICS_INPUTS,
    partitions_def=quarterly_partitions,
    tags={"usagebill/cadence": "quarterly"},
    kinds={"html", "pdf"},
    description="The executive report for a quarter: MRR/ARR, movements, growth, cohorts, channels, margins, "
    "unit cost, top customers and projection, as one self-contained HTML file and a PDF.",
)
def executive_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from usagebill.reports.executive import build_report, parse_period

    period = parse_period(quarter_label(context.partition_key))
    paths = build_report(warehouse_path(), period, reports_dir() / "executive")
    context.log.info(f"executive report {period.label}: {paths['html']}")
    return dg.MaterializeResult(
        metadata={
            "html": dg.MetadataValue.path(str(paths["html"])),
            "pdf": dg.MetadataValue.path(str(paths["pdf"])),
        }
    )


class PricingBacktestConfig(dg.Config):
    """Run config of the pricing lab: candidate folders (catalog YAML) and the months to back-test."""

    candidates: list[str] = []
    from_month: str = ""
    to_month: str = ""
    threshold_pct: str = "10"


@dg.asset(
    key=["reports", "pricing_backtest"],
    group_name=flow.REPORTS,
    deps=[dg.AssetKey(["usage", "fct_usage_journal"]), dg.AssetKey(["billing", "fct_billing_lines"])],
    kinds={"python", "parquet"},
    description="Pricing lab: re-rates the real usage journal under candidate price books (run config: candidates, "
    "from_month, to_month) through the production rating models; dbt then builds the pricing_lab marts. With no "
    "candidate configured (the daily run) it keeps the last back-test's lines.",
)
def pricing_backtest(
    context: dg.AssetExecutionContext, config: PricingBacktestConfig
) -> dg.MaterializeResult:
    from decimal import Decimal
    from pathlib import Path

    from dagster_project.run_dates import as_of_date_for
    from usagebill.pricing_lab import next_month, parse_month, rate_candidate

    if not config.candidates:
        context.log.info("no candidate configured: the pricing lab keeps its last back-test")
        return dg.MaterializeResult(metadata={"candidates": 0})
    start, last = parse_month(config.from_month), parse_month(config.to_month)
    Decimal(config.threshold_pct)  # validated here; the marts read var pricing_lab_threshold_pct
    for candidate in config.candidates:
        rate_candidate(
            Path(candidate),
            warehouse=warehouse_path(),
            raw_dir=raw_dir(),
            catalog_dir=catalog_dir(),
            period_start=start,
            period_end=next_month(last),
            as_of=as_of_date_for(context),
            progress=context.log.info,
        )
    return dg.MaterializeResult(
        metadata={"candidates": len(config.candidates), "window": f"{start} .. {last}"}
    )


defs = dg.Definitions(assets=[executive_report, pricing_backtest])
