"""Turn decoded events into per-event answers, landed lines and quarantine lines (no I/O here)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import compress
from typing import Any

import msgspec

from ingestion.collector.landing_log import DedupIndex, new_key_hash
from ingestion.events import (
    DEFAULT_FUTURE_TOLERANCE,
    Rejection,
    ValidEvent,
    WireEvent,
    canonical_json,
    decode_wire,
    loads,
    validate_event,
    validate_wire,
    wire_to_dict,
)

_ENC = msgspec.json.Encoder(decimal_format="number")

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"


def utc_text(ts: datetime) -> str:
    """RFC 3339 in UTC with a Z suffix."""
    text = ts.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class LandedEvent(msgspec.Struct, omit_defaults=True, gc=False):
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


class Answer(msgspec.Struct, omit_defaults=True, gc=False):
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


_raw_cache: dict[str, msgspec.Raw] = {"{}": _EMPTY}


def _raw(text: str) -> msgspec.Raw:
    """Canonical JSON text as msgspec.Raw (cached: many events share their dimensions)."""
    raw = _raw_cache.get(text)
    if raw is None:
        raw = msgspec.Raw(text.encode())
        if len(text) <= 512:
            if len(_raw_cache) >= 4096:
                _raw_cache.clear()
            _raw_cache[text] = raw
    return raw


def landed_line(ev: ValidEvent, arrived_at: str, ts_text: str | None = None) -> bytes:
    """One landing-log line: the normalized event (tenant_id set) plus arrived_at. ``ts_text``:
    `utc_text(ev.event_ts)` when the caller has it already."""
    doc = LandedEvent(
        ev.event_id,
        ev.customer_id,
        ev.meter,
        ts_text or _ts_text(ev.event_ts),
        _raw_cache.get(ev.properties_json) or _raw(ev.properties_json),
        _raw_cache.get(ev.dimensions_json) or _raw(ev.dimensions_json),
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
    accepted_at: list[int] = field(default_factory=list)  # index in results of each landed line
    # the column-wise path (fastbatch.py): the completed structs, encoded as landed lines only
    # when needed - in one piece (`landed_bytes`) or one piece per owning worker (`landed_part`)
    rows: list[Any] | None = None

    def landed_lines(self) -> list[bytes]:
        """One landed line per accepted event."""
        if self.rows is not None:
            self.lines, self.rows = _ENC.encode_lines(self.rows).splitlines(keepends=True), None
        return self.lines

    def landed_bytes(self) -> list[bytes]:
        """The landed lines to write, in as few pieces as there are."""
        return [_ENC.encode_lines(self.rows)] if self.rows is not None else self.lines

    def landed_part(self, mask: Iterable[Any]) -> bytes:
        """The landed lines of the accepted events whose ``mask`` item is true, joined."""
        if self.rows is not None:
            return _ENC.encode_lines(list(compress(self.rows, mask)))
        return b"".join(compress(self.lines, mask))

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
    not_after = (now if now.tzinfo is not None else now.replace(tzinfo=UTC)) + DEFAULT_FUTURE_TOLERANCE
    seen: set[bytes] = set()
    # locals: this loop runs once per event (docs/benchmarks.md, "Collector")
    results, lines, keys, accepted_at = out.results, out.lines, out.keys, out.accepted_at
    in_index = index.membership()
    checked_ts: dict[str, datetime] = {}  # fast path: timestamp text -> UTC, checked for this batch
    ts_texts: dict[str, str] = {}  # fast path: timestamp text -> its UTC text in landed lines
    for i, item in enumerate(items):
        rejection = pre_rejections.get(i) if pre_rejections else None
        result: ValidEvent | Rejection | None = None
        if rejection is None:
            try:
                if type(item) is WireEvent:  # fast path (ingestion/events.py); None: not plainly valid
                    result = validate_wire(item, tenant_id, not_after, default_source, checked_ts)
                    if result is None:
                        item = wire_to_dict(item)
                    else:
                        ts_text = ts_texts.get(item.timestamp)  # type: ignore[arg-type]
                        if ts_text is None:
                            ts_text = ts_texts[item.timestamp] = utc_text(result.event_ts)  # type: ignore[index]
                        line = landed_line(result, arrived_at, ts_text)
                if result is None:
                    result = validate_event(item, tenant_id=tenant_id, now=now, default_source=default_source)
                    line = None if type(result) is Rejection else landed_line(result, arrived_at)
            except Exception as exc:  # noqa: BLE001 - one event's problem never fails the batch
                result = Rejection(
                    "$",
                    "unprocessable",
                    f"the event could not be processed ({type(exc).__name__}); check it against "
                    f"docs/events.md and send it again",
                )
            if type(result) is Rejection:
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
                    raw=raw_items[i] if raw_items is not None else _as_sent(item),
                    rejection=rejection,
                    tenant_id=tenant_id,
                    source=endpoint,
                    index=i,
                    quarantined_at=arrived_at,
                )
            )
            continue
        assert isinstance(result, ValidEvent)
        hasher = new_key_hash()  # event_key(), inlined: once per event
        hasher.update(f"{result.tenant_id}\x00{result.event_id}".encode())
        key = hasher.digest()
        if key in seen or in_index(key):
            out.duplicate += 1
            results.append(Answer(i, result.event_id, DUPLICATE))
            continue
        seen.add(key)
        accepted_at.append(len(results))
        if is_unknown_meter is not None and is_unknown_meter(result.meter):
            out.unknown_meter += 1
            results.append(Answer(i, result.event_id, ACCEPTED, warning=_unknown_meter_warning(result.meter)))
        else:
            results.append(Answer(i, result.event_id, ACCEPTED))
        lines.append(line)
        keys.append(key)
    out.accepted = len(accepted_at)
    return out


def _as_sent(item: Any) -> Any:
    return wire_to_dict(item) if type(item) is WireEvent else item


def _unknown_meter_warning(meter: str) -> str:
    return (
        f"{UNKNOWN_METER}: meter {meter!r} is not in the catalog (meters.yaml); the event is kept but "
        f"bills nothing until the meter is added and usage is re-rated"
    )


def recheck_duplicates(out: BatchOutcome, index: DedupIndex) -> None:
    """After `process_batch` ran off the event loop: turn accepted events whose key another request
    staged meanwhile into duplicates (run on the loop, right before staging)."""
    staged = index.intersection(out.keys)  # in C: usually empty
    if staged:
        mark_duplicates(out, {n for n, k in enumerate(out.keys) if k in staged})


def mark_duplicates(out: BatchOutcome, positions: set[int]) -> None:
    """Turn the accepted events at ``positions`` (indexes into ``out.keys``) into duplicates: the
    dedup index (this worker's, or the owning worker's) had their keys already."""
    if not positions:
        return
    lines, keys, at = [], [], []
    for n, (line, key, pos) in enumerate(zip(out.landed_lines(), out.keys, out.accepted_at, strict=True)):
        if n in positions:
            answer = out.results[pos]
            out.results[pos] = Answer(answer.index, answer.event_id, DUPLICATE)
            out.accepted -= 1
            out.duplicate += 1
            if answer.warning:
                out.unknown_meter -= 1
            continue
        lines.append(line)
        keys.append(key)
        at.append(pos)
    out.lines, out.keys, out.accepted_at = lines, keys, at


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


def decode_items(parts: list[bytes], *, wire: bool = False) -> tuple[list[Any], dict[int, Rejection]]:
    """Decode each raw element on its own; an element that is not JSON (too deep, a lone surrogate,
    a syntax error) becomes that element's rejection. ``wire``: native events, decoded as
    `WireEvent` where they fit (the fast path of `process_batch`)."""
    items: list[Any] = []
    pre: dict[int, Rejection] = {}
    for i, part in enumerate(parts):
        if wire and (event := decode_wire(part)) is not None:
            items.append(event)
            continue
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
