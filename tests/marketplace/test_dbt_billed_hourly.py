"""The dbt unit tests of intermediate.int_marketplace__billed_hourly on DuckDB (hand-computed amounts in
models/intermediate/marketplace/_marketplace__models.yml):
- billed_hourly_annual_plan_bills_usage_monthly: an annual plan billing usage monthly is billed hour by
  hour in every usage month (Jan 0.00 + 0.50, Feb 0.45 + 0.45, Mar 0.30; before the fix months 2-12 were
  missing: their prices and lines are keyed by the usage month, not the billing period);
- billed_hourly_keys_customers_by_tenant: customer c1 of a tenant without a marketplace identity is never
  billed to the marketplace customer c1 of another tenant;
- billed_hourly_trial_included_units_then_discount: trial, included units, final amounts.
dbt unit tests read the columns of the model's parents, so the parents are built first with --empty
(no rows) from the rating test scenario's catalog."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from usagebill.catalog import load_catalog
from usagebill.dbt_cli import dbt_path_args, find_dbt

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "tests" / "rating" / "scenario"


def test_billed_hourly_unit_tests(tmp_path: Path) -> None:
    dbt = find_dbt()
    assert dbt, "dbt is not installed in the venv: make install-dev"
    load_catalog(SCENARIO, tmp_path / "raw")
    env = {
        **os.environ,
        "USAGEBILL_WAREHOUSE": str(tmp_path / "usagebill.duckdb"),
        "USAGEBILL_RAW_DIR": str(tmp_path / "raw"),
        "USAGEBILL_DBT_TARGET": "duckdb",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    paths = dbt_path_args(ROOT / "dbt_project", tmp_path)
    steps = [
        ["build", "--select", "+int_marketplace__billed_hourly", "--empty", "--exclude-resource-type", "unit_test",
         "--exclude-resource-type", "test"],
        ["test", "--select", "int_marketplace__billed_hourly,test_type:unit"],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run([dbt, *step, *paths], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (
            f"dbt {' '.join(step)} failed:\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}"
        )
    passed = {
        line.split("::")[1].split()[0] for line in done.stdout.splitlines() if " PASS int_marketplace" in line
    }
    assert passed == {
        "billed_hourly_annual_plan_bills_usage_monthly",
        "billed_hourly_keys_customers_by_tenant",
        "billed_hourly_trial_included_units_then_discount",
    }
