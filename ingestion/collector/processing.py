"""Turn decoded events into per-event answers, landed lines and quarantine lines (no I/O here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from ingestion.collector.landing_log import DedupIndex, event_key
from ingestion.events import Rejection, ValidEvent, canonical_json, validate_event

_ENC = msgspec.json.Encoder(decimal_format="number")

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"


def utc_text(ts: datetime) -> str:
    """RFC 3339 in UTC with a Z suffix."""
    text = ts.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class LandedEvent(msgspec.Struct, omit_defaults=True):
    """One landing-log line: the normalized event (tenant_id set) plus arrived_at."""

    event_id: str
    customer_id: str
    meter: str
    timestamp: str
    properties: msgspec.Raw
    dimensions: msgspec.Raw
    source: str
    tenant_id: str
    arrived_at: str
    quantity: str | None = None


class Answer(msgspec.Struct, omit_defaults=True):
    """The collector's answer for one event of a request."""

    index: int
    event_id: str | None
    status: str
    field: str | None = None
    rule: str | None = None
    reason: str | None = None


_EMPTY = msgspec.Raw(b"{}")
_ts_cache: dict[datetime, str] = {}


def _ts_text(ts: datetime) -> str:
    text = _ts_cache.get(ts)
    if text is None:
        if len(_ts_cache) > 100_000:
            _ts_cache.clear()
        text = _ts_cache[ts] = utc_text(ts)
    return text


def landed_line(ev: ValidEvent, arrived_at: str) -> bytes:
    """One landing-log line: the normalized event (tenant_id set) plus arrived_at."""
    doc = LandedEvent(
        ev.event_id,
        ev.customer_id,
        ev.meter,
        _ts_text(ev.event_ts),
        _EMPTY if ev.properties_json == "{}" else msgspec.Raw(ev.properties_json.encode()),
        _EMPTY if ev.dimensions_json == "{}" else msgspec.Raw(ev.dimensions_json.encode()),
        ev.source,
        ev.tenant_id,
        arrived_at,
        ev.quantity,
    )
    return _ENC.encode(doc) + b"\n"


def quarantine_line(
    *, raw: Any, rejection: Rejection, tenant_id: str, source: str, index: int, quarantined_at: str
) -> bytes:
    """One quarantine line: the raw record (as JSON text) with field, rule and reason."""
    if isinstance(raw, (bytes, bytearray)):
        raw_text = bytes(raw).decode("utf-8", errors="replace")
    elif isinstance(raw, str):
        raw_text = raw
    else:
        try:
            raw_text = canonical_json(raw)
        except (TypeError, ValueError, msgspec.EncodeError):
            raw_text = repr(raw)
    doc = {
        "quarantined_at": quarantined_at,
        "tenant_id": tenant_id,
        "source_file": source,
        "line_number": index + 1,
        "raw_record": raw_text,
        "field": rejection.field,
        "rule": rejection.rule,
        "reason": rejection.reason,
        "event_id": rejection.event_id,
    }
    return _ENC.encode(doc) + b"\n"


@dataclass
class BatchOutcome:
    results: list[Answer] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    keys: list[bytes] = field(default_factory=list)
    quarantine: list[bytes] = field(default_factory=list)
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    valid: list[ValidEvent] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "results": self.results,
        }


def process_batch(
    items: list[Any],
    *,
    tenant_id: str,
    index: DedupIndex,
    now: datetime,
    endpoint: str,
    default_source: str = "api",
    raw_items: list[Any] | None = None,
    pre_rejections: dict[int, Rejection] | None = None,
    check_customer: Callable[[ValidEvent], Rejection | None] | None = None,
) -> BatchOutcome:
    """Validate, deduplicate and encode a batch. ``raw_items`` (same length) is what gets quarantined
    when it differs from the decoded item (e.g. the NDJSON line, the original CloudEvent);
    ``pre_rejections`` marks items a translation step already refused; ``check_customer`` refuses a
    valid event whose customer belongs to another tenant (ingestion/collector/customers.py)."""
    out = BatchOutcome()
    arrived_at = utc_text(now)
    seen: set[bytes] = set()
    results = out.results
    for i, item in enumerate(items):
        rejection = pre_rejections.get(i) if pre_rejections else None
        if rejection is None:
            result = validate_event(item, tenant_id=tenant_id, now=now, default_source=default_source)
            if isinstance(result, Rejection):
                rejection = result
            elif check_customer is not None:
                rejection = check_customer(result)
        if rejection is not None:
            out.rejected += 1
            results.append(
                Answer(i, rejection.event_id, REJECTED, rejection.field, rejection.rule, rejection.reason)
            )
            out.quarantine.append(
                quarantine_line(
                    raw=raw_items[i] if raw_items is not None else item,
                    rejection=rejection,
                    tenant_id=tenant_id,
                    source=endpoint,
                    index=i,
                    quarantined_at=arrived_at,
                )
            )
            continue
        key = event_key(result.tenant_id, result.event_id)
        if key in index or key in seen:
            out.duplicate += 1
            results.append(Answer(i, result.event_id, DUPLICATE))
            continue
        seen.add(key)
        out.accepted += 1
        results.append(Answer(i, result.event_id, ACCEPTED))
        out.lines.append(landed_line(result, arrived_at))
        out.keys.append(key)
        out.valid.append(result)
    return out
