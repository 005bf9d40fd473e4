"""Landing files -> raw layer: once-only manifest, quarantine contents, byte-identical re-runs."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.demo_data import generate
from ingestion.landing import QUARANTINE_SCHEMA, USAGE_EVENTS_SCHEMA, load_landing, read_manifest
from ingestion.load_command import main
from tests.files import digest, quiet


def rows(glob: str) -> list[tuple]:
    return duckdb.sql(f"select * from read_parquet('{glob}') order by all").fetchall()


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, Path]:
    data, raw = tmp_path / "data", tmp_path / "raw"
    generate(data, size="tiny", progress=quiet)
    return data, raw


def test_tiny_load_counts_by_hand(tiny: tuple[Path, Path]) -> None:
    data, raw = tiny
    report = load_landing(data, raw, progress=quiet)
    # 548 landed records = 544 valid (541 unique + 3 duplicates, kept in raw) + 4 malformed
    assert (report.files_loaded, report.rows_loaded, report.rows_quarantined) == (5, 544, 4)
    assert report.by_arrival_date == {
        date(2026, 10, 29): {"files": 1, "rows_loaded": 186, "rows_quarantined": 0},
        date(2026, 10, 30): {"files": 2, "rows_loaded": 156 + 35, "rows_quarantined": 2},
        date(2026, 10, 31): {"files": 2, "rows_loaded": 71 + 96, "rows_quarantined": 2},
    }
    events = f"{raw}/usage_events/*/*.parquet"
    assert (
        pq.read_schema(next((raw / "usage_events").rglob("*.parquet"))).remove_metadata()
        == USAGE_EVENTS_SCHEMA
    )
    totals = duckdb.sql(
        f"""select customer_id, meter, count(*), sum(cast(quantity as decimal(38, 12)))
            from (select distinct on (event_id) * from read_parquet('{events}') order by event_id, arrived_at)
            group by all order by all"""
    ).fetchall()
    assert totals == [
        ("cus_a", "api_calls", 30, None),
        ("cus_a", "gpu_ms", 1, Decimal("2457")),
        ("cus_a", "storage_gb", 72, Decimal("108")),  # 1.5 GB x 72 hourly samples
        ("cus_b", "api_calls", 60, None),
        ("cus_b", "gpu_ms", 72, Decimal("72000000")),
        ("cus_b", "storage_gb", 72, Decimal("7200")),
        ("cus_c", "api_calls", 15, None),
        ("cus_c", "gpu_ms", 18, Decimal("9000000")),
        ("cus_c", "storage_gb", 72, Decimal("18")),
        ("cus_d", "gpu_ms", 9, Decimal("18000000")),
        ("cus_d", "storage_gb", 72, Decimal("144")),
        ("cus_e", "gpu_ms", 48, Decimal("4800000")),
    ]
    # the document's example, with its offset converted to UTC and the landing metadata kept
    example = duckdb.sql(
        f"select event_ts, quantity, dimensions_json, source_file, arrived_at, arrival_date "
        f"from read_parquet('{events}') where event_id = 'evt_cus_a_gpu_0001'"
    ).fetchall()
    assert example == [
        (
            datetime(2026, 10, 30, 13, 47, tzinfo=UTC),
            "2457",
            '{"gpu_type":"a100","region":"us-east-1"}',
            "landing/usage/arrival_date=2026-10-30/events-0001.jsonl",
            datetime(2026, 10, 30, 23, 55, tzinfo=UTC),  # the file's mtime, set by the generator
            date(2026, 10, 30),
        )
    ]
    # +01:00 written, UTC stored: cus_c's 00:15Z sample was written as 01:15+01:00
    assert duckdb.sql(
        f"select count(*) from read_parquet('{events}') where customer_id = 'cus_c' and meter = 'gpu_ms' "
        f"and minute(event_ts) = 15 and hour(event_ts) % 4 = 0"
    ).fetchall() == [(18,)]
    # late events keep their event time and land in their arrival day
    late = duckdb.sql(
        f"select event_id, arrival_date from read_parquet('{events}') "
        f"where cast(event_ts as date) < arrival_date order by all"
    ).fetchall()
    assert late == [
        ("evt_cus_b_gpu_20261029_00", date(2026, 10, 30)),  # the duplicate re-sent a day later
        ("evt_cus_b_gpu_20261029_23", date(2026, 10, 30)),
        ("evt_cus_c_sto_20261030_00", date(2026, 10, 31)),  # duplicate
        ("evt_cus_d_gpu_20261029_17", date(2026, 10, 31)),
    ]


def test_quarantine_contents(tiny: tuple[Path, Path]) -> None:
    data, raw = tiny
    load_landing(data, raw, progress=quiet)
    quarantine = pq.read_table(next((raw / "quarantine").rglob("*.parquet")))
    assert quarantine.schema.remove_metadata() == QUARANTINE_SCHEMA
    got = duckdb.sql(
        f"select source_file, line_number, field, rule, raw_record, quarantined_at "
        f"from read_parquet('{raw}/quarantine/*/*.parquet') order by source_file, line_number"
    ).fetchall()
    d2 = "landing/usage/arrival_date=2026-10-30/events-0001.jsonl"
    d3 = "landing/usage/arrival_date=2026-10-31/events-0001.jsonl"
    # the malformed records are appended last in their files: D2 has 158 lines, D3 73
    assert [(s, n, f, r) for s, n, f, r, _, _ in got] == [
        (d2, 157, "timestamp", "rfc3339_with_offset"),
        (d2, 158, "quantity", "non_negative"),
        (d3, 72, "customer_id", "required"),
        (d3, 73, "quantity", "decimal"),
    ]
    assert '"timestamp":"2026-10-30 12:00:00"' in got[0][4]  # the record exactly as landed
    assert got[0][5] == datetime(2026, 10, 30, 23, 55, tzinfo=UTC)  # arrived_at of the file, not now()
    reasons = duckdb.sql(
        f"select reason from read_parquet('{raw}/quarantine/*/*.parquet') order by all"
    ).fetchall()
    assert ("timestamp '2026-10-30 12:00:00' has no UTC offset; send RFC 3339 like 2026-01-01T10:00:00Z or "
            "2026-01-01T11:00:00+01:00",) in reasons  # fmt: skip


def test_rerun_loads_nothing_and_outputs_are_byte_identical(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    data, raw = tiny
    load_landing(data, raw, progress=quiet)
    first = digest(raw)
    again = load_landing(data, raw, progress=quiet)
    assert (again.files_loaded, again.files_skipped, again.rows_loaded) == (0, 5, 0)
    assert digest(raw) == first
    # a fresh raw dir from the same landing files: the same bytes (no wall clock in the outputs)
    other = tmp_path / "raw2"
    load_landing(data, other, progress=quiet)
    assert digest(other) == first
    # outputs lost (e.g. raw dir partly deleted): the next run rewrites exactly the same file
    victim = next((raw / "usage_events").rglob("*.parquet"))
    victim.unlink()
    repaired = load_landing(data, raw, progress=quiet)
    assert repaired.files_loaded == 1
    assert digest(raw) == first


def test_changed_file_is_quarantined_not_reloaded(tiny: tuple[Path, Path]) -> None:
    data, raw = tiny
    load_landing(data, raw, progress=quiet)
    before = rows(f"{raw}/usage_events/*/*.parquet")
    path = data / "landing" / "usage" / "arrival_date=2026-10-29" / "events-0001.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"quantity":"1000000"', b'"quantity":"9000000"', 1))
    report = load_landing(data, raw, progress=quiet)
    assert report.files_changed == ["landing/usage/arrival_date=2026-10-29/events-0001.jsonl"]
    assert report.rows_loaded == 0
    assert rows(f"{raw}/usage_events/*/*.parquet") == before  # the first load stands
    changed = duckdb.sql(
        f"select field, rule, reason from read_parquet('{raw}/quarantine/*/*.parquet') where rule = 'file_changed'"
    ).fetchall()
    assert len(changed) == 1 and changed[0][0] == "$file"
    assert "new file name" in changed[0][2]
    statuses = sorted(
        r["status"] for r in read_manifest(raw) if r["source_file"].endswith("29/events-0001.jsonl")
    )
    assert statuses == ["file_changed", "loaded"]
    # reported once: a third run neither reloads nor re-quarantines it
    third = load_landing(data, raw, progress=quiet)
    assert (third.files_changed, third.rows_quarantined) == ([], 0)
    # the CLI exits 1 while a changed file is pending
    path.write_bytes(path.read_bytes() + b"\n")
    assert main(["--data-dir", str(data), "--raw-dir", str(raw), "--no-costs"]) == 1


def write_jsonl(path: Path, lines: list[str], mtime: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))


def test_open_segments_ignored_mtime_arrival_and_collector_lines(tmp_path: Path) -> None:
    data, raw = tmp_path / "data", tmp_path / "raw"
    landed = datetime(2026, 10, 2, 8, 30, tzinfo=UTC)
    base = '"customer_id":"cus_a","meter":"gpu_ms","quantity":"5"'
    write_jsonl(
        data / "landing/usage/collector/seg-000001.jsonl",
        [
            f'{{"event_id":"c1",{base},"timestamp":"2026-10-02T08:00:00Z","arrived_at":"2026-10-02T08:00:01.5Z",'
            '"tenant_id":"acme","source":"api"}',
            f'{{"event_id":"c2",{base},"timestamp":"2026-10-02T08:10:00Z"}}',
            "not json",
        ],
        landed,
    )
    write_jsonl(data / "landing/usage/collector/seg-000002.jsonl.open", ['{"event_id":"x"}'], landed)
    write_jsonl(data / "landing/usage/collector/seg-000003.jsonl.tmp", ['{"event_id":"y"}'], landed)
    (data / "landing/usage/readme.txt").write_text("hello")
    report = load_landing(data, raw, progress=quiet)
    assert report.files_seen == 2  # the .open and .tmp segments are not even seen
    assert report.files_unsupported == ["landing/usage/readme.txt"]
    got = duckdb.sql(
        f"select event_id, tenant_id, source, arrived_at, arrival_date from read_parquet('{raw}/usage_events/*/*.parquet') "
        "order by event_id"
    ).fetchall()
    assert got == [
        ("c1", "acme", "api", datetime(2026, 10, 2, 8, 0, 1, 500000, tzinfo=UTC), date(2026, 10, 2)),
        ("c2", "default", "file", landed, date(2026, 10, 2)),  # no arrival_date segment: the mtime's date
    ]
    bad = duckdb.sql(
        f"select line_number, field, rule, raw_record from read_parquet('{raw}/quarantine/*/*.parquet') order by all"
    ).fetchall()
    assert bad == [(0, "$file", "file_format", ""), (3, "$", "json", "not json")]


def test_arrival_date_filter(tiny: tuple[Path, Path]) -> None:
    data, raw = tiny
    report = load_landing(data, raw, arrival_dates=[date(2026, 10, 30)], progress=quiet)
    assert (report.files_loaded, report.rows_loaded) == (2, 156 + 35)
    rest = load_landing(data, raw, progress=quiet)
    assert (rest.files_loaded, rest.files_skipped, rest.rows_loaded) == (3, 2, 186 + 71 + 96)


def test_csv_and_parquet_inputs(tmp_path: Path) -> None:
    data, raw = tmp_path / "data", tmp_path / "raw"
    folder = data / "landing/usage/arrival_date=2026-10-05"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text(
        "event_id,customer_id,meter,timestamp,quantity,dimensions\n"
        'e1,cus_a,gpu_ms,2026-10-05T01:00:00Z,10.50,"{""gpu_type"": ""l4""}"\n'
        "e2,cus_a,gpu_ms,2026-10-05T01:00:00Z,,\n"
        "e3,cus_a,gpu_ms,2026-10-05T01:00:00Z,1,{oops\n"
        "e4,cus_a,gpu_ms,2026-10-05T01:00:00Z,1,,extra\n"
    )
    table = pa.table(
        {
            "event_id": ["p1", "p2", "p3"],
            "customer_id": ["cus_a", "cus_a", "cus_a"],
            "meter": ["gpu_ms", "gpu_ms", "gpu_ms"],
            "timestamp": pa.array(
                [datetime(2026, 10, 5, 2, tzinfo=UTC), datetime(2026, 10, 5, 3, tzinfo=UTC), None],
                pa.timestamp("us", tz="UTC"),
            ),
            "quantity": pa.array([Decimal("1.25"), Decimal("2"), Decimal("3")], pa.decimal128(10, 2)),
        }
    )
    pq.write_table(table, folder / "b.parquet")
    pq.write_table(pa.table({"event_id": ["f1"], "customer_id": ["c"], "meter": ["gpu_ms"],
                             "timestamp": ["2026-10-05T02:00:00Z"], "quantity": [0.1]}),
                   folder / "c.parquet")  # fmt: skip
    load_landing(data, raw, progress=quiet)
    good = duckdb.sql(
        f"select event_id, quantity, dimensions_json from read_parquet('{raw}/usage_events/*/*.parquet') order by 1"
    ).fetchall()
    assert good == [
        ("e1", "10.5", '{"gpu_type":"l4"}'),
        ("e2", None, "{}"),
        ("p1", "1.25", "{}"),
        ("p2", "2", "{}"),
    ]
    bad = duckdb.sql(
        f"select source_file, line_number, field, rule from read_parquet('{raw}/quarantine/*/*.parquet') order by all"
    ).fetchall()
    assert bad == [
        ("landing/usage/arrival_date=2026-10-05/a.csv", 4, "dimensions", "json"),
        ("landing/usage/arrival_date=2026-10-05/a.csv", 5, "$", "csv_columns"),
        ("landing/usage/arrival_date=2026-10-05/b.parquet", 3, "timestamp", "required"),
        ("landing/usage/arrival_date=2026-10-05/c.parquet", 1, "quantity", "exact_decimal"),  # a float column
    ]
