"""Collector throughput benchmark: durable (fsync'd) acknowledgements at batch sizes 1, 100, 1000.

    .venv/bin/python bench/bench_collector.py [--seconds 8] [--concurrency 8] [--batch 1000]
                                              [--batch-sizes 1,100,1000]

Runs on this machine only (127.0.0.1), three phases of ``--seconds`` each, in one run:
1. baseline "fsync-append": the same request bodies appended to a file with fdatasync after each
   batch, no HTTP (the storage floor for one-batch-per-fsync);
2. baseline "http-noop": the same POSTs, same client, to an aiohttp handler that reads the body and
   answers a constant (the HTTP + framework floor);
3. the collector (``usagebill collector``, rate limit off) with durable acks: parse, validate every
   event, dedup, group-commit fsync, per-event answers; once per batch size of --batch-sizes, each
   phase with fresh event ids.
Prints events/s, p50/p99 ack latency, the collector's CPU time per event (from /proc, so the load
generator's CPU is not counted) per batch size, and the ratios to the baselines (batch --batch).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EVENT = (
    b'{"event_id":"r%d-b%d-e%d","customer_id":"cus_%d","meter":"gpu_ms",'
    b'"timestamp":"2026-11-01T13:47:00Z","quantity":"2457","dimensions":{"gpu_type":"a100","region":"us-east-1"}}'
)


def make_body(run: int, batch_no: int, size: int) -> bytes:
    return b"[" + b",".join(EVENT % (run, batch_no, i, i % 50) for i in range(size)) + b"]"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """CPU (user + system) of ``pid`` and of its live descendants (the --workers processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError):
                continue
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = _stat(p)
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        todo += children.get(p, [])
    return total


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


async def load(
    url: str,
    headers: dict[str, str],
    bodies: list[bytes],
    seconds: float,
    concurrency: int,
    batch: int,
    cycle: bool = False,
):
    import aiohttp

    latencies: list[float] = []
    acked = 0
    errors = 0
    next_body = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal acked, errors, next_body
            while time.perf_counter() < deadline and (cycle or next_body < len(bodies)):
                body = bodies[next_body % len(bodies)]
                next_body += 1
                t0 = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as resp:
                    payload = await resp.read()
                    ok = resp.status == 200
                latencies.append(time.perf_counter() - t0)
                if ok and (b'"accepted":%d' % batch in payload or payload == b"ok"):
                    acked += batch
                else:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return acked, elapsed, latencies, errors


def in_process(bodies: list[bytes], rounds: int = 3) -> dict[str, float]:
    """Best-of-``rounds`` CPU us/event of decode + validate + dedup + encode (lines and answer) on
    these bodies via the general decoder (`loads`, dicts -> validate_event), the per-event fast
    path (`decode_wire_array` -> validate_wire) and the column-wise path (`decode_batch` ->
    `process_columns`, docs/collector.md "Throughput"), measured in the same run."""
    from datetime import UTC, datetime

    import msgspec

    from ingestion.collector.fastbatch import decode_batch, process_columns
    from ingestion.collector.landing_log import DedupIndex
    from ingestion.collector.processing import process_batch
    from ingestion.events import decode_wire_array, loads

    now = datetime.now(UTC)
    events = sum(body.count(b'"event_id"') for body in bodies)
    best = dict.fromkeys(("general", "per-event", "columns"), float("inf"))
    for _ in range(rounds):
        for path in best:
            index = DedupIndex(10**7)
            t0 = time.process_time()
            for body in bodies:
                if path == "columns":
                    out = process_columns(
                        decode_batch(body), tenant_id="bench", disjoint=index.isdisjoint, now=now
                    )
                    assert out is not None, (
                        "the bench events are plainly valid: the column path must take them"
                    )
                else:
                    items = decode_wire_array(body) if path == "per-event" else loads(body)
                    out = process_batch(items, tenant_id="bench", index=index, now=now, endpoint="/v1/events")
                msgspec.json.encode(out.summary())
                b"".join(out.landed_bytes())
            best[path] = min(best[path], (time.process_time() - t0) / events * 1e6)
    return best


def fsync_append_baseline(
    bodies: list[bytes], seconds: float, batch: int, folder: Path
) -> tuple[float, list[float]]:
    path = folder / "baseline.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    lat: list[float] = []
    n = 0
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < seconds and n < len(bodies):
            t0 = time.perf_counter()
            os.write(fd, bodies[n] + b"\n")
            os.fdatasync(fd)
            lat.append(time.perf_counter() - t0)
            n += 1
    finally:
        os.close(fd)
    return n * batch / (time.perf_counter() - start), lat


NOOP_SERVER = """
import sys
from aiohttp import web
async def h(request):
    await request.read()
    return web.Response(body=b"ok")
app = web.Application(client_max_size=64 * 1024 * 1024)
app.router.add_post("/v1/events", h)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=lambda *a: print("ready", flush=True), access_log=None)
"""


def wait_ready(proc: subprocess.Popen[str], pattern: str) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("server exited before it was ready")
        m = re.search(pattern, line)
        if m:
            return m.group(0)
    raise RuntimeError("server not ready within 60 s")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def report(name: str, events_s: float, lat: list[float]) -> None:
    print(
        f"  {name:<16} {events_s:>12,.0f} events/s   p50 {pct(lat, 0.5) * 1000:7.2f} ms   p99 {pct(lat, 0.99) * 1000:7.2f} ms"
        f"   load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=8.0, help="length of each phase")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    p.add_argument("--batch", type=int, default=1000, help="events per request")
    p.add_argument("--max-batches", type=int, default=1500, help="request bodies prepared per phase")
    p.add_argument("--batch-sizes", default="1,100,1000", help="collector phases: events per request")
    p.add_argument(
        "--workers", default="2", help="extra phases at --batch with --workers N (comma list; '' = none)"
    )
    args = p.parse_args(argv)

    print(
        f"cores: {os.cpu_count()}; batch {args.batch} events; concurrency {args.concurrency}; {args.seconds:.0f} s per phase"
    )
    print(f"preparing {args.max_batches} bodies per phase ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="usagebill-bench-") as tmp:
        tmpdir = Path(tmp)
        bodies = {run: [make_body(run, b, args.batch) for b in range(args.max_batches)] for run in (1, 2, 3)}
        print(f"body size: {len(bodies[1][0]) / 1024:.0f} KiB per request", flush=True)
        results: dict[str, float] = {}

        print("phase 0: in-process CPU per event (decode + validate + dedup + encode, no HTTP)", flush=True)
        paths = in_process(bodies[1][:30])
        print(
            f"  general path (loads + validate_event) {paths['general']:.2f} us/event; per-event fast path "
            f"(WireEvent + validate_wire) {paths['per-event']:.2f} us/event; column-wise path (BatchEvent + "
            f"process_columns) {paths['columns']:.2f} us/event; ratios general / columns "
            f"{paths['general'] / paths['columns']:.2f}, per-event / columns {paths['per-event'] / paths['columns']:.2f}; "
            f"load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )

        print("phase 1/3: fsync-append baseline (no HTTP)", flush=True)
        eps, lat = fsync_append_baseline(bodies[1], args.seconds, args.batch, tmpdir)
        results["fsync-append"] = eps
        report("fsync-append", eps, lat)

        print("phase 2/3: HTTP no-op baseline", flush=True)
        port = free_port()
        noop = subprocess.Popen(
            [sys.executable, "-c", NOOP_SERVER, str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_ready(noop, "ready")
            acked, elapsed, lat, errors = asyncio.run(
                load(f"http://127.0.0.1:{port}/v1/events", {"Content-Type": "application/json"}, bodies[1],
                     args.seconds, args.concurrency, args.batch, cycle=True)
            )  # fmt: skip
        finally:
            stop(noop)
        results["http-noop"] = acked / elapsed
        report("http-noop", acked / elapsed, lat)

        sizes = [int(x) for x in args.batch_sizes.split(",") if x.strip()]
        print(f"phase 3/3: collector, durable acks (fsync before answering), batch sizes {sizes}", flush=True)
        per_size, us_per_event = run_collector(args, tmpdir / "data", bodies[2], sizes, workers=1)
        eps = per_size.get(args.batch, next(iter(per_size.values())))[0]
        results["collector"] = eps
        print("  batch  events/s (durable)  collector CPU us/event  (goal at 1000: <= 4.0 us)")
        for size, (e, u) in per_size.items():
            print(f"  {size:>5}  {e:>18,.0f}  {u:>22.1f}")
        print(
            f"  CPU-bound ceiling of one collector process on one uncontended core at batch {args.batch}: "
            f"~{1e6 / us_per_event:,.0f} events/s (1e6 / {us_per_event:.1f} us)"
        )
        multi: dict[int, tuple[float, float]] = {}
        for n in [int(x) for x in args.workers.split(",") if x.strip()]:
            print(
                f"phase 3/3 (workers): collector --workers {n}, durable acks, batch {args.batch}", flush=True
            )
            by_size, _ = run_collector(args, tmpdir / f"data-w{n}", bodies[3], [args.batch], workers=n)
            multi[n] = by_size[args.batch]

    print()
    print(f"machine load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for n, (e, u) in multi.items():
        print(
            f"collector --workers {n} / --workers 1 (same run, batch {args.batch}) = {e / results['collector']:.2f} "
            f"({e:,.0f} vs {results['collector']:,.0f} events/s; CPU {u:.1f} vs {us_per_event:.1f} us/event)"
        )
        results["collector"] = max(results["collector"], e)
    print()
    print(f"collector / http-noop    = {results['collector'] / results['http-noop']:.2f}")
    print(f"collector / fsync-append = {results['collector'] / results['fsync-append']:.2f}")
    print(f"goal >= 100,000 events/s on 2 cores: reached {results['collector']:,.0f} "
          f"({results['collector'] / 100_000:.0%} of goal)")  # fmt: skip
    return 0


def run_collector(
    args: argparse.Namespace, data_dir: Path, batch_bodies: list[bytes], sizes: list[int], *, workers: int
) -> tuple[dict[int, tuple[float, float]], float]:
    """Start `usagebill collector --workers N` (rate limit off), load it once per batch size; return
    {size: (events/s, collector CPU us/event)} and the us/event at --batch."""
    from ingestion.collector.keys import create_key

    key = create_key(data_dir / "keys", "bench")
    env = {**os.environ, "USAGEBILL_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    coll = subprocess.Popen(
        [sys.executable, "-m", "cli", "collector", "--port", "0", "--data-dir", str(data_dir),
         "--rate-limit-events", "0", "--workers", str(workers)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    total_acked = 0
    per_size: dict[int, tuple[float, float]] = {}
    try:
        url = wait_ready(coll, r"listening on http://\S+").removeprefix("listening on ")
        threading.Thread(target=lambda: [None for _ in coll.stdout], daemon=True).start()  # drain
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        for k, size in enumerate(sizes):
            n_bodies = min(max(1, args.max_batches * args.batch // size), 200_000)
            phase_bodies = (
                batch_bodies if size == args.batch else [make_body(10 + k, b, size) for b in range(n_bodies)]
            )
            cpu0, t0, own0 = cpu_seconds(coll.pid), time.perf_counter(), time.process_time()
            acked, elapsed, lat, errors = asyncio.run(
                load(f"{url}/v1/events", headers, phase_bodies, args.seconds, args.concurrency, size)
            )
            cpu = cpu_seconds(coll.pid) - cpu0
            wall = time.perf_counter() - t0
            own = time.process_time() - own0
            total_acked += acked
            eps = acked / elapsed
            us = cpu / max(acked, 1) * 1e6
            per_size[size] = (eps, us)
            report(f"collector b={size}" + (f" w={workers}" if workers > 1 else ""), eps, lat)
            print(
                f"    collector CPU {us:.1f} us/event ({cpu / wall * 100:.0f}% of one core, all processes); "
                f"errors {errors}; load generator CPU {own / wall * 100:.0f}% of one core; "
                f"load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
        metrics = asyncio.run(_get(f"{url}/metrics"))
    finally:
        stop(coll)
    fsyncs = re.search(r"usagebill_collector_fsyncs_total (\d+)", metrics)
    groups = re.search(r"usagebill_collector_commit_groups_total (\d+)", metrics)
    print(f"  fsyncs {fsyncs.group(1) if fsyncs else '?'}, commit groups {groups.group(1) if groups else '?'} "
          f"(one worker's counters)")  # fmt: skip
    landed = sum(1 for f in (data_dir / "landing/usage/collector").glob("*.jsonl") for _ in f.open("rb"))
    print(f"  landed lines after shutdown: {landed:,} (acknowledged: {total_acked:,})")
    return per_size, per_size.get(args.batch, next(iter(per_size.values())))[1]


async def _get(url: str) -> str:
    import aiohttp

    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return await r.text()


if __name__ == "__main__":
    raise SystemExit(main())
