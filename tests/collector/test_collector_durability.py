"""Durability: SIGKILL mid-stream loses no acknowledged event, restart duplicates none."""

from __future__ import annotations

import collections
import json
import threading
import time
from pathlib import Path

import requests

from ingestion.collector.landing_log import LandingLog, event_key
from tests.collector.conftest import CollectorProcess, event, landed, post

LANDING = ("landing", "usage", "collector")


def _sender(
    url: str, key: str, worker: int, acked: list[str], unacked: list[list[dict]], stop: threading.Event
) -> None:
    n = 0
    while not stop.is_set() and n < 10_000:
        batch = [event(f"w{worker}-b{n}-{i}") for i in range(200)]
        n += 1
        try:
            r = requests.post(
                f"{url}/v1/events", json=batch, headers={"Authorization": f"Bearer {key}"}, timeout=30
            )
        except requests.RequestException:
            unacked.append(batch)
            return
        if r.status_code != 200:
            unacked.append(batch)
            return
        assert r.json()["accepted"] == 200
        acked.extend(e["event_id"] for e in batch)


def test_sigkill_mid_stream_loses_no_acknowledged_event_and_restart_duplicates_none(
    data_dir: Path, keys: dict[str, str]
) -> None:
    # small segments so that rotations (renames) also happen while we kill
    c = CollectorProcess(data_dir, "--segment-bytes", "200000").start()
    acked: list[str] = []
    unacked: list[list[dict]] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=_sender, args=(c.url, keys["acme"], w, acked, unacked, stop))
        for w in range(4)
    ]
    for t in threads:
        t.start()
    # kill once enough batches were acknowledged: 4 senders are then mid-request
    deadline = time.monotonic() + 60
    while len(acked) < 20_000 and time.monotonic() < deadline:
        time.sleep(0.01)
    c.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert len(acked) >= 20_000
    folder = data_dir.joinpath(*LANDING)

    # restart: open segments are sealed (torn tail cut) and the dedup index is rebuilt
    c2 = CollectorProcess(data_dir).start()
    try:
        assert not list(folder.glob("*.jsonl.open"))
        rows = landed(data_dir)
        counts = collections.Counter(r["event_id"] for r in rows)
        assert all(counts[eid] == 1 for eid in acked), "every acknowledged event is landed exactly once"
        assert max(counts.values()) == 1, "no event is landed twice"
        # resending acknowledged batches answers duplicate for every event
        for start in range(0, 2000, 200):
            resent = [event(eid.removeprefix("evt-")) for eid in acked[start : start + 200]]
            body = post(f"{c2.url}/v1/events", keys["acme"], resent).json()
            assert (body["accepted"], body["duplicate"]) == (0, 200)
        # the batches in flight at the kill: each event is now accepted or duplicate, never twice
        for batch in unacked:
            body = post(f"{c2.url}/v1/events", keys["acme"], batch).json()
            assert body["accepted"] + body["duplicate"] == 200 and body["rejected"] == 0
    finally:
        c2.stop()
    counts = collections.Counter(r["event_id"] for r in landed(data_dir))
    assert max(counts.values()) == 1
    assert all(e["event_id"] in counts for batch in unacked for e in batch)


def test_clean_restart_rebuilds_dedup_index_from_sealed_segments(
    data_dir: Path, keys: dict[str, str]
) -> None:
    c = CollectorProcess(data_dir).start()
    assert post(f"{c.url}/v1/events", keys["acme"], [event(i) for i in range(50)]).json()["accepted"] == 50
    c.stop()
    # remove the .ids sidecars: the index must also rebuild from the segments themselves
    for p in (data_dir / "collector" / "index").glob("*.ids"):
        p.unlink()
    c = CollectorProcess(data_dir).start()
    try:
        body = post(f"{c.url}/v1/events", keys["acme"], [event(i) for i in range(45, 55)]).json()
        # evt-45..49 were landed before the restart, evt-50..54 are new
        assert (body["accepted"], body["duplicate"]) == (5, 5)
    finally:
        c.stop()
    assert len(landed(data_dir)) == 55


def test_recovery_cuts_a_torn_last_line_and_seals(tmp_path: Path) -> None:
    folder = tmp_path.joinpath(*LANDING)
    folder.mkdir(parents=True)
    good = [
        json.dumps({**event(i), "tenant_id": "acme", "arrived_at": "2026-01-01T00:00:00Z"}) for i in range(3)
    ]
    torn = '{"event_id": "evt-9", "customer_id": "c'
    seg = folder / "20260101T000000000000Z-1-000001.jsonl.open"
    seg.write_text("\n".join(good) + "\n" + torn)
    log = LandingLog(tmp_path)
    report = log.recover()
    assert report.sealed_open_segments == 1
    assert report.truncated_bytes == len(torn)
    sealed = folder / "20260101T000000000000Z-1-000001.jsonl"
    assert sealed.read_text() == "\n".join(good) + "\n"
    assert not seg.exists()
    assert event_key("acme", "evt-2") in log.index and event_key("acme", "evt-9") not in log.index


def test_size_rotation_seals_segments_while_running(data_dir: Path, keys: dict[str, str]) -> None:
    c = CollectorProcess(data_dir, "--segment-bytes", "5000").start()
    try:
        for b in range(5):
            assert post(f"{c.url}/v1/events", keys["acme"], [event(f"{b}-{i}") for i in range(20)]).ok
        folder = data_dir.joinpath(*LANDING)
        # each 20-event request lands ~4 KB... > 5000 bytes after two requests -> sealed while running
        sealed = list(folder.glob("*.jsonl"))
        assert len(sealed) >= 2
        assert (
            sum(1 for p in sealed for _ in p.open()) + sum(1 for p in folder.glob("*.open") for _ in p.open())
            == 100
        )
    finally:
        c.stop()


def test_key_records_are_durable_once_written(tmp_path: Path, monkeypatch) -> None:
    """A new key file, and a revoked key moved to keys/revoked/, survive a crash only once their
    directory entry is on disk (rename(2) then fsync of the directory: ingestion/durable.py). Before the
    fix create_key fsync'd no directory and revoke_key only keys/, not keys/revoked/."""
    from ingestion.collector import keys

    synced: list[Path] = []
    monkeypatch.setattr(keys, "fsync_dir", lambda path: synced.append(Path(path)))
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    key = keys.create_key(keys_dir, "acme")
    assert synced == [keys_dir]
    key_id = key.split("_")[1]
    keys.revoke_key(keys_dir, key_id)
    # the revoked record's folder after its rename, then keys/ after the active record is removed
    assert synced == [keys_dir, keys_dir / "revoked", keys_dir]
    assert (keys_dir / "revoked" / f"{key_id}.json").stat().st_mode & 0o777 == 0o600
