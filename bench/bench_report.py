"""Executive report and a 6-month pricing back-test against building the analytics marts they read.

    python bench/bench_report.py [--work DIR]

Builds the demo warehouse once (`python -m cli.demo`, small dataset) under DIR (default
.bench/report), then measures in the same run:
  baseline  dbt build of the marts the report reads (analytics.fct_mrr, fct_mrr_growth,
            fct_mrr_movements, fct_cohort_retention, fct_unit_cost, fct_customer_margin,
            fct_revenue_projection, marketplace.fct_revenue_by_channel), upstream already built;
  report    usagebill report --period 2026-Q3 (HTML + PDF);
  backtest  usagebill pricing backtest of the current price book (identical candidate) over
            2026-05 .. 2026-10.
and prints each time and its ratio to the baseline (goal: at most 2x each). No timed assertion.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARTS = [
    "fct_mrr",
    "fct_mrr_growth",
    "fct_mrr_movements",
    "fct_cohort_retention",
    "fct_unit_cost",
    "fct_customer_margin",
    "fct_revenue_projection",
    "fct_revenue_by_channel",
]


def timed(label: str, fn) -> float:
    started = time.monotonic()
    fn()
    seconds = time.monotonic() - started
    print(f"{label:<10} {seconds:8.1f} s", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "report")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    env = dict(os.environ)
    env.update(
        {
            "USAGEBILL_DATA_DIR": str(work / "data"),
            "USAGEBILL_WAREHOUSE": str(work / "warehouse" / "usagebill.duckdb"),
            "USAGEBILL_RAW_DIR": str(work / "warehouse" / "raw"),
            "USAGEBILL_REPORTS_DIR": str(work / "reports"),
            "DAGSTER_HOME": str(work / "dagster_home"),
            "USAGEBILL_AS_OF_DATE": "2026-11-08",
        }
    )
    warehouse = Path(env["USAGEBILL_WAREHOUSE"])
    if not warehouse.exists():
        print(f"building the demo warehouse under {work} (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "cli.demo"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    dbt = str(Path(sys.executable).parent / "dbt")
    target = work / "dbt_target"

    def build_marts() -> None:
        subprocess.run(
            [
                dbt,
                "build",
                "--select",
                *MARTS,
                "--exclude-resource-type",
                "unit_test",
                "--indirect-selection",
                "cautious",
                "--vars",
                json.dumps({"as_of_date": env["USAGEBILL_AS_OF_DATE"]}),
                "--profiles-dir",
                ".",
                "--target-path",
                str(target),
            ],
            cwd=ROOT / "dbt_project",
            env=env,
            check=True,
            capture_output=True,
        )

    def report() -> None:
        from usagebill.reports.executive import build_report, parse_period

        build_report(warehouse, parse_period("2026-Q3"), work / "reports" / "executive")

    candidate = work / "candidates" / "current"
    shutil.rmtree(candidate, ignore_errors=True)
    candidate.mkdir(parents=True)
    shutil.copyfile(work / "data" / "catalog" / "plans.yaml", candidate / "plans.yaml")

    def backtest() -> None:
        from usagebill.pricing_lab import backtest as run

        results = run(
            [candidate], date(2026, 5, 1), date(2026, 11, 1), as_of=date(2026, 11, 8), progress=lambda m: None
        )
        differences = {c: str(f["difference"]) for c, f in results["current"].items()}
        print(f"           identical candidate, difference per currency: {differences}")

    baseline = timed("baseline", build_marts)
    report_s = timed("report", report)
    backtest_s = timed("backtest", backtest)
    print(f"ratio report / baseline   = {report_s / baseline:.2f} (goal <= 2)")
    print(f"ratio backtest / baseline = {backtest_s / baseline:.2f} (goal <= 2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
