"""Recompute an issued invoice as of a date and compare it with what was issued.

Restatable billing: the usage journal is append-only and every row carries `arrived_at`, the
catalog is versioned by effective date. Recomputing invoice X as of D:
1. copy the warehouse to a scratch DuckDB file (the real warehouse is only read);
2. in the copy, keep only journal rows that arrived before D (arrived_at < D 00:00 UTC); when Spark
   built the marts, the copy's journal is a view over Spark's Parquet files: the rows kept become
   a table of the copy (scratch work stays on DuckDB on both engines, docs/spark.md);
3. rebuild, in the copy, the models between the journal and the invoice lines (rating and
   invoicing: `fct_usage_journal+,+int_invoice_lines_credited`, the journal itself excluded) with
   dbt var as_of_date = D;
4. compare the recomputed lines of X with the lines issued on X plus every correction issued for
   it since (credit/debit note lines, adjustment lines on later invoices).
Nothing is written to the warehouse: this is a report, not a correction (corrections are issued
by the normal run, see docs/invoices.md).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from usagebill import paths
from usagebill.dbt_cli import dbt_path_args, find_dbt, scratch_duckdb_env
from usagebill.money import minor_unit

SELECTOR = "fct_usage_journal+,+int_invoice_lines_credited"


class RecomputeError(RuntimeError):
    """The invoice cannot be recomputed; the message says why and what to do."""


@dataclass
class LineComparison:
    billing_line_id: str
    description: str
    issued_quantity: Decimal
    issued_amount: Decimal
    corrections_amount: Decimal
    recomputed_quantity: Decimal
    recomputed_amount: Decimal
    issued_tax: Decimal
    corrections_tax: Decimal
    recomputed_tax: Decimal

    @property
    def difference(self) -> Decimal:
        """Recomputed minus everything already issued for the line (invoice + corrections), with tax."""
        return (self.recomputed_amount + self.recomputed_tax) - (
            self.issued_amount + self.issued_tax + self.corrections_amount + self.corrections_tax
        )


@dataclass
class Comparison:
    invoice_id: str
    invoice_number: str
    customer_id: str
    currency: str
    issue_date: date
    as_of: date
    lines: list[LineComparison] = field(default_factory=list)
    correction_numbers: list[str] = field(default_factory=list)

    def _sum(self, name: str) -> Decimal:
        return sum((getattr(line, name) for line in self.lines), Decimal(0))

    @property
    def issued_total(self) -> Decimal:
        return self._sum("issued_amount") + self._sum("issued_tax")

    @property
    def corrections_total(self) -> Decimal:
        return self._sum("corrections_amount") + self._sum("corrections_tax")

    @property
    def recomputed_total(self) -> Decimal:
        return self._sum("recomputed_amount") + self._sum("recomputed_tax")

    @property
    def difference(self) -> Decimal:
        return self.recomputed_total - self.issued_total - self.corrections_total


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def _dbt_executable() -> str:
    found = find_dbt()
    if not found:
        raise RecomputeError(
            "dbt is not installed next to this Python nor on PATH; install the project (make install)"
        )
    return found


def _issued(warehouse: Path, invoice: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        heads = _rows(
            con,
            """select document_id, document_number, customer_id, currency, issue_date
               from billing.fct_issued_lines
               where document_type = 'invoice' and (document_id = ? or document_number = ?) limit 1""",
            [invoice, invoice],
        )
        if not heads:
            raise RecomputeError(
                f"no issued invoice with id or number {invoice!r} in {warehouse}; "
                "list them with: select invoice_id, invoice_number from billing.fct_invoices"
            )
        rows = _rows(
            con,
            """select document_id, document_type, document_number, billing_line_id, description, quantity,
                      amount, tax_amount, line_type
               from billing.fct_issued_lines where source_invoice_id = ?
               order by document_sequence, line_number""",
            [heads[0]["document_id"]],
        )
    except duckdb.CatalogException as error:
        raise RecomputeError(
            f"{warehouse} has no billing.fct_issued_lines ({error}); run the billing build first"
        ) from None
    finally:
        con.close()
    return heads[0], rows


def keep_journal_before(con: duckdb.DuckDBPyConnection, as_of: date) -> int:
    """In a scratch copy of the warehouse, keep only the journal rows arrived before `as_of`.

    Returns how many rows were set aside. Built on DuckDB the journal is a table (rows deleted);
    built on Spark it is a view over Spark's Parquet files (usagebill.engine), which the copy must
    never write: the rows kept become a table of the copy in its place.
    """
    cutoff = [as_of.isoformat()]
    kind = con.execute(
        "select table_type from information_schema.tables "
        "where table_schema = 'usage' and table_name = 'fct_usage_journal'"
    ).fetchone()
    if kind and kind[0] == "VIEW":
        con.execute("alter view usage.fct_usage_journal rename to fct_usage_journal_spark")
        con.execute(
            "create table usage.fct_usage_journal as select * from usage.fct_usage_journal_spark "
            "where arrived_at < cast(? as timestamp)",
            cutoff,
        )
        (removed,) = con.execute(
            "select (select count(*) from usage.fct_usage_journal_spark) "
            "- (select count(*) from usage.fct_usage_journal)"
        ).fetchone()
        con.execute("drop view usage.fct_usage_journal_spark")
        return int(removed)
    (removed,) = con.execute(
        "delete from usage.fct_usage_journal where arrived_at >= cast(? as timestamp)", cutoff
    ).fetchone()
    return int(removed)


def rebuild_as_of(
    warehouse: Path, as_of: date, workdir: Path, progress: Callable[[str], None] = print
) -> Path:
    """A scratch copy of the warehouse where rating and invoicing see only usage arrived before `as_of`."""
    copy = workdir / "recompute.duckdb"
    shutil.copyfile(warehouse, copy)
    wal = warehouse.with_name(warehouse.name + ".wal")
    if wal.exists():  # writes not yet checkpointed into the file live in the write-ahead log
        shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
    con = duckdb.connect(str(copy))
    try:
        removed = keep_journal_before(con, as_of)
    finally:
        con.close()
    progress(f"invoices: journal rows arrived on or after {as_of} set aside: {removed}")
    project = paths.dbt_project_dir()
    env = scratch_duckdb_env(paths.raw_dir(), copy)
    command = [
        _dbt_executable(),
        "run",
        "--select",
        SELECTOR,
        "--exclude",
        "fct_usage_journal",
        "--vars",
        json.dumps({"as_of_date": as_of.isoformat()}),
        *dbt_path_args(project, workdir),
    ]
    progress(f"invoices: rebuilding rating and invoice lines as of {as_of} (dbt run --select {SELECTOR}) ...")
    done = subprocess.run(command, env=env, cwd=project, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        failing = [ln for ln in done.stdout.splitlines() if "ERROR" in ln or "Error" in ln]
        raise RecomputeError(
            "dbt could not rebuild the invoice lines as of the date; fix the error below and retry:\n  "
            + "\n  ".join(failing[-20:] or done.stdout.splitlines()[-20:])
        )
    return copy


def recompute_invoice(
    invoice: str,
    as_of: date,
    warehouse: Path | None = None,
    workdir: Path | None = None,
    progress: Callable[[str], None] = print,
) -> Comparison:
    """Recompute the invoice (id or number) as of `as_of` and compare it with what was issued."""
    source = paths.warehouse_path() if warehouse is None else Path(warehouse)
    if not source.exists():
        raise RecomputeError(f"warehouse {source} not found; build it first (make demo)")
    head, issued_rows = _issued(source, invoice)
    scratch = Path(tempfile.mkdtemp(prefix="usagebill-recompute-")) if workdir is None else workdir
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        copy = rebuild_as_of(source, as_of, scratch, progress)
        con = duckdb.connect(str(copy), read_only=True)
        try:
            recomputed = _rows(
                con,
                """select billing_line_id, description, quantity, amount, tax_amount
                   from intermediate.int_invoice_lines_credited where invoice_id = ? order by line_number""",
                [head["document_id"]],
            )
        finally:
            con.close()
    finally:
        if workdir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    zero = Decimal(0)
    by_line: dict[str, LineComparison] = {}

    def entry(billing_line_id: str, description: str) -> LineComparison:
        if billing_line_id not in by_line:
            by_line[billing_line_id] = LineComparison(billing_line_id, description, *([zero] * 8))
        return by_line[billing_line_id]

    comparison = Comparison(
        head["document_id"],
        head["document_number"],
        head["customer_id"],
        head["currency"],
        head["issue_date"],
        as_of,
    )
    for row in issued_rows:
        line = entry(row["billing_line_id"], row["description"])
        if row["document_type"] == "invoice" and row["document_id"] == head["document_id"]:
            line.issued_quantity += row["quantity"] or zero
            line.issued_amount += row["amount"]
            line.issued_tax += row["tax_amount"]
        else:
            line.corrections_amount += row["amount"]
            line.corrections_tax += row["tax_amount"]
            if row["document_number"] not in comparison.correction_numbers:
                comparison.correction_numbers.append(row["document_number"])
    for row in recomputed:
        line = entry(row["billing_line_id"], row["description"])
        line.recomputed_quantity += row["quantity"] or zero
        line.recomputed_amount += row["amount"]
        line.recomputed_tax += row["tax_amount"]
    comparison.lines = list(by_line.values())
    return comparison


def format_comparison(comparison: Comparison) -> str:
    digits = minor_unit(comparison.currency)

    def money(value: Decimal) -> str:
        return f"{value:,.{digits}f}"

    def qty(value: Decimal) -> str:
        return format(value.normalize(), ",f") if value else "0"

    out = [
        f"Invoice {comparison.invoice_number} ({comparison.invoice_id}), customer {comparison.customer_id}, "
        f"issued {comparison.issue_date}, amounts in {comparison.currency} (with tax)",
        f"Recomputed as of {comparison.as_of}: journal rows arrived before {comparison.as_of}T00:00:00Z, "
        "versioned catalog",
        "Corrections issued since: " + (", ".join(comparison.correction_numbers) or "none"),
        "",
        f"{'line':<44} {'issued qty':>14} {'issued':>12} {'corrections':>12} {'recomputed qty':>14} "
        f"{'recomputed':>12} {'difference':>11}",
    ]
    for line in comparison.lines:
        out.append(
            f"{line.description[:44]:<44} {qty(line.issued_quantity):>14} "
            f"{money(line.issued_amount + line.issued_tax):>12} "
            f"{money(line.corrections_amount + line.corrections_tax):>12} {qty(line.recomputed_quantity):>14} "
            f"{money(line.recomputed_amount + line.recomputed_tax):>12} {money(line.difference):>11}"
        )
    out.append(
        f"{'total':<44} {'':>14} {money(comparison.issued_total):>12} {money(comparison.corrections_total):>12} "
        f"{'':>14} {money(comparison.recomputed_total):>12} {money(comparison.difference):>11}"
    )
    verdict = (
        "the issued invoice and its corrections match the recomputation"
        if comparison.difference == 0
        else f"difference of {money(comparison.difference)} {comparison.currency} between the recomputation and "
        "what was issued; a billing run as of this date issues a credit/debit note (or adjustment line) for it"
    )
    out += ["", verdict]
    return "\n".join(out)
