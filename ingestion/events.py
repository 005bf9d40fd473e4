"""The usage event contract: validate one event and normalize it for the raw layer.

A usage event is a JSON object (see docs/events.md and ingestion/event.schema.json)::

    {"event_id": "evt_0001", "customer_id": "cus_a", "meter": "gpu_ms",
     "timestamp": "2026-10-30T13:47:00Z", "quantity": "2457",
     "properties": {}, "dimensions": {"gpu_type": "a100", "region": "us-east-1"},
     "source": "sdk-python", "tenant_id": "default"}

`validate_event` never raises for bad input: it returns a `ValidEvent` (normalized) or a
`Rejection` naming the field, the rule broken and a reason that says what to send instead.
It is written for throughput (the collector validates ~100k events/s on 2 cores): no
jsonschema per event, precompiled regexes, one pass over the fields.

Quantities are exact decimals. Parse JSON with `loads` (msgspec, JSON numbers become
`Decimal` from their text, never through a binary float); a float given to the validator is
refused because its exact value is already lost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec

from usagebill.tenants import DEFAULT_TENANT, TENANT_RE

__all__ = [
    "ALLOWED_FIELDS",
    "DEFAULT_TENANT",
    "EVENT_FIELDS",
    "MAX_DECIMAL_PLACES",
    "MAX_INTEGER_DIGITS",
    "Rejection",
    "ValidEvent",
    "canonical_json",
    "format_quantity",
    "loads",
    "validate_event",
]

MAX_ID_LENGTH = 255
MAX_DECIMAL_PLACES = 12  # DECIMAL(38, 12) in the warehouse
# DECIMAL(38, 12) holds 26 integer digits; one event holds at most 18 so that the sum of up to
# 10^8 maximal events of one customer, meter and month (and a gauge held 744 hours) still fits
# the rollups' DECIMAL(38, 12) (docs/events.md, "Quantity bounds").
MAX_INTEGER_DIGITS = 18
MAX_QUANTITY_TEXT = 200  # characters of a quantity string; longer is refused before any parsing
MAX_PROPERTIES_BYTES = 65_536
MAX_DIMENSIONS = 32
MAX_DIMENSION_KEY_LENGTH = 64
MAX_DIMENSION_VALUE_LENGTH = 255
DEFAULT_FUTURE_TOLERANCE = timedelta(hours=1)

# the fields of an event (docs/events.md; the demo data writes its CSV columns in this order), plus
# tenant_id, which files may carry and the collector sets from the API key
EVENT_FIELDS = (
    "event_id",
    "customer_id",
    "meter",
    "timestamp",
    "quantity",
    "properties",
    "dimensions",
    "source",
)
ALLOWED_FIELDS = frozenset((*EVENT_FIELDS, "tenant_id"))
REQUIRED_FIELDS = ("event_id", "customer_id", "meter", "timestamp")

METER_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
# RFC 3339 date-time (section 5.6): full-date "T" full-time, the offset is mandatory.
TIMESTAMP_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:[Zz]|[+\-][0-9]{2}:[0-9]{2})"
)
_LOCAL_TIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
)
# A plain decimal string: digits, optionally a fraction. No sign, exponent, spaces or "_".
DECIMAL_STR_RE = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_SIGNED_DECIMAL_RE = re.compile(r"\s*[+\-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+\-]?[0-9]+)?\s*")


class ValidEvent(NamedTuple):
    """A validated, normalized usage event (one row of raw/usage_events before file metadata)."""

    tenant_id: str
    event_id: str
    customer_id: str
    meter: str
    event_ts: datetime  # aware, UTC
    quantity: str | None  # exact decimal as text ("2457", "0.5"), None when properties carry it
    properties_json: str  # canonical JSON: sorted keys, no spaces, UTF-8
    dimensions_json: str  # canonical JSON of str -> str
    source: str


class Rejection(NamedTuple):
    """Why an event was refused: the field, the rule it broke and a reason saying what to send."""

    field: str
    rule: str
    reason: str
    event_id: str | None = None

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}: {self.reason}"


_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_ENCODER = msgspec.json.Encoder(order="sorted", decimal_format="number")


def loads(data: bytes | str) -> Any:
    """Parse JSON with every non-integer number as an exact Decimal (never a float).

    Raises msgspec.DecodeError (a ValueError) for text that is not JSON.
    """
    return _DECODER.decode(data)


def canonical_json(value: Any) -> str:
    """Canonical JSON text: sorted keys, compact separators, UTF-8, Decimals as JSON numbers."""
    return _ENCODER.encode(value).decode("utf-8")


def _is_json(text: str) -> bool:
    try:
        _DECODER.decode(text)
    except msgspec.DecodeError:
        return False
    return True


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def format_quantity(value: Decimal) -> str:
    """Exact decimal as plain text without exponent or trailing fractional zeros ("1E+3" -> "1000")."""
    sign, digits, exponent = value.as_tuple()
    text = "".join(map(str, digits))
    if not isinstance(exponent, int):  # NaN / Infinity: callers check finiteness first
        raise ValueError(f"not a finite decimal: {value}")
    if exponent >= 0:
        text = text + "0" * exponent
        integer, fraction = text, ""
    else:
        if len(text) <= -exponent:
            text = "0" * (-exponent - len(text) + 1) + text
        integer, fraction = text[:exponent], text[exponent:]
    integer = integer.lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    out = f"{integer}.{fraction}" if fraction else integer
    return "-" + out if sign and out != "0" else out


def _negative_quantity(value: int | Decimal, event_id: str | None) -> Rejection:
    shown = _show(str(value)) if isinstance(value, Decimal) or value > -(10**40) else "(a large number)"
    return Rejection(
        "quantity",
        "non_negative",
        f"quantity {shown} is negative; usage is never negative: send corrections as adjustments, "
        f"not negative events",
        event_id,
    )


def _check_decimal_size(text: str, event_id: str | None, shown: str) -> Rejection | None:
    integer, _, fraction = text.partition(".")
    if len(fraction) > MAX_DECIMAL_PLACES:
        return Rejection(
            "quantity",
            "max_12_decimal_places",
            f"quantity {shown} has {len(fraction)} decimal places; at most {MAX_DECIMAL_PLACES} are kept "
            f"exactly (DECIMAL(38,12)): round it at the source or use a smaller unit (e.g. ms instead of s)",
            event_id,
        )
    if len(integer) > MAX_INTEGER_DIGITS:
        return Rejection(
            "quantity",
            f"max_{MAX_INTEGER_DIGITS}_integer_digits",
            f"quantity {shown} has {len(integer)} integer digits; at most {MAX_INTEGER_DIGITS} are accepted "
            f"so that sums of many events still fit DECIMAL(38,12): use a larger unit",
            event_id,
        )
    return None


def _check_decimal_bounds(value: Decimal, event_id: str | None) -> Rejection | None:
    """Refuse, from the digits and exponent alone, a Decimal whose plain text would be long:
    1e-1000000000 or 1e400000 are 14 bytes of JSON but a billion characters as plain text.
    Constant work per digit of the input; runs before anything formats or converts the value."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite: checked by the caller
    n = len(digits)
    while n > 1 and digits[n - 1] == 0:  # trailing zeros of the coefficient do not count
        n -= 1
        exponent += 1
    if n == 1 and digits[0] == 0:
        return None  # zero, whatever its exponent
    if exponent < -MAX_DECIMAL_PLACES:
        return Rejection(
            "quantity",
            "max_12_decimal_places",
            f"quantity {_show(str(value))} has {-exponent} decimal places; at most {MAX_DECIMAL_PLACES} are "
            f"kept exactly (DECIMAL(38,12)): round it at the source or use a smaller unit",
            event_id,
        )
    if n + exponent > MAX_INTEGER_DIGITS:
        return Rejection(
            "quantity",
            f"max_{MAX_INTEGER_DIGITS}_integer_digits",
            f"quantity {_show(str(value))} has {n + exponent} integer digits; at most {MAX_INTEGER_DIGITS} "
            f"are accepted so that sums of many events still fit DECIMAL(38,12): use a larger unit",
            event_id,
        )
    return None


def _quantity(value: Any, event_id: str | None) -> str | Rejection | None:
    """Normalize a quantity to exact decimal text, or return why it is refused."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) > MAX_QUANTITY_TEXT:
            return Rejection(
                "quantity",
                "decimal",
                f"quantity is a string of {len(value)} characters; a quantity has at most "
                f"{MAX_INTEGER_DIGITS} integer digits and {MAX_DECIMAL_PLACES} decimal places",
                event_id,
            )
        m = DECIMAL_STR_RE.fullmatch(value)
        if m is None:
            if _SIGNED_DECIMAL_RE.fullmatch(value):
                try:
                    parsed = Decimal(value.strip())
                except ArithmeticError:  # pragma: no cover - the regex only lets numbers through
                    parsed = None
                if parsed is not None and parsed < 0:
                    return Rejection(
                        "quantity",
                        "non_negative",
                        f"quantity {_show(value)} is negative; usage is never negative: send corrections "
                        f"as adjustments, not negative events",
                        event_id,
                    )
            return Rejection(
                "quantity",
                "decimal",
                f"quantity {_show(value)} is not a plain decimal number; send digits with an optional "
                f'fraction, like "2457" or "0.25" (no sign, exponent, spaces or separators)',
                event_id,
            )
        integer, fraction = m.group(1), m.group(2)
        text = integer.lstrip("0") or "0"
        if fraction:
            fraction = fraction.rstrip("0")
            if fraction:
                text = f"{text}.{fraction}"
        too_big = _check_decimal_size(text, event_id, _show(value))
        return too_big if too_big is not None else text
    if isinstance(value, bool):
        return Rejection(
            "quantity",
            "type",
            f'quantity is a boolean ({value}); send a decimal number or a string like "1"',
            event_id,
        )
    if isinstance(value, int):
        if value < 0:
            return _negative_quantity(value, event_id)
        if value >= 10**MAX_INTEGER_DIGITS:  # checked before str(): huge ints are slow to print
            return Rejection(
                "quantity",
                f"max_{MAX_INTEGER_DIGITS}_integer_digits",
                f"quantity has more than {MAX_INTEGER_DIGITS} integer digits; at most {MAX_INTEGER_DIGITS} "
                f"are accepted so that sums of many events still fit DECIMAL(38,12): use a larger unit",
                event_id,
            )
        text = str(value)
        too_big = _check_decimal_size(text, event_id, text)
        return too_big if too_big is not None else text
    if isinstance(value, Decimal):
        if not value.is_finite():
            return Rejection(
                "quantity",
                "finite",
                f'quantity {value} is not a finite number; send a decimal like "2457"',
                event_id,
            )
        if not value:
            return "0"  # 0E+1000000000 is zero: never spell out its exponent
        if value < 0:
            return _negative_quantity(value, event_id)
        too_big = _check_decimal_bounds(value, event_id)
        if too_big is not None:
            return too_big
        text = format_quantity(value)
        too_big = _check_decimal_size(text, event_id, _show(str(value)))
        return too_big if too_big is not None else text
    if isinstance(value, float):
        return Rejection(
            "quantity",
            "exact_decimal",
            f"quantity {value!r} arrived as a binary float, whose exact value is lost; send it as a string "
            f'("{value!r}") or parse JSON with ingestion.events.loads (numbers as Decimal)',
            event_id,
        )
    return Rejection(
        "quantity",
        "type",
        f'quantity is {_type_name(value)}; send a decimal number or a string like "2457"',
        event_id,
    )


_TS_CACHE: dict[str, datetime] = {}  # parsed RFC 3339 text -> UTC datetime (events of a batch share many)
_TS_CACHE_MAX = 4096


def _timestamp(value: Any, event_id: str | None) -> datetime | Rejection:
    cached = _TS_CACHE.get(value) if isinstance(value, str) else None
    if cached is not None:
        return cached
    parsed = _parse_timestamp(value, event_id)
    if isinstance(parsed, datetime):
        if len(_TS_CACHE) >= _TS_CACHE_MAX:
            _TS_CACHE.clear()
        _TS_CACHE[value] = parsed
    return parsed


def _parse_timestamp(value: Any, event_id: str | None) -> datetime | Rejection:
    if not isinstance(value, str):
        return Rejection(
            "timestamp",
            "type",
            f"timestamp is {_type_name(value)}, not a string; send RFC 3339 text like 2026-01-01T10:00:00Z "
            f"(epoch numbers are not accepted)",
            event_id,
        )
    if TIMESTAMP_RE.fullmatch(value) is None:
        if _LOCAL_TIME_RE.fullmatch(value):
            reason = (
                f"timestamp {_show(value)} has no UTC offset; send RFC 3339 like "
                f"2026-01-01T10:00:00Z or 2026-01-01T11:00:00+01:00"
            )
        else:
            reason = (
                f"timestamp {_show(value)} is not RFC 3339 with an offset; send it like "
                f"2026-01-01T10:00:00Z or 2026-01-01T11:00:00+01:00"
            )
        return Rejection("timestamp", "rfc3339_with_offset", reason, event_id)
    try:
        parsed = datetime.fromisoformat(value.upper())  # RFC 3339 allows t and z; Python wants T and Z
    except ValueError as exc:
        return Rejection(
            "timestamp",
            "rfc3339_with_offset",
            f"timestamp {_show(value)} is not a real date and time ({exc}); check the calendar date, "
            f"hours < 24, minutes and seconds < 60, offset within +-23:59",
            event_id,
        )
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is in year 10000 in UTC
        return Rejection(
            "timestamp",
            "utc_range",
            f"timestamp {_show(value)} is outside the years 0001-9999 once converted to UTC; send the real "
            f"time of the usage",
            event_id,
        )


def has_lone_surrogate(text: str) -> bool:
    """True when `text` holds a UTF-16 surrogate code point (from a JSON escape like \\ud800), which
    has no UTF-8 encoding: such a string cannot be stored or answered."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _surrogate(field: str, event_id: str | None) -> Rejection:
    return Rejection(
        field,
        "unicode",
        f"{field} holds a lone UTF-16 surrogate (an escape like \\ud800 without its pair), which is not a "
        f"character; send valid Unicode text",
        event_id if event_id is None or not has_lone_surrogate(event_id) else None,
    )


def _id_field(obj: Mapping[str, Any], name: str, event_id: str | None) -> str | Rejection:
    if name not in obj:
        return Rejection(
            name, "required", f"{name} is missing; every event needs a non-empty {name}", event_id
        )
    value = obj[name]
    if not isinstance(value, str):
        return Rejection(
            name,
            "type",
            f"{name} is {_type_name(value)}, not a string; send it as a string",
            event_id,
        )
    if not value or value.isspace():
        return Rejection(name, "non_empty", f"{name} is empty; send a non-empty {name}", event_id)
    if len(value) > MAX_ID_LENGTH:
        return Rejection(
            name,
            "max_length_255",
            f"{name} has {len(value)} characters; at most {MAX_ID_LENGTH} are allowed",
            event_id,
        )
    if has_lone_surrogate(value):
        return _surrogate(name, event_id)
    return value


def _dimensions(value: Any, event_id: str | None) -> str | Rejection:
    if value is None:
        return "{}"
    if not isinstance(value, Mapping):
        return Rejection(
            "dimensions",
            "type",
            f"dimensions is {_type_name(value)}; send an object of string -> string, like "
            f'{{"gpu_type": "a100", "region": "us-east-1"}}',
            event_id,
        )
    if len(value) > MAX_DIMENSIONS:
        return Rejection(
            "dimensions",
            "max_32_dimensions",
            f"dimensions has {len(value)} entries; at most {MAX_DIMENSIONS} are allowed: move the rest "
            f"to properties",
            event_id,
        )
    for key, item in value.items():
        if not isinstance(key, str) or not key or len(key) > MAX_DIMENSION_KEY_LENGTH:
            return Rejection(
                "dimensions",
                "key",
                f"dimension name {_show(key)} must be a non-empty string of at most "
                f"{MAX_DIMENSION_KEY_LENGTH} characters",
                event_id,
            )
        if not isinstance(item, str):
            return Rejection(
                f"dimensions.{key}",
                "string_value",
                f"dimension {key} is {_type_name(item)} ({_show(item)}); dimension values are strings: "
                f'send "{item}" or move it to properties',
                event_id,
            )
        if len(item) > MAX_DIMENSION_VALUE_LENGTH:
            return Rejection(
                f"dimensions.{key}",
                "max_length_255",
                f"dimension {key} has {len(item)} characters; at most {MAX_DIMENSION_VALUE_LENGTH}",
                event_id,
            )
        if has_lone_surrogate(key) or has_lone_surrogate(item):
            return _surrogate("dimensions", event_id)
    return canonical_json(value)


def _properties_field(properties: Any, event_id: str | None) -> str | Rejection:
    """Canonical JSON of the ``properties`` field (absent or null: ``{}``), or why it is refused."""
    if properties is None:
        return "{}"
    if not isinstance(properties, Mapping):
        return Rejection(
            "properties",
            "type",
            f"properties is {_type_name(properties)}; send a JSON object",
            event_id,
        )
    if not properties:
        return "{}"
    try:
        properties_json = canonical_json(properties)
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        return Rejection(
            "properties",
            "json",
            f"properties cannot be written as JSON ({exc}); send JSON values only",
            event_id,
        )
    if ("NaN" in properties_json or "Infinity" in properties_json) and not _is_json(properties_json):
        return Rejection(
            "properties",
            "finite_numbers",
            "properties holds NaN or Infinity, which JSON cannot represent; send finite numbers or strings",
            event_id,
        )
    if len(properties_json) > MAX_PROPERTIES_BYTES:
        return Rejection(
            "properties",
            "max_64_kib",
            f"properties is {len(properties_json)} bytes of JSON; at most {MAX_PROPERTIES_BYTES} are allowed",
            event_id,
        )
    return properties_json


def _dimensions_field(dimensions: Any, event_id: str | None) -> str | Rejection:
    """Canonical JSON of the ``dimensions`` field (absent, null or empty: ``{}``), or why it is refused."""
    if dimensions:
        return _dimensions(dimensions, event_id)
    if dimensions is None or isinstance(dimensions, Mapping):
        return "{}"
    return Rejection(
        "dimensions",
        "type",
        f"dimensions is {_type_name(dimensions)}; send an object of string -> string",
        event_id,
    )


def validate_event(
    obj: Any,
    *,
    tenant_id: str | None = None,
    now: datetime | None = None,
    default_source: str = "unknown",
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> ValidEvent | Rejection:
    """Validate one decoded event; return a normalized `ValidEvent` or a `Rejection`. Never raises.

    tenant_id: the tenant the event belongs to when known from outside (the collector's API
      key). An event naming another tenant is rejected; an event without one gets it. When
      neither is given the tenant is `default`.
    now: when given, events later than now + future_tolerance are rejected (rule
      not_in_future). Loaders pass the time the file landed, so results stay deterministic.
    default_source: the source recorded when the event has none (e.g. "file", "api").
    """
    if not isinstance(obj, Mapping):
        return Rejection(
            "$",
            "object",
            f"the event is {_type_name(obj)}, not a JSON object; send one object per event",
        )
    raw_id = obj.get("event_id")
    # the id echoed in answers: only an encodable one (no lone surrogate)
    event_id = raw_id if isinstance(raw_id, str) and not has_lone_surrogate(raw_id) else None
    if len(obj) > len(ALLOWED_FIELDS) or not ALLOWED_FIELDS.issuperset(obj.keys()):
        unknown = sorted(str(k) for k in obj if k not in ALLOWED_FIELDS)
        return Rejection(
            unknown[0] if len(unknown[0]) <= 64 and not has_lone_surrogate(unknown[0]) else "$",
            "unknown_field",
            f"unknown field {unknown[0]!r}; allowed fields are {', '.join(sorted(ALLOWED_FIELDS))} "
            f"(put extra data in properties or dimensions)",
            event_id,
        )

    checked_id = _id_field(obj, "event_id", event_id)
    if isinstance(checked_id, Rejection):
        return checked_id
    customer_id = _id_field(obj, "customer_id", event_id)
    if isinstance(customer_id, Rejection):
        return customer_id

    meter = obj.get("meter")
    if meter is None:
        return Rejection("meter", "required", 'meter is missing; name the meter, like "gpu_ms"', event_id)
    if not isinstance(meter, str) or METER_RE.fullmatch(meter) is None:
        return Rejection(
            "meter",
            "meter_id",
            f"meter {_show(meter)} is not a meter id: lower-case letter first, then lower-case letters, "
            f'digits or _, at most 64 characters (like "gpu_ms")',
            event_id,
        )

    if "timestamp" not in obj:
        return Rejection(
            "timestamp",
            "required",
            "timestamp is missing; send when the usage happened, RFC 3339 like 2026-01-01T10:00:00Z",
            event_id,
        )
    event_ts = _timestamp(obj["timestamp"], event_id)
    if isinstance(event_ts, Rejection):
        return event_ts
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=UTC)  # a naive `now` is taken as UTC
    if now is not None and event_ts > now + future_tolerance:
        return Rejection(
            "timestamp",
            "not_in_future",
            f"timestamp {obj['timestamp']} is after the time it was received ({now.isoformat()}) by more than "
            f"{future_tolerance}; check the sender's clock and time zone",
            event_id,
        )

    quantity = _quantity(obj.get("quantity"), event_id)
    if isinstance(quantity, Rejection):
        return quantity

    properties_json = _properties_field(obj.get("properties"), event_id)
    if isinstance(properties_json, Rejection):
        return properties_json
    dimensions_json = _dimensions_field(obj.get("dimensions"), event_id)
    if isinstance(dimensions_json, Rejection):
        return dimensions_json

    source = obj.get("source")
    if source is None:
        source = default_source
    elif (
        not isinstance(source, str) or not source or len(source) > MAX_ID_LENGTH or has_lone_surrogate(source)
    ):
        return Rejection(
            "source",
            "string",
            f"source {_show(source)} must be a non-empty string of at most {MAX_ID_LENGTH} characters "
            f'(like "sdk-python")',
            event_id,
        )

    event_tenant = obj.get("tenant_id")
    if event_tenant is None:
        tenant = tenant_id or DEFAULT_TENANT
    elif not isinstance(event_tenant, str) or TENANT_RE.fullmatch(event_tenant) is None:
        return Rejection(
            "tenant_id",
            "tenant_id",
            f"tenant_id {_show(event_tenant)} must be 1-64 characters of letters, digits, '_', '.' or '-'",
            event_id,
        )
    elif tenant_id is not None and event_tenant != tenant_id:
        return Rejection(
            "tenant_id",
            "tenant_mismatch",
            f"tenant_id {event_tenant!r} differs from the tenant of the API key ({tenant_id!r}); "
            f"omit tenant_id or use the key of that tenant",
            event_id,
        )
    else:
        tenant = event_tenant

    return ValidEvent(
        tenant, checked_id, customer_id, meter, event_ts, quantity, properties_json, dimensions_json, source
    )


# ------------------------------------------------------------------------------------------------
# Fast path for the common, well-formed event (the collector's native endpoint).
#
# A batch is first decoded into typed `WireEvent` structs (msgspec checks the field names and that
# ids, meter, timestamp, source and tenant_id are strings, in C); quantity, properties and
# dimensions are kept as raw JSON text. `validate_wire` then runs only cheap checks and caches by
# raw text. It never decides a rejection: whenever an event is not plainly valid it returns None
# and the caller validates `wire_to_dict(event)` (the same value `loads` gives) with
# `validate_event`, so every rejection keeps its rule and message. A body that does not decode
# into structs (an unknown field, a number for an id, not an array) goes wholly through `loads`.
# tests/collector/test_fast_path.py checks that both paths agree event by event.


class WireEvent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One event as sent, decoded without judging values (fields absent stay UNSET)."""

    event_id: str | msgspec.UnsetType = msgspec.UNSET
    customer_id: str | msgspec.UnsetType = msgspec.UNSET
    meter: str | msgspec.UnsetType = msgspec.UNSET
    timestamp: str | msgspec.UnsetType = msgspec.UNSET
    quantity: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    properties: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    dimensions: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    source: str | None | msgspec.UnsetType = msgspec.UNSET
    tenant_id: str | None | msgspec.UnsetType = msgspec.UNSET


_WIRE_ARRAY = msgspec.json.Decoder(list[WireEvent])
_WIRE_ONE = msgspec.json.Decoder(WireEvent)
_WIRE_FIELDS = WireEvent.__struct_fields__
_RAW_FIELDS = frozenset({"quantity", "properties", "dimensions"})
_CACHE_MAX = 4096
_CACHE_TEXT_MAX = 512  # raw values longer than this are not cached
_GOOD_METERS: set[str] = set()
_GOOD_TENANTS: set[str] = set()
_QUANTITY_CACHE: dict[bytes, str | None] = {}
_PROPERTIES_CACHE: dict[bytes, str] = {}
_DIMENSIONS_CACHE: dict[bytes, str] = {}
_EMPTY_OBJECTS = (b"{}", b"null")
_MISSING: Any = object()  # caches are read from worker threads too: get(), never `in` then []


def decode_wire_array(body: bytes) -> list[WireEvent] | None:
    """The events of a JSON array body as `WireEvent`s, or None when the body needs the general
    path (`loads`): not an array, an unknown field, a non-string id, bad JSON, too deep."""
    try:
        return _WIRE_ARRAY.decode(body)
    except (ValueError, RecursionError):  # msgspec.DecodeError / ValidationError are ValueErrors
        return None


def decode_wire(data: bytes) -> WireEvent | None:
    """One event object (an NDJSON line) as a `WireEvent`, or None (use `loads`)."""
    try:
        return _WIRE_ONE.decode(data)
    except (ValueError, RecursionError):
        return None


def wire_to_dict(event: WireEvent) -> dict[str, Any]:
    """The event as `loads` decodes it: a dict of the fields present, raw values decoded."""
    out: dict[str, Any] = {}
    for name in _WIRE_FIELDS:
        value = getattr(event, name)
        if value is msgspec.UNSET:
            continue
        out[name] = _DECODER.decode(value) if name in _RAW_FIELDS else value
    return out


def _remember(cache: dict[bytes, Any], key: bytes, value: Any) -> None:
    if len(key) <= _CACHE_TEXT_MAX:
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = value


def _plain_text(value: Any) -> bool:
    """A non-empty, non-blank string of at most 255 characters without lone surrogates."""
    return (
        type(value) is str
        and 0 < len(value) <= MAX_ID_LENGTH
        and not value.isspace()
        and (value.isascii() or not has_lone_surrogate(value))
    )


def good_meter(meter: Any) -> bool:
    """A meter name by METER_RE (remembered in _GOOD_METERS, bounded, for the fast paths)."""
    if meter in _GOOD_METERS:
        return True
    if type(meter) is not str or METER_RE.fullmatch(meter) is None:
        return False
    if len(_GOOD_METERS) >= _CACHE_MAX:
        _GOOD_METERS.clear()
    _GOOD_METERS.add(meter)
    return True


def validate_wire(
    event: WireEvent,
    tenant_id: str | None,
    not_after: datetime | None,
    default_source: str,
    checked_ts: dict[str, datetime] | None = None,
) -> ValidEvent | None:
    """The `ValidEvent` that `validate_event(wire_to_dict(event), ...)` returns, when the event is
    plainly valid; None otherwise (then call `validate_event`, which says what is wrong).
    ``not_after`` is ``now + future_tolerance`` (None: no future check). ``checked_ts``: a dict
    kept by the caller for one batch (one ``not_after``): timestamp text -> UTC time, of the
    timestamps already found valid and not after ``not_after``."""
    event_id = event.event_id
    customer_id = event.customer_id
    # ids: str (else UNSET), 1-255 characters, not blank, no lone surrogate (as _id_field)
    if (
        type(event_id) is not str
        or not 0 < len(event_id) <= MAX_ID_LENGTH
        or not event_id.isascii()
        or event_id.isspace()
        or type(customer_id) is not str
        or not 0 < len(customer_id) <= MAX_ID_LENGTH
        or not customer_id.isascii()
        or customer_id.isspace()
    ) and not (_plain_text(event_id) and _plain_text(customer_id)):
        return None
    meter = event.meter
    if meter not in _GOOD_METERS and not good_meter(meter):
        return None
    ts = event.timestamp
    event_ts = checked_ts.get(ts) if checked_ts is not None and type(ts) is str else None
    if event_ts is None:
        if type(ts) is not str:
            return None
        parsed = _timestamp(ts, None)
        if isinstance(parsed, Rejection):
            return None
        if not_after is not None and parsed > not_after:
            return None
        event_ts = parsed
        if checked_ts is not None and len(checked_ts) < _CACHE_MAX:
            checked_ts[ts] = parsed

    raw = event.quantity
    if raw is msgspec.UNSET:
        quantity = None
    else:
        key = bytes(raw)
        quantity = _QUANTITY_CACHE.get(key, _MISSING)
        if quantity is _MISSING:
            q = _quantity(_DECODER.decode(key), None)
            if isinstance(q, Rejection):
                return None
            quantity = q
            _remember(_QUANTITY_CACHE, key, q)

    raw = event.properties
    if raw is msgspec.UNSET:
        properties_json = "{}"
    else:  # the cache is tried inline: most events share a few property/dimension objects
        properties_json = _PROPERTIES_CACHE.get(key := bytes(raw)) or _raw_object(
            key, _PROPERTIES_CACHE, _properties_field
        )
        if properties_json is None:
            return None
    raw = event.dimensions
    if raw is msgspec.UNSET:
        dimensions_json = "{}"
    else:
        dimensions_json = _DIMENSIONS_CACHE.get(key := bytes(raw)) or _raw_object(
            key, _DIMENSIONS_CACHE, _dimensions_field
        )
        if dimensions_json is None:
            return None

    source = event.source
    if source is msgspec.UNSET or source is None:
        source = default_source
    elif not _plain_text(source):
        return None

    tenant = event.tenant_id
    if tenant is msgspec.UNSET or tenant is None:
        tenant = tenant_id or DEFAULT_TENANT
    else:
        if tenant not in _GOOD_TENANTS:
            if TENANT_RE.fullmatch(tenant) is None:
                return None
            if len(_GOOD_TENANTS) >= _CACHE_MAX:
                _GOOD_TENANTS.clear()
            _GOOD_TENANTS.add(tenant)
        if tenant_id is not None and tenant != tenant_id:
            return None
    return _new_tuple(
        ValidEvent,
        (tenant, event_id, customer_id, meter, event_ts, quantity, properties_json, dimensions_json, source),
    )


_new_tuple = tuple.__new__  # ValidEvent(...) without the NamedTuple's Python-level __new__


def _raw_object(key: bytes, cache: dict[bytes, str], check: Any) -> str | None:
    """Canonical JSON of a raw properties/dimensions value (then cached by its text), None if refused."""
    if key in _EMPTY_OBJECTS:
        return "{}"
    result = check(_DECODER.decode(key), None)
    if isinstance(result, Rejection):
        return None
    _remember(cache, key, result)
    return result
