"""Benchmark: the Stripe export's achieved request rate against the configured rate (issue 12).

Seeds N customers with one issued invoice of two lines each, starts the local Stripe fake in its own process
with a rate limit (429 above it, like Stripe), and exports through the official SDK with the thread pool and
the shared rate limiter. Two configurations: Stripe test mode (25 requests/s) and live mode (100 requests/s).
The baseline measured in the same run is the configured rate itself: the figure is achieved / configured
(the goal is at least 0.80). A serial run (1 worker, no limiter) shows the latency-bound rate for comparison.

    .venv/bin/python bench/bench_stripe_export.py [--customers 150] [--workers 8]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402
import stripe  # noqa: E402

from exports.stripe.api import RetryPolicy, StripeApi  # noqa: E402
from exports.stripe.exporter import StripeExporter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def seed(db: Path, customers: int) -> None:
    con = duckdb.connect(str(db))
    con.execute("create schema billing")
    con.execute(
        "create table billing.fct_invoices (invoice_id varchar, invoice_number varchar, customer_id varchar, "
        "currency varchar, issue_date date, due_date date, total decimal(38, 12), total_minor bigint, "
        "status varchar)"
    )
    con.execute(
        "create table billing.fct_invoice_lines (invoice_line_id varchar, invoice_id varchar, line_number integer, "
        "charge_id varchar, line_type varchar, description varchar, quantity decimal(38, 12), "
        "unit_price decimal(38, 12), amount decimal(38, 12), amount_minor bigint, currency varchar, "
        "period_start date, period_end date)"
    )
    con.execute(
        f"insert into billing.fct_invoices select 'inv_' || i, 'UB-' || i, 'cus_' || i, 'USD', date '2026-11-04', "
        f"date '2026-12-04', 15.00, 1500, 'issued' from range({customers}) t(i)"
    )
    con.execute(
        f"insert into billing.fct_invoice_lines select 'inv_' || i || '-' || n, 'inv_' || i, n, 'gpu', 'usage', "
        f"'GPU', 1, 7.50, 7.50, 750, 'USD', date '2026-10-01', date '2026-11-01' "
        f"from range({customers}) t(i), range(1, 3) s(n)"
    )
    con.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_fake(rate: int | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    args = [sys.executable, "-m", "exports.fakes.stripe_server", "--port", str(port)]
    if rate:
        args += ["--rate-limit", str(rate)]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/_fake/state", timeout=1).read()
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the Stripe fake did not start")


def run(customers: int, workers: int, rate: int | None, tmp: Path) -> tuple[int, float, int, int, float]:
    """(API calls, seconds of the whole export, 429 answers, invoices sent, seconds from the first
    call sent to the last answer: the export's fixed start and end - reading the warehouse, the
    reconciliation gate, the ledger - are outside it)."""
    db = tmp / f"bench_{workers}_{rate}.duckdb"
    seed(db, customers)
    proc, base = start_fake(rate)
    try:
        client = stripe.StripeClient("sk_test_bench", base_addresses={"api": base}, max_network_retries=0)
        moments: list[float] = []

        def hook(position: str, call_number: int, name: str) -> None:
            moments.append(time.monotonic())

        api = StripeApi(client, policy=RetryPolicy(max_attempts=8), rate_limit=rate, hook=hook)
        con = duckdb.connect(str(db))
        started = time.monotonic()
        summary = StripeExporter(
            con, api, workers=workers, progress=lambda m: print("   ", m, flush=True), progress_every=10
        ).run()
        seconds = time.monotonic() - started
        con.close()
        if summary.failed:
            raise RuntimeError(f"export failed: {summary.failed[:3]}")
        window = max(moments) - min(moments) if moments else seconds
        return summary.api_calls, seconds, summary.rate_limited, len(summary.sent), window
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=int(os.environ.get("BENCH_STRIPE_CUSTOMERS", "150")))
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        calls, secs, _, sent, _ = run(max(args.customers // 5, 10), 1, None, tmp)
        print(
            f"serial, no limiter (latency-bound): {calls} calls in {secs:.1f} s = {calls / secs:.1f} calls/s"
        )
        worst = 1.0
        for label, rate in (("test mode", 25), ("live mode", 100)):
            calls, secs, limited, sent, window = run(args.customers, args.workers, rate, tmp)
            achieved = calls / secs
            worst = min(worst, achieved / rate)
            print(
                f"{label}: configured {rate} requests/s, {args.workers} workers, {sent} invoices: {calls} calls in "
                f"{secs:.1f} s = {achieved:.1f} calls/s; achieved / configured = {achieved / rate:.2f} "
                f"(goal >= 0.80); 429 answers {limited}; load average {os.getloadavg()[0]:.1f}"
            )
            print(
                f"    from the first call to the last answer: {window:.1f} s = {calls / window:.1f} calls/s "
                f"= {calls / window / rate:.2f} of the configured rate (the rest, {secs - window:.1f} s, is the "
                "export's start and end)"
            )
        print(f"lowest achieved / configured ratio: {worst:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
