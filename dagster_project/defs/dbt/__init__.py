"""The dbt project as Dagster assets.

Rules (no per-model lists in Python):
- asset key = [schema, model]; group = the step of the flow (meta.dagster.group, set by folder in
  dbt_project.yml; see dagster_project/flow.py); dbt sources in source `raw` are the Python
  loader assets ["raw", table]; source `ledger` tables are written by the exporters.
- models tagged `partitioned_daily` (the usage journal and the rollups built from it
  incrementally) run per daily partition with the half-open window [min_date, max_date)
  passed as dbt vars; a range of partitions runs as a single dbt invocation.
- every other model runs unpartitioned, as of the run's billing date.
- dbt tests are asset checks; a failing test fails the run before downstream billing.
"""

import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from dagster_project.partitions import daily_partitions
from dagster_project.run_dates import as_of_date_for
from usagebill.dbt_cli import find_dbt
from usagebill.engine import engine, export_ledgers_for_spark, sync_spark_views
from usagebill.paths import dbt_project_dir, raw_dir, spark_dir, warehouse_path

PARTITIONED_TAG = "partitioned_daily"

# Dagster runs the dbt project in several steps (Python assets sit between dbt models). A
# reconciliation test that reads models of two steps must run with the later one, when all the
# models it reads exist: dbt's "buildable" indirect selection does exactly that.
os.environ.setdefault("DBT_INDIRECT_SELECTION", "buildable")

# dbt's views read raw Parquet by path; the path must be absolute so that the same views work for
# every reader (dbt runs in dbt_project/, the exporters and analysts elsewhere).
os.environ.setdefault("USAGEBILL_RAW_DIR", str(raw_dir()))
os.environ.setdefault("USAGEBILL_WAREHOUSE", str(warehouse_path()))
# USAGEBILL_ENGINE=spark: the `spark` target of profiles.yml (docs/spark.md), files under here.
os.environ.setdefault("USAGEBILL_SPARK_DIR", str(spark_dir()))


def _dbt_executable() -> str:
    return find_dbt() or "dbt"


dbt_project = DbtProject(
    project_dir=dbt_project_dir(),
    profiles_dir=dbt_project_dir(),
    target_path=Path(os.environ.get("DBT_TARGET_PATH", "target")),
)
if not dbt_project.manifest_path.exists():
    # First load on a fresh checkout (or a test's own target dir): parse the project once.
    subprocess.run(
        [
            _dbt_executable(),
            "parse",
            "--quiet",
            "--profiles-dir",
            ".",
            "--target-path",
            str(dbt_project.target_path),
        ],
        cwd=dbt_project_dir(),
        check=True,
    )


class UsagebillDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        meta_key = dbt_resource_props.get("meta", {}).get("dagster", {}).get("asset_key")
        if meta_key:  # the exception lives in dbt (e.g. all catalog tables come from one asset)
            return dg.AssetKey(meta_key)
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props["schema"]
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # The step of the flow (dagster_project/flow.py), set by folder in dbt_project.yml or, for a
        # source, on the source (its tables inherit it).
        for meta in (dbt_resource_props.get("meta"), dbt_resource_props.get("source_meta")):
            meta_group = (meta or {}).get("dagster", {}).get("group")
            if meta_group:
                return meta_group
        return dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props["schema"]


translator = UsagebillDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_duplicate_source_asset_keys=True)
)


def _run_dbt(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, dbt_vars: dict[str, str]
) -> Iterator[Any]:
    on_spark = engine() == "spark"
    if on_spark:  # the ledgers stay in DuckDB (transactional); Spark reads a fresh snapshot
        export_ledgers_for_spark(warehouse_path(), spark_dir(), progress=context.log.info)
    context.log.info(f"dbt build on {engine()} with vars {dbt_vars}")
    yield from dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream()
    if on_spark:  # Python readers keep reading the DuckDB file: views over Spark's tables
        sync_spark_views(warehouse_path(), spark_dir(), progress=context.log.info)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=f"tag:{PARTITIONED_TAG}",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=translator,
    name="dbt_partitioned_usage_models",
)
def dbt_partitioned_usage_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    window = context.partition_time_window
    dbt_vars = {
        "min_date": window.start.date().isoformat(),
        "max_date": window.end.date().isoformat(),
        "as_of_date": as_of_date_for(context).isoformat(),
    }
    if window.end.day == 1:
        # The run of a month's last day (the month close) checks the whole usage history; the other
        # daily runs check their window (docs/events.md, "Daily incremental runs").
        dbt_vars["usage_data_tests"] = "full"
    yield from _run_dbt(context, dbt, dbt_vars)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=f"tag:{PARTITIONED_TAG}",
    dagster_dbt_translator=translator,
    name="dbt_billing_and_analytics_models",
)
def dbt_billing_and_analytics_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    yield from _run_dbt(context, dbt, {"as_of_date": as_of_date_for(context).isoformat()})


defs = dg.Definitions(
    assets=[dbt_partitioned_usage_models, dbt_billing_and_analytics_models],
    resources={
        "dbt": DbtCliResource(
            project_dir=dbt_project,
            profiles_dir=str(dbt_project_dir()),
            dbt_executable=_dbt_executable(),
        )
    },
)
