"""`usagebill summary`: what the warehouse billed, in a few lines a person can read."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import duckdb

from usagebill.paths import warehouse_path


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        _rows(
            con,
            "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        )
    )


def build_summary(warehouse: Path, *, as_of: date | None = None, top: int = 5) -> str:
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}: run `make demo` first (or set USAGEBILL_WAREHOUSE)")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        lines: list[str] = []
        if not _table_exists(con, "billing", "fct_invoices"):
            return f"{warehouse} has no billing.fct_invoices yet: materialize the billing assets first."
        (customers, invoices) = _rows(
            con, "select count(distinct customer_id), count(*) from billing.fct_invoices"
        )[0]
        lines.append(f"Customers invoiced: {customers} ({invoices} invoices)")
        lines.append("Total billed per currency:")
        for currency, total, count in _rows(
            con,
            "select currency, sum(total), count(*) from billing.fct_invoices group by currency order by currency",
        ):
            lines.append(f"  {currency} {total:,} over {count} invoices")
        lines.append(f"Largest invoices (top {top}, by total within currency):")
        for number, customer, currency, total, start, end in _rows(
            con,
            """
            select invoice_number, customer_id, currency, total, period_start, period_end
            from billing.fct_invoices
            order by total desc, invoice_number
            limit ?
            """,
            [top],
        ):
            lines.append(f"  {number}  {customer:<10} {currency} {total:>14,}  service period [{start}, {end})")
        if _table_exists(con, "analytics", "fct_mrr"):
            mrr_rows = _rows(
                con,
                """
                with last_month as (
                    select max(month_start) as month_start from analytics.fct_mrr
                    where month_start < date_trunc('month', coalesce(?::date, current_date))
                )
                select m.month_start, m.currency, sum(m.mrr)
                from analytics.fct_mrr as m
                inner join last_month using (month_start)
                group by m.month_start, m.currency
                order by m.currency
                """,
                [as_of],
            )
            for month, currency, mrr in mrr_rows:
                lines.append(f"MRR {month:%Y-%m} (last full month): {currency} {mrr:,}")
        return "\n".join(lines)
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="usagebill summary", description=__doc__)
    parser.add_argument("--warehouse", type=Path, default=None, help="DuckDB file (default: USAGEBILL_WAREHOUSE)")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="YYYY-MM-DD for 'last full month'")
    args = parser.parse_args(argv)
    print(build_summary(args.warehouse or warehouse_path(), as_of=args.as_of))
    return 0
