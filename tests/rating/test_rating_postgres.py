"""Portability: the rating models run unchanged on PostgreSQL and bill exactly what DuckDB bills.

A throwaway PostgreSQL server (127.0.0.1, free port, temporary directory) receives the inputs of the
rating models (staging.stg_catalog__*, usage.fct_usage_journal) copied from the scenario's DuckDB
warehouse; `dbt run --target postgres` builds intermediate/rating + the two marts; every billing line
(ids, quantities, amounts, tier breakdowns) and every credit balance must equal DuckDB's.
Skipped when the PostgreSQL server binaries are not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from usagebill import paths
from usagebill.dbt_cli import dbt_path_args
from usagebill.rating import RatingResult

pytestmark = pytest.mark.slow

TYPES = {
    "VARCHAR": "text",
    "DATE": "date",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres() -> Iterator[int]:
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="usagebill-pg-", dir="/tmp"))
    data, sockets, port = root / "data", root / "sock", _free_port()
    sockets.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_user,
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-w",
            "start",
            "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -k {sockets}",
        ],
        check=True,
        capture_output=True,
    )
    try:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True
        ) as con:
            con.execute("create database usagebill")
        yield port
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _copy_inputs(warehouse: Path, port: int) -> None:
    import psycopg

    src = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = src.execute(
            "select table_schema, table_name from information_schema.tables where "
            "(table_schema = 'staging' and (table_name like 'stg_catalog%' or table_name like 'stg_tax%')) "
            "or (table_schema = 'usage' and table_name = 'fct_usage_journal')"
        ).fetchall()
        with psycopg.connect(
            f"host=127.0.0.1 port={port} user=postgres dbname=usagebill", autocommit=True
        ) as pg:
            for schema, name in tables:
                cols = src.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, name],
                ).fetchall()
                ddl = ", ".join(
                    f'"{c}" ' + (TYPES.get(t) or ("numeric(38,12)" if t.startswith("DECIMAL") else "text"))
                    for c, t in cols
                )
                pg.execute(f"create schema if not exists {schema}")
                pg.execute(f"create table {schema}.{name} ({ddl})")
                rows = src.execute(f"select * from {schema}.{name}").fetchall()
                with pg.cursor() as cur:
                    cur.executemany(
                        f"insert into {schema}.{name} values ({', '.join(['%s'] * len(cols))})", rows
                    )
    finally:
        src.close()


def test_rating_on_postgres_equals_duckdb(
    rated: RatingResult, workdir: Path, postgres: int, tmp_path: Path
) -> None:
    import psycopg

    warehouse = workdir / "work" / "rate.duckdb"
    _copy_inputs(warehouse, postgres)
    project = paths.dbt_project_dir()
    env = dict(
        os.environ,
        USAGEBILL_DBT_TARGET="postgres",
        USAGEBILL_PG_HOST="127.0.0.1",
        USAGEBILL_PG_PORT=str(postgres),
        USAGEBILL_PG_USER="postgres",
        USAGEBILL_PG_DATABASE="usagebill",
        USAGEBILL_RAW_DIR=str(workdir / "work" / "raw"),
        USAGEBILL_WAREHOUSE=str(tmp_path / "unused.duckdb"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )

    # prepaid credits burn against invoice totals after tax (docs/invoices.md): the credit balances
    # need the invoice lines, their tax and the two invoicing seeds
    def dbt(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(Path(sys.executable).parent / "dbt"), *args, *dbt_path_args(project, tmp_path)]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=False)

    seeded = dbt("seed", "--select", "invoicing_currency_minor_units", "invoicing_eu_vat_countries")
    assert seeded.returncode == 0, seeded.stdout[-3000:]
    done = dbt(
        "run",
        "--select",
        "path:models/intermediate/rating",
        "fct_billing_lines",
        "int_invoice_lines_assigned",
        "int_invoice_lines_taxed",
        "int_invoice_credit_burn",
        "fct_credit_balances",
        "--vars",
        '{"as_of_date": "2026-07-01"}',
    )
    assert done.returncode == 0, done.stdout[-3000:]
    lines_sql = (
        "select billing_line_id, customer_id, line_type, billing_timing, charge_id, period_start, quantity, "
        "unit_price, amount, amount_rounded, currency, sequence_in_period, tier_breakdown_json, "
        "dimensions_json from billing.fct_billing_lines order by billing_line_id"
    )
    balances_sql = (
        "select grant_id, amount_granted, amount_used, amount_expired, balance "
        "from billing.fct_credit_balances order by grant_id"
    )
    src = duckdb.connect(str(warehouse), read_only=True)
    try:
        duck_lines, duck_balances = src.execute(lines_sql).fetchall(), src.execute(balances_sql).fetchall()
    finally:
        src.close()
    with psycopg.connect(f"host=127.0.0.1 port={postgres} user=postgres dbname=usagebill") as pg:
        pg_lines, pg_balances = pg.execute(lines_sql).fetchall(), pg.execute(balances_sql).fetchall()
    assert len(duck_lines) > 90
    assert pg_lines == duck_lines
    assert pg_balances == duck_balances
