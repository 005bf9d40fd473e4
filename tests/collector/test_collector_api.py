"""The native ingestion API against a real collector process: answers, limits, auth, tenants."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.collector.conftest import CollectorProcess, event, landed, post, quarantined


def test_per_event_answers_and_landed_lines(collector: CollectorProcess, keys: dict[str, str]) -> None:
    batch = [
        event(1),
        event(1),  # same id in the same batch -> duplicate
        event(2, quantity=None, properties={"ms": 12}),
        event(3, quantity="-5"),  # negative -> rejected by the contract
        event(4, tenant_id="globex"),  # another tenant's event with acme's key -> rejected
        event(5, tenant_id="acme", dimensions={"gpu_type": "a100"}),
    ]
    batch[2].pop("quantity")
    r = post(f"{collector.url}/v1/events", keys["acme"], batch)
    assert r.status_code == 200
    body = r.json()
    # 6 events: evt-1, evt-2, evt-5 accepted; second evt-1 duplicate; evt-3, evt-4 rejected
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (3, 1, 2)
    assert [x["status"] for x in body["results"]] == [
        "accepted",
        "duplicate",
        "accepted",
        "rejected",
        "rejected",
        "accepted",
    ]
    neg, cross = body["results"][3], body["results"][4]
    assert (neg["field"], neg["rule"]) == ("quantity", "non_negative")
    assert (cross["field"], cross["rule"]) == ("tenant_id", "tenant_mismatch")
    assert "globex" in cross["reason"] and "acme" in cross["reason"]

    # a second request: evt-1 is now a duplicate across requests
    r2 = post(f"{collector.url}/v1/events", keys["acme"], event(1))
    assert r2.json()["results"] == [{"index": 0, "event_id": "evt-1", "status": "duplicate"}]

    collector.stop()  # clean shutdown seals the open segment
    rows = landed(collector.data_dir)
    assert sorted(r["event_id"] for r in rows) == ["evt-1", "evt-2", "evt-5"]
    assert all(r["tenant_id"] == "acme" and r["arrived_at"].endswith("Z") for r in rows)
    by_id = {r["event_id"]: r for r in rows}
    assert by_id["evt-1"]["quantity"] == "2457"
    assert "quantity" not in by_id["evt-2"] and by_id["evt-2"]["properties"] == {"ms": 12}
    assert by_id["evt-5"]["dimensions"] == {"gpu_type": "a100"}
    assert not list((collector.data_dir / "landing" / "usage" / "collector").glob("*.open"))

    q = quarantined(collector.data_dir)
    assert sorted((x["event_id"], x["rule"]) for x in q) == [
        ("evt-3", "non_negative"),
        ("evt-4", "tenant_mismatch"),
    ]
    assert json.loads(next(x for x in q if x["event_id"] == "evt-3")["raw_record"])["quantity"] == "-5"


def test_ndjson_with_a_broken_line_is_quarantined(collector: CollectorProcess, keys: dict[str, str]) -> None:
    body = b"\n".join(
        [json.dumps(event("a")).encode(), b'{"event_id": "b", ', json.dumps(event("c")).encode()]
    )
    r = post(f"{collector.url}/v1/events", keys["acme"], body, "application/x-ndjson")
    assert r.status_code == 200
    res = r.json()
    assert (res["accepted"], res["rejected"]) == (2, 1)
    assert res["results"][1]["rule"] == "json"
    q = quarantined(collector.data_dir)
    assert q[0]["raw_record"] == '{"event_id": "b", ' and q[0]["line_number"] == 2


def test_exact_decimal_quantity_is_kept_from_json_number(
    collector: CollectorProcess, keys: dict[str, str]
) -> None:
    # 26 significant digits: a binary float keeps ~17, so this lands exactly only if the JSON number
    # is parsed as a decimal from its text
    body = (
        b'{"event_id":"d1","customer_id":"c","meter":"gpu_ms","timestamp":"2023-01-01T00:00:00Z",'
        b'"quantity":12345678901234.123456789012}'
    )
    r = post(f"{collector.url}/v1/events", keys["acme"], body)
    assert r.json()["accepted"] == 1
    collector.stop()
    assert landed(collector.data_dir)[0]["quantity"] == "12345678901234.123456789012"


def test_unauthorized_without_or_with_wrong_key(collector: CollectorProcess, keys: dict[str, str]) -> None:
    assert post(f"{collector.url}/v1/events", None, event(1)).status_code == 401
    assert post(f"{collector.url}/v1/events", "ubk_0000_nope", event(1)).status_code == 401
    tampered = keys["acme"][:-2] + ("AA" if not keys["acme"].endswith("AA") else "BB")
    assert post(f"{collector.url}/v1/events", tampered, event(1)).status_code == 401
    collector.stop()
    assert landed(collector.data_dir) == []


def test_each_key_writes_only_its_tenant(collector: CollectorProcess, keys: dict[str, str]) -> None:
    # the same event id under two tenants is two different events
    assert post(f"{collector.url}/v1/events", keys["acme"], event(7)).json()["accepted"] == 1
    assert post(f"{collector.url}/v1/events", keys["globex"], event(7)).json()["accepted"] == 1
    collector.stop()
    assert sorted((r["tenant_id"], r["event_id"]) for r in landed(collector.data_dir)) == [
        ("acme", "evt-7"),
        ("globex", "evt-7"),
    ]


def test_keys_are_stored_hashed(data_dir: Path, keys: dict[str, str]) -> None:
    key = keys["acme"]
    _, key_id, secret = key.split("_", 2)
    stored = (data_dir / "keys" / f"{key_id}.json").read_text()
    assert secret not in stored and key not in stored
    record = json.loads(stored)
    assert record["tenant_id"] == "acme"
    assert hashlib.sha256(bytes.fromhex(record["salt"]) + secret.encode()).hexdigest() == record["sha256"]


def test_batch_limits_answer_413(data_dir: Path, keys: dict[str, str]) -> None:
    c = CollectorProcess(data_dir, "--max-batch-events", "3", "--max-body-bytes", "2000").start()
    try:
        assert post(f"{c.url}/v1/events", keys["acme"], [event(i) for i in range(3)]).status_code == 200
        r = post(f"{c.url}/v1/events", keys["acme"], [event(i) for i in range(10, 14)])
        assert r.status_code == 413 and "limit is 3" in r.json()["detail"]
        big = [event("big", properties={"pad": "x" * 3000})]
        assert post(f"{c.url}/v1/events", keys["acme"], big).status_code == 413
        nd = b"\n".join(json.dumps(event(i)).encode() for i in range(20, 24))
        assert post(f"{c.url}/v1/events", keys["acme"], nd, "application/x-ndjson").status_code == 413
    finally:
        c.stop()
    assert sorted(r["event_id"] for r in landed(data_dir)) == ["evt-0", "evt-1", "evt-2"]


def test_invalid_json_body_is_400(collector: CollectorProcess, keys: dict[str, str]) -> None:
    r = post(f"{collector.url}/v1/events", keys["acme"], b"{not json")
    assert r.status_code == 400 and "not JSON" in r.json()["detail"]


def test_healthz_and_metrics(collector: CollectorProcess, keys: dict[str, str]) -> None:
    assert (
        collector.url
        and post(f"{collector.url}/v1/events", keys["acme"], [event(1), event(1), event(2, meter="Bad")]).ok
    )
    import requests

    assert requests.get(f"{collector.url}/healthz", timeout=10).json()["status"] == "ok"
    text = requests.get(f"{collector.url}/metrics", timeout=10).text
    assert "usagebill_collector_accepted_total 1\n" in text
    assert "usagebill_collector_duplicate_total 1\n" in text
    assert "usagebill_collector_rejected_total 1\n" in text
    assert 'usagebill_collector_landing_lag_seconds{segment="unsealed"}' in text
