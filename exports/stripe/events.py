"""Land Stripe events as Parquet in USAGEBILL_RAW_DIR/stripe_events/event_date=YYYY-MM-DD/<event_id>.parquet.

One file per event, named by its id: landing the same event twice (webhook and polling, or a Stripe
redelivery) rewrites nothing, so landing is idempotent by event id. Files, not a DuckDB table, because the
webhook endpoint is a long-running process and DuckDB allows one writing process at a time. dbt reads the
folder as the source `raw.stripe_events`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from usagebill import paths

# Event types the payments marts use (also the `types[]` filter of the polling fallback; Stripe allows <= 20).
PAYMENT_EVENT_TYPES = (
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "invoice.updated",
    "credit_note.created",
    "credit_note.voided",
)

SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("created_at", pa.timestamp("us")),
        ("api_version", pa.string()),
        ("livemode", pa.bool_()),
        ("object_type", pa.string()),
        ("object_id", pa.string()),
        ("payload_json", pa.string()),
        ("source", pa.string()),
        ("received_at", pa.timestamp("us")),
    ]
)


class EventError(ValueError):
    pass


@dataclass(frozen=True)
class LandResult:
    new: int
    duplicate: int


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(int(ts), UTC).replace(tzinfo=None)


class EventStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or (paths.raw_dir() / "stripe_events")

    def path_for(self, event: dict[str, Any]) -> Path:
        event_id = str(event.get("id") or "")
        if not event_id.startswith("evt_") or "/" in event_id or len(event_id) > 255:
            raise EventError(f"event id {event_id!r} is not a Stripe event id (evt_...)")
        day = _utc(event["created"]).date().isoformat()
        return self.root / f"event_date={day}" / f"{event_id}.parquet"

    def has(self, event: dict[str, Any]) -> bool:
        return self.path_for(event).exists()

    def land(self, events: list[dict[str, Any]], source: str) -> LandResult:
        new = dup = 0
        for event in events:
            for field in ("id", "type", "created", "data"):
                if field not in event:
                    raise EventError(f"event {event.get('id')!r} has no {field!r}: not a Stripe event object")
            target = self.path_for(event)
            if target.exists():
                dup += 1
                continue
            obj = (event.get("data") or {}).get("object") or {}
            row = {
                "event_id": event["id"],
                "event_type": event["type"],
                "created_at": _utc(event["created"]),
                "api_version": event.get("api_version"),
                "livemode": bool(event.get("livemode")),
                "object_type": obj.get("object"),
                "object_id": obj.get("id"),
                "payload_json": json.dumps(event, separators=(",", ":"), sort_keys=True, default=str),
                "source": source,
                "received_at": datetime.now(UTC).replace(tzinfo=None),
            }
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            pq.write_table(pa.Table.from_pylist([row], schema=SCHEMA), tmp)
            os.replace(tmp, target)  # atomic: a reader never sees half a file
            new += 1
        return LandResult(new, dup)

    def count(self) -> int:
        return sum(1 for _ in self.root.glob("event_date=*/evt_*.parquet")) if self.root.exists() else 0
