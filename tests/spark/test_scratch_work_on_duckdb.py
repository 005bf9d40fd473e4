"""Scratch work (invoice recompute, `usagebill rate`, pricing-lab candidates) runs on a scratch
DuckDB file whichever engine built the marts (docs/spark.md, "What stays on DuckDB")."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from usagebill.dbt_cli import scratch_duckdb_env
from usagebill.invoices.recompute import keep_journal_before

# Three events arrived on 2026-11-06, 11-07 and 11-08 at 10:00; recomputing as of 2026-11-08
# (arrived_at < 2026-11-08 00:00) keeps the first two and sets one aside.
ARRIVALS = [datetime(2026, 11, 6, 10), datetime(2026, 11, 7, 10), datetime(2026, 11, 8, 10)]


def _journal(tmp_path: Path, as_view: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "copy.duckdb"))
    con.execute("create schema usage")
    rows = pa.table({"event_id": ["e1", "e2", "e3"], "arrived_at": pa.array(ARRIVALS, pa.timestamp("us"))})
    if as_view:  # as sync_spark_views leaves it after a Spark build: a view over Spark's files
        folder = tmp_path / "spark" / "tables" / "usage.db" / "fct_usage_journal"
        folder.mkdir(parents=True)
        pq.write_table(rows, folder / "part-00000.parquet")
        con.execute(
            f"create view usage.fct_usage_journal as select * from read_parquet('{folder}/*.parquet')"
        )
    else:
        con.register("rows", rows)
        con.execute("create table usage.fct_usage_journal as select * from rows")
    return con


@pytest.mark.parametrize("as_view", [False, True], ids=["built_on_duckdb", "built_on_spark"])
def test_recompute_keeps_journal_rows_arrived_before_the_date(tmp_path: Path, as_view: bool) -> None:
    con = _journal(tmp_path, as_view)
    assert keep_journal_before(con, date(2026, 11, 8)) == 1
    kept = con.execute("select event_id from usage.fct_usage_journal order by 1").fetchall()
    kind = con.execute(
        "select table_type from information_schema.tables where table_name = 'fct_usage_journal'"
    ).fetchall()
    con.close()
    assert kept == [("e1",), ("e2",)]
    assert kind == [("BASE TABLE",)]
    if as_view:  # Spark's files are only read: all three events are still there
        files = tmp_path / "spark" / "tables" / "usage.db" / "fct_usage_journal"
        assert pq.read_table(files).num_rows == 3


def test_scratch_dbt_runs_use_the_duckdb_target_even_when_spark_builds_the_marts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the fix, recompute and the pricing lab passed USAGEBILL_ENGINE=spark on to dbt: the
    scratch build ran in the production Spark metastore instead of its scratch DuckDB file."""
    monkeypatch.setenv("USAGEBILL_ENGINE", "spark")
    monkeypatch.setenv("USAGEBILL_DBT_TARGET", "spark")
    env = scratch_duckdb_env(tmp_path / "raw", tmp_path / "scratch.duckdb", DBT_TARGET_PATH="t")
    assert env["USAGEBILL_DBT_TARGET"] == "duckdb"
    assert env["USAGEBILL_WAREHOUSE"] == str(tmp_path / "scratch.duckdb")
    assert env["USAGEBILL_RAW_DIR"] == str(tmp_path / "raw")
    assert env["DBT_TARGET_PATH"] == "t"
