"""A usage event as it is sent (ingestion/event.schema.json, docs/ingestion.md): the one builder used
by the client SDK, the demo generator and the test fixtures. Standard library only (the SDK uses it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def event_record(
    event_id: str,
    customer_id: str,
    meter: str,
    timestamp: str,
    quantity: str | None = None,
    dimensions: Mapping[str, str] | None = None,
    *,
    properties: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """The event's JSON object; optional fields are left out when absent (None or empty)."""
    record: dict[str, Any] = {
        "event_id": event_id,
        "customer_id": customer_id,
        "meter": meter,
        "timestamp": timestamp,
    }
    if quantity is not None:
        record["quantity"] = quantity
    if dimensions:
        record["dimensions"] = dict(dimensions)
    if properties:
        record["properties"] = dict(properties)
    if source is not None:
        record["source"] = source
    return record
