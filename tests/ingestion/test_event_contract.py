"""The usage event validator: every rule names its field and rule; normalization is exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.events import Rejection, ValidEvent, format_quantity, loads, validate_event

GOOD = {
    "event_id": "evt_1",
    "customer_id": "cus_a",
    "meter": "gpu_ms",
    "timestamp": "2026-10-30T13:47:00Z",
    "quantity": "2457",
    "dimensions": {"region": "us-east-1", "gpu_type": "a100"},
    "properties": {"job": "train-7", "b": [1, 2]},
    "source": "sdk-python",
}


def with_(**changes: object) -> dict:
    event = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def test_good_event_is_normalized() -> None:
    result = validate_event(GOOD)
    assert isinstance(result, ValidEvent)
    assert result == ValidEvent(
        tenant_id="default",
        event_id="evt_1",
        customer_id="cus_a",
        meter="gpu_ms",
        event_ts=datetime(2026, 10, 30, 13, 47, tzinfo=UTC),
        quantity="2457",
        properties_json='{"b":[1,2],"job":"train-7"}',  # sorted keys, compact
        dimensions_json='{"gpu_type":"a100","region":"us-east-1"}',
        source="sdk-python",
    )


def test_offset_is_converted_to_utc() -> None:
    # 2026-10-30T14:47:00+01:00 is 13:47 UTC; -05:30 adds 5h30
    assert validate_event(with_(timestamp="2026-10-30T14:47:00+01:00")).event_ts == datetime(
        2026, 10, 30, 13, 47, tzinfo=UTC
    )
    assert validate_event(with_(timestamp="2026-10-30T23:00:00-05:30")).event_ts == datetime(
        2026, 10, 31, 4, 30, tzinfo=UTC
    )
    # nanoseconds are truncated to microseconds
    ev = validate_event(with_(timestamp="2026-10-30T13:47:00.123456789Z"))
    assert ev.event_ts.microsecond == 123456


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("2457", "2457"),
        ("0.25", "0.25"),
        ("007.500", "7.5"),  # leading and trailing zeros dropped, value unchanged
        ("1.000000000000000", "1"),  # 15 places but all trailing zeros: the value has 0 places
        (2457, "2457"),
        (Decimal("1E+3"), "1000"),  # a JSON number 1e3, parsed exactly
        (Decimal("0.000000000001"), "0.000000000001"),  # 12 places: allowed
        (Decimal("-0"), "0"),
        (None, None),
        (..., None),  # absent: the meter takes its value from properties
    ],
)
def test_quantity_is_exact_text(quantity: object, expected: str | None) -> None:
    result = validate_event(with_(quantity=quantity))
    assert isinstance(result, ValidEvent), result
    assert result.quantity == expected


def test_json_numbers_never_become_floats() -> None:
    # 0.1 + 0.2 as binary floats is 0.30000000000000004; parsed with `loads` it stays exact
    event = loads(
        b'{"event_id":"e","customer_id":"c","meter":"m","timestamp":"2026-01-01T00:00:00Z","quantity":0.1}'
    )
    assert event["quantity"] == Decimal("0.1")
    assert validate_event(event).quantity == "0.1"
    assert format_quantity(Decimal("0.1") + Decimal("0.2")) == "0.3"


@pytest.mark.parametrize(
    ("event", "field", "rule"),
    [
        ("not an object", "$", "object"),
        (with_(event_id=...), "event_id", "required"),
        (with_(event_id=""), "event_id", "non_empty"),
        (with_(event_id="   "), "event_id", "non_empty"),
        (with_(event_id=12), "event_id", "type"),
        (with_(event_id="x" * 256), "event_id", "max_length_255"),
        (with_(customer_id=...), "customer_id", "required"),
        (with_(customer_id=""), "customer_id", "non_empty"),
        (with_(meter=...), "meter", "required"),
        (with_(meter="GPU-ms"), "meter", "meter_id"),
        (with_(meter="1gpu"), "meter", "meter_id"),
        (with_(meter="a" * 65), "meter", "meter_id"),
        (with_(timestamp=...), "timestamp", "required"),
        (with_(timestamp="2026-01-01 10:00"), "timestamp", "rfc3339_with_offset"),
        (with_(timestamp="2026-01-01T10:00:00"), "timestamp", "rfc3339_with_offset"),
        (with_(timestamp="2026-02-30T10:00:00Z"), "timestamp", "rfc3339_with_offset"),
        (with_(timestamp="2026-01-01T24:00:00Z"), "timestamp", "rfc3339_with_offset"),
        (with_(timestamp="01/02/2026 10:00 UTC"), "timestamp", "rfc3339_with_offset"),
        (with_(timestamp=1767261600), "timestamp", "type"),
        (with_(quantity="-5"), "quantity", "non_negative"),
        (with_(quantity=-5), "quantity", "non_negative"),
        (with_(quantity=Decimal("-0.5")), "quantity", "non_negative"),
        (with_(quantity="12ms"), "quantity", "decimal"),
        (with_(quantity=""), "quantity", "decimal"),
        (with_(quantity="1e3"), "quantity", "decimal"),
        (with_(quantity="1_000"), "quantity", "decimal"),
        (with_(quantity="٣"), "quantity", "decimal"),  # an Arabic-Indic digit is not an ASCII digit
        (with_(quantity="NaN"), "quantity", "decimal"),
        (with_(quantity=Decimal("NaN")), "quantity", "finite"),
        (with_(quantity=Decimal("Infinity")), "quantity", "finite"),
        (with_(quantity=0.5), "quantity", "exact_decimal"),
        (with_(quantity=True), "quantity", "type"),
        (with_(quantity=[1]), "quantity", "type"),
        (with_(quantity="0.0000000000001"), "quantity", "max_12_decimal_places"),
        (with_(quantity="1" * 19), "quantity", "max_18_integer_digits"),
        (with_(properties=[1, 2]), "properties", "type"),
        (with_(properties={"ms": Decimal("NaN")}), "properties", "finite_numbers"),
        (with_(dimensions="a100"), "dimensions", "type"),
        (with_(dimensions={"gpu_type": 100}), "dimensions.gpu_type", "string_value"),
        (with_(dimensions={"": "x"}), "dimensions", "key"),
        (with_(dimensions={f"d{i}": "x" for i in range(33)}), "dimensions", "max_32_dimensions"),
        (with_(source=""), "source", "string"),
        (with_(tenant_id="has space"), "tenant_id", "tenant_id"),
        (with_(quantiy="5"), "quantiy", "unknown_field"),  # a typo must not silently drop the quantity
    ],
)
def test_each_rejection_names_field_and_rule(event: object, field: str, rule: str) -> None:
    result = validate_event(event)
    assert isinstance(result, Rejection), result
    assert (result.field, result.rule) == (field, rule)
    assert result.reason  # says what to send instead
    if isinstance(event, dict) and isinstance(event.get("event_id"), str):
        assert result.event_id == event["event_id"]


def test_timestamp_without_offset_message_says_what_to_send() -> None:
    result = validate_event(with_(timestamp="2026-01-01 10:00"))
    assert result.reason.startswith("timestamp '2026-01-01 10:00' has no UTC offset")
    assert "2026-01-01T10:00:00Z" in result.reason


def test_tenant_from_api_key() -> None:
    assert validate_event(GOOD, tenant_id="acme").tenant_id == "acme"
    assert validate_event(with_(tenant_id="acme"), tenant_id="acme").tenant_id == "acme"
    assert validate_event(with_(tenant_id="acme")).tenant_id == "acme"
    mismatch = validate_event(with_(tenant_id="other"), tenant_id="acme")
    assert (mismatch.field, mismatch.rule) == ("tenant_id", "tenant_mismatch")


def test_future_events_rejected_only_beyond_tolerance() -> None:
    now = datetime(2026, 10, 30, 13, 0, tzinfo=UTC)
    # 13:47 is 47 minutes after now: inside the default 1 hour tolerance
    assert isinstance(validate_event(GOOD, now=now), ValidEvent)
    late_clock = validate_event(GOOD, now=now - timedelta(hours=1))  # 1h47 ahead
    assert (late_clock.field, late_clock.rule) == ("timestamp", "not_in_future")
    # old events are never rejected by the contract (late events are kept)
    assert isinstance(validate_event(with_(timestamp="2023-01-01T13:47:00Z"), now=now), ValidEvent)


def test_default_source() -> None:
    assert validate_event(with_(source=...), default_source="file").source == "file"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.decimals(allow_nan=True),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*sorted(GOOD), "quantity", "tenant_id", "other"]),
        json_values | st.floats(),
        max_size=10,
    )
)
def test_validator_never_raises(event: dict) -> None:
    result = validate_event(event, now=datetime(2026, 1, 1))  # a naive `now` is taken as UTC
    assert isinstance(result, (ValidEvent, Rejection))


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(
        min_value=0,
        max_value=Decimal("999999999999999999.999999999999"),
        places=12,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_quantity_text_is_exact(value: Decimal) -> None:
    result = validate_event(with_(quantity=value))
    assert isinstance(result, ValidEvent)
    assert Decimal(result.quantity) == value  # same number, no rounding
    again = validate_event(with_(quantity=result.quantity))  # and the text form validates to itself
    assert again.quantity == result.quantity
