"""Spark source registration on a fresh metastore (macro register_spark_sources, docs/spark.md).

Regression: the first `dbt run` on a fresh metastore registered raw.usage_events (on-run-start) but
dbt's relation cache had already listed the `raw` schema empty, and staging models ask that cache
whether their source exists (macro raw_with_schema). stg_usage__events compiled to its typed empty
row set, so the first window's journal was empty on Spark; the second window then looked as if
insert_overwrite had lost the first window's arrival partitions (docs/spark.md, "Status").

Needs Java 17+ and pyspark (like tests/spark/test_spark_parity.py); one JVM start and one dbt parse,
about 2-4 minutes on a loaded 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.spark.test_spark_parity import _java_missing
from usagebill.dbt_cli import dbt_path_args, find_dbt
from usagebill.engine import sync_spark_views
from usagebill.paths import dbt_project_dir

pytestmark = [pytest.mark.slow, pytest.mark.skipif(_java_missing() is not None, reason=_java_missing() or "")]


def _write_events(raw: Path) -> None:
    """Two events of arrival day 2026-10-29 as the landing loader writes them (ingestion/landing.py)."""
    folder = raw / "usage_events" / "arrival_date=2026-10-29"
    folder.mkdir(parents=True)
    duckdb.sql(
        "copy (select * from (values "
        "('default', 'ev1', 'cus_a', 'api_calls', timestamptz '2026-10-29 10:00:00+00', '1', '{}', '{}', "
        "'http', 'f.jsonl', timestamptz '2026-10-29 10:00:05+00'), "
        "('default', 'ev2', 'cus_a', 'api_calls', timestamptz '2026-10-29 11:00:00+00', '2', '{}', '{}', "
        "'http', 'f.jsonl', timestamptz '2026-10-29 11:00:05+00')) as t(tenant_id, event_id, customer_id, "
        "meter, event_ts, quantity, properties_json, dimensions_json, source, source_file, arrived_at)) "
        f"to '{folder / 'events-0001.parquet'}' (format parquet)"
    )


@pytest.mark.timeout(900)
def test_first_run_staging_reads_the_sources_it_registered(tmp_path: Path) -> None:
    raw, spark_dir, run_dir = tmp_path / "raw", tmp_path / "spark", tmp_path / "dbt"
    _write_events(raw)
    (spark_dir / "ledger").mkdir(parents=True)
    env = {
        **os.environ,
        "USAGEBILL_ENGINE": "spark",
        "USAGEBILL_RAW_DIR": str(raw),
        "USAGEBILL_SPARK_DIR": str(spark_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    env.pop("USAGEBILL_DBT_TARGET", None)
    # As Dagster runs dbt (dagster-dbt): JSON log lines, stderr merged into stdout.
    done = subprocess.run(
        [
            find_dbt() or "dbt",
            "--log-format",
            "json",
            "run",
            "--select",
            "stg_usage__events",
            *dbt_path_args(dbt_project_dir(), run_dir),
        ],
        env=env,
        cwd=dbt_project_dir(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=850,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    # Every dbt event is a line of its own: Spark's console progress bar (stderr, no newline) once
    # glued itself to dbt's JSON lines, dagster-dbt dropped those events and skipped the rest of
    # the Spark demo (profiles.yml: spark.ui.showConsoleProgress=false).
    glued = [line for line in done.stdout.splitlines() if '{"data"' in line and not line.startswith("{")]
    assert glued == [], glued[:3]
    assert "raw.usage_events" in done.stdout  # registered by on-run-start
    (compiled,) = (run_dir / "target" / "run").rglob("stg_usage__events.sql")
    sql = compiled.read_text()
    # the view reads the registered table, not the typed empty row set of a missing source
    assert "from raw.usage_events" in sql, sql
    assert "where false" not in sql, sql
    # The view was copied to Parquet at the end of the run (hook snapshot_spark_views) and the
    # Python readers see its two events through the DuckDB file (docs/spark.md, "Python readers").
    assert "Spark views copied to Parquet for the Python readers: 1" in done.stdout
    warehouse = tmp_path / "usagebill.duckdb"
    assert sync_spark_views(warehouse, spark_dir, progress=lambda _: None) >= 1
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute(
        "select event_id, event_quantity, cast(event_ts as varchar) from staging.stg_usage__events order by 1"
    ).fetchall()
    con.close()
    # the written quantities '1' and '2' as DECIMAL(38,12); the UTC instants as UTC wall time
    assert rows == [
        ("ev1", Decimal("1.000000000000"), "2026-10-29 10:00:00"),
        ("ev2", Decimal("2.000000000000"), "2026-10-29 11:00:00"),
    ]
