"""Turn decoded events into per-event answers, landed lines and quarantine lines (no I/O here)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from ingestion.collector.landing_log import DedupIndex, event_key
from ingestion.events import Rejection, ValidEvent, canonical_json, loads, validate_event

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
    warning: str | None = None  # accepted, but e.g. its meter is unknown: it will not bill


UNKNOWN_METER = "unknown_meter"

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
    unknown_meter: int = 0  # accepted events whose meter is not in the catalog
    valid: list[ValidEvent] = field(default_factory=list)
    accepted_at: list[int] = field(default_factory=list)  # index in results of each landed line

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
    is_unknown_meter: Callable[[str], bool] | None = None,
    check_customer: Callable[[ValidEvent], Rejection | None] | None = None,
) -> BatchOutcome:
    """Validate, deduplicate and encode a batch. ``raw_items`` (same length) is what gets quarantined
    when it differs from the decoded item (e.g. the NDJSON line, the original CloudEvent);
    ``pre_rejections`` marks items a translation step already refused. ``is_unknown_meter`` flags
    accepted events whose meter the catalog does not define (answer ``warning``). ``check_customer``
    refuses a valid event whose customer belongs to another tenant (ingestion/collector/customers.py).

    Pure except for reading ``index``: it may run in a worker thread; then call
    `recheck_duplicates` on the event loop before staging (another request may have accepted the
    same key meanwhile). Never raises for an event: an unexpected error is that event's rejection."""
    out = BatchOutcome()
    arrived_at = utc_text(now)
    seen: set[bytes] = set()
    results = out.results
    for i, item in enumerate(items):
        rejection = pre_rejections.get(i) if pre_rejections else None
        if rejection is None:
            try:
                result = validate_event(item, tenant_id=tenant_id, now=now, default_source=default_source)
                line = None if isinstance(result, Rejection) else landed_line(result, arrived_at)
            except Exception as exc:  # noqa: BLE001 - one event's problem never fails the batch
                result = Rejection(
                    "$",
                    "unprocessable",
                    f"the event could not be processed ({type(exc).__name__}); check it against "
                    f"docs/events.md and send it again",
                )
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
        out.accepted_at.append(len(results))
        if is_unknown_meter is not None and is_unknown_meter(result.meter):
            out.unknown_meter += 1
            results.append(Answer(i, result.event_id, ACCEPTED, warning=_unknown_meter_warning(result.meter)))
        else:
            results.append(Answer(i, result.event_id, ACCEPTED))
        out.lines.append(line)
        out.keys.append(key)
        out.valid.append(result)
    return out


def _unknown_meter_warning(meter: str) -> str:
    return (
        f"{UNKNOWN_METER}: meter {meter!r} is not in the catalog (meters.yaml); the event is kept but "
        f"bills nothing until the meter is added and usage is re-rated"
    )


def recheck_duplicates(out: BatchOutcome, index: DedupIndex) -> None:
    """After `process_batch` ran off the event loop: turn accepted events whose key another request
    staged meanwhile into duplicates (run on the loop, right before staging)."""
    if not any(k in index for k in out.keys):
        return
    lines, keys, valid, at = [], [], [], []
    for line, key, ev, pos in zip(out.lines, out.keys, out.valid, out.accepted_at, strict=True):
        if key in index:
            answer = out.results[pos]
            out.results[pos] = Answer(answer.index, answer.event_id, DUPLICATE)
            out.accepted -= 1
            out.duplicate += 1
            if answer.warning:
                out.unknown_meter -= 1
            continue
        lines.append(line)
        keys.append(key)
        valid.append(ev)
        at.append(pos)
    out.lines, out.keys, out.valid, out.accepted_at = lines, keys, valid, at


# ---------------------------------------------------------------------------------- JSON bodies
_ARRAY_TOKEN = re.compile(rb'["\[\]{},]')
_STRING_END = re.compile(rb'["\\]')


def split_json_array(body: bytes) -> list[bytes] | None:
    """The raw elements of a top-level JSON array, found without decoding them (no recursion, so
    a 100,000-deep element does not stop the others), or None when ``body`` is not an array with
    balanced brackets. Linear in the body; used only when decoding the whole body failed."""
    text = body.strip()
    if not text.startswith(b"[") or not text.endswith(b"]"):
        return None
    items: list[bytes] = []
    depth = 0
    start = 1
    pos = 1
    end = len(text) - 1
    while pos < end:
        m = _ARRAY_TOKEN.search(text, pos, end)
        if m is None:
            break
        ch = m.group()
        pos = m.end()
        if ch == b'"':
            while True:  # skip the string (escapes included)
                s = _STRING_END.search(text, pos, end)
                if s is None:
                    return None
                if s.group() == b"\\":
                    pos = s.end() + 1
                    continue
                pos = s.end()
                break
        elif ch in (b"[", b"{"):
            depth += 1
        elif ch in (b"]", b"}"):
            depth -= 1
            if depth < 0:
                return None
        elif depth == 0:  # a comma between elements
            items.append(text[start : m.start()])
            start = pos
    if depth != 0:
        return None
    last = text[start:end]
    if last.strip() or items:
        items.append(last)
    return items


def decode_items(parts: list[bytes]) -> tuple[list[Any], dict[int, Rejection]]:
    """Decode each raw element on its own; an element that is not JSON (too deep, a lone surrogate,
    a syntax error) becomes that element's rejection."""
    items: list[Any] = []
    pre: dict[int, Rejection] = {}
    for i, part in enumerate(parts):
        try:
            items.append(loads(part))
        except (ValueError, RecursionError) as exc:
            items.append(None)
            pre[i] = Rejection("$", "json", json_error_reason(exc, f"element {i} of the array"))
    return items, pre


def json_error_reason(exc: BaseException, what: str) -> str:
    if isinstance(exc, RecursionError):
        return f"{what} is nested too deeply to decode; flatten it (properties hold plain values)"
    return f"{what} is not JSON ({exc}); send valid JSON (UTF-8, no lone \\ud800-style escapes)"
