"""`usagebill summary`: what the warehouse billed, in a few lines a person can read."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import duckdb

from usagebill.engine import table_exists
from usagebill.money import round_money
from usagebill.paths import warehouse_path


def fmt(amount, currency: str) -> str:
    """An amount as a person reads it: rounded to the currency's minor unit, with its currency."""
    return f"{currency} {round_money(amount, currency):,}"


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def _export_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What the export ledgers hold: each line counts things sent once, however often the demo ran."""
    lines: list[str] = []
    if table_exists(con, "ledger", "stripe_exports"):
        (finalized, items) = _rows(
            con,
            """
            select count(distinct usagebill_id) filter (where step = 'finalize'),
                   count(*) filter (where step = 'add_item')
            from ledger.stripe_exports where status = 'ok'
            """,
        )[0]
        lines.append(f"Stripe export ledger: {finalized} invoices finalized in Stripe, {items} invoice items")
    if table_exists(con, "ledger", "marketplace_reports"):
        # a key is (marketplace, tenant, customer, dimension, hour); a ledger from before tenants existed
        # has no tenant_id yet (the reporter adds it, 'default', on its next run)
        tenant = (
            "tenant_id"
            if _rows(
                con,
                "select 1 from information_schema.columns where table_schema = 'ledger' "
                "and table_name = 'marketplace_reports' and column_name = 'tenant_id'",
            )
            else "'default'"
        )
        for marketplace, states in _rows(
            con,
            f"""
            with latest as (
                select marketplace, customer_id, dimension, hour_start, state
                from ledger.marketplace_reports
                qualify row_number() over (
                    partition by marketplace, {tenant}, customer_id, dimension, hour_start order by seq desc
                ) = 1
            )
            select marketplace, string_agg(state || ' ' || n, ', ' order by state)
            from (select marketplace, state, count(*) as n from latest group by all)
            group by marketplace order by marketplace
            """,
        ):
            lines.append(f"Marketplace reporting ledger ({marketplace}): customer-dimension-hours {states}")
    return lines


def build_summary(warehouse: Path, *, as_of: date | None = None, top: int = 3) -> str:
    if not warehouse.exists():
        raise FileNotFoundError(
            f"no warehouse at {warehouse}: run `make demo` first (or set USAGEBILL_WAREHOUSE)"
        )
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        lines: list[str] = []
        if not table_exists(con, "billing", "fct_invoices"):
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
            lines.append(f"  {fmt(total, currency)} over {count} invoices")
        lines.append(f"Largest invoices (top {top} per currency):")
        for number, customer, currency, total, start, end in _rows(
            con,
            """
            select invoice_number, customer_id, currency, total, period_start, period_end
            from billing.fct_invoices
            qualify row_number() over (partition by currency order by total desc, invoice_number) <= ?
            order by currency, total desc, invoice_number
            """,
            [top],
        ):
            lines.append(
                f"  {number}  {customer:<10} {fmt(total, currency):>16}  service period [{start}, {end})"
            )
        if table_exists(con, "analytics", "fct_mrr"):
            mrr_rows = _rows(
                con,
                """
                with last_month as (
                    select max(month_start) as month_start from analytics.fct_mrr
                    where not is_provisional
                        and month_start < date_trunc('month', coalesce(?::date, current_date))
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
                lines.append(f"MRR {month:%Y-%m} (last full month): {fmt(mrr, currency)}")
        lines += _export_lines(con)
        return "\n".join(lines)
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="usagebill summary", description=__doc__)
    parser.add_argument(
        "--warehouse", type=Path, default=None, help="DuckDB file (default: USAGEBILL_WAREHOUSE)"
    )
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=None, help="YYYY-MM-DD for 'last full month'"
    )
    args = parser.parse_args(argv)
    print(build_summary(args.warehouse or warehouse_path(), as_of=args.as_of))
    return 0
