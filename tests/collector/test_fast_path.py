"""The collector's fast path (typed WireEvent decode + validate_wire) answers exactly as the general
path (loads + validate_event): same status, field, rule and reason for every event, same landed
lines, same quarantine lines. Each variant below is one way an event can deviate from the plainly
valid one; they are checked alone, one per body, and all together in one batch."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ingestion.collector.fastbatch import decode_batch, process_columns
from ingestion.collector.landing_log import DedupIndex, event_key
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


def _columns(body: bytes, tenant: str = "acme", index: DedupIndex | None = None, **kw):  # noqa: ANN003, ANN202
    batch = decode_batch(body)
    if batch is None:
        return None
    index = index or DedupIndex(10_000)
    return process_columns(batch, tenant_id=tenant, disjoint=index.isdisjoint, now=NOW, **kw)


def _same(body: bytes, tenant: str = "acme") -> None:
    general = _run(loads(body), tenant=tenant)
    wire = decode_wire_array(body)
    fast = _run(wire, tenant=tenant) if wire is not None else general
    columns = _columns(body, tenant)
    if columns is not None:  # the column-wise path took the whole batch: it answers alike
        assert columns.results == general.results
        assert columns.landed_lines() == general.lines and columns.keys == general.keys
        assert (columns.accepted, columns.quarantine) == (general.accepted, general.quarantine)
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


# ------------------------------------------------------------------ column-wise path (fastbatch.py)
# Plainly valid events written in forms that need normalizing: the column path must take the
# batch (not return None) and land exactly the lines of the general path.
NORMALIZED = {
    "quantity": ["2457", "0.5", '"0.5"', '"007"', '"1.50"', "1E+3", "null", None, '"123456789012345678"'],
    "timestamp": [
        '"2026-11-01T14:47:00+01:00"',
        '"2026-11-01T13:47:00.123Z"',
        '"2026-11-01T13:47:00.123456Z"',
        '"2026-11-01T13:47:00.000000Z"',
        '"2026-11-01t13:47:00z"',
        '"2024-02-29T23:59:59Z"',
    ],
    "dimensions": ['{"region":"us-east-1","gpu_type":"a100"}', '{ "a" : "1" }', "null", "{}", None],
    "properties": ['{"b":1,"a":"x"}', '{"path":"/v1"}', "null", None],
    "source": ['"sdk-go"', "null", None],
    "tenant_id": ['"acme"', "null", None],
}
NORMALIZED_CASES = [(f, v) for f, values in NORMALIZED.items() for v in values]


@pytest.mark.parametrize(("field", "value"), NORMALIZED_CASES)
def test_column_path_takes_plainly_valid_batches_and_lands_what_the_general_path_lands(
    field: str, value: str | None
) -> None:
    body = ("[" + ",".join(_variant(i, field, value) for i in range(3)) + "]").encode()
    assert _columns(body) is not None
    _same(body)


def test_column_path_mixed_forms_in_one_batch() -> None:
    parts = [_variant(i, f, v) for i, (f, v) in enumerate(NORMALIZED_CASES)]
    body = ("[" + ",".join(parts) + "]").encode()
    out = _columns(body)
    assert out is not None and out.accepted == len(parts)
    _same(body)


def test_column_path_landed_line_by_hand() -> None:
    """2457 (a JSON number) lands as the text "2457"; 14:47 at +01:00 is 13:47 UTC; dimensions
    are sorted by name; source defaults to "api", tenant_id to the key's, arrived_at is NOW."""
    body = (
        b'[{"event_id":"e-1","customer_id":"cus_a","meter":"gpu_ms","timestamp":"2026-11-01T14:47:00+01:00",'
        b'"quantity":2457,"dimensions":{"region":"us-east-1","gpu_type":"a100"}}]'
    )
    out = _columns(body)
    assert out is not None
    assert out.landed_lines() == [
        b'{"event_id":"e-1","customer_id":"cus_a","meter":"gpu_ms","timestamp":"2026-11-01T13:47:00Z",'
        b'"properties":{},"dimensions":{"gpu_type":"a100","region":"us-east-1"},"source":"api",'
        b'"tenant_id":"acme","arrived_at":"2026-11-01T14:00:00Z","quantity":"2457"}\n'
    ]
    assert out.keys == [event_key("acme", "e-1")]
    assert [(a.index, a.event_id, a.status) for a in out.results] == [(0, "e-1", "accepted")]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timestamp", '"2026-02-30T10:00:00Z"'),  # matches the pattern, not the calendar
        ("timestamp", '"2026-11-01T24:00:00Z"'),
        ("timestamp", '"2026-13-01T10:00:00Z"'),
        ("timestamp", '"2026-11-01T15:00:01Z"'),  # 1 s past now + 1 h
        ("timestamp", '"2026-11-01T15:00:00.000001Z"'),  # same second as the bound, 1 us past it
        ("timestamp", '"2026-11-01T13:47:00Z\\n2026-11-01T13:47:00Z"'),
        ("quantity", '"-1"'),
        ("quantity", '"1234567890123456789"'),  # 19 integer digits
        ("quantity", '"0.0000000000001"'),  # 13 decimal places
        ("event_id", '"\u00e9v"'),  # valid, but non-ASCII ids are judged per event
        ("event_id", '"   "'),
        ("customer_id", None),
        ("meter", '"GPU"'),
        ("tenant_id", '"other"'),
        ("source", '""'),
        ("dimensions", '{"a":1}'),
    ],
)
def test_column_path_leaves_any_doubt_to_the_per_event_path(field: str, value: str | None) -> None:
    """One such event among plain ones: the column path returns None (the per-event path then
    says what is wrong), and the per-event answers are unchanged."""
    body = ("[" + _variant(0, "quantity", '"1"') + "," + _variant(1, field, value) + "]").encode()
    assert _columns(body) is None
    _same(body)


def test_column_path_leaves_duplicates_foreign_customers_and_unknown_meters_to_the_per_event_path() -> None:
    body = ("[" + _variant(1, "quantity", '"1"') + "," + _variant(2, "quantity", '"2"') + "]").encode()
    assert _columns(body) is not None
    twice = ("[" + _variant(1, "quantity", '"1"') + "," + _variant(1, "quantity", '"2"') + "]").encode()
    assert _columns(twice) is None  # e-1 twice in one batch
    index = DedupIndex(10)
    index.add_pending(event_key("acme", "e-2"))
    assert _columns(body, index=index) is None  # e-2 accepted earlier
    assert _columns(body, customer_owners={"cus_a": frozenset({"other"})}) is None
    assert _columns(body, customer_owners={"cus_a": frozenset({"acme"})}) is not None
    assert _columns(body, is_unknown_meter=lambda m: m == "gpu_ms") is None


@pytest.mark.parametrize("name", ["arrived_at", "arrived\\u005fat"])
def test_column_path_never_takes_an_arrived_at_from_the_sender(name: str) -> None:
    """arrived_at is set by the collector; an event naming it (also through a JSON escape, which
    decodes to the same field name) is judged by the per-event path (an unknown field)."""
    body = ("[" + _variant(1, "quantity", '"1"')[:-1] + f',"{name}":"2026-01-01T00:00:00Z"' + "}]").encode()
    assert _columns(body) is None
    _same(body)
    assert _run(loads(body)).results[0].status == "rejected"


@pytest.mark.parametrize(
    "odd",
    ["2026-11-01T13:47:00.000000Z", "2026-11-01T14:47:00+01:00", "2026-11-01t13:47:00z", None],
)
def test_column_path_with_distinct_timestamps(odd: str | None) -> None:
    """Mostly distinct timestamps are checked as one joined column; one that is valid but not in
    normalized form (or none at all) still lands normalized, as on the general path."""
    stamps = [f"2026-11-01T13:{m:02d}:{m:02d}Z" for m in range(8)] + [f"2026-11-01T12:00:00.{7:06d}Z"]
    if odd:
        stamps.append(odd)
    parts = [_variant(i, "timestamp", json.dumps(t)) for i, t in enumerate(stamps)]
    body = ("[" + ",".join(parts) + "]").encode()
    out = _columns(body)
    assert out is not None and out.accepted == len(stamps)
    _same(body)
    bad = ("[" + ",".join([*parts, _variant(99, "timestamp", '"2026-11-01T24:00:00Z"')]) + "]").encode()
    assert _columns(bad) is None
    _same(bad)
