"""One reader for both engines: the DuckDB file gets views over Spark's Parquet tables, and the
ledgers are snapshotted from DuckDB for Spark (usagebill/engine.py, docs/spark.md)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from usagebill.engine import engine, export_ledgers_for_spark, spark_tables, sync_spark_views


def _spark_like_table(spark_dir: Path) -> None:
    """billing.fct_invoices as Spark writes it: a folder per table, UTC-adjusted timestamps, and a
    partition folder (usage_date=...) for an incremental model."""
    table = spark_dir / "tables" / "billing.db" / "fct_invoices"
    table.mkdir(parents=True)
    pq.write_table(
        pa.table(
            {
                "invoice_id": ["inv_1", "inv_2"],
                "total": pa.array(
                    [Decimal("12.340000000000"), Decimal("0.010000000000")], pa.decimal128(38, 12)
                ),
                "issued_at": pa.array(
                    [datetime(2026, 11, 8), datetime(2026, 11, 8)], pa.timestamp("us", tz="UTC")
                ),
            }
        ),
        table / "part-00000.parquet",
    )
    daily = spark_dir / "tables" / "usage.db" / "fct_usage_daily" / "usage_date=2026-10-30"
    daily.mkdir(parents=True)
    pq.write_table(pa.table({"customer_id": ["c1"]}), daily / "part-00000.parquet")
    # Source registrations are not marts.
    (spark_dir / "tables" / "raw.db" / "usage_events").mkdir(parents=True)
    pq.write_table(pa.table({"x": [1]}), spark_dir / "tables" / "raw.db" / "usage_events" / "a.parquet")


def test_views_read_spark_tables_with_the_same_names(tmp_path: Path) -> None:
    spark_dir = tmp_path / "spark"
    _spark_like_table(spark_dir)
    assert sorted(spark_tables(spark_dir)) == ["billing.fct_invoices", "usage.fct_usage_daily"]
    warehouse = tmp_path / "usagebill.duckdb"
    assert sync_spark_views(warehouse, spark_dir, progress=lambda _: None) == 2
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute("select invoice_id, total, issued_at from billing.fct_invoices order by 1").fetchall()
    types = dict(
        con.execute("select column_name, column_type from (describe billing.fct_invoices)").fetchall()
    )
    daily = con.execute(
        "select customer_id, cast(usage_date as varchar) from usage.fct_usage_daily"
    ).fetchall()
    con.close()
    # Exact decimals as written; the UTC instant back as a timestamp without zone (whatever the
    # reader's time zone).
    assert rows == [
        ("inv_1", Decimal("12.340000000000"), datetime(2026, 11, 8)),
        ("inv_2", Decimal("0.010000000000"), datetime(2026, 11, 8)),
    ]
    assert types["issued_at"] == "TIMESTAMP" and types["total"] == "DECIMAL(38,12)"
    assert daily == [("c1", "2026-10-30")]  # the partition column comes from the folder name


def test_ledgers_are_snapshotted_for_spark(tmp_path: Path) -> None:
    warehouse = tmp_path / "usagebill.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema ledger")
    con.execute("create table ledger.marketplace_reports (seq bigint, quantity decimal(38, 12))")
    con.execute("insert into ledger.marketplace_reports values (1, 2.5), (2, 0.000000000001)")
    con.close()
    assert export_ledgers_for_spark(warehouse, tmp_path / "spark", progress=lambda _: None) == [
        "marketplace_reports"
    ]
    files = list((tmp_path / "spark" / "ledger" / "marketplace_reports").glob("*"))
    assert [f.name for f in files] == ["part-0.parquet"]
    assert pq.read_table(files[0]).to_pylist() == [
        {"seq": 1, "quantity": Decimal("2.500000000000")},
        {"seq": 2, "quantity": Decimal("0.000000000001")},
    ]


def test_engine_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("USAGEBILL_ENGINE", raising=False)
    assert engine() == "duckdb"
    monkeypatch.setenv("USAGEBILL_ENGINE", "Spark")
    assert engine() == "spark"
    monkeypatch.setenv("USAGEBILL_ENGINE", "snowflake")
    with pytest.raises(
        ValueError, match="USAGEBILL_ENGINE='snowflake' is not an engine: use one of duckdb, spark"
    ):
        engine()


def test_spark_views_are_read_from_their_parquet_copies(tmp_path: Path) -> None:
    """A Spark view has no files: the Python readers (the Stripe exporter reads
    staging.stg_catalog__customers) read the copy the dbt hook snapshot_spark_views wrote to
    views/<schema>.<view>/. Before the fix the view was missing from the DuckDB file and the
    exporter silently sent customers without name or email."""
    spark_dir = tmp_path / "spark"
    _spark_like_table(spark_dir)
    copy = spark_dir / "views" / "staging.stg_catalog__customers"
    copy.mkdir(parents=True)
    pq.write_table(
        pa.table({"customer_id": ["cus_a", "cus_b"], "email": ["a@example.com", None]}),
        copy / "part-00000-0a1b-c000.snappy.parquet",
    )
    # a folder without files (a view Spark never copied) is not offered to readers
    (spark_dir / "views" / "staging.stg_empty").mkdir()
    assert sorted(spark_tables(spark_dir)) == [
        "billing.fct_invoices",
        "staging.stg_catalog__customers",
        "usage.fct_usage_daily",
    ]
    warehouse = tmp_path / "usagebill.duckdb"
    assert sync_spark_views(warehouse, spark_dir, progress=lambda _: None) == 3
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute("select customer_id, email from staging.stg_catalog__customers order by 1").fetchall()
    con.close()
    assert rows == [("cus_a", "a@example.com"), ("cus_b", None)]
