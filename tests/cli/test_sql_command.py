"""`usagebill sql`: query the warehouse after `make demo` with nothing else installed."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb


def _warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema billing")
    con.execute(
        "create table billing.fct_invoices as select * from (values "
        "('INV-1', 'USD', 144.00::decimal(38, 12)), ('INV-2', 'JPY', 1500::decimal(38, 12))) t(invoice_number, currency, total)"
    )
    con.close()
    return path


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "cli", "sql", *args], capture_output=True, text=True, timeout=120
    )


def test_query_prints_a_table_and_exact_json(tmp_path):
    path = _warehouse(tmp_path)
    table = _run(
        "--warehouse", str(path), "select invoice_number, total from billing.fct_invoices order by 1"
    )
    assert table.returncode == 0, table.stderr
    assert "INV-1" in table.stdout and "144.000000000000" in table.stdout
    rows = _run(
        "--warehouse", str(path), "--format", "jsonl", "select * from billing.fct_invoices order by 1"
    )
    assert [json.loads(line) for line in rows.stdout.splitlines()] == [
        {"invoice_number": "INV-1", "currency": "USD", "total": "144.000000000000"},
        {"invoice_number": "INV-2", "currency": "JPY", "total": "1500.000000000000"},
    ]


def test_read_only_and_clear_errors(tmp_path):
    path = _warehouse(tmp_path)
    refused = _run("--warehouse", str(path), "delete from billing.fct_invoices")
    assert refused.returncode == 1 and "read-only" in refused.stderr.lower()
    assert duckdb.connect(str(path), read_only=True).sql(
        "select count(*) from billing.fct_invoices"
    ).fetchall() == [(2,)]
    missing = _run("--warehouse", str(tmp_path / "none.duckdb"))
    assert missing.returncode == 1 and "make demo" in missing.stderr
    listed = _run("--warehouse", str(path))
    assert "fct_invoices" in listed.stdout
