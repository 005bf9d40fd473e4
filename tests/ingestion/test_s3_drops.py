"""S3 drops: objects read over HTTP from moto's S3 server on 127.0.0.1, loaded once each."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import boto3
import duckdb
import pytest
from moto.server import ThreadedMotoServer

from ingestion.s3_drops import list_objects, load_s3, new_objects

BUCKET = "usage-drops"


def quiet(_: str) -> None:
    pass


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[object, str]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    try:
        yield client, endpoint
    finally:
        server.stop()


def event(i: int, quantity: str = "10") -> bytes:
    return (
        b'{"event_id":"s3-%d","customer_id":"cus_a","meter":"gpu_ms","timestamp":"2026-10-05T10:00:00Z",'
        b'"quantity":"%s"}\n' % (i, quantity.encode())
    )


def test_s3_objects_loaded_once_over_http(s3: tuple[object, str], tmp_path: Path) -> None:
    client, endpoint = s3
    raw = tmp_path / "raw"
    client.put_object(
        Bucket=BUCKET, Key="drops/arrival_date=2026-10-05/a.jsonl", Body=event(1) + event(2, "-1")
    )
    client.put_object(Bucket=BUCKET, Key="drops/arrival_date=2026-10-06/b.csv",
                      Body=b"event_id,customer_id,meter,timestamp,quantity\ns3-3,cus_a,gpu_ms,2026-10-06T00:00:00Z,7\n")  # fmt: skip
    client.put_object(Bucket=BUCKET, Key="drops/c.jsonl.tmp", Body=event(9))  # still being written
    client.put_object(Bucket=BUCKET, Key="other/d.jsonl", Body=event(8))  # outside the prefix

    assert [f.source_file for f in list_objects(client, BUCKET, "drops/")] == [
        f"s3://{BUCKET}/drops/arrival_date=2026-10-05/a.jsonl",
        f"s3://{BUCKET}/drops/arrival_date=2026-10-06/b.csv",
    ]
    # through the endpoint URL, as the CLI and the Dagster sensor do
    report = load_s3(BUCKET, "drops/", raw, endpoint_url=endpoint, progress=quiet)
    assert (report.files_loaded, report.rows_loaded, report.rows_quarantined) == (2, 2, 1)
    got = duckdb.sql(
        f"select event_id, quantity, source, source_file, arrival_date "
        f"from read_parquet('{raw}/usage_events/*/*.parquet') order by 1"
    ).fetchall()
    assert got == [
        ("s3-1", "10", "s3", f"s3://{BUCKET}/drops/arrival_date=2026-10-05/a.jsonl", date(2026, 10, 5)),
        ("s3-3", "7", "s3", f"s3://{BUCKET}/drops/arrival_date=2026-10-06/b.csv", date(2026, 10, 6)),
    ]
    bad = duckdb.sql(f"select line_number, rule from read_parquet('{raw}/quarantine/*/*.parquet')").fetchall()
    assert bad == [(2, "non_negative")]

    assert new_objects(client, BUCKET, "drops/", raw) == []
    again = load_s3(BUCKET, "drops/", raw, client=client, progress=quiet)
    assert (again.files_loaded, again.files_skipped) == (0, 2)

    # a new drop is seen by the sensor helper and loaded; the old ones are not touched
    client.upload_fileobj(io.BytesIO(event(4)), BUCKET, "drops/arrival_date=2026-10-07/e.jsonl")
    assert [f.source_file for f in new_objects(client, BUCKET, "drops/", raw)] == [
        f"s3://{BUCKET}/drops/arrival_date=2026-10-07/e.jsonl"
    ]
    third = load_s3(BUCKET, "drops/", raw, client=client, arrival_dates=[date(2026, 10, 7)], progress=quiet)
    assert (third.files_loaded, third.rows_loaded) == (1, 1)

    # an object overwritten with other content under the same key: an error kept in quarantine
    client.put_object(Bucket=BUCKET, Key="drops/arrival_date=2026-10-05/a.jsonl", Body=event(1, "99"))
    changed = load_s3(BUCKET, "drops/", raw, client=client, progress=quiet)
    assert changed.files_changed == [f"s3://{BUCKET}/drops/arrival_date=2026-10-05/a.jsonl"]
    assert duckdb.sql(
        f"select quantity from read_parquet('{raw}/usage_events/*/*.parquet') where event_id = 's3-1'"
    ).fetchall() == [("10",)]
