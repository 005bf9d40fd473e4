"""Infrastructure-based measurement: a CloudWatch metric per tagged resource.

Resources (EC2 instances) carry a tag, ``usagebill:customer`` by default, naming the customer.
For each tagged instance the source reads one metric (e.g. ``AWS/EC2 CPUUtilization`` or a custom
``GPU/Usage gpu_ms``) with ``get_metric_data``, one statistic per period (default: Sum per hour),
and lands one event per (instance, period) with quantity = the datapoint.

CloudWatch's API returns IEEE doubles. They are converted once, at this boundary, to the shortest
decimal that round-trips (``repr``, the value CloudWatch displays) and rounded half-up to 12
decimal places (DECIMAL(38,12)). Event id = ``cw-`` + sha256(region, namespace, metric, stat,
instance, period start): re-reading a window lands the same events (deduplicated).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from ingestion.sources.landing_writer import (
    LandingResult,
    decimal_text,
    deterministic_id,
    utc_text,
    write_window,
)

SOURCE = "cloudwatch"
_MAX_QUERIES = 500  # get_metric_data limit per call


@dataclass(frozen=True)
class MetricConfig:
    namespace: str
    metric_name: str
    meter: str
    stat: str = "Sum"
    period_seconds: int = 3600
    tag_key: str = "usagebill:customer"
    dimension_name: str = "InstanceId"
    region: str = "us-east-1"
    tenant_id: str | None = None


def tagged_instances(ec2: Any, tag_key: str) -> dict[str, str]:
    """instance id -> customer (the tag's value), over all pages of describe_instances."""
    out: dict[str, str] = {}
    paginator = ec2.get_paginator("describe_instances")
    for page in paginator.paginate(Filters=[{"Name": "tag-key", "Values": [tag_key]}]):
        for reservation in page.get("Reservations", []):
            for inst in reservation.get("Instances", []):
                tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
                if tags.get(tag_key):
                    out[inst["InstanceId"]] = tags[tag_key]
    return out


def _exact(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("1e-12"), rounding=ROUND_HALF_UP)


def read_metric(
    cloudwatch: Any,
    ec2: Any,
    config: MetricConfig,
    window_start: datetime,
    window_end: datetime,
    data_dir: Path,
) -> LandingResult:
    """Land one event per tagged instance and period in ``[window_start, window_end)``."""
    if window_start.tzinfo is None or window_end.tzinfo is None or window_end <= window_start:
        raise ValueError("window: pass aware datetimes with window_start < window_end (half-open)")
    instances = tagged_instances(ec2, config.tag_key)
    ids = sorted(instances)
    events: list[dict[str, Any]] = []
    for chunk_start in range(0, len(ids), _MAX_QUERIES):
        chunk = ids[chunk_start : chunk_start + _MAX_QUERIES]
        queries = [
            {
                "Id": f"m{n}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": config.namespace,
                        "MetricName": config.metric_name,
                        "Dimensions": [{"Name": config.dimension_name, "Value": iid}],
                    },
                    "Period": config.period_seconds,
                    "Stat": config.stat,
                },
                "ReturnData": True,
            }
            for n, iid in enumerate(chunk)
        ]
        paginator = cloudwatch.get_paginator("get_metric_data")
        for page in paginator.paginate(
            MetricDataQueries=queries, StartTime=window_start, EndTime=window_end, ScanBy="TimestampAscending"
        ):
            for res in page.get("MetricDataResults", []):
                iid = chunk[int(res["Id"][1:])]
                for ts, value in zip(res.get("Timestamps", []), res.get("Values", []), strict=False):
                    ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
                    period_start = ts.astimezone(UTC)
                    if not (window_start <= period_start < window_end):
                        continue
                    events.append(
                        {
                            "event_id": deterministic_id(
                                "cw",
                                config.region,
                                config.namespace,
                                config.metric_name,
                                config.stat,
                                iid,
                                utc_text(period_start),
                            ),
                            "customer_id": instances[iid],
                            "meter": config.meter,
                            "timestamp": utc_text(period_start),
                            "quantity": decimal_text(_exact(value)),
                            "properties": {
                                "resource_id": iid,
                                "namespace": config.namespace,
                                "metric": config.metric_name,
                                "stat": config.stat,
                                "period_seconds": config.period_seconds,
                            },
                            "source": f"cloudwatch:{config.region}",
                        }
                    )
    events.sort(key=lambda e: (e["timestamp"], e["properties"]["resource_id"]))
    prefix = f"{config.namespace.replace('/', '_')}__{config.metric_name}"
    return write_window(
        data_dir, SOURCE, prefix, (window_start, window_end), events, tenant_id=config.tenant_id
    )


def default_window(now: datetime, hours: int = 1) -> tuple[datetime, datetime]:
    """The last complete ``hours`` hours before ``now`` (half-open)."""
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return end - timedelta(hours=hours), end
