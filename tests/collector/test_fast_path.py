"""The collector's fast path (typed WireEvent decode + validate_wire) answers exactly as the general
path (loads + validate_event): same status, field, rule and reason for every event, same landed
lines, same quarantine lines. Each variant below is one way an event can deviate from the plainly
valid one; they are checked alone, one per body, and all together in one batch."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ingestion.collector.landing_log import DedupIndex
from ingestion.collector.processing import decode_items, process_batch
from ingestion.events import WireEvent, decode_wire_array, loads, validate_wire

NOW = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)

BASE = (
    '{"event_id":"e-%d","customer_id":"cus_a","meter":"gpu_ms","timestamp":"2026-11-01T13:47:00Z",'
    '"quantity":"2457","dimensions":{"region":"us-east-1","gpu_type":"a100"}}'
)

# JSON text of each field's value replaced (None: field removed); every value is one case
FIELD_VARIANTS: dict[str, list[str | None]] = {
    "event_id": [
        None,
        "null",
        '""',
        '"   "',
        '"' + "x" * 255 + '"',
        '"' + "x" * 256 + '"',
        "7",
        '"\\u00e9v\\u00e9"',
    ],
    "customer_id": [None, "null", '""', '" \\t"', '"' + "c" * 256 + '"', "[1]", '"cüs"'],
    "meter": [None, "null", '"GPU"', '"gpu-ms"', '"g"', '"' + "m" * 64 + '"', '"' + "m" * 65 + '"', "3"],
    "timestamp": [
        None,
        "null",
        "1700000000",
        '"2026-11-01T13:47:00"',
        '"2026-11-01 13:47:00Z"',
        '"2026-02-30T00:00:00Z"',
        '"2026-11-01t13:47:00.123456789z"',
        '"2026-11-01T14:47:00+01:00"',
        '"2026-11-01T15:00:01Z"',  # more than 1 h after NOW: not_in_future
        '"2026-11-01T15:00:00Z"',  # exactly now + 1 h: accepted
        '"9999-12-31T23:00:00-05:00"',
        '"0001-01-01T00:30:00+01:00"',
    ],
    "quantity": [
        None,
        "null",
        "0",
        "12",
        "1.50",
        "1e3",
        "1E-12",
        "1e-13",
        "0e1000000000",
        "1e-1000000000",
        "1e400000",
        "-1",
        "-0.5",
        "999999999999999999",
        "1000000000000000000",
        '"007.100"',
        '"-3"',
        '"1e3"',
        '" 1"',
        '"0.1234567890123"',
        '"' + "1" * 19 + '"',
        '"' + "1" * 201 + '"',
        "true",
        "[1]",
        "{}",
        '""',
    ],
    "properties": [
        None,
        "null",
        "{}",
        '{"b":1,"a":[1,2.50]}',
        "[]",
        '"x"',
        "7",
        '{"k":"' + "v" * 70000 + '"}',
    ],
    "dimensions": [
        None,
        "null",
        "{}",
        "[]",
        '"x"',
        "[1]",
        '{"a":1}',
        '{"a":"' + "v" * 256 + '"}',
        '{"' + "k" * 65 + '":"v"}',
        '{"":"v"}',
        "{" + ",".join(f'"k{i}":"v"' for i in range(33)) + "}",
        '{"z":"1","a":"2"}',
    ],
    "source": [None, "null", '""', '"  "', '"sdk-go"', "5", '"' + "s" * 256 + '"'],
    "tenant_id": [None, "null", '"acme"', '"other"', '"acme corp"', '""', "1"],
}


def _variant(n: int, field: str, value: str | None) -> str:
    obj = json.loads(BASE % n)
    raw = {k: json.dumps(v, separators=(",", ":")) for k, v in obj.items()}
    if value is None:
        raw.pop(field, None)
    else:
        raw[field] = value
    return "{" + ",".join(f'"{k}":{v}' for k, v in raw.items()) + "}"


CASES = [(field, value) for field, values in FIELD_VARIANTS.items() for value in values]
EXTRA = [
    '{"event_id":"x1","customer_id":"c","meter":"m","timestamp":"2026-11-01T00:00:00Z","nope":1}',
    '{"event_id":"x2","event_id":"x3","customer_id":"c","meter":"m","timestamp":"2026-11-01T00:00:00Z"}',
    "[]",
    "17",
    '"text"',
]


def _run(  # noqa: ANN202
    items: list[object], raw_items: list[object] | None = None, pre: dict | None = None, tenant: str = "acme"
):
    return process_batch(
        items,
        tenant_id=tenant,
        index=DedupIndex(10_000),
        now=NOW,
        endpoint="/v1/events",
        raw_items=raw_items,
        pre_rejections=pre or None,
    )


def _same(body: bytes, tenant: str = "acme") -> None:
    general = _run(loads(body), tenant=tenant)
    wire = decode_wire_array(body)
    fast = _run(wire, tenant=tenant) if wire is not None else general
    assert fast.results == general.results
    assert fast.lines == general.lines
    assert fast.quarantine == general.quarantine
    assert (fast.accepted, fast.duplicate, fast.rejected) == (
        general.accepted,
        general.duplicate,
        general.rejected,
    )


@pytest.mark.parametrize(("field", "value"), CASES)
def test_each_variant_alone_answers_as_the_general_path(field: str, value: str | None) -> None:
    _same(("[" + _variant(1, field, value) + "]").encode())


def test_all_variants_in_one_batch_answer_as_the_general_path() -> None:
    parts = [_variant(i, f, v) for i, (f, v) in enumerate(CASES)]
    parts += [_variant(0, "quantity", '"1"')]  # a duplicate of event 0 in the same batch
    body = ("[" + ",".join(parts) + "]").encode()
    assert decode_wire_array(body) is None  # numbers/arrays/null for string fields: the general path
    _same(body)
    # the variants whose value stays a string (or absent) take the fast path, batch-wide
    typed = [
        _variant(i, f, v)
        for i, (f, v) in enumerate(CASES)
        if f in ("quantity", "properties", "dimensions") or v is None or v.startswith('"')
    ]
    body = ("[" + ",".join(typed) + "]").encode()
    assert decode_wire_array(body) is not None
    _same(body)


@pytest.mark.parametrize("key_tenant", ["acme corp", "a" * 65, "other"])
def test_tenant_names_are_checked_even_when_they_equal_the_keys(key_tenant: str) -> None:
    """A key made before tenant names were checked ("acme corp"): its events naming that tenant
    are rejected by the rule for tenant names on both paths; "other" is a valid name."""
    body = (
        "[" + _variant(1, "tenant_id", json.dumps(key_tenant)) + "," + _variant(2, "tenant_id", None) + "]"
    ).encode()
    _same(body, tenant=key_tenant)
    first = _run(decode_wire_array(body), tenant=key_tenant).results[0]
    assert first.status == ("accepted" if key_tenant == "other" else "rejected")


@pytest.mark.parametrize("extra", EXTRA)
def test_bodies_outside_the_typed_shape_take_the_general_path(extra: str) -> None:
    body = ("[" + extra + "]").encode()
    if extra.startswith("{") and "nope" not in extra:
        assert decode_wire_array(body) is not None  # duplicate key: the last wins, as in loads
    else:
        assert decode_wire_array(body) is None
    _same(body)


def test_ndjson_lines_decode_as_wire_events_and_answer_alike() -> None:
    lines = [_variant(i, f, v).encode() for i, (f, v) in enumerate(CASES)] + [b"{oops"]
    wire_items, wire_pre = decode_items(lines, wire=True)
    items, pre = decode_items(lines)
    assert sum(type(x) is WireEvent for x in wire_items) > len(lines) // 2
    assert wire_pre == pre
    fast = _run(wire_items, lines, wire_pre)
    general = _run(items, lines, pre)
    assert fast.results == general.results and fast.quarantine == general.quarantine
    assert fast.lines == general.lines


def test_plain_event_is_judged_by_the_fast_path() -> None:
    """The common event never reaches validate_event: validate_wire returns its normalized form
    (timestamp in UTC, quantity text, dimensions sorted)."""
    (ev,) = decode_wire_array(("[" + _variant(1, "timestamp", '"2026-11-01T14:47:00+01:00"') + "]").encode())
    valid = validate_wire(ev, "acme", NOW, "api")
    assert valid is not None
    assert valid.event_ts == datetime(2026, 11, 1, 13, 47, tzinfo=UTC)
    assert valid.quantity == "2457" and valid.tenant_id == "acme" and valid.source == "api"
    assert valid.dimensions_json == '{"gpu_type":"a100","region":"us-east-1"}'
    # 1 s past not_after is for validate_event to explain
    assert validate_wire(ev, "acme", datetime(2026, 11, 1, 13, 46, 59, tzinfo=UTC), "api") is None
