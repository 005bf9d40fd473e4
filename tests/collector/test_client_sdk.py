"""The client SDK against a real collector: spool survives an outage and a process restart."""

from __future__ import annotations

import collections
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ingestion.client import DeliveryError, UsageClient
from tests.collector.conftest import ROOT, CollectorProcess, landed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_float_quantity_is_refused_and_decimal_kept(tmp_path: Path) -> None:
    client = UsageClient("http://127.0.0.1:9", "k", spool_dir=tmp_path / "spool", flush_interval=3600)
    try:
        with pytest.raises(TypeError, match="binary float"):
            client.record("cus_a", "gpu_ms", 0.1)
        with pytest.raises(ValueError, match="naive datetime"):
            client.record("cus_a", "gpu_ms", "1", timestamp=datetime(2023, 1, 1, 13, 47))
        eid = client.record("cus_a", "gpu_ms", Decimal("2457.000000000001"), event_id="mine")
        assert eid == "mine"
        spooled = (tmp_path / "spool").glob("spool-*.jsonl")
        text = "".join(p.read_text() for p in spooled)
        assert '"quantity":"2457.000000000001"' in text and '"event_id":"mine"' in text
    finally:
        with pytest.raises(DeliveryError):
            client.close(timeout=0.2)


def test_spool_survives_collector_outage_and_process_restart(
    data_dir: Path, keys: dict[str, str], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    port = _free_port()
    # process 1: the collector is down; 30 events are recorded, the process exits (atexit flush gives up)
    r = _run(f"""
        from ingestion.client import UsageClient
        c = UsageClient("http://127.0.0.1:{port}", {keys["acme"]!r}, spool_dir={str(spool)!r},
                        batch_size=10, flush_interval=0.05, max_retries=2, backoff_base=0.01,
                        flush_on_exit_timeout=0.5)
        for i in range(30):
            c.record("cus_a", "gpu_ms", str(i + 1), timestamp="2023-01-01T13:47:00Z",
                     event_id=f"mine-{{i}}" if i < 5 else None)
        print("recorded")
    """)
    assert r.returncode == 0, r.stderr
    assert "recorded" in r.stdout
    # process 2 (after the collector is up on that port): records 5 more and closes -> 35 delivered
    c = CollectorProcess(data_dir, "--port", str(port))
    c.start()
    try:
        r = _run(f"""
            from ingestion.client import UsageClient
            c = UsageClient("{c.url}", {keys["acme"]!r}, spool_dir={str(spool)!r}, batch_size=10, flush_interval=0.05)
            for i in range(5):
                c.record("cus_b", "gpu_ms", "1", timestamp="2023-01-01T13:48:00Z")
            c.close(timeout=60)
            print(c.sent)
        """)
        assert r.returncode == 0, r.stderr
        # process 3: nothing left to resend
        r = _run(f"""
            from ingestion.client import UsageClient
            c = UsageClient("{c.url}", {keys["acme"]!r}, spool_dir={str(spool)!r})
            print(len(c._pending)); c.close(timeout=10)
        """)
        assert r.stdout.strip() == "0", r.stderr
    finally:
        c.stop()
    rows = landed(data_dir)
    counts = collections.Counter(row["event_id"] for row in rows)
    assert len(rows) == 35 and max(counts.values()) == 1
    assert {f"mine-{i}" for i in range(5)} <= set(counts)
    # quantities 1..30 for cus_a: 30*31/2 = 465; cus_b 5 x 1
    assert sum(Decimal(row["quantity"]) for row in rows if row["customer_id"] == "cus_a") == Decimal(465)
    assert sum(Decimal(row["quantity"]) for row in rows if row["customer_id"] == "cus_b") == Decimal(5)


def test_resent_spool_is_answered_duplicate(
    collector: CollectorProcess, keys: dict[str, str], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    client = UsageClient(collector.url, keys["acme"], spool_dir=spool, batch_size=1000, flush_interval=3600)
    ids = [client.record("cus_a", "api_calls", 1) for _ in range(10)]
    # a copy of the spool before delivery stands for an acknowledgement that got lost
    client._cond.acquire()
    shutil.copytree(spool, tmp_path / "copy", ignore=shutil.ignore_patterns("lock"))
    client._cond.release()
    client.close(timeout=30)
    assert client.sent["accepted"] == 10
    again = UsageClient(collector.url, keys["acme"], spool_dir=tmp_path / "copy", flush_interval=0.05)
    again.close(timeout=30)
    assert again.sent == {"accepted": 0, "duplicate": 10, "rejected": 0}
    collector.stop()
    assert sorted(r["event_id"] for r in landed(collector.data_dir)) == sorted(ids)


def test_collector_killed_while_client_sends(data_dir: Path, keys: dict[str, str], tmp_path: Path) -> None:
    c = CollectorProcess(data_dir).start()
    port = c.url.rsplit(":", 1)[1]
    client = UsageClient(
        c.url,
        keys["acme"],
        spool_dir=tmp_path / "spool",
        batch_size=50,
        flush_interval=0.01,
        max_retries=50,
        backoff_base=0.05,
        backoff_cap=0.5,
    )
    for i in range(500):
        client.record("cus_a", "api_calls", 1, timestamp="2023-01-01T00:00:00Z")
        if i == 250:
            c.kill9()
    c2 = CollectorProcess(data_dir, "--port", port).start()
    try:
        client.close(timeout=60)
    finally:
        c2.stop()
    rows = landed(data_dir)
    assert len(rows) == 500 and len({r["event_id"] for r in rows}) == 500


def _stand_in_collector(answer: Callable[[list[dict]], tuple[int, dict]]) -> tuple[Any, str]:
    """A collector stand-in on 127.0.0.1: each POSTed batch (a JSON list of events) is answered
    `answer(batch)` = (HTTP status, JSON body); a 429 carries Retry-After: 0. Returns (server, url)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            status, payload = answer(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            data = json.dumps(payload).encode()
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _all_accepted(ids: list[str]) -> dict:
    """The collector's answer accepting every event of the batch (docs/collector.md)."""
    answers = [{"index": i, "event_id": e, "status": "accepted"} for i, e in enumerate(ids)]
    return {"accepted": len(ids), "duplicate": 0, "rejected": 0, "results": answers}


def test_retries_429_and_5xx_with_the_same_event_ids(tmp_path: Path) -> None:
    """A server that answers 429 (Retry-After: 0), then 503, then 200: the client retries the same
    batch (same ids, same order) until it is acknowledged, and records the answers."""
    bodies: list[list[dict]] = []

    def answer(body: list[dict]) -> tuple[int, dict]:
        bodies.append(body)
        if len(bodies) <= 2:
            return (429, {}) if len(bodies) == 1 else (503, {})
        return 200, _all_accepted([e["event_id"] for e in body])

    server, url = _stand_in_collector(answer)
    try:
        client = UsageClient(url, "k", spool_dir=tmp_path / "spool", batch_size=100, flush_interval=3600,
                             backoff_base=0.01, backoff_cap=0.05)  # fmt: skip
        ids = [client.record("cus_a", "api_calls", 1, timestamp="2023-01-01T00:00:00Z") for _ in range(3)]
        client.close(timeout=30)
    finally:
        server.shutdown()
    # 429 -> retry, 503 -> retry, 200 -> done: 3 requests carrying the same 3 ids in order
    assert len(bodies) == 3
    assert all([e["event_id"] for e in b] == ids for b in bodies)
    assert client.sent["accepted"] == 3


def test_rejected_event_goes_to_dead_letter_file(
    collector: CollectorProcess, keys: dict[str, str], tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    client = UsageClient(collector.url, keys["acme"], spool_dir=spool, batch_size=10, flush_interval=3600)
    ids = [client.record("cus_a", "gpu_ms", 1, timestamp="2023-01-01T00:00:00Z") for _ in range(2)]
    bad = client.record("cus_a", "GPU ms", 1, timestamp="2023-01-01T00:00:00Z")  # not a meter id
    ids.append(client.record("cus_a", "gpu_ms", 2, timestamp="2023-01-01T00:00:00Z"))
    client.close(timeout=30)
    import json

    dead = [json.loads(line) for line in (spool / "dead-letter.jsonl").read_text().splitlines()]
    assert [(d["event_id"], d["field"], d["rule"]) for d in dead] == [(bad, "meter", "meter_id")]
    assert dead[0]["event"]["meter"] == "GPU ms" and "lower-case" in dead[0]["reason"]
    collector.stop()
    assert sorted(r["event_id"] for r in landed(collector.data_dir)) == sorted(ids)


def _refusing_server(refuse_status: int) -> tuple[Any, str, list[list[str]]]:
    """A collector stand-in that refuses any batch holding the event "poison" as a whole (HTTP
    ``refuse_status``) and accepts every other batch."""
    seen: list[list[str]] = []

    def answer(body: list[dict]) -> tuple[int, dict]:
        ids = [e["event_id"] for e in body]
        seen.append(ids)
        if "poison" in ids:
            return refuse_status, {"error": "invalid_json", "detail": "poison cannot be read"}
        return 200, _all_accepted(ids)

    return (*_stand_in_collector(answer), seen)


@pytest.mark.parametrize("refuse_status", [400, 500])
def test_batch_refused_whole_is_split_to_find_the_culprit(tmp_path: Path, refuse_status: int) -> None:
    """8 events, the 4th refused whole-batch: the client used to keep the batch spooled forever
    (400: retried every backoff_cap; 500: retried without end). Now it bisects: [0-3] refused ->
    [0,1] ok, [2,3] refused -> [2] ok, [3] alone refused -> dead-lettered; [4-7] delivered."""
    import json

    server, url, seen = _refusing_server(refuse_status)
    try:
        client = UsageClient(url, "k", spool_dir=tmp_path / "spool", batch_size=8, flush_interval=3600,
                             max_retries=1, backoff_base=0.01, backoff_cap=0.05)  # fmt: skip
        ids = [
            client.record("cus_a", "api_calls", 1, timestamp="2023-01-01T00:00:00Z", event_id=e)
            for e in ["e0", "e1", "e2", "poison", "e4", "e5", "e6", "e7"]
        ]
        client.close(timeout=30)
    finally:
        server.shutdown()  # type: ignore[attr-defined]
    delivered = [e for batch in seen if "poison" not in batch for e in batch]
    assert sorted(delivered) == sorted(e for e in ids if e != "poison")
    dead = [json.loads(x) for x in (tmp_path / "spool" / "dead-letter.jsonl").read_text().splitlines()]
    assert [(d["event_id"], d["http_status"], d["reason"]) for d in dead] == [
        ("poison", refuse_status, "poison cannot be read")
    ]
    assert client.dead_lettered == 1
