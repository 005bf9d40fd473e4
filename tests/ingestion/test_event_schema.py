"""ingestion/event.schema.json and ingestion/events.validate_event agree on good and bad events."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ingestion.events import ValidEvent, loads, validate_event

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "ingestion" / "event.schema.json"
BASE = '"event_id":"e1","customer_id":"cus_a","meter":"gpu_ms"'


def j(rest: str) -> str:
    """A JSON event: the base fields plus `rest`."""
    return "{" + BASE + "," + rest + "}"


# (JSON text, valid?) - the text is parsed once with Decimal numbers and given to both
CASES = [
    (j('"timestamp":"2026-10-30T13:47:00Z","quantity":"2457"'), True),
    (j('"timestamp":"2026-10-30T13:47:00.5+01:00","quantity":2457'), True),
    (j('"timestamp":"2026-10-30t13:47:00z","quantity":0.25'), True),
    (j('"timestamp":"2026-10-30T13:47:00Z"'), True),
    (j('"timestamp":"2026-10-30T13:47:00Z","quantity":null,"properties":{"ms":12.5}'), True),
    (j('"timestamp":"2026-10-30T13:47:00Z","quantity":"1.500000000000000"'), True),
    (j('"timestamp":"2026-10-30T13:47:00Z","quantity":0.000000000001'), True),
    (
        j(
            '"timestamp":"2026-10-30T13:47:00Z","dimensions":{"gpu_type":"a100"},"source":"s","tenant_id":"t-1"'
        ),
        True,
    ),
    (j('"timestamp":"2026-10-30 13:47:00"'), False),
    (j('"timestamp":"2026-10-30T13:47:00"'), False),
    (j('"timestamp":"2026-13-30T13:47:00Z"'), False),
    (j('"timestamp":"2026-02-30T13:47:00Z"'), False),
    (j('"timestamp":1767261600'), False),
    (j('"timestamp":"2026-10-30T13:47:00Z","quantity":"-1"'), False),
    (j('"timestamp":"2026-10-30T13:47:00Z","quantity":-1'), False),
    (j('"timestamp":"2026-10-30T13:47:00Z","quantity":"abc"'), False),
    (j('"timestamp":"2026-10-30T13:47:00Z","quantity":"1e3"'), False),
    (j('"timestamp":"2026-10-30T13:47:00Z","quantity":"0.0000000000001"'), False),
    (j('"timestamp":"2026-10-30T13:47:00Z","quantity":0.0000000000001'), False),
    (j('"timestamp":"2026-10-30T13:47:00Z","quantity":true'), False),
    (j('"timestamp":"2026-10-30T13:47:00Z","dimensions":{"gpu_type":1}'), False),
    (j('"timestamp":"2026-10-30T13:47:00Z","properties":[]'), False),
    (j('"timestamp":"2026-10-30T13:47:00Z","extra":1'), False),
    (j('"timestamp":"2026-10-30T13:47:00Z","tenant_id":"bad tenant"'), False),
    ('{"event_id":"e1","meter":"gpu_ms","timestamp":"2026-10-30T13:47:00Z"}', False),
    ('{"event_id":"","customer_id":"c","meter":"gpu_ms","timestamp":"2026-10-30T13:47:00Z"}', False),
    ('{"event_id":"e","customer_id":"c","meter":"GPU","timestamp":"2026-10-30T13:47:00Z"}', False),
]


@pytest.fixture(scope="module")
def schema_validator() -> Draft202012Validator:
    # Decimal numbers in the schema too, so multipleOf 1e-12 is checked exactly
    schema = json.loads(SCHEMA_PATH.read_text(), parse_float=Decimal)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize(("text", "valid"), CASES)
def test_schema_and_validator_agree(schema_validator: Draft202012Validator, text: str, valid: bool) -> None:
    event = loads(text)
    schema_ok = schema_validator.is_valid(event)
    validator_ok = isinstance(validate_event(event), ValidEvent)
    assert (schema_ok, validator_ok) == (valid, valid), (text, list(schema_validator.iter_errors(event)))


def test_tiny_fixture_events_are_schema_valid(schema_validator: Draft202012Validator) -> None:
    fixture = Path(__file__).resolve().parents[2] / "ingestion" / "fixtures" / "tiny_usage.jsonl"
    for line in fixture.read_bytes().splitlines():
        event = loads(line)
        assert schema_validator.is_valid(event), line
        assert isinstance(validate_event(event), ValidEvent)
