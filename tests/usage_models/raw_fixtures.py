"""Small raw-layer fixtures for the dbt tests, written exactly in the raw Parquet layout of
docs/architecture.md (schemas imported from the loaders so they cannot drift)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.landing import USAGE_EVENTS_SCHEMA
from usagebill.catalog.write import table_for

DAY1 = date(2026, 5, 1)
DAY3 = date(2026, 5, 3)

# aggregation per meter, as in meters.yaml (catalog v1):
# meter id, name, unit, aggregation, unit multiplier, other fields
METER_COLUMNS = ("meter_id", "name", "unit", "aggregation", "unit_multiplier")
METERS: list[dict[str, Any]] = [
    {**dict(zip(METER_COLUMNS, row, strict=True)), **more}
    for *row, more in (
        ("gpu_ms", "GPU time", "ms", "sum", "1", {"value_property": "duration_ms"}),
        ("gpu_seconds", "GPU time (s)", "ms", "sum", "1000", {}),
        ("api_calls", "API calls", "call", "count", "1", {}),
        ("storage_gb", "Storage", "GB", "time_weighted_sum", "1", {}),
        ("peak_connections", "Peak connections", "conn", "max", "1", {}),
        ("active_users", "Active users", "user", "unique_count", "1", {"unique_property": "user_id"}),
        ("seats", "Seats", "seat", "latest", "1", {}),
        ("latency_ms", "Latency", "ms", "average", "1", {}),
    )
]


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def event(
    event_id: str,
    customer: str,
    meter: str,
    at: str,
    quantity: str | None,
    *,
    properties: dict[str, Any] | None = None,
    dimensions: dict[str, str] | None = None,
    arrived: str,
    source_file: str = "landing/usage/batch.jsonl",
    tenant: str = "default",
) -> dict[str, Any]:
    arrived_at = ts(arrived)
    return {
        "tenant_id": tenant,
        "event_id": event_id,
        "customer_id": customer,
        "meter": meter,
        "event_ts": ts(at),
        "quantity": quantity,
        "properties_json": json.dumps(properties or {}),
        "dimensions_json": json.dumps(dimensions or {}),
        "source": "test",
        "source_file": source_file,
        "arrived_at": arrived_at,
        "arrival_date": arrived_at.date(),
    }


def write_events(raw_dir: Path, arrival: date, name: str, rows: list[dict[str, Any]]) -> Path:
    folder = raw_dir / "usage_events" / f"arrival_date={arrival.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=USAGE_EVENTS_SCHEMA), path)
    return path


def write_catalog(raw_dir: Path, tables: dict[str, list[dict[str, Any]]]) -> None:
    folder = raw_dir / "catalog"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("meters", "customers", "subscriptions"):
        rows = tables.get(name, [])
        if name != "meters":  # a customer is (tenant_id, customer_id): fixtures default to the default tenant
            rows = [{"tenant_id": "default", **row} for row in rows]
        pq.write_table(table_for(name, rows), folder / f"{name}.parquet")


GPU_DIMS = {"gpu_type": "h100", "region": "us"}
GPU_DIMS_KEY = '{"gpu_type":"h100","region":"us"}'
A1 = "2026-05-01T18:00:00Z"  # arrival time of the day-1 batch
A3 = "2026-05-03T06:00:00Z"  # arrival time of the day-3 batch


def day1_events() -> list[dict[str, Any]]:
    return [
        # product brief: customer A used 2,457 ms of GPU at 13:47
        event("e1", "cus_a", "gpu_ms", "2026-05-01T13:47:00Z", "2457", dimensions=GPU_DIMS, arrived=A1),
        # quantity from properties.duration_ms; dimensions in another key order -> same key
        event(
            "e2",
            "cus_a",
            "gpu_ms",
            "2026-05-01T13:50:00Z",
            None,
            properties={"duration_ms": "1000"},
            dimensions={"region": "us", "gpu_type": "h100"},
            arrived=A1,
        ),
        # unit conversion: 1.5 s * unit_multiplier 1000 = 1500 ms
        event("e3", "cus_a", "gpu_seconds", "2026-05-01T14:10:00Z", "1.5", arrived=A1),
        event("c1", "cus_a", "api_calls", "2026-05-01T10:05:00Z", None, arrived=A1),
        event("c2", "cus_a", "api_calls", "2026-05-01T10:20:00Z", None, arrived=A1),
        # gauge: 100 GB at 10:00, 200 GB at 10:30, 50 GB at 12:00
        event("s1", "cus_b", "storage_gb", "2026-05-01T10:00:00Z", "100", arrived=A1),
        event("s2", "cus_b", "storage_gb", "2026-05-01T10:30:00Z", "200", arrived=A1),
        event("s3", "cus_b", "storage_gb", "2026-05-01T12:00:00Z", "50", arrived=A1),
        event("m1", "cus_b", "peak_connections", "2026-05-01T09:00:00Z", "3", arrived=A1),
        event("m2", "cus_b", "peak_connections", "2026-05-01T09:30:00Z", "9", arrived=A1),
        event("m3", "cus_b", "peak_connections", "2026-05-01T09:40:00Z", "4", arrived=A1),
        # unique users: alice at 09:00 and 09:20, bob at 09:10 -> 2
        *(
            event(
                eid,
                "cus_b",
                "active_users",
                f"2026-05-01T09:{minute}:00Z",
                None,
                properties={"user_id": user},
                arrived=A1,
            )
            for eid, minute, user in (("u1", "00", "alice"), ("u2", "10", "bob"), ("u3", "20", "alice"))
        ),
        event("l1", "cus_b", "seats", "2026-05-01T08:00:00Z", "5", arrived=A1),
        event("l2", "cus_b", "seats", "2026-05-01T08:30:00Z", "7", arrived=A1),
        event("l3", "cus_b", "seats", "2026-05-01T08:10:00Z", "9", arrived=A1),
        event("a1", "cus_b", "latency_ms", "2026-05-01T07:00:00Z", "10", arrived=A1),
        event("a2", "cus_b", "latency_ms", "2026-05-01T07:01:00Z", "20", arrived=A1),
        event("a3", "cus_b", "latency_ms", "2026-05-01T07:02:00Z", "40", arrived=A1),
        # excluded, not lost
        event("x1", "cus_a", "teleport_km", "2026-05-01T11:00:00Z", "3", arrived=A1),
        event("q1", "cus_a", "gpu_ms", "2026-05-01T11:00:00Z", None, arrived=A1),
    ]


def day3_events() -> list[dict[str, Any]]:
    return [
        # e1 again two days later (a producer retry): must not be counted twice
        event(
            "e1",
            "cus_a",
            "gpu_ms",
            "2026-05-01T13:47:00Z",
            "2457",
            dimensions=GPU_DIMS,
            arrived=A3,
            source_file="landing/usage/retry.jsonl",
        ),
        # late: happened on day 1 at 23:30, arrived on day 3
        event("late1", "cus_a", "gpu_ms", "2026-05-01T23:30:00Z", "500", dimensions=GPU_DIMS, arrived=A3),
        event("e6", "cus_a", "gpu_ms", "2026-05-03T01:00:00Z", "100", dimensions=GPU_DIMS, arrived=A3),
    ]
