"""SQL-based measurement against a real PostgreSQL server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from ingestion.sources.sql_source import load_queries, run_query

CONFIG = """
queries:
  - name: api_calls_hourly
    connection_env: TEST_APP_DSN
    schedule: "15 * * * *"
    dimensions: [region]
    sql: |
      select account_id as customer_id, 'api_calls' as meter,
             date_trunc('hour', called_at) as timestamp, sum(units) as quantity, region
      from api_calls
      where called_at >= %(window_start)s and called_at < %(window_end)s
      group by 1, 2, 3, 5
      order by 1, 3, 5
  - name: bad_types
    connection_env: TEST_APP_DSN
    sql: |
      select 'cus_a' as customer_id, 'api_calls' as meter,
             timestamp '2023-01-01 13:00' as timestamp, 1.5::float8 as quantity
"""


@pytest.fixture
def app_db(postgres: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TEST_APP_DSN", postgres)
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute("drop table if exists api_calls")
        conn.execute(
            "create table api_calls (account_id text, called_at timestamptz, units numeric(20,6), region text)"
        )
        rows = [
            ("cus_a", "2023-01-01T13:05:00Z", "2.5", "eu"),
            ("cus_a", "2023-01-01T13:47:00Z", "0.000001", "eu"),
            ("cus_a", "2023-01-01T13:50:00Z", "7", "us"),
            ("cus_b", "2023-01-01T14:59:59Z", "1", "eu"),
            ("cus_b", "2023-01-01T15:00:00Z", "100", "eu"),  # at window_end: excluded (half-open)
            ("cus_b", "2023-01-01T12:59:59Z", "100", "eu"),  # before window_start: excluded
        ]
        with conn.cursor() as cur:
            cur.executemany("insert into api_calls values (%s, %s, %s, %s)", rows)
    return postgres


def test_sql_query_lands_events_with_deterministic_ids(app_db: str, data_dir: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "sql.yaml"
    cfg.write_text(CONFIG)
    queries = {q.name: q for q in load_queries(cfg)}
    start, end = datetime(2023, 1, 1, 13, tzinfo=UTC), datetime(2023, 1, 1, 15, tzinfo=UTC)
    result = run_query(queries["api_calls_hourly"], start, end, data_dir)
    assert (result.events, result.quarantined) == (3, 0)
    rows = [json.loads(line) for line in result.path.read_text().splitlines()]
    got = [(r["customer_id"], r["timestamp"], r["dimensions"]["region"], r["quantity"]) for r in rows]
    # cus_a 13h eu: 2.5 + 0.000001 = 2.500001; cus_a 13h us: 7; cus_b 14h eu: 1
    assert got == [
        ("cus_a", "2023-01-01T13:00:00Z", "eu", "2.500001"),
        ("cus_a", "2023-01-01T13:00:00Z", "us", "7"),
        ("cus_b", "2023-01-01T14:00:00Z", "eu", "1"),
    ]
    assert (
        result.path
        == data_dir
        / "landing/usage/sql/arrival_date=2023-01-01/api_calls_hourly__20230101T130000Z_20230101T150000Z.jsonl"
    )
    assert all(r["event_id"].startswith("sql-") and r["meter"] == "api_calls" for r in rows)
    first = result.path.read_bytes()
    # re-running the same window rewrites the same file with the same ids: nothing counts twice
    again = run_query(queries["api_calls_hourly"], start, end, data_dir)
    assert again.path == result.path and again.path.read_bytes() == first
    assert len(list((data_dir / "landing/usage/sql").rglob("*.jsonl"))) == 1
    assert not list((data_dir / "landing/usage/sql").rglob("*.open"))


def test_sql_rows_with_float_or_naive_time_are_quarantined(
    app_db: str, data_dir: Path, tmp_path: Path
) -> None:
    cfg = tmp_path / "sql.yaml"
    cfg.write_text(CONFIG)
    q = {x.name: x for x in load_queries(cfg)}["bad_types"]
    result = run_query(q, datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 1, 2, tzinfo=UTC), data_dir)
    assert (result.events, result.quarantined) == (0, 1)
    (bad,) = [json.loads(x) for x in result.quarantine_path.read_text().splitlines()]
    assert (bad["field"], bad["rule"]) == ("timestamp", "timestamptz")
    assert "at time zone" in bad["reason"]


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    cfg = tmp_path / "sql.yaml"
    cfg.write_text("queries:\n  - name: Bad-Name\n    connection_env: X\n    sql: select 1\n")
    with pytest.raises(ValueError, match=r"queries\[0\]\.name"):
        load_queries(cfg)


def test_missing_connection_env_says_what_to_set(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOPE_DSN", raising=False)
    cfg = tmp_path / "sql.yaml"
    cfg.write_text("queries:\n  - name: q\n    connection_env: NOPE_DSN\n    sql: select 1\n")
    (q,) = load_queries(cfg)
    with pytest.raises(RuntimeError, match="NOPE_DSN is not set"):
        run_query(q, datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 1, 2, tzinfo=UTC), data_dir)
