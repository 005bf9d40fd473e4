"""`usagebill collector` (run the HTTP collector) and `usagebill keys` (manage its API keys)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from usagebill import paths


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="usagebill collector", description="Run the HTTP usage collector.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="0 picks a free port (printed at start)")
    p.add_argument("--data-dir", type=Path, default=None, help="default: USAGEBILL_DATA_DIR or data/")
    p.add_argument("--max-batch-events", type=int, default=10_000)
    p.add_argument("--max-body-bytes", type=int, default=10 * 1024 * 1024)
    p.add_argument(
        "--segment-bytes", type=int, default=64 * 1024 * 1024, help="seal a segment past this size"
    )
    p.add_argument(
        "--segment-seconds", type=float, default=60.0, help="seal a non-empty segment after this age"
    )
    p.add_argument("--dedup-horizon", type=int, default=5_000_000, help="event keys kept in the dedup index")
    p.add_argument(
        "--value-map", type=Path, default=None, help="YAML meter -> value property (CloudEvents/Lago)"
    )
    p.add_argument(
        "--catalog-dir",
        "--catalog",
        dest="catalog_dir",
        type=Path,
        default=None,
        help="catalog: meters.yaml (unknown meters are flagged) and customers.yaml (which tenant owns each "
        "customer: a key's events for another tenant's customer are refused); "
        "default: USAGEBILL_CATALOG_DIR or DATA_DIR/catalog",
    )
    p.add_argument(
        "--rate-limit-events", type=float, default=100_000.0, help="events per second per key (0 = off)"
    )
    p.add_argument("--rate-limit-burst", type=float, default=200_000.0, help="bucket size of the rate limit")
    p.add_argument(
        "--quarantine-bytes-per-key-day",
        type=int,
        default=256 * 1024 * 1024,
        help="quarantine bytes one key may add per UTC day (0 = unbounded)",
    )
    p.add_argument("--max-connections", type=int, default=None, help="default: soft fd limit - 128")
    p.add_argument("--header-timeout", type=float, default=10.0, help="seconds to send a request head")
    p.add_argument("--body-timeout", type=float, default=30.0, help="seconds to send a request body")
    p.add_argument("--keepalive-timeout", type=float, default=15.0, help="idle keep-alive seconds")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the port (SO_REUSEPORT), each owning a shard of the dedup "
        "index (docs/collector.md, 'Workers')",
    )
    p.add_argument("--shard", type=int, default=None, help=argparse.SUPPRESS)  # set by the supervisor
    p.add_argument("--run-dir", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--no-fsync",
        action="store_true",
        help="UNSAFE, for benchmarks only: acknowledge without fsync (an acknowledged event can be lost)",
    )
    return p


async def _serve(args: argparse.Namespace) -> None:
    from ingestion.collector.app import Collector, CollectorConfig
    from ingestion.collector.server import default_max_connections, raise_fd_limit, start_server

    data_dir = (args.data_dir or paths.data_dir()).resolve()
    collector = Collector(
        CollectorConfig(
            data_dir=data_dir,
            max_batch_events=args.max_batch_events,
            max_body_bytes=args.max_body_bytes,
            max_segment_bytes=args.segment_bytes,
            max_segment_age=args.segment_seconds,
            dedup_horizon_keys=args.dedup_horizon,
            value_map_path=args.value_map,
            fsync=not args.no_fsync,
            catalog_dir=(args.catalog_dir or _default_catalog(args.data_dir)).resolve(),
            rate_limit_events=args.rate_limit_events,
            rate_limit_burst=args.rate_limit_burst,
            quarantine_bytes_per_key_day=args.quarantine_bytes_per_key_day,
            body_timeout=args.body_timeout,
            workers=args.workers,
            shard=args.shard or 0,
            run_dir=args.run_dir,
        )
    )
    rec = collector.recovery
    # Each event of a batch allocates a few short-lived objects: with the default threshold (700)
    # the cyclic GC runs every few events (~15 % of the CPU at batch 1,000). Objects alive after
    # start (the recovered dedup index, modules) are frozen out of the collections.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    who = f"collector worker {args.shard}" if args.workers > 1 else "collector"
    owners = collector.customer_tenants
    print(
        f"{who}: customer tenants from {owners.path}: "
        + (
            owners.error
            or f"{len(owners.owners)} customer id(s); refreshed every {owners.refresh_seconds:g} s"
        ),
        flush=True,
    )
    print(
        f"{who}: data dir {data_dir}; recovered {rec.sealed_open_segments} open segment(s) "
        f"({rec.truncated_bytes} torn bytes cut), dedup index {rec.indexed_keys} keys "
        f"from {rec.indexed_segments} segment(s)",
        flush=True,
    )
    raise_fd_limit()
    runner, guard, port = await start_server(
        collector.app(),
        args.host,
        args.port,
        max_connections=args.max_connections or default_max_connections(),
        header_timeout=args.header_timeout,
        keepalive_timeout=args.keepalive_timeout,
        reuse_port=args.workers > 1,
    )
    collector.extra_metrics = guard.metrics
    if args.workers > 1:
        print(f"{who}: serving http://{args.host}:{port} (pid {os.getpid()})", flush=True)
    else:
        print(f"collector: listening on http://{args.host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print(f"{who}: shutting down (sealing the open segment)", flush=True)
    await runner.cleanup()
    print(f"{who}: stopped", flush=True)


def _supervise(args: argparse.Namespace, argv: list[str]) -> int:
    """--workers N: recover the landing log once, then run N worker processes on one port
    (SO_REUSEPORT), restart any that dies, stop them all on SIGTERM/SIGINT."""
    import socket
    import tempfile
    import threading

    from ingestion.collector.landing_log import LandingLog

    data_dir = (args.data_dir or paths.data_dir()).resolve()
    rec = LandingLog(data_dir, dedup_horizon_keys=args.dedup_horizon, fsync=not args.no_fsync).recover()
    print(
        f"collector: data dir {data_dir}; recovered {rec.sealed_open_segments} open segment(s) "
        f"({rec.truncated_bytes} torn bytes cut); starting {args.workers} workers",
        flush=True,
    )
    holder = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind((args.host, args.port))  # reserves the port (never listens: gets no connection)
    port = holder.getsockname()[1]
    run_dir = Path(tempfile.mkdtemp(prefix="usagebill-collector-"))  # mode 0700: shard sockets
    stopping = threading.Event()
    ready: list[threading.Event] = [threading.Event() for _ in range(args.workers)]

    def spawn(shard: int) -> subprocess.Popen[str]:
        cmd = [sys.executable, "-m", "ingestion.collector.cli", *argv, "--port", str(port),
               "--shard", str(shard), "--run-dir", str(run_dir)]  # fmt: skip
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=_die_with_parent
        )

        def relay() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if " serving http://" in line:
                    ready[shard].set()
                print(line, end="", flush=True)

        threading.Thread(target=relay, daemon=True).start()
        return proc

    workers = {i: spawn(i) for i in range(args.workers)}
    spawned = dict.fromkeys(workers, time.monotonic())
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    code = 0
    for event in ready:
        while not event.wait(0.2):
            if stopping.is_set() or any(p.poll() is not None for p in workers.values()):
                print("collector: a worker did not start (see its output above); stopping", flush=True)
                stopping.set()
                code = 1
                break
    if not stopping.is_set():
        print(f"collector: listening on http://{args.host}:{port} ({args.workers} workers)", flush=True)
    while not stopping.wait(0.2):
        for shard, proc in list(workers.items()):
            # restart a dead worker, at most once a second (a worker failing at start does not spin)
            if proc.poll() is not None and time.monotonic() - spawned[shard] >= 1.0:
                print(
                    f"collector: worker {shard} (pid {proc.pid}) exited with {proc.returncode}; restarting it",
                    flush=True,
                )
                workers[shard] = spawn(shard)
                spawned[shard] = time.monotonic()
    print("collector: stopping the workers", flush=True)
    for proc in workers.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in workers.values():
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = 1
    holder.close()
    shutil.rmtree(run_dir, ignore_errors=True)
    print("collector: stopped", flush=True)
    return code


def _die_with_parent() -> None:
    """Worker processes get SIGTERM when the supervisor dies (Linux prctl PR_SET_PDEATHSIG)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def _default_catalog(data_dir: Path | None) -> Path:
    import os

    if os.environ.get("USAGEBILL_CATALOG_DIR") or data_dir is None:
        return paths.catalog_dir()
    return data_dir / "catalog"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if args.workers < 1:
        print("usagebill collector: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.workers > 1 and args.shard is None:
        return _supervise(args, argv)
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(args))
    return 0


def keys_main(argv: list[str] | None = None) -> int:
    from ingestion.collector.keys import create_key, list_keys, revoke_key

    p = argparse.ArgumentParser(prog="usagebill keys", description="Manage collector API keys.")
    p.add_argument("--data-dir", type=Path, default=None, help="default: USAGEBILL_DATA_DIR or data/")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create", help="create a key for a tenant; prints it once")
    c.add_argument("--tenant", required=True)
    c.add_argument("--data-dir", type=Path, default=None, dest="data_dir_sub")
    r = sub.add_parser("revoke", help="revoke a key by its id; running collectors refuse it within ~1 s")
    r.add_argument("key_id", help="the key id (`usagebill keys list`; the part after ubk_ in the key)")
    r.add_argument("--data-dir", type=Path, default=None, dest="data_dir_sub")
    ls = sub.add_parser("list", help="list key ids and tenants (never the keys)")
    ls.add_argument("--data-dir", type=Path, default=None, dest="data_dir_sub")
    args = p.parse_args(argv)
    data_dir = (args.data_dir_sub or args.data_dir or paths.data_dir()).resolve()
    keys_dir = data_dir / "keys"
    try:
        if args.command == "create":
            key = create_key(keys_dir, args.tenant)
            print(key)
            print(
                f"(key for tenant {args.tenant!r}; stored hashed in {keys_dir}; it is shown only now: "
                f"keep it in a secret store)",
                file=sys.stderr,
            )
            return 0
        if args.command == "revoke":
            record = revoke_key(keys_dir, args.key_id)
            print(
                f"revoked key {record.key_id} of tenant {record.tenant_id!r}; running collectors refuse it "
                f"within about a second (record kept in {keys_dir / 'revoked'})",
                file=sys.stderr,
            )
            return 0
    except (ValueError, KeyError) as exc:  # a bad tenant name; no such key id (the message says which)
        print(f"usagebill keys: {exc.args[0]}", file=sys.stderr)
        return 2
    for record in list_keys(keys_dir):
        print(f"{record.key_id}\t{record.tenant_id}\t{record.created_at}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
