"""The collector's quarantine files (DATA_DIR/quarantine/collector-YYYY-MM-DD.jsonl) reach raw/quarantine
once, with the field, rule and reason the collector recorded."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from ingestion.collector.processing import quarantine_line
from ingestion.events import Rejection
from ingestion.landing import collector_quarantine_files, load_landing, read_manifest
from tests.files import digest, quiet


def write_collector_quarantine(data: Path, day: str, lines: list[bytes], mtime: datetime) -> Path:
    path = data / "quarantine" / f"collector-{day}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(lines))
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def rejected(index: int, raw: object, field: str, rule: str, reason: str, at: str, endpoint: str) -> bytes:
    """A line exactly as the collector writes it (its own encoder)."""
    return quarantine_line(
        raw=raw,
        rejection=Rejection(field, rule, reason, None),
        tenant_id="acme",
        source=endpoint,
        index=index,
        quarantined_at=at,
    )


def test_collector_quarantine_files_are_loaded_once(tmp_path: Path) -> None:
    data, raw = tmp_path / "data", tmp_path / "raw"
    day1 = [
        rejected(0, {"event_id": "e1", "quantity": "-5"}, "quantity", "non_negative",
                 "quantity '-5' is negative", "2026-10-01T09:00:00.25Z", "/v1/events"),
        rejected(2, b'{"event_id": "e3", "tenant_id": "other"}', "tenant_id", "tenant_mismatch",
                 "tenant_id 'other' differs", "2026-10-01T17:30:00Z", "/v1/events"),
        b"\n",  # a blank line is skipped (not a record)
        b'{"quarantined_at": "2026-10-01T23:59:59Z", "raw_rec',  # torn by a crash: kept, rule json
    ]  # fmt: skip
    day2 = [
        rejected(0, "{not json", "$", "json", "line 1 is not valid JSON", "2026-10-02T08:00:00Z",
                 "/openmeter/api/v1/events"),
        b'{"raw_record": "{}", "field": "meter"}\n',  # no rule/reason: not a collector record, kept
    ]  # fmt: skip
    write_collector_quarantine(data, "2026-10-01", day1, datetime(2026, 10, 1, 23, 59, 59, tzinfo=UTC))
    write_collector_quarantine(data, "2026-10-02", day2, datetime(2026, 10, 2, 8, 0, tzinfo=UTC))
    (data / "quarantine" / "sql-q__x.jsonl").write_text("{}\n")  # a source's quarantine: not this loader's

    report = load_landing(data, raw, progress=quiet)
    # day 1: 2 collector records + 1 torn line = 3 rows (the blank line is no row); day 2: 1 + 1 = 2 rows
    assert (report.files_loaded, report.rows_loaded, report.rows_quarantined) == (2, 0, 3 + 2)
    assert report.by_arrival_date == {
        date(2026, 10, 1): {"files": 1, "rows_loaded": 0, "rows_quarantined": 3},
        date(2026, 10, 2): {"files": 1, "rows_loaded": 0, "rows_quarantined": 2},
    }
    got = duckdb.sql(
        f"select source_file, line_number, field, rule, reason, raw_record, quarantined_at, arrival_date "
        f"from read_parquet('{raw}/quarantine/*/*.parquet', hive_partitioning = true) "
        f"order by source_file, line_number"
    ).fetchall()
    q1, q2 = "quarantine/collector-2026-10-01.jsonl", "quarantine/collector-2026-10-02.jsonl"
    assert [row[:5] for row in got[:2]] == [
        (q1, 1, "quantity", "non_negative", "quantity '-5' is negative"),  # as the collector recorded them
        (q1, 2, "tenant_id", "tenant_mismatch", "tenant_id 'other' differs"),
    ]
    assert got[0][5] == '{"event_id":"e1","quantity":"-5"}'  # the collector's raw_record, not its wrapper
    assert got[1][5] == '{"event_id": "e3", "tenant_id": "other"}'
    assert [row[6] for row in got[:2]] == [
        datetime(2026, 10, 1, 9, 0, 0, 250000, tzinfo=UTC),  # the collector's quarantined_at
        datetime(2026, 10, 1, 17, 30, tzinfo=UTC),
    ]
    assert got[2][1:4] == (4, "$", "json") and got[2][5].startswith('{"quarantined_at"')
    assert got[2][6] == datetime(2026, 10, 1, 23, 59, 59, tzinfo=UTC)  # torn line: the file's mtime
    assert [row[1:4] for row in got[3:]] == [(1, "$", "json"), (2, "$", "collector_record")]
    assert got[3][0] == q2 and got[3][5] == "{not json"
    # arrival date = the day in the file name
    assert [row[7] for row in got] == [date(2026, 10, 1)] * 3 + [date(2026, 10, 2)] * 2
    # visible as analysts see it: the manifest has one loaded row per file, nothing in usage_events
    manifest = sorted((r["source_file"], r["status"], r["rows_quarantined"]) for r in read_manifest(raw))
    assert manifest == [(q1, "loaded", 3), (q2, "loaded", 2)]
    assert not (raw / "usage_events").exists()

    # once: a re-run loads nothing and rewrites nothing; a fresh raw dir gets the same bytes
    first = digest(raw)
    again = load_landing(data, raw, progress=quiet)
    assert (again.files_loaded, again.files_skipped, again.rows_quarantined) == (0, 2, 0)
    assert digest(raw) == first
    assert load_landing(data, tmp_path / "raw2", progress=quiet).files_loaded == 2
    assert digest(tmp_path / "raw2") == first


def test_arrival_date_filter_and_todays_file_waits(tmp_path: Path) -> None:
    data, raw = tmp_path / "data", tmp_path / "raw"
    line = rejected(
        0, {"event_id": "e"}, "meter", "required", "meter is missing", "2026-10-01T09:00:00Z", "/v1/events"
    )
    for day in ("2026-10-01", "2026-10-02", "2026-10-03"):
        write_collector_quarantine(data, day, [line, line], datetime(2026, 10, 3, 12, tzinfo=UTC))
    noon = datetime(2026, 10, 3, 12, tzinfo=UTC)
    # on 2026-10-03 the collector still appends to that day's file: only 10-01 and 10-02 are complete
    assert [f.source_file for f in collector_quarantine_files(data, now=noon)] == [
        "quarantine/collector-2026-10-01.jsonl",
        "quarantine/collector-2026-10-02.jsonl",
    ]
    assert [
        f.arrival_date for f in collector_quarantine_files(data, arrival_dates=[date(2026, 10, 2)], now=noon)
    ] == [date(2026, 10, 2)]
    # load_landing (now = the real clock, after these days): one day at a time, 2 rows per file
    report = load_landing(data, raw, arrival_dates=[date(2026, 10, 2)], progress=quiet)
    assert (report.files_loaded, report.rows_quarantined) == (1, 2)
    assert sorted(p.parent.name for p in (raw / "quarantine").rglob("*.parquet")) == [
        "arrival_date=2026-10-02"
    ]
    rest = load_landing(data, raw, progress=quiet)
    assert (rest.files_loaded, rest.files_skipped, rest.rows_quarantined) == (2, 1, 2 + 2)
