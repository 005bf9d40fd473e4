"""Run the real dbt project against a temporary warehouse and raw folder (never the defaults)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.warehouse import query
from usagebill.dbt_cli import dbt_path_args
from usagebill.paths import PROJECT_ROOT, dbt_project_dir

DBT = str(Path(sys.executable).parent / "dbt")

USAGE_MODELS = [
    "stg_catalog__meters",
    "stg_usage__events",
    "stg_usage__quarantined_events",
    "int_usage__events_metered",
    "int_usage__gauge_hours",
    "fct_usage_journal",
    "fct_usage_excluded_events",
    "fct_usage_hourly",
    "fct_usage_daily",
    "fct_usage_monthly",
]
INCREMENTAL_USAGE_MODELS = [
    "fct_usage_journal",
    "fct_usage_excluded_events",
    "fct_usage_hourly",
    "fct_usage_daily",
    "fct_usage_monthly",
]
ANALYTICS_MODELS = [
    "analytics_fx_rates",
    "stg_catalog__customers",
    "stg_costs__cloud_costs",
    "int_analytics__revenue_lines",
    "int_analytics__as_of",
    "int_analytics__mrr_lines_by_month",
    "fct_mrr",
    "fct_arr",
    "fct_mrr_movements",
    "fct_mrr_growth",
    "fct_cohort_retention",
    "fct_revenue_recognition",
    "fct_revenue_balances",
    "fct_revenue_projection",
    "int_analytics__cost_pools",
    "int_analytics__pool_usage",
    "int_analytics__revenue_by_sku",
    "int_analytics__customer_revenue",
    "fct_cost_breakdown",
    "fct_unit_cost",
    "fct_customer_cost",
    "fct_customer_margin",
    "fct_margin_by_customer",
    "fct_margin_by_plan",
    "fct_margin_monthly",
]


@dataclass
class Warehouse:
    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def path(self) -> Path:
        return self.root / "usagebill.duckdb"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            USAGEBILL_WAREHOUSE=str(self.path),
            USAGEBILL_RAW_DIR=str(self.raw),
            USAGEBILL_DATA_DIR=str(self.root / "data"),
            USAGEBILL_REPORTS_DIR=str(self.root / "reports"),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        )
        env.pop("USAGEBILL_DBT_TARGET", None)
        return env

    def dbt(
        self,
        command: str,
        models: list[str],
        *extra: str,
        window: tuple[str, str] | None = None,
        dbt_vars: dict[str, str] | None = None,
        expect_failure: bool = False,
    ) -> str:
        args = [
            DBT,
            command,
            "--select",
            *models,
            "--indirect-selection",
            "cautious",
            *dbt_path_args(dbt_project_dir(), self.root),
            *extra,
        ]
        merged = dict(dbt_vars or {})
        if window:
            merged.update(min_date=window[0], max_date=window[1])
        if merged:
            args += ["--vars", json.dumps(merged)]
        result = subprocess.run(
            args, env=self.env(), cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600
        )
        if expect_failure:
            if result.returncode == 0:
                pytest.fail(f"dbt {command} succeeded, a failure was expected")
            return result.stdout
        if result.returncode != 0:
            tail = "\n".join(result.stdout.splitlines()[-60:])
            pytest.fail(
                f"dbt {command} failed ({' '.join(extra)} vars={merged}):\n{tail}\n{result.stderr[-2000:]}"
            )
        return result.stdout

    def rows(self, sql: str, params: list[object] | None = None) -> list[tuple]:
        return query(self.path, sql, params)


@pytest.fixture(scope="module")
def make_warehouse(tmp_path_factory: pytest.TempPathFactory):
    def make(name: str) -> Warehouse:
        root = tmp_path_factory.mktemp(name)
        (root / "raw").mkdir()
        return Warehouse(root)

    return make
