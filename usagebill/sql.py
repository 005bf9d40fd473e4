"""`usagebill sql "select ..."`: query the warehouse after `make demo`, no other tool needed.

    usagebill sql "select invoice_number, currency, total from billing.fct_invoices order by total desc limit 5"
    usagebill sql --format csv "select * from analytics.fct_mrr" > mrr.csv
    usagebill sql            # lists the schemas and tables to start with

The warehouse is opened read-only, so a query can never change the books (and can run while the
Dagster UI is open). The DuckDB CLI works too: `duckdb -readonly warehouse/usagebill.duckdb`.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from usagebill.paths import warehouse_path

# The marts to start with, by schema, as the README and the dbt docs overview describe them.
SCHEMAS = ("usage", "billing", "payments", "marketplace", "analytics", "pricing_lab")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact: money never goes through a float
    return str(value)


def run(query: str | None, warehouse: Path, fmt: str, max_rows: int) -> int:
    import duckdb

    if not warehouse.exists():
        print(f"usagebill sql: no warehouse at {warehouse}; run `make demo` first", file=sys.stderr)
        return 1
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        if not query:
            query = (
                "select table_schema as schema, table_name as name, table_type as type from information_schema.tables "
                f"where table_schema in ({', '.join(repr(s) for s in SCHEMAS)}) order by 1, 2"
            )
        try:
            relation = con.sql(query)
        except duckdb.Error as exc:
            print(f"usagebill sql: {exc}", file=sys.stderr)
            return 1
        if relation is None:  # a statement without a result
            return 0
        if fmt == "table":
            relation.show(max_rows=max_rows, max_width=200)
            return 0
        columns = relation.columns
        rows = relation.fetchall()
        if fmt == "csv":
            writer = csv.writer(sys.stdout)
            writer.writerow(columns)
            writer.writerows(rows)
        else:
            for row in rows:
                print(json.dumps(dict(zip(columns, row, strict=True)), default=_json_default))
        return 0
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="usagebill sql", description=__doc__.split("\n\n")[0])
    parser.add_argument("query", nargs="?", help="SQL to run (DuckDB dialect); none lists the marts")
    parser.add_argument(
        "--warehouse", type=Path, default=None, help="DuckDB file (default: USAGEBILL_WAREHOUSE)"
    )
    parser.add_argument("--format", choices=["table", "csv", "jsonl"], default="table")
    parser.add_argument("--max-rows", type=int, default=40, help="rows shown in table format (default 40)")
    args = parser.parse_args(argv)
    return run(args.query, args.warehouse or warehouse_path(), args.format, args.max_rows)


if __name__ == "__main__":
    raise SystemExit(main())
