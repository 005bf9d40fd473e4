"""Translate other metering systems' event shapes into the usagebill event contract.

CloudEvents (OpenMeter's ingest API)::

    id -> event_id, subject -> customer_id, type -> meter, time -> timestamp (receive time when
    absent), data -> properties, source -> source. quantity: data[<value property of the meter>]
    when a value map names one (JSONPath "$.tokens" or "tokens"), else data.value, else
    data.quantity, else omitted (the meter derives it from properties).

Lago (``{"event": {...}}``)::

    transaction_id -> event_id, external_customer_id (else external_subscription_id) ->
    customer_id, code -> meter, timestamp (unix seconds, decimals allowed; receive time when
    absent) -> RFC 3339 UTC, properties -> properties; quantity from the value map when it names a
    property of the meter, else omitted (the meter derives it from properties).

Meter names: a type/code is lower-cased and '-', '.', '/', ' ' become '_' ("api-calls" -> "api_calls").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from ingestion.collector.meters import MeterInfo
from ingestion.collector.processing import utc_text
from ingestion.events import Rejection, _show

_METER_CHARS = re.compile(r"[-./ ]")
CLOUDEVENT_REQUIRED = ("id", "source", "specversion", "type", "subject")


def meter_name(value: str) -> str:
    return _METER_CHARS.sub("_", value.strip().lower())


def load_value_map(path: Path | None) -> dict[str, str]:
    """YAML/JSON mapping meter -> value property (e.g. ``prompt_tokens: $.tokens``)."""
    if path is None:
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ValueError(f"{path}: value map must be a mapping of meter -> property name (e.g. gpu_ms: $.ms)")
    return {meter_name(k): v.removeprefix("$.") for k, v in raw.items()}


def _lookup(data: Mapping[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def cloudevent_structure_error(obj: Any) -> str | None:
    """Why an item is not a CloudEvent OpenMeter would accept, or None."""
    if not isinstance(obj, Mapping):
        return "each CloudEvent must be a JSON object"
    missing = [k for k in CLOUDEVENT_REQUIRED if not isinstance(obj.get(k), str) or not obj.get(k)]
    if missing:
        return f"CloudEvent is missing required attribute(s) {', '.join(missing)} (non-empty strings)"
    if obj["specversion"] != "1.0":
        return f'specversion {obj["specversion"]!r} is not supported; send "1.0"'
    return None


def from_cloudevent(
    obj: Mapping[str, Any], value_map: dict[str, str], now: datetime
) -> dict[str, Any] | Rejection:
    meter = meter_name(obj["type"])
    data = obj.get("data")
    if data is not None and not isinstance(data, Mapping):
        return Rejection(
            "data",
            "object",
            "CloudEvent data must be a JSON object (datacontenttype application/json)",
            obj.get("id"),
        )
    data = data or {}
    event: dict[str, Any] = {
        "event_id": obj["id"],
        "customer_id": obj["subject"],
        "meter": meter,
        "timestamp": obj.get("time") or utc_text(now),
        "properties": dict(data),
        "source": obj["source"],
    }
    prop = value_map.get(meter)
    quantity = _lookup(data, prop) if prop else None
    if quantity is None:
        quantity = data.get("value", data.get("quantity"))
    if quantity is not None:
        event["quantity"] = quantity
    return event


# unix seconds of 9999-12-31T23:59:59Z has 12 digits: anything with a larger exponent is refused
# before int() could spell out 1e400000 (a 400,001-digit integer)
_MAX_UNIX_SECONDS_ADJUSTED = 11
_MAX_TIMESTAMP_TEXT = 40


def _lago_timestamp(value: Any, transaction_id: Any) -> str | Rejection:
    def refused(problem: str) -> Rejection:
        event_id = transaction_id if isinstance(transaction_id, str) else None
        return Rejection("timestamp", "unix_seconds", f"timestamp {_show(value)} {problem}", event_id)

    out_of_range = "is out of range (years 1970-9999); send unix seconds like 1650893379"
    try:
        if isinstance(value, bool) or (isinstance(value, str) and len(value) > _MAX_TIMESTAMP_TEXT):
            raise InvalidOperation
        if isinstance(value, int) and abs(value) >= 10**12:
            raise OverflowError
        seconds = Decimal(str(value)) if isinstance(value, (int, Decimal, str)) else None
        if seconds is None or not seconds.is_finite():
            raise InvalidOperation
        if seconds and seconds.adjusted() > _MAX_UNIX_SECONDS_ADJUSTED:
            raise OverflowError
    except OverflowError:
        return refused(out_of_range)
    except InvalidOperation:
        return refused("is not unix seconds; send an integer like 1650893379 (decimals allowed)")
    whole = int(seconds)
    micros = int((seconds - whole) * 1_000_000)
    try:
        ts = datetime.fromtimestamp(whole, UTC).replace(microsecond=micros)
    except (OverflowError, OSError, ValueError):
        return refused(out_of_range)
    return utc_text(ts)


def from_lago(obj: Any, value_map: dict[str, str], now: datetime) -> dict[str, Any] | Rejection:
    if not isinstance(obj, Mapping):
        return Rejection("event", "object", "each Lago event must be a JSON object")
    tid = obj.get("transaction_id")
    customer = obj.get("external_customer_id") or obj.get("external_subscription_id")
    if customer is None:
        return Rejection(
            "external_subscription_id",
            "required",
            "send external_subscription_id or external_customer_id (the usagebill customer id)",
            tid if isinstance(tid, str) else None,
        )
    code = obj.get("code")
    if not isinstance(code, str):
        return Rejection(
            "code",
            "required",
            "code (the billable metric / meter code) is missing",
            tid if isinstance(tid, str) else None,
        )
    meter = meter_name(code)
    ts = obj.get("timestamp")
    timestamp = utc_text(now) if ts is None else _lago_timestamp(ts, tid)
    if isinstance(timestamp, Rejection):
        return timestamp
    properties = obj.get("properties") or {}
    event: dict[str, Any] = {
        "event_id": tid,
        "customer_id": customer,
        "meter": meter,
        "timestamp": timestamp,
        "properties": properties,
        "source": "lago-api",
    }
    if "transaction_id" not in obj:
        del event["event_id"]
    prop = value_map.get(meter)
    if prop and isinstance(properties, Mapping):
        quantity = _lookup(properties, prop)
        if quantity is not None:
            event["quantity"] = quantity
    return event


def apply_meter(event: dict[str, Any], info: MeterInfo | None) -> None:
    """Fill a translated event from its meter's catalog entry (ingestion/collector/meters.py):
    ``properties[value_property]`` becomes the quantity when none was given (Lago's field_name of a
    sum metric), and properties named like a dimension the meter groups or filters by become
    dimensions (strings, or integers as text; other values stay properties only)."""
    props = event.get("properties")
    if info is None or not isinstance(props, Mapping):
        return
    if "quantity" not in event and info.value_property and info.aggregation not in ("count", "unique_count"):
        quantity = _lookup(props, info.value_property)
        if quantity is not None:
            event["quantity"] = quantity
    dims: dict[str, str] = {}
    for name in info.dimensions:
        value = props.get(name)
        if isinstance(value, str):
            dims[name] = value
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**18:
            dims[name] = str(value)
    if dims and "dimensions" not in event:
        event["dimensions"] = dims
