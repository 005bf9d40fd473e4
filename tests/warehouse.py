"""Reading a test's DuckDB warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb


def query(path: Path | str, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """The rows of `sql` (with `params`) in the DuckDB file at `path`, opened read-only and closed
    again, so that the next dbt run or writer can open it."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
