"""Column-wise fast path of the native endpoint: a whole batch checked at once, in C loops.

`process_batch` judges one event at a time (``validate_wire``: ~1 us of Python per event, plus a
`LandedEvent`, an `Answer` and a hash object per event). Most batches are plainly valid end to end,
so this path checks a batch **column by column** instead: each field of all events is pulled out
with one ``map(attrgetter)``, and the checks run over the column with builtins that loop in C
(``min(map(len, ...))``, ``"".join(...).isascii()``, one regular expression over the joined
timestamps or quantities, a ``set`` of the distinct meters, dates, tenants, customers...). Values
that need normalizing are looked up once per *distinct* value. The decoded structs are then
completed in place (tenant_id, arrived_at, source, normalized timestamp/quantity/objects) and
kept in the outcome (``rows``), which encodes them as landed lines when they are written: one
``encode_lines`` call per batch, or per owning worker with ``--workers``; answers are built with
one ``map``.

It never decides a rejection: when any event of the batch is not plainly valid (or is a duplicate
of the index, names a customer of another tenant, an unknown meter...), `process_columns` returns
None and the caller runs `process_batch`, which says what is wrong event by event. So every rule
and every message stays the one of `validate_event`; tests/collector/test_fast_path.py checks that
the three paths answer alike (docs/collector.md, "Throughput").
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any

import msgspec
from msgspec import UNSET, Raw, UnsetType

from ingestion.collector.landing_log import DIGEST_SIZE
from ingestion.collector.processing import ACCEPTED, Answer, BatchOutcome, utc_text
from ingestion.events import (
    _DECODER,
    _DIMENSIONS_CACHE,
    _GOOD_TENANTS,
    _PROPERTIES_CACHE,
    DEFAULT_FUTURE_TOLERANCE,
    DEFAULT_TENANT,
    MAX_ID_LENGTH,
    TENANT_RE,
    Rejection,
    _dimensions_field,
    _plain_text,
    _properties_field,
    _quantity,
    _raw_object,
    _timestamp,
    good_meter,
)


class BatchEvent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One event as sent (fields absent stay UNSET), declared in the order of a landed line
    (`processing.LandedEvent`) so that, once completed in place, it encodes as that line."""

    event_id: str | UnsetType = UNSET
    customer_id: str | UnsetType = UNSET
    meter: str | UnsetType = UNSET
    timestamp: str | UnsetType = UNSET
    properties: Raw | UnsetType = UNSET
    dimensions: Raw | UnsetType = UNSET
    source: str | None | UnsetType = UNSET
    tenant_id: str | None | UnsetType = UNSET
    # set by the collector, never by a sender: an event that names it (even spelled with JSON
    # escapes, "arrived\\u005fat") is left to the per-event path, which refuses unknown fields
    arrived_at: str | UnsetType = UNSET
    quantity: Raw | UnsetType = UNSET


_BATCH = msgspec.json.Decoder(list[BatchEvent])
_LINES = msgspec.json.Encoder(decimal_format="number")
_EMPTY_RAW = Raw(b"{}")
_KEY_HASH = hashlib.blake2b(digest_size=DIGEST_SIZE)

# RFC 3339 text as `utc_text` writes a UTC time (seconds, or 6 digits of microseconds, then Z):
# such a timestamp is its own normalized form once its date is a calendar date, its hour at most
# 23 and its fraction not ".000000" (checked apart: character classes keep the expression fast).
_TS = r"[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](?:\.[0-9]{6})?Z"
_TS_COLUMN = re.compile(rf"(?:{_TS}\n)*{_TS}")
# a quantity string already in normalized form (no leading zeros, no trailing fractional zeros,
# at most 18 integer digits and 12 decimal places: docs/events.md "Quantity bounds")
_Q = rb"(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{0,11}[1-9])?"
_Q_STRING_COLUMN = re.compile(rb'(?:"' + _Q + rb'"\n)*"' + _Q + rb'"')
_Q_NUMBER = re.compile(_Q)
_CACHE_MAX = 4096
_GOOD_DATES: set[str] = set()
_TS_TEXT: dict[str, str] = {}  # timestamp text -> its normalized UTC text
_QUANTITY_RAW: dict[bytes, Raw | UnsetType | None] = {}  # raw JSON -> landed value (None: refused)

_get = {name: attrgetter(name) for name in BatchEvent.__struct_fields__}
_date_part = itemgetter(slice(0, 10))
_second_part = itemgetter(slice(0, 19))
_hour_part = itemgetter(slice(11, 13))


def decode_batch(body: bytes) -> list[BatchEvent] | None:
    """The events of a JSON array body, or None when it needs another path (not an array, an
    unknown field, a non-string id, bad JSON)."""
    try:
        return _BATCH.decode(body)
    except (ValueError, RecursionError):
        return None


def _column(items: list[BatchEvent], name: str) -> list[Any]:
    return list(map(_get[name], items))


def _set_column(items: list[BatchEvent], name: str, values: Any) -> None:
    deque(map(setattr, items, repeat(name), values), maxlen=0)  # a loop in C


def _plain_ids(column: list[Any]) -> bool:
    """Every value a string of 1-255 ASCII characters, not all blank (as `validate_wire`; other
    text goes to the per-event path, which also accepts valid non-ASCII ids)."""
    try:
        lengths = list(map(len, column))
    except TypeError:  # UNSET: the field is missing
        return False
    if min(lengths) == 0 or max(lengths) > MAX_ID_LENGTH:
        return False
    return "".join(column).isascii() and not any(map(str.isspace, column))


def _timestamps(column: list[Any], not_after: datetime) -> list[str] | None:
    """The normalized UTC text of each timestamp (the column itself when all are normalized
    already), or None when one is missing, invalid or in the future."""
    distinct = set(column)
    if UNSET in distinct:
        return None
    if len(distinct) * 4 > len(column):  # mostly distinct: check the column as a whole
        joined = "\n".join(column)
        if (
            _TS_COLUMN.fullmatch(joined) is not None
            and joined.count("\n") == len(column) - 1
            and ".000000Z" not in joined
            and max(map(_hour_part, column)) <= "23"
            and all(map(_calendar_date, set(map(_date_part, column))))
            # same-format texts compare as times to the second; a tie gets the exact check below
            and max(map(_second_part, column)) < utc_text(not_after)[:19]
        ):
            return column
    normalized: dict[str, str] = {}
    for text in distinct:
        parsed = _timestamp(text, None)
        if isinstance(parsed, Rejection) or parsed > not_after:
            return None
        normalized[text] = _TS_TEXT.get(text) or _ts_text(text, parsed)
    if all(map(str.__eq__, normalized, normalized.values())):
        return column
    return list(map(normalized.__getitem__, column))


def _ts_text(text: str, parsed: datetime) -> str:
    if len(_TS_TEXT) >= _CACHE_MAX:
        _TS_TEXT.clear()
    normalized = _TS_TEXT[text] = utc_text(parsed)
    return normalized


def _calendar_date(day: str) -> bool:
    if day not in _GOOD_DATES:
        try:
            date.fromisoformat(day)
        except ValueError:
            return False
        if len(_GOOD_DATES) >= _CACHE_MAX:
            _GOOD_DATES.clear()
        _GOOD_DATES.add(day)
    return True


def _quantity_raw(raw: bytes) -> Raw | UnsetType | None:
    """The landed value of one raw quantity: a JSON string of its normalized text, UNSET when
    there is none (null), None when it is refused."""
    value = _QUANTITY_RAW.get(raw, False)
    if value is not False:
        return value  # type: ignore[return-value]
    if raw[:1] == b'"' and _Q_NUMBER.fullmatch(raw, 1, len(raw) - 1):
        value = Raw(raw)
    elif _Q_NUMBER.fullmatch(raw):
        value = Raw(b'"' + raw + b'"')
    else:
        q = _quantity(_DECODER.decode(raw), None)
        value = None if isinstance(q, Rejection) else UNSET if q is None else Raw(_LINES.encode(q))
    if len(raw) <= 64:
        if len(_QUANTITY_RAW) >= _CACHE_MAX:
            _QUANTITY_RAW.clear()
        _QUANTITY_RAW[raw] = value
    return value


def _quantities(column: list[Any]) -> list[Any] | None:
    """The landed quantity of each event (the column itself when every one is a normalized
    decimal string already), or None when one is refused."""
    try:
        raws: list[bytes | None] = list(map(bytes, column))
    except TypeError:  # some events carry no quantity (the meter derives it from properties)
        raws = [None if q is UNSET else bytes(q) for q in column]
    distinct = set(raws)
    if len(distinct) * 4 > len(raws) and None not in distinct:  # mostly distinct: one regex
        joined = b"\n".join(raws)  # type: ignore[arg-type]
        if _Q_STRING_COLUMN.fullmatch(joined) is not None and joined.count(b"\n") == len(raws) - 1:
            return column
    landed: dict[bytes | None, Any] = {None: UNSET}
    changed = False
    for raw in distinct:
        if raw is not None:
            value = _quantity_raw(raw)
            if value is None:
                return None
            landed[raw] = value
            changed = changed or value is UNSET or bytes(value) != raw
    return list(map(landed.__getitem__, raws)) if changed else column


def _objects(
    column: list[Any], cache: dict[bytes, str], check: Callable[[Any, str | None], str | Rejection]
) -> list[Any] | None:
    """The canonical JSON (sorted keys, no spaces) of each properties/dimensions value as Raw
    (the column itself when every one is canonical already), None when one is refused."""
    try:
        raws = list(map(bytes, column))
    except TypeError:
        raws = [None if v is UNSET else bytes(v) for v in column]
    landed: dict[bytes | None, Raw] = {}
    changed = None in raws
    for raw in set(raws):
        if raw is None:
            landed[raw] = _EMPTY_RAW
            continue
        text = cache.get(raw) or _raw_object(raw, cache, check)
        if text is None:
            return None
        canonical = text.encode()
        if canonical != raw:
            changed = True
        landed[raw] = Raw(canonical)
    return list(map(landed.__getitem__, raws)) if changed else column


def _one_value(
    column: list[Any], default: str, ok: Callable[[str], bool]
) -> tuple[list[Any] | str, bool] | None:
    """(column or its single value, whether the structs need it set) for source/tenant_id:
    UNSET/None become ``default``; None when a value fails ``ok``."""
    values = set(column)
    out: dict[Any, str] = {}
    for value in values:
        if value is UNSET or value is None:
            out[value] = default
        elif ok(value):
            out[value] = value
        else:
            return None
    if len(set(out.values())) == 1:
        return next(iter(out.values())), bool(values & {UNSET, None})
    if UNSET in values or None in values:
        return list(map(out.__getitem__, column)), True
    return column, False


def process_columns(
    items: list[BatchEvent],
    *,
    tenant_id: str,
    disjoint: Callable[[set[bytes]], bool],
    now: datetime,
    default_source: str = "api",
    is_unknown_meter: Callable[[str], bool] | None = None,
    customer_owners: Mapping[str, Any] | None = None,
) -> BatchOutcome | None:
    """The outcome of a batch of plainly valid, new events (every one ``accepted``), or None when
    any event needs the per-event path (`process_batch`): one not plainly valid, a duplicate (in
    the batch or in the index: ``disjoint(keys)`` is False), an unknown meter, a customer of
    another tenant. Pure except for reading the index; it may run in a worker thread."""
    n = len(items)
    if n == 0:
        return None
    if set(_column(items, "arrived_at")) != {UNSET}:
        return None  # a sender's arrived_at: the per-event path says it is not an event field
    event_ids = _column(items, "event_id")
    customer_ids = _column(items, "customer_id")
    if not (_plain_ids(event_ids) and _plain_ids(customer_ids)):
        return None
    meters = set(_column(items, "meter"))
    if not all(map(good_meter, meters)):
        return None
    if is_unknown_meter is not None and any(map(is_unknown_meter, meters)):
        return None  # accepted with a warning per event: the per-event path writes them
    not_after = (now if now.tzinfo is not None else now.replace(tzinfo=UTC)) + DEFAULT_FUTURE_TOLERANCE
    ts_column = _column(items, "timestamp")
    timestamps = _timestamps(ts_column, not_after)
    quantity_column = _column(items, "quantity")
    quantities = _quantities(quantity_column)
    properties_column = _column(items, "properties")
    properties = _objects(properties_column, _PROPERTIES_CACHE, _properties_field)
    dimensions_column = _column(items, "dimensions")
    dimensions = _objects(dimensions_column, _DIMENSIONS_CACHE, _dimensions_field)
    if timestamps is None or quantities is None or properties is None or dimensions is None:
        return None
    sources = _one_value(_column(items, "source"), default_source, _plain_text)
    tenants = _one_value(
        _column(items, "tenant_id"),
        tenant_id or DEFAULT_TENANT,
        lambda t: (t in _GOOD_TENANTS or TENANT_RE.fullmatch(t) is not None) and t == tenant_id,
    )
    if sources is None or tenants is None or not isinstance(tenants[0], str):
        return None
    tenant = tenants[0]
    if customer_owners:
        for customer in set(customer_ids):
            owners = customer_owners.get(customer)
            if owners is not None and tenant not in owners:
                return None

    # dedup keys: blake2b-128 of "tenant NUL event_id" (landing_log.event_key)
    prefix = tenant + "\x00"
    keys: list[bytes] = []
    append, copy = keys.append, _KEY_HASH.copy
    for data in map(str.encode, map(prefix.__add__, event_ids)):
        h = copy()
        h.update(data)
        append(h.digest())
    key_set = set(keys)
    if len(key_set) != n or not disjoint(key_set):
        return None  # duplicates: the per-event path answers each one

    # complete the structs in place: they now encode as landed lines
    arrived_at = utc_text(now)
    _set_column(items, "arrived_at", repeat(arrived_at))
    if tenants[1]:
        _set_column(items, "tenant_id", repeat(tenant))
    value, needed = sources
    if needed:
        _set_column(items, "source", repeat(value) if isinstance(value, str) else value)
    for name, new, old in (
        ("timestamp", timestamps, ts_column),
        ("quantity", quantities, quantity_column),
        ("properties", properties, properties_column),
        ("dimensions", dimensions, dimensions_column),
    ):
        if new is not old:
            _set_column(items, name, new)
    return BatchOutcome(
        results=list(map(Answer, range(n), event_ids, repeat(ACCEPTED))),
        rows=items,  # encoded as landed lines by BatchOutcome when they are written
        keys=keys,
        accepted=n,
        accepted_at=list(range(n)),
    )
