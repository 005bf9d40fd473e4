"""SQL-based measurement: a configured query run against an operational PostgreSQL database.

Config (YAML; one file may hold several queries)::

    queries:
      - name: api_calls_hourly              # [a-z0-9_]; part of every event id
        connection_env: APP_DATABASE_URL    # env var holding the libpq DSN (secrets only from env)
        schedule: "15 * * * *"              # cron, used by the Dagster schedule
        sql: |
          select account_id as customer_id, 'api_calls' as meter,
                 date_trunc('hour', called_at) as timestamp, count(*)::numeric as quantity,
                 region
          from api_calls
          where called_at >= %(window_start)s and called_at < %(window_end)s
          group by 1, 2, 3, 5
        dimensions: [region]                # columns copied to dimensions (as strings)
        key_columns: [customer_id, meter, timestamp, region]   # row key (default: all of the above)

The query returns ``customer_id, meter, timestamp, quantity`` and the dimension columns; it gets the
half-open window ``[window_start, window_end)`` as parameters. Event id = ``sql-`` + sha256 of
(query name, row key values), so re-running a window lands the same events again (deduplicated),
never new ones. ``timestamp`` must be ``timestamptz`` (a timestamp without time zone is quarantined:
cast it, e.g. ``called_at at time zone 'UTC'``); ``quantity`` must be numeric/integer (a binary
``double precision`` is quarantined: cast it to numeric).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from ingestion.events import Rejection
from ingestion.sources.landing_writer import (
    LandingResult,
    decimal_text,
    deterministic_id,
    utc_text,
    write_window,
)
from usagebill.postgres import fetch_rows

SOURCE = "sql"
_NAME_RE = re.compile(r"[a-z0-9_]{1,64}")
REQUIRED_COLUMNS = ("customer_id", "meter", "timestamp", "quantity")


@dataclass(frozen=True)
class SqlQuery:
    name: str
    connection_env: str
    sql: str
    dimensions: tuple[str, ...] = ()
    key_columns: tuple[str, ...] = ()
    schedule: str = "0 * * * *"
    tenant_id: str | None = None

    @property
    def row_key(self) -> tuple[str, ...]:
        return self.key_columns or ("customer_id", "meter", "timestamp", *self.dimensions)


def load_queries(path: Path) -> list[SqlQuery]:
    """Read and check a SQL-source config file; errors name the file, the query and the field."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = raw.get("queries") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path}: expected a top-level 'queries:' list with at least one query")
    out = []
    for i, q in enumerate(items):
        where = f"{path}: queries[{i}]"
        if not isinstance(q, dict):
            raise ValueError(f"{where}: must be a mapping with name, connection_env, sql")
        for key in ("name", "connection_env", "sql"):
            if not isinstance(q.get(key), str) or not q[key].strip():
                raise ValueError(f"{where}.{key}: required non-empty string")
        if not _NAME_RE.fullmatch(q["name"]):
            raise ValueError(f"{where}.name: {q['name']!r} must be lower-case letters, digits or _")
        dims = q.get("dimensions") or []
        keys = q.get("key_columns") or []
        if not all(isinstance(d, str) for d in [*dims, *keys]):
            raise ValueError(f"{where}: dimensions and key_columns must be lists of column names")
        out.append(
            SqlQuery(
                name=q["name"],
                connection_env=q["connection_env"],
                sql=q["sql"],
                dimensions=tuple(dims),
                key_columns=tuple(keys),
                schedule=str(q.get("schedule", "0 * * * *")),
                tenant_id=q.get("tenant_id"),
            )
        )
    names = [q.name for q in out]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: query names must be unique (got {names})")
    return out


def row_to_event(query: SqlQuery, row: dict[str, Any]) -> dict[str, Any] | Rejection:
    missing = [c for c in (*REQUIRED_COLUMNS, *query.dimensions, *query.row_key) if c not in row]
    if missing:
        return Rejection(
            missing[0],
            "required_column",
            f"query {query.name} returned no column {missing[0]!r}; alias it in the SQL",
        )
    key = deterministic_id(SOURCE, query.name, *(_key_text(row[c]) for c in query.row_key))
    ts = row["timestamp"]
    if not isinstance(ts, datetime):
        return Rejection(
            "timestamp",
            "type",
            f"query {query.name}: timestamp is {type(ts).__name__}; return timestamptz",
            key,
        )
    if ts.tzinfo is None:
        return Rejection(
            "timestamp",
            "timestamptz",
            f"query {query.name}: timestamp {ts} has no time zone; return timestamptz "
            f"(e.g. col at time zone 'UTC')",
            key,
        )
    q = row["quantity"]
    if isinstance(q, float):
        return Rejection(
            "quantity",
            "exact_decimal",
            f"query {query.name}: quantity {q!r} is double precision (binary float); cast it to numeric in the SQL",
            key,
        )
    event: dict[str, Any] = {
        "event_id": key,
        "customer_id": None if row["customer_id"] is None else str(row["customer_id"]),
        "meter": row["meter"],
        "timestamp": utc_text(ts),
        "quantity": decimal_text(q) if isinstance(q, Decimal) else q,
        "source": f"sql:{query.name}",
    }
    dims = {d: str(row[d]) for d in query.dimensions if row[d] is not None}
    if dims:
        event["dimensions"] = dims
    return event


def _key_text(value: Any) -> str:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return utc_text(value)
    if isinstance(value, Decimal):
        return decimal_text(value)
    return str(value)


def run_query(query: SqlQuery, window_start: datetime, window_end: datetime, data_dir: Path) -> LandingResult:
    """Run one query for ``[window_start, window_end)`` and land its rows as events."""
    if window_start.tzinfo is None or window_end.tzinfo is None or window_end <= window_start:
        raise ValueError("window: pass aware datetimes with window_start < window_end (half-open)")
    rows = fetch_rows(
        query.connection_env,
        query.sql,
        {"window_start": window_start, "window_end": window_end},
        what=f"query {query.name}",
    )
    events = [row_to_event(query, row) for row in rows]
    return write_window(
        data_dir,
        SOURCE,
        query.name,
        (window_start, window_end),
        events,
        tenant_id=query.tenant_id,
        raw_records=[{k: _key_text(v) for k, v in r.items()} for r in rows],
    )
