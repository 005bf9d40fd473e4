"""`make spark-parity` on the tiny dataset: the dbt project builds on DuckDB and on Spark (two
incremental windows, late events in the second) and every relation is identical row for row.

Needs a Java 17+ runtime (scripts/ensure-system-deps.sh installs it from Debian; CI runs that
script as root) and pyspark + dbt-spark (the `spark` extra, installed by `make install-dev`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from usagebill.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow


def _java_missing() -> str | None:
    java = shutil.which("java")
    if java is None:
        return "no Java runtime on PATH: run scripts/ensure-system-deps.sh as root (installs openjdk-17-jre-headless)"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed: run `make install-dev` (the `spark` extra)"
    return None


@pytest.mark.timeout(1800)
# Opt-in while parity is not reached (below): a Spark build of the tiny dataset costs 10-25 minutes on 2 cores,
# too much for an expected failure in every CI run. USAGEBILL_SPARK_PARITY=1 runs it (make spark-parity too).
@pytest.mark.skipif(
    os.environ.get("USAGEBILL_SPARK_PARITY") != "1",
    reason="Spark parity is not reached yet (docs/spark.md, Status); set USAGEBILL_SPARK_PARITY=1 to run it",
)
# Known open defect (docs/spark.md "Status"): in the second (incremental) window Spark's journal
# lost its first-window arrival partitions (375 of 541 events; assert_every_raw_event_is_accounted_for
# fails on Spark). Not strict: the test reports XPASS once parity holds; then remove this marker.
@pytest.mark.xfail(
    reason="Spark journal loses earlier arrival partitions in the incremental window", strict=False
)
@pytest.mark.skipif(_java_missing() is not None, reason=_java_missing() or "")
def test_spark_and_duckdb_build_identical_relations(tmp_path) -> None:
    out = tmp_path / "spark_parity.json"
    done = subprocess.run(
        [sys.executable, "-m", "cli.spark_parity", "--work", str(tmp_path / "work"), "--out", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    assert out.exists(), f"no report written:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    report = json.loads(out.read_text())
    different = [r for r in report["results"] if r["status"] != "identical"]
    assert different == [], json.dumps(different, indent=1)
    assert done.returncode == 0, done.stdout[-4000:]
    names = {r["relation"] for r in report["results"]}
    # The money marts and the incremental models are among the compared relations.
    for name in (
        "billing.fct_billing_lines",
        "billing.fct_invoices",
        "usage.fct_usage_journal",
        "usage.fct_usage_daily",
    ):
        assert name in names
    # The tiny dataset's journal: 541 unique valid events (ingestion/demo_data.py docstring),
    # on both engines.
    journal = next(r for r in report["results"] if r["relation"] == "usage.fct_usage_journal")
    assert journal["duckdb_rows"] == journal["spark_rows"] == 541
