"""`usagebill collector --workers 2`: two processes share the port (SO_REUSEPORT) and each owns the
dedup keys of its shard. Exactly-once acknowledgement holds across workers: two copies of one event
sent to different workers give one `accepted` and one `duplicate`, and SIGKILL of a worker loses no
acknowledged event and lands none twice (docs/collector.md, "Workers")."""

from __future__ import annotations

import collections
import http.client
import json
import os
import signal
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from ingestion.collector.landing_log import event_key, shard_masks, shard_of
from tests.collector.conftest import CollectorProcess, event, landed


def _conn_to_worker(url: str, worker: int, tries: int = 200) -> http.client.HTTPConnection:
    """A keep-alive connection the kernel gave to ``worker`` (asked with GET /healthz)."""
    parts = urlsplit(url)
    for _ in range(tries):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        conn.request("GET", "/healthz")
        health = json.loads(conn.getresponse().read())
        if health["worker"] == worker:
            return conn
        conn.close()
    raise AssertionError(f"no connection reached worker {worker} in {tries} tries")


def _post(conn: http.client.HTTPConnection, key: str, batch: list[dict]) -> dict:
    status, body = _send(conn, key, batch)
    assert status == 200, body
    return body


def test_two_copies_sent_to_different_workers_give_one_accepted_one_duplicate(
    data_dir: Path, keys: dict[str, str]
) -> None:
    c = CollectorProcess(data_dir, "--workers", "2").start()
    try:
        a, b = _conn_to_worker(c.url, 0), _conn_to_worker(c.url, 1)
        ids = [f"two-{i}" for i in range(40)]
        owners = collections.Counter(shard_of(event_key("acme", f"evt-{i}"), 2) for i in ids)
        assert owners[0] > 0 and owners[1] > 0  # both the local and the forwarded path are used
        # one after the other: the first copy is accepted wherever it arrives, the second is not
        for n, i in enumerate(ids):
            first, second = (a, b) if n % 2 else (b, a)
            assert _post(first, keys["acme"], [event(i)])["results"][0]["status"] == "accepted"
            assert _post(second, keys["acme"], [event(i)])["results"][0]["status"] == "duplicate"
        # at the same time, 100 events in two batches to two workers: each id accepted exactly once
        batch = [event(f"same-time-{i}") for i in range(100)]
        answers: dict[str, dict] = {}

        def send(name: str, conn: http.client.HTTPConnection) -> None:
            answers[name] = _post(conn, keys["acme"], batch)

        threads = [threading.Thread(target=send, args=(n, conn)) for n, conn in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        statuses = [
            {answers[n]["results"][k]["status"] for n in ("a", "b")} for k in range(100)
        ]  # per event: the set of the two answers
        assert statuses == [{"accepted", "duplicate"}] * 100
        assert answers["a"]["accepted"] + answers["b"]["accepted"] == 100
        a.close()
        b.close()
    finally:
        c.stop()
    counts = collections.Counter(r["event_id"] for r in landed(data_dir))
    assert len(counts) == 40 + 100 and max(counts.values()) == 1  # each landed once, in its owner's segments


def _sender(url: str, key: str, who: int, acked: list[str], stop: threading.Event) -> None:
    """Post 50-event batches on fresh connections (spread over the workers); a batch that gets no
    200 is resent with the same ids until it is acknowledged, as the SDK does."""
    n = 0
    while not stop.is_set() and n < 2_000:
        batch = [event(f"s{who}-b{n}-{i}") for i in range(50)]
        n += 1
        for _ in range(100):
            try:
                r = requests.post(
                    f"{url}/v1/events",
                    json=batch,
                    headers={"Authorization": f"Bearer {key}", "Connection": "close"},
                    timeout=30,
                )
            except requests.RequestException:
                time.sleep(0.05)
                continue
            if r.status_code == 200:
                body = r.json()
                assert body["accepted"] + body["duplicate"] == 50
                acked.extend(e["event_id"] for e in batch)
                break
            assert r.status_code == 503, r.text  # the owner of some keys was down: retry
            time.sleep(0.05)


def test_sigkill_of_a_worker_loses_no_acknowledged_event(data_dir: Path, keys: dict[str, str]) -> None:
    c = CollectorProcess(data_dir, "--workers", "2", "--segment-bytes", "100000").start()
    try:
        victim = _conn_to_worker(c.url, 1)
        victim.request("GET", "/healthz")
        old_pid = json.loads(victim.getresponse().read())["pid"]
        victim.close()
        acked: list[str] = []
        stop = threading.Event()
        threads = [
            threading.Thread(target=_sender, args=(c.url, keys["acme"], w, acked, stop)) for w in range(3)
        ]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acked) < 3_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(old_pid, signal.SIGKILL)  # worker 1 dies mid-stream; the supervisor restarts it
        killed_at = len(acked)
        while len(acked) < killed_at + 3_000 and time.monotonic() < deadline + 60:
            time.sleep(0.01)
        stop.set()
        for t in threads:
            t.join(timeout=120)
        assert killed_at >= 3_000 and len(acked) >= killed_at + 3_000
        new = _conn_to_worker(c.url, 1)  # worker 1 is back, as a new process
        new.request("GET", "/healthz")
        assert json.loads(new.getresponse().read())["pid"] != old_pid
        # every acknowledged event is a duplicate now, wherever it is resent
        for start in range(0, len(acked), 500):
            resent = [event(eid.removeprefix("evt-")) for eid in acked[start : start + 500]]
            assert _post(new, keys["acme"], resent)["duplicate"] == len(resent)
        new.close()
    finally:
        c.stop()
    assert any("worker 1 (pid" in line and "restarting" in line for line in c.output)
    counts = collections.Counter(r["event_id"] for r in landed(data_dir))
    assert all(counts[eid] == 1 for eid in acked), "every acknowledged event is landed exactly once"
    assert max(counts.values()) == 1, "no event is landed twice"


def test_lago_batch_resent_to_another_worker_is_refused_whole(data_dir: Path, keys: dict[str, str]) -> None:
    """A Lago batch is atomic: resent through the other worker, whose shard owns only some of its
    ids, it is refused with 422 value_already_exist for each of them and lands nothing more."""

    def ev(tid: str) -> dict:
        return {"transaction_id": tid, "external_customer_id": "cus_a", "code": "api_calls",
                "timestamp": "1651240791", "properties": {}}  # fmt: skip

    c = CollectorProcess(data_dir, "--workers", "2").start()
    try:
        a, b = _conn_to_worker(c.url, 0), _conn_to_worker(c.url, 1)
        ids = [f"lago-{i}" for i in range(10)]
        assert {shard_of(event_key("acme", t), 2) for t in ids} == {0, 1}

        def lago(conn: http.client.HTTPConnection, events: list[dict]) -> tuple[int, dict]:
            conn.request(
                "POST",
                "/lago/api/v1/events/batch",
                body=json.dumps({"events": events}).encode(),
                headers={"Authorization": f"Bearer {keys['acme']}", "Content-Type": "application/json"},
            )
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())

        status, _ = lago(a, [ev(t) for t in ids])
        assert status == 200
        # resent with one new id through the other worker: refused whole, the new id not landed
        status, body = lago(b, [ev(t) for t in [*ids, "lago-new"]])
        assert status == 422
        assert body["error_details"] == {
            str(i): {"transaction_id": ["value_already_exist"]} for i in range(10)
        }
        a.close()
        b.close()
    finally:
        c.stop()
    assert sorted(r["event_id"] for r in landed(data_dir)) == sorted(ids)


def _send(conn: http.client.HTTPConnection, key: str, batch: list[dict]) -> tuple[int, dict]:
    conn.request(
        "POST",
        "/v1/events",
        body=json.dumps(batch).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def test_rate_limit_holds_across_workers(data_dir: Path, keys: dict[str, str]) -> None:
    """A bucket of 100 tokens refilled at 0.01/s, for the collector as a whole: 50 events to worker
    0 (100 -> 50 tokens), 50 to worker 1 (50 -> 0), then both workers answer 429 (0 + 0.01/s x a
    few seconds < 1 token). With a bucket per worker, each would still hold 50 tokens and admit the
    next batch. Another key (globex) has its own bucket."""
    c = CollectorProcess(
        data_dir, "--workers", "2", "--rate-limit-events", "0.01", "--rate-limit-burst", "100"
    ).start()
    try:
        a, b = _conn_to_worker(c.url, 0), _conn_to_worker(c.url, 1)
        assert _send(a, keys["acme"], [event(f"a{i}") for i in range(50)])[0] == 200
        assert _send(b, keys["acme"], [event(f"b{i}") for i in range(50)])[0] == 200
        for conn in (a, b):
            status, body = _send(conn, keys["acme"], [event("late")])
            assert status == 429, body
            assert "more than 0.01 events per second" in body["detail"]
        assert _send(b, keys["globex"], [event("g")])[0] == 200
        a.close()
        b.close()
    finally:
        c.stop()
    assert len([r for r in landed(data_dir) if r["tenant_id"] == "acme"]) == 100


def test_quarantine_budget_holds_across_workers(data_dir: Path, keys: dict[str, str]) -> None:
    """The daily quarantine budget of a key is booked in one table for both workers: rejected
    events sent one per request, alternating between the workers, keep budget // line size lines
    in quarantine in total (a budget per worker would keep twice that)."""
    budget = 2000
    c = CollectorProcess(data_dir, "--workers", "2", "--quarantine-bytes-per-key-day", str(budget)).start()
    try:
        a, b = _conn_to_worker(c.url, 0), _conn_to_worker(c.url, 1)
        notes = []
        for i in range(12):  # ids of one length: every quarantine line has the same size
            status, body = _send((a, b)[i % 2], keys["acme"], [event(f"bad-{i:02d}", quantity="-1")])
            assert status == 200 and body["rejected"] == 1
            notes.append("not kept in the collector's quarantine" in body["results"][0]["reason"])
        a.close()
        b.close()
    finally:
        c.stop()
    lines = [ln for p in (data_dir / "quarantine").glob("*.jsonl") for ln in p.read_bytes().splitlines()]
    sizes = {len(ln) + 1 for ln in lines}
    assert len(sizes) == 1  # one line size L, so the budget keeps exactly budget // L lines
    kept = budget // sizes.pop()
    assert 1 <= kept < 6  # the test tells a shared budget (kept) from one per worker (2 x kept)
    assert len(lines) == kept
    assert notes == [False] * kept + [True] * (12 - kept)


def test_shard_masks_agree_with_shard_of() -> None:
    """The masks used to split a batch between the workers pick exactly the keys `shard_of` gives
    each worker (the 8th-byte shortcut for worker counts dividing 256, the general rule otherwise)."""
    keys = [event_key("acme", f"evt-{i}") for i in range(2_000)]
    for n in (1, 2, 3, 4, 5, 8, 300):
        masks = shard_masks(keys, n)
        expected = [shard_of(k, n) for k in keys]
        assert set(masks) == set(expected)
        for shard, mask in masks.items():
            assert [bool(m) for m in mask] == [e == shard for e in expected]
