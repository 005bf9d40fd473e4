"""Attacks on the collector (issue 11): no request stalls or stops it, per-event problems stay
per-event, slow or idle sockets cannot exhaust it, and each key is bounded. Every loop is bounded;
everything runs on 127.0.0.1 against a real collector process."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import requests

from tests.collector.conftest import CollectorProcess, event, landed, post, quarantined


def _metric(url: str, name: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_huge_exponents_are_refused_without_stalling(
    collector: CollectorProcess, keys: dict[str, str]
) -> None:
    """100-byte events with quantity 1e-1000000000 / 1e400000 / 0e1000000000 and a Lago timestamp
    1e400000 used to block the collector for 20 s or more (a billion-character plain text). The
    10 s client timeout fails the test if any of them still does."""
    body = (
        b'[{"event_id":"q1","customer_id":"cus_a","meter":"gpu_ms","timestamp":"2023-01-01T00:00:00Z",'
        b'"quantity":1e-1000000000},'
        b'{"event_id":"q2","customer_id":"cus_a","meter":"gpu_ms","timestamp":"2023-01-01T00:00:00Z",'
        b'"quantity":1e400000},'
        b'{"event_id":"q3","customer_id":"cus_a","meter":"gpu_ms","timestamp":"2023-01-01T00:00:00Z",'
        b'"quantity":0e1000000000},'
        b'{"event_id":"q4","customer_id":"cus_a","meter":"gpu_ms","timestamp":"2023-01-01T00:00:00Z",'
        b'"quantity":"2457"}]'
    )
    r = post(f"{collector.url}/v1/events", keys["acme"], body)
    assert r.status_code == 200, r.text
    res = {a["event_id"]: a for a in r.json()["results"]}
    assert (res["q1"]["status"], res["q1"]["rule"]) == ("rejected", "max_12_decimal_places")
    assert (res["q2"]["status"], res["q2"]["rule"]) == ("rejected", "max_18_integer_digits")
    assert res["q3"]["status"] == "accepted"  # zero, whatever its exponent
    assert res["q4"]["status"] == "accepted"
    lago = b'{"event":{"transaction_id":"t1","external_customer_id":"cus_a","code":"gpu_ms","timestamp":1e400000}}'
    r = post(f"{collector.url}/lago/api/v1/events", keys["acme"], lago)
    assert r.status_code == 422
    assert r.json()["error_details"]["timestamp"] == ["unix_seconds"]
    assert requests.get(f"{collector.url}/healthz", timeout=10).status_code == 200
    collector.stop()
    rows = {r["event_id"]: r for r in landed(collector.data_dir)}
    assert rows["q3"]["quantity"] == "0" and rows["q4"]["quantity"] == "2457"


def test_per_event_problems_never_fail_the_batch(collector: CollectorProcess, keys: dict[str, str]) -> None:
    """UTC overflow, a 5,000-deep element, lone surrogates: each is that event's rejection (it used to
    be a 500 or a 400 for the whole batch); the valid events around them are accepted."""
    deep = b"[" * 5000 + b"]" * 5000
    body = (
        b"["
        + b",".join(
            [
                b'{"event_id":"ok1","customer_id":"cus_a","meter":"gpu_ms","timestamp":"2023-01-01T00:00:00Z","quantity":"1"}',
                b'{"event_id":"utc","customer_id":"cus_a","meter":"gpu_ms","timestamp":"9999-12-31T23:00:00-05:00","quantity":"1"}',
                deep,
                b'{"event_id":"sur\\ud800","customer_id":"cus_a","meter":"gpu_ms","timestamp":"2023-01-01T00:00:00Z"}',
                b'{"event_id":"sur2","customer_id":"cus_a","meter":"gpu_ms","timestamp":"2023-01-01T00:00:00Z",'
                b'"properties":{"k":"\\udc00x"}}',
                b'{"event_id":"ok2","customer_id":"cus_a","meter":"gpu_ms","timestamp":"2023-01-01T00:00:00Z","quantity":"2"}',
            ]
        )
        + b"]"
    )
    r = post(f"{collector.url}/v1/events", keys["acme"], body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["accepted"], out["rejected"]) == (2, 4)
    by_index = {a["index"]: a for a in out["results"]}
    assert [by_index[i]["status"] for i in range(6)] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
    ]
    assert (by_index[1]["field"], by_index[1]["rule"]) == ("timestamp", "utc_range")
    assert by_index[2]["rule"] == "json" and "nested too deeply" in by_index[2]["reason"]
    assert by_index[3]["rule"] == "json"  # a lone surrogate is not JSON text msgspec decodes
    assert by_index[4]["rule"] == "json"
    # the same deep document as an NDJSON line
    nd = (
        b'{"event_id":"ok3","customer_id":"cus_a","meter":"gpu_ms","timestamp":"2023-01-01T00:00:00Z"}\n'
        + deep
    )
    r = post(f"{collector.url}/v1/events", keys["acme"], nd, "application/x-ndjson")
    assert r.status_code == 200 and (r.json()["accepted"], r.json()["rejected"]) == (1, 1)
    collector.stop()
    assert sorted(x["event_id"] for x in landed(collector.data_dir)) == ["ok1", "ok2", "ok3"]
    assert len(quarantined(collector.data_dir)) == 5


def test_idle_sockets_past_the_fd_limit_do_not_break_the_log(data_dir: Path, keys: dict[str, str]) -> None:
    """1,100 idle unauthenticated sockets under `ulimit -n 1024` used to make the landing log fail
    for good (every POST 503 until restart). Now the connection cap keeps descriptors free, the
    header timeout closes the idle sockets, and a POST during and after the flood is never a
    permanent failure."""
    c = CollectorProcess(data_dir, "--header-timeout", "1", nofile=1024).start()
    host, port = c.url.removeprefix("http://").split(":")
    socks: list[socket.socket] = []
    try:
        for _ in range(1100):
            s = socket.create_connection((host, int(port)), timeout=5)
            socks.append(s)
        # during the flood: answered, refused or reset, but never a lasting failure
        with contextlib.suppress(requests.RequestException):
            requests.post(
                f"{c.url}/v1/events",
                json=event("during"),
                headers={"Authorization": f"Bearer {keys['acme']}"},
                timeout=10,
            )
    finally:
        for s in socks:
            s.close()
    status = None
    for _ in range(50):  # bounded: up to ~10 s for the collector to drop the closed sockets
        try:
            status = post(f"{c.url}/v1/events", keys["acme"], [event("after")]).status_code
        except requests.RequestException:
            status = None
        if status == 200:
            break
        time.sleep(0.2)
    try:
        assert status == 200
        assert requests.get(f"{c.url}/healthz", timeout=10).status_code == 200
        assert _metric(c.url, "usagebill_collector_up") == 1
    finally:
        c.stop()
    assert "evt-after" in {r["event_id"] for r in landed(data_dir)}


def test_slow_request_head_and_body_are_cut(data_dir: Path, keys: dict[str, str]) -> None:
    c = CollectorProcess(data_dir, "--header-timeout", "1", "--body-timeout", "1").start()
    host, port = c.url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")  # the head never ends
            assert s.recv(1024) == b""  # closed by the collector (keep-alive default was an hour)
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(
                b"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + keys["acme"].encode()
                + b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[{"
            )
            answer = s.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
        assert _metric(c.url, "usagebill_collector_header_timeouts_total") == 1
    finally:
        c.stop()


def test_rate_limit_per_key_answers_429_with_retry_after(data_dir: Path, keys: dict[str, str]) -> None:
    # 1 event/s, bucket of 10: the first 10-event batch empties acme's bucket; the next request
    # waits (1 - 0) / 1 s -> Retry-After 1 s (a rate of 1/s leaves a loaded machine a whole second
    # between the requests before a token comes back). globex has its own bucket.
    c = CollectorProcess(data_dir, "--rate-limit-events", "1", "--rate-limit-burst", "10").start()
    try:
        r = post(f"{c.url}/v1/events", keys["acme"], [event(i) for i in range(10)])
        assert r.status_code == 200 and r.json()["accepted"] == 10
        r = post(f"{c.url}/v1/events", keys["acme"], [event(99)])
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
        assert "retry after 1 s" in r.json()["detail"]
        r = post(f"{c.url}/v1/events", keys["globex"], [event(99)])
        assert r.status_code == 200
        r = post(f"{c.url}/lago/api/v1/events", keys["acme"], {"event": {}})
        assert r.status_code == 429 and r.json()["status"] == 429
        assert _metric(c.url, "usagebill_collector_rate_limited_total") == 2
    finally:
        c.stop()


def test_quarantine_growth_is_bounded_per_key(data_dir: Path, keys: dict[str, str]) -> None:
    c = CollectorProcess(data_dir, "--quarantine-bytes-per-key-day", "3000").start()
    try:
        bad = [event(i, quantity="-1") for i in range(40)]
        r = post(f"{c.url}/v1/events", keys["acme"], bad)
        assert r.status_code == 200 and r.json()["rejected"] == 40
        answers = r.json()["results"]
        assert all(a["rule"] == "non_negative" for a in answers)
        kept_note = [a for a in answers if "not kept in the collector's quarantine" in a["reason"]]
        r = post(f"{c.url}/v1/events", keys["globex"], [event("g", quantity="-1")])
        assert r.status_code == 200
        refused = _metric(c.url, "usagebill_collector_quarantine_refused_total")
    finally:
        c.stop()
    rows = quarantined(data_dir)
    lines = [ln for p in (data_dir / "quarantine").glob("*.jsonl") for ln in p.read_bytes().splitlines()]
    assert sum(len(ln) + 1 for ln in lines if b'"tenant_id":"acme"' in ln) <= 3000
    acme_rows = [x for x in rows if x["tenant_id"] == "acme"]
    assert len(acme_rows) + len(kept_note) == 40 and len(kept_note) == refused > 0
    assert [x["tenant_id"] for x in rows].count("globex") == 1  # another key is not affected


def test_unknown_meter_is_visible_in_answer_and_counters(data_dir: Path, keys: dict[str, str]) -> None:
    catalog = data_dir / "catalog"
    catalog.mkdir()
    (catalog / "meters.yaml").write_text("meters:\n  - {id: gpu_ms, aggregation: sum}\n")
    c = CollectorProcess(data_dir).start()
    try:
        r = post(f"{c.url}/v1/events", keys["acme"], [event(1), event(2, meter="gpu_sec")])
        assert r.status_code == 200
        a, b = r.json()["results"]
        assert a["status"] == "accepted" and "warning" not in a
        assert b["status"] == "accepted" and b["warning"].startswith("unknown_meter: meter 'gpu_sec'")
        assert _metric(c.url, "usagebill_collector_unknown_meter_total") == 1
    finally:
        c.stop()


def test_large_bodies_processed_off_the_loop_still_deduplicate(
    collector: CollectorProcess, keys: dict[str, str]
) -> None:
    """Bodies of 64 KiB or more are validated in a worker thread. Four concurrent copies of one
    600-event batch (~100 KiB each): every event is accepted exactly once (600) and answered
    duplicate in the other three requests (1,800), whatever the interleaving."""
    from concurrent.futures import ThreadPoolExecutor

    batch = [event(i, properties={"pad": "x" * 64}) for i in range(600)]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post(f"{collector.url}/v1/events", keys["acme"], batch), range(4)))
    assert all(r.status_code == 200 for r in answers)
    assert sum(r.json()["accepted"] for r in answers) == 600
    assert sum(r.json()["duplicate"] for r in answers) == 1800
    collector.stop()
    assert len(landed(collector.data_dir)) == 600
