"""OpenMeter (CloudEvents) and Lago compatible endpoints, in those APIs' documented shapes."""

from __future__ import annotations

from pathlib import Path

from tests.collector.conftest import CollectorProcess, landed, post, quarantined

# CloudEvent from OpenMeter's docs (usage events page), with a value property
CE = {
    "specversion": "1.0",
    "type": "request",
    "id": "00001",
    "time": "2023-01-01T00:00:00.001Z",
    "source": "service-0",
    "subject": "customer-1",
    "data": {"duration_ms": "12", "method": "GET", "route": "/hello", "value": "12"},
}


def test_cloudevent_single_and_batch(collector: CollectorProcess, keys: dict[str, str]) -> None:
    url = f"{collector.url}/openmeter/api/v1/events"
    r = post(url, keys["acme"], CE, "application/cloudevents+json")
    assert r.status_code == 204 and r.content == b""
    batch = [
        {**CE, "id": "00002", "type": "api-calls", "data": {"quantity": 3}},
        {**CE, "id": "00001"},  # duplicate of the first: silently deduplicated (204)
        {**CE, "id": "00003", "time": "2023-01-01 00:00"},  # no offset: quarantined, not ingested
    ]
    r = post(url, keys["acme"], batch, "application/cloudevents-batch+json")
    assert r.status_code == 204
    collector.stop()
    rows = {r["event_id"]: r for r in landed(collector.data_dir)}
    assert sorted(rows) == ["00001", "00002"]
    first = rows["00001"]
    assert (first["customer_id"], first["meter"], first["quantity"], first["source"]) == (
        "customer-1",
        "request",
        "12",
        "service-0",
    )
    assert first["timestamp"] == "2023-01-01T00:00:00.001000Z"
    assert first["properties"]["route"] == "/hello"
    assert (rows["00002"]["meter"], rows["00002"]["quantity"]) == ("api_calls", "3")
    q = quarantined(collector.data_dir)
    assert [(x["event_id"], x["field"], x["rule"]) for x in q] == [
        ("00003", "timestamp", "rfc3339_with_offset")
    ]


def test_cloudevent_missing_subject_is_400_problem(collector: CollectorProcess, keys: dict[str, str]) -> None:
    bad = {k: v for k, v in CE.items() if k != "subject"}
    r = post(
        f"{collector.url}/openmeter/api/v1/events",
        keys["acme"],
        [CE, bad],
        "application/cloudevents-batch+json",
    )
    assert r.status_code == 400
    assert r.headers["Content-Type"].startswith("application/problem+json")
    problem = r.json()
    assert (
        problem["status"] == 400
        and problem["errors"][0]["index"] == 1
        and "subject" in problem["errors"][0]["detail"]
    )
    r = post(f"{collector.url}/openmeter/api/v1/events", None, CE, "application/cloudevents+json")
    assert r.status_code == 401
    collector.stop()
    assert landed(collector.data_dir) == []  # the valid one in a refused request is not ingested
    assert len(quarantined(collector.data_dir)) == 1


def test_value_map_names_the_quantity_property(data_dir: Path, keys: dict[str, str], tmp_path: Path) -> None:
    vm = tmp_path / "values.yaml"
    vm.write_text("prompt: $.tokens\nstorage: gb\n")
    c = CollectorProcess(data_dir, "--value-map", str(vm)).start()
    try:
        ce = {**CE, "id": "p1", "type": "prompt", "data": {"tokens": 123456, "model": "gpt4", "value": "9"}}
        assert (
            post(
                f"{c.url}/openmeter/api/v1/events", keys["acme"], ce, "application/cloudevents+json"
            ).status_code
            == 204
        )
        lago = {
            "event": {
                "transaction_id": "t1",
                "external_customer_id": "cus_a",
                "code": "storage",
                "timestamp": 1650893379,
                "properties": {"gb": 10},
            }
        }
        assert post(f"{c.url}/lago/api/v1/events", keys["acme"], lago).status_code == 200
    finally:
        c.stop()
    rows = {r["event_id"]: r for r in landed(data_dir)}
    assert rows["p1"]["quantity"] == "123456"  # the meter's value property wins over data.value
    assert rows["t1"]["quantity"] == "10"


def test_lago_single_event_and_duplicate(collector: CollectorProcess, keys: dict[str, str]) -> None:
    body = {
        "event": {
            "transaction_id": "transaction_1234567890",
            "external_subscription_id": "sub_1234567890",
            "code": "storage",
            "timestamp": 1650893379,
            "properties": {"gb": 10},
        }
    }
    r = post(f"{collector.url}/lago/api/v1/events", keys["acme"], body)
    assert r.status_code == 200
    ev = r.json()["event"]
    # 1650893379 = 2022-04-25T13:29:39Z (date -u -d @1650893379)
    assert ev["transaction_id"] == "transaction_1234567890" and ev["timestamp"] == "2022-04-25T13:29:39Z"
    assert ev["code"] == "storage" and ev["external_subscription_id"] == "sub_1234567890"
    assert ev["properties"] == {"gb": 10} and ev["lago_id"]
    r = post(f"{collector.url}/lago/api/v1/events", keys["acme"], body)
    assert r.status_code == 422
    assert r.json() == {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": {"transaction_id": ["value_already_exist"]},
    }
    assert post(f"{collector.url}/lago/api/v1/events", None, body).status_code == 401
    collector.stop()
    rows = landed(collector.data_dir)
    assert len(rows) == 1 and rows[0]["customer_id"] == "sub_1234567890" and rows[0]["meter"] == "storage"


def test_lago_batch_is_atomic(collector: CollectorProcess, keys: dict[str, str]) -> None:
    def ev(tid: str, **over: object) -> dict:
        return {
            "transaction_id": tid,
            "external_customer_id": "cus_a",
            "code": "api_calls",
            "timestamp": "1651240791.123",
            "properties": {},
            **over,
        }

    url = f"{collector.url}/lago/api/v1/events/batch"
    r = post(url, keys["acme"], {"events": [ev("b1"), ev("b2", timestamp="yesterday")]})
    assert r.status_code == 422
    assert r.json()["error_details"] == {
        "1": {"timestamp": ["unix_seconds"], "reason": [r.json()["error_details"]["1"]["reason"][0]]}
    }
    r = post(url, keys["acme"], {"events": [ev("b1"), ev("b2")]})
    assert r.status_code == 200
    events = r.json()["events"]
    # 1651240791.123 = 2022-04-29T13:59:51.123Z
    assert [e["transaction_id"] for e in events] == ["b1", "b2"]
    assert events[0]["timestamp"] == "2022-04-29T13:59:51.123000Z"
    collector.stop()
    assert sorted(r["event_id"] for r in landed(collector.data_dir)) == ["b1", "b2"]
    assert [x["rule"] for x in quarantined(collector.data_dir)] == ["unix_seconds"]
