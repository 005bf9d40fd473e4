"""Datastore-based measurement: bytes stored per customer under each customer's S3 prefix.

Objects of customer ``C`` live under ``s3://<bucket>/<root_prefix><C>/...``. One paginated
``list_objects_v2`` over the root prefix sums object sizes per customer; the result is a gauge
sample of meter ``storage_gb`` at the start of the sample hour, with the exact quantity
``bytes / 10^9`` (a decimal with at most 9 places, never a float) and the byte count in
properties. Event id = ``s3-`` + sha256(bucket, root prefix, customer, sample hour): re-sampling
the same hour lands the same events again (deduplicated), never a second sample.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ingestion.sources.landing_writer import (
    LandingResult,
    decimal_text,
    deterministic_id,
    utc_text,
    write_landing,
)

SOURCE = "s3_storage"
BYTES_PER_GB = Decimal(10**9)


@dataclass(frozen=True)
class StorageConfig:
    bucket: str
    root_prefix: str = "customers/"
    meter: str = "storage_gb"
    page_size: int = 1000
    tenant_id: str | None = None


def hour_start(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        raise ValueError("sample time: pass an aware datetime (UTC)")
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def bytes_per_customer(s3: Any, config: StorageConfig) -> dict[str, tuple[int, int]]:
    """customer -> (bytes, objects) under ``root_prefix<customer>/`` (paginated listing)."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    paginator = s3.get_paginator("list_objects_v2")
    pages = paginator.paginate(
        Bucket=config.bucket, Prefix=config.root_prefix, PaginationConfig={"PageSize": config.page_size}
    )
    for page in pages:
        for obj in page.get("Contents", []):
            rest = obj["Key"][len(config.root_prefix) :]
            customer, sep, _ = rest.partition("/")
            if not sep or not customer:
                continue  # an object directly under the root prefix belongs to nobody
            totals[customer][0] += int(obj["Size"])
            totals[customer][1] += 1
    return {c: (v[0], v[1]) for c, v in totals.items()}


def sample_storage(s3: Any, config: StorageConfig, sampled_at: datetime, data_dir: Path) -> LandingResult:
    """Land one storage_gb sample per customer for the hour containing ``sampled_at``."""
    hour = hour_start(sampled_at)
    events = []
    for customer, (size, count) in sorted(bytes_per_customer(s3, config).items()):
        events.append(
            {
                "event_id": deterministic_id(
                    "s3", config.bucket, config.root_prefix, customer, utc_text(hour)
                ),
                "customer_id": customer,
                "meter": config.meter,
                "timestamp": utc_text(hour),
                "quantity": decimal_text(Decimal(size) / BYTES_PER_GB),
                "properties": {"bytes": size, "objects": count, "bucket": config.bucket},
                "source": f"s3:{config.bucket}",
            }
        )
    name = f"{config.bucket}__{hour.strftime('%Y%m%dT%H')}"
    return write_landing(data_dir, SOURCE, name, events, arrival_date=hour.date(), tenant_id=config.tenant_id)
