"""Which engine builds the marts (USAGEBILL_ENGINE = duckdb | spark) and how Python reads them.

One reader for every engine: the DuckDB warehouse file (usagebill.paths.warehouse_path()).
- duckdb (default): dbt builds the marts in that file.
- spark: dbt builds Parquet tables under USAGEBILL_SPARK_DIR/tables; after each Spark build,
  `sync_spark_views` (re)creates in the DuckDB file one view per Spark table, reading its Parquet
  files (hive partitions, timestamps as UTC), and one per Spark view, reading the copy Spark made
  of it at the end of the build (dbt hook snapshot_spark_views). The exporters, invoice documents,
  summary and reports keep opening the DuckDB file and read the same schema.table names either way.
The exactly-once ledgers (schema `ledger`: Stripe exports, marketplace reports) stay transactional
in the DuckDB file on both engines; before each Spark build `export_ledgers_for_spark` snapshots
them to Parquet (USAGEBILL_SPARK_DIR/ledger/<table>/), which dbt registers as source `ledger`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

ENGINES = ("duckdb", "spark")
# Spark databases that are not marts: source registrations and the parity tool's listings.
_NOT_MARTS = {"raw", "ledger", "usagebill_meta"}


def table_exists(con: Any, schema: str, table: str) -> bool:
    """True when the warehouse holds schema.table (a table or a view: on Spark the marts are views)."""
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def engine() -> str:
    """The configured engine; a clear error for anything else."""
    value = (os.environ.get("USAGEBILL_ENGINE") or "duckdb").strip().lower()
    if value not in ENGINES:
        raise ValueError(f"USAGEBILL_ENGINE={value!r} is not an engine: use one of {', '.join(ENGINES)}")
    return value


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def export_ledgers_for_spark(
    warehouse: Path, spark_dir: Path, progress: Callable[[str], None] = print
) -> list[str]:
    """Snapshot every table of schema `ledger` of the DuckDB warehouse to Parquet for Spark.

    Each table is written to a new file, then swapped in (the folder never holds a partial file).
    Returns the table names written.
    """
    import duckdb

    if not warehouse.exists():
        return []
    out = spark_dir / "ledger"
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'ledger' order by 1"
            ).fetchall()
        ]
        for table in tables:
            folder = out / table
            folder.mkdir(exist_ok=True)
            tmp = folder / "part-0.parquet.tmp"
            con.execute(f"copy (select * from ledger.{_quote(table)}) to '{tmp}' (format parquet)")
            tmp.replace(folder / "part-0.parquet")
    finally:
        con.close()
    if tables:
        progress(f"ledger snapshot for Spark: {', '.join(tables)} -> {out}")
    return tables


def _has_parquet(folder: Path) -> bool:
    return any(folder.rglob("*.parquet"))


def spark_tables(spark_dir: Path) -> dict[str, Path]:
    """schema.name -> folder of every Spark relation Python can read, sorted by name.

    Tables: their files under spark_dir/tables/<schema>.db/<table>/. Views have no files: the
    on-run-end hook snapshot_spark_views (macros/cross_engine/spark_parquet_copies.sql) copies
    each one, in the Spark session that built it, to spark_dir/views/<schema>.<view>/.
    """
    found: dict[str, Path] = {}
    root = spark_dir / "tables"
    for database in sorted(root.glob("*.db")) if root.exists() else []:
        schema = database.name[: -len(".db")]
        if schema in _NOT_MARTS:
            continue
        for table in sorted(p for p in database.iterdir() if p.is_dir()):
            if _has_parquet(table):
                found[f"{schema}.{table.name}"] = table
    views = spark_dir / "views"
    for view in sorted(p for p in views.iterdir() if p.is_dir()) if views.exists() else []:
        if "." in view.name and _has_parquet(view):
            found[view.name] = view
    return dict(sorted(found.items()))


def sync_spark_views(warehouse: Path, spark_dir: Path, progress: Callable[[str], None] = print) -> int:
    """(Re)create in the DuckDB warehouse one view per Spark table (reads its Parquet files).

    Spark writes timestamps adjusted to UTC (DuckDB reads TIMESTAMP WITH TIME ZONE): the views
    give them back as UTC timestamps without zone, as the DuckDB-built marts have them.
    """
    import duckdb

    tables = spark_tables(spark_dir)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("set TimeZone = 'UTC'")
        for name, folder in tables.items():
            schema, table = name.split(".", 1)
            scan = f"read_parquet('{folder}/**/*.parquet', hive_partitioning = true, union_by_name = true)"
            columns = con.execute(f"describe select * from {scan}").fetchall()
            select = ", ".join(
                f"cast(timezone('UTC', {_quote(c[0])}) as timestamp) as {_quote(c[0])}"
                if c[1] == "TIMESTAMP WITH TIME ZONE"
                else _quote(c[0])
                for c in columns
            )
            con.execute(f"create schema if not exists {_quote(schema)}")
            existing = con.execute(
                "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
                [schema, table],
            ).fetchone()
            if existing and existing[0] == "BASE TABLE":
                con.execute(f"drop table {_quote(schema)}.{_quote(table)}")
            con.execute(
                f"create or replace view {_quote(schema)}.{_quote(table)} as select {select} from {scan}"
            )
    finally:
        con.close()
    progress(f"{len(tables)} Spark tables readable through {warehouse}")
    return len(tables)
