"""Read-only queries against an operational PostgreSQL database (library layer: used by the SQL
measurement source in ingestion/ and by the bulk catalog import)."""

from __future__ import annotations

import os
from typing import Any


def fetch_rows(
    connection_env: str,
    sql: str,
    params: dict[str, Any] | None = None,
    *,
    what: str,
    max_rows: int | None = None,
) -> list[dict[str, Any]]:
    """Run `sql` read-only on the PostgreSQL database whose DSN is in $connection_env (secrets only
    from the environment); rows as dicts. More than max_rows rows is an error (bounded input)."""
    import psycopg
    from psycopg.rows import dict_row

    dsn = os.environ.get(connection_env)
    if not dsn:
        raise RuntimeError(
            f"{what}: environment variable {connection_env} is not set; "
            f"export it with the database's connection string"
        )
    with psycopg.connect(dsn) as conn:
        conn.read_only = True  # reading for billing never writes to the operational database
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params or {})
            if max_rows is None:
                return cur.fetchall()
            rows = cur.fetchmany(max_rows + 1)
    if len(rows) > max_rows:
        raise ValueError(f"{what}: the query returned more than {max_rows:,} rows; narrow it")
    return rows
