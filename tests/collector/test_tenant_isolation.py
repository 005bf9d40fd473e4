"""Tenant isolation at the collector's door, against a real collector process on 127.0.0.1.

The catalog (customers.yaml, read by the collector with --catalog) gives cus_a to tenant acme,
cus_g to tenant globex and cus_shared to both (two customers with the same id). A key writes only
its tenant's customers: an event of globex's key for cus_a is rejected with rule
customer_of_another_tenant and quarantined; a request made only of such events is answered 403.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from ingestion.collector.keys import create_key, list_keys
from ingestion.events import validate_event
from tests.collector.conftest import ROOT, CollectorProcess, event, landed, post, quarantined

CUSTOMERS = """\
customers:
  - {id: cus_a, tenant_id: acme, currency: USD}
  - {id: cus_g, tenant_id: globex, currency: USD}
  - {id: cus_shared, tenant_id: acme, currency: USD}
  - {id: cus_shared, tenant_id: globex, currency: USD}
"""
RULE = "customer_of_another_tenant"


@pytest.fixture
def catalog(data_dir: Path) -> Path:
    folder = data_dir.parent / "catalog"
    folder.mkdir()
    (folder / "customers.yaml").write_text(CUSTOMERS)
    return folder


@pytest.fixture
def tenant_collector(data_dir: Path, keys: dict[str, str], catalog: Path):
    c = CollectorProcess(data_dir, "--catalog", str(catalog)).start()
    yield c
    c.stop()


def test_key_of_another_tenant_cannot_write_a_customer(
    tenant_collector: CollectorProcess, keys: dict[str, str]
) -> None:
    url = tenant_collector.url
    # a request made only of events for acme's customer, with globex's key: 403, nothing landed
    r = post(f"{url}/v1/events", keys["globex"], [event(1, customer_id="cus_a")])
    assert r.status_code == 403
    answer = r.json()["results"][0]
    assert (answer["status"], answer["field"], answer["rule"]) == ("rejected", "customer_id", RULE)
    assert "globex" in answer["reason"] and "acme" not in answer["reason"]  # never name the owner

    # a mixed batch: the foreign event is rejected on its own, the others are accepted
    batch = [
        event(2, customer_id="cus_a"),  # acme's: rejected
        event(3, customer_id="cus_g"),  # globex's own
        event(4, customer_id="cus_shared"),  # globex's own cus_shared (acme has another one)
        event(5, customer_id="cus_unknown"),  # not in the catalog: accepted, rating reports it unbilled
    ]
    r = post(f"{url}/v1/events", keys["globex"], batch)
    assert r.status_code == 200
    body = r.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (3, 0, 1)
    assert [x["status"] for x in body["results"]] == ["rejected", "accepted", "accepted", "accepted"]

    # the compatible APIs refuse the same way
    lago = {
        "event": {
            "transaction_id": "l1",
            "external_subscription_id": "cus_a",
            "code": "gpu_ms",
            "timestamp": 1650893379,
            "properties": {"value": "1"},
        }
    }
    r = post(f"{url}/lago/api/v1/events", keys["globex"], lago)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    ce = {
        "specversion": "1.0",
        "type": "gpu_ms",
        "id": "c1",
        "time": "2023-01-01T00:00:00Z",
        "source": "svc",
        "subject": "cus_a",
        "data": {"value": "1"},
    }
    r = post(f"{url}/openmeter/api/v1/events", keys["globex"], ce, "application/cloudevents+json")
    assert r.status_code == 403
    # acme's own key writes cus_a
    assert post(f"{url}/v1/events", keys["acme"], event(1, customer_id="cus_a")).json()["accepted"] == 1

    tenant_collector.stop()
    rows = sorted(
        (r["tenant_id"], r["customer_id"], r["event_id"]) for r in landed(tenant_collector.data_dir)
    )
    assert rows == [
        ("acme", "cus_a", "evt-1"),
        ("globex", "cus_g", "evt-3"),
        ("globex", "cus_shared", "evt-4"),
        ("globex", "cus_unknown", "evt-5"),
    ]
    refused = sorted(
        (q["tenant_id"], q["event_id"]) for q in quarantined(tenant_collector.data_dir) if q["rule"] == RULE
    )
    # evt-1 and evt-2 (native), l1 (Lago), c1 (CloudEvents): all quarantined under globex with the reason
    assert refused == [("globex", "c1"), ("globex", "evt-1"), ("globex", "evt-2"), ("globex", "l1")]


def test_replay_of_event_ids_under_another_key_lands_nothing(
    tenant_collector: CollectorProcess, keys: dict[str, str]
) -> None:
    url = tenant_collector.url
    original = [event(i, customer_id="cus_a", quantity=str(10 * i)) for i in (1, 2, 3)]
    assert post(f"{url}/v1/events", keys["acme"], original).json()["accepted"] == 3
    # globex replays acme's events byte for byte: every one is refused, none becomes globex's usage
    r = post(f"{url}/v1/events", keys["globex"], original)
    assert r.status_code == 403
    assert r.json()["rejected"] == 3 and r.json()["accepted"] == 0
    # acme replaying its own events: duplicates (dedup is by (tenant_id, event_id))
    assert post(f"{url}/v1/events", keys["acme"], original).json()["duplicate"] == 3
    tenant_collector.stop()
    rows = landed(tenant_collector.data_dir)
    # only acme's three events: 10 + 20 + 30 = 60 units of cus_a, billed once
    assert sorted((r["tenant_id"], r["event_id"], r["quantity"]) for r in rows) == [
        ("acme", "evt-1", "10"),
        ("acme", "evt-2", "20"),
        ("acme", "evt-3", "30"),
    ]


def test_customer_map_follows_the_catalog(
    tenant_collector: CollectorProcess, keys: dict[str, str], catalog: Path
) -> None:
    url = tenant_collector.url
    assert post(f"{url}/v1/events", keys["globex"], event(1, customer_id="cus_new")).status_code == 200
    # cus_new becomes acme's customer: globex's key is refused for it once the collector re-reads
    # customers.yaml (every 5 s by default); poll, bounded
    (catalog / "customers.yaml").write_text(CUSTOMERS + "  - {id: cus_new, tenant_id: acme, currency: USD}\n")
    deadline = time.monotonic() + 20
    status = 200
    n = 2
    while time.monotonic() < deadline:
        status = post(f"{url}/v1/events", keys["globex"], event(n, customer_id="cus_new")).status_code
        if status == 403:
            break
        n += 1
        time.sleep(0.5)
    assert status == 403


def _keys_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "keys", *args, "--data-dir", str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_keys_create_applies_the_loader_tenant_rule(data_dir: Path) -> None:
    done = _keys_cli(data_dir, "create", "--tenant", "acme corp")
    assert done.returncode == 2 and done.stdout == ""
    assert "tenant 'acme corp' is not a valid tenant name" in done.stderr
    assert list_keys(data_dir / "keys") == []
    # the same rule as the event contract (ingestion/events.py) for every name
    now = datetime(2023, 1, 2, tzinfo=UTC)
    for name in ["acme", "Acme-1.eu_west", "a" * 64, "a" * 65, "acme corp", "-acme", ".x", "é", "a/b", ""]:
        try:
            create_key(data_dir / "keys", name)
            created = True
        except ValueError:
            created = False
        accepted = not hasattr(validate_event(event(1, tenant_id=name), tenant_id=None, now=now), "rule")
        assert created == accepted, name


def test_revoked_key_is_refused_within_seconds(collector: CollectorProcess, keys: dict[str, str]) -> None:
    url = f"{collector.url}/v1/events"
    key = keys["acme"]
    key_id = key.split("_", 2)[1]
    with requests.Session() as session:  # one keep-alive connection: the key is cached by the collector
        headers = {"Authorization": f"Bearer {key}"}
        assert session.post(url, json=event(1), headers=headers, timeout=30).status_code == 200
        done = _keys_cli(collector.data_dir, "revoke", key_id)
        assert done.returncode == 0, done.stderr
        assert key_id not in {r.key_id for r in list_keys(collector.data_dir / "keys")}
        revoked_at = time.monotonic()
        status = 200
        n = 2
        while status == 200 and time.monotonic() - revoked_at < 10:
            status = session.post(url, json=event(n), headers=headers, timeout=30).status_code
            n += 1
            time.sleep(0.1)
        waited = time.monotonic() - revoked_at
    assert status == 401
    # the store re-checks the keys folder every second: refused within about a second (3 s margin)
    assert waited < 3, waited
    # the other tenant's key still works; an unknown key id cannot be revoked
    assert post(url, keys["globex"], event(1)).status_code == 200
    again = _keys_cli(collector.data_dir, "revoke", key_id)
    assert again.returncode == 2 and "no active key" in again.stderr


def test_customer_map_is_bounded_and_keeps_the_last_good_map(tmp_path: Path) -> None:
    from ingestion.collector.customers import CustomerTenants

    (tmp_path / "customers.yaml").write_text(CUSTOMERS)
    owners = CustomerTenants(tmp_path, max_bytes=4096)
    assert owners.owners == {
        "cus_a": frozenset({"acme"}),
        "cus_g": frozenset({"globex"}),
        "cus_shared": frozenset({"acme", "globex"}),
    }
    now = datetime(2023, 1, 2, tzinfo=UTC)
    assert owners.check(validate_event(event(1, customer_id="cus_a"), tenant_id="acme", now=now)) is None
    foreign = owners.check(validate_event(event(1, customer_id="cus_a"), tenant_id="globex", now=now))
    assert foreign is not None and foreign.rule == RULE

    # an invalid file (bad tenant name) keeps the previous map and says why
    (tmp_path / "customers.yaml").write_text(
        CUSTOMERS + "  - {id: cus_x, tenant_id: acme corp, currency: USD}\n"
    )
    assert owners.refresh() is False
    assert "invalid" in (owners.error or "") and "acme corp" in (owners.error or "")
    assert owners.owners["cus_a"] == frozenset({"acme"})
    # a file above the size bound is not parsed at all
    (tmp_path / "customers.yaml").write_text(CUSTOMERS + "#" * 5000 + "\n")
    assert owners.refresh() is False
    assert "above the limit of 4096" in (owners.error or "")
    assert owners.owners["cus_a"] == frozenset({"acme"})
