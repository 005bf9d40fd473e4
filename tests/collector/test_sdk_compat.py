"""Real third-party clients against the collector on 127.0.0.1: the Lago Python client
(lago-python-client, PyPI) with the base URL exactly as docs/collector.md writes it, and
CloudEvents built and encoded by the CloudEvents SDK (cloudevents, PyPI)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import requests
from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.v1.event import CloudEvent
from lago_python_client.client import Client
from lago_python_client.models import BatchEvent, Event

from tests.collector.conftest import CollectorProcess, landed

METERS = """\
meters:
  - id: prompt_tokens
    aggregation: sum
    value_property: tokens
    group_by: [model]
    filters: {region: [eu, us]}
  - {id: storage, aggregation: sum, value_property: gb, group_by: [region]}
  - {id: api_calls, aggregation: count}
"""


def _collector_with_catalog(data_dir: Path) -> CollectorProcess:
    (data_dir / "catalog").mkdir()
    (data_dir / "catalog" / "meters.yaml").write_text(METERS)
    return CollectorProcess(data_dir).start()


def test_lago_python_client_with_the_documented_base_url(data_dir: Path, keys: dict[str, str]) -> None:
    """docs/collector.md: "Point a Lago SDK at http://HOST:PORT/lago". The client joins "api/v1/"
    onto it with urljoin, which drops "/lago" (no trailing slash): it used to get 404. The sum
    meter's value comes from its value_property (gb) without any --value-map flag, and the
    property named like the meter's group_by dimension becomes a dimension."""
    c = _collector_with_catalog(data_dir)
    try:
        client = Client(api_key=keys["acme"], api_url=f"{c.url}/lago")
        created = client.events.create(
            Event(
                transaction_id="tx-1",
                external_subscription_id="cus_a",
                code="storage",
                timestamp=1650893379,
                properties={"gb": 10, "region": "eu-west-1"},
            )
        )
        assert created is not None and created.transaction_id == "tx-1"
        client.events.batch_create(
            BatchEvent(
                events=[
                    Event(
                        transaction_id=f"tx-b{i}",
                        external_subscription_id="cus_a",
                        code="api_calls",
                        timestamp=1650893380 + i,
                        properties={},
                    )  # fmt: skip
                    for i in range(3)
                ]
            )
        )
        # and with the trailing slash, which urljoin keeps
        Client(api_key=keys["acme"], api_url=f"{c.url}/lago/").events.create(
            Event(
                transaction_id="tx-2",
                external_subscription_id="cus_a",
                code="storage",
                timestamp=1650893379,
                properties={"gb": "2.5"},
            )  # fmt: skip
        )
    finally:
        c.stop()
    rows = {r["event_id"]: r for r in landed(data_dir)}
    assert sorted(rows) == ["tx-1", "tx-2", "tx-b0", "tx-b1", "tx-b2"]
    assert (rows["tx-1"]["quantity"], rows["tx-1"]["dimensions"]) == ("10", {"region": "eu-west-1"})
    assert rows["tx-1"]["timestamp"] == "2022-04-25T13:29:39Z"  # date -u -d @1650893379
    assert rows["tx-2"]["quantity"] == "2.5" and rows["tx-2"]["dimensions"] == {}
    assert "quantity" not in rows["tx-b0"]  # a count meter counts events


def test_cloudevents_sdk_structured_events_map_data_to_dimensions(
    data_dir: Path, keys: dict[str, str]
) -> None:
    c = _collector_with_catalog(data_dir)
    try:
        event = CloudEvent(
            attributes={
                "type": "prompt-tokens",
                "source": "llm-gateway",
                "id": "ce-1",
                "subject": "cus_a",
                "time": datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
            },
            data={"tokens": 1200, "model": "gpt-4", "region": "eu", "prompt": "hello"},
        )
        message = to_structured_event(event)
        r = requests.post(
            f"{c.url}/openmeter/api/v1/events",
            data=message.body,
            headers={**message.headers, "Authorization": f"Bearer {keys['acme']}"},
            timeout=30,
        )
        assert r.status_code == 204, r.text
    finally:
        c.stop()
    (row,) = landed(data_dir)
    assert (row["event_id"], row["customer_id"], row["meter"]) == ("ce-1", "cus_a", "prompt_tokens")
    assert row["quantity"] == "1200"  # the meter's value_property, no data.value needed
    assert row["dimensions"] == {"model": "gpt-4", "region": "eu"}  # group_by + filter keys
    assert row["properties"]["prompt"] == "hello"
    assert row["timestamp"] == "2026-01-05T10:00:00Z"
