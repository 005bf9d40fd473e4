"""Benchmark: rate one month for N customers (default 100,000) with mixed price models.

    .venv/bin/python bench/bench_rating.py [--customers 100000] [--events-per-customer 10] [--keep DIR]

Generates (deterministically) a catalog from the gpu_cloud example plans (per-unit, hybrid fee +
included usage, graduated overage, annual fee with 15% discount and a minimum commitment,
dimensional GPU prices) with N customers and subscriptions and credit grants for 1 in 10
customers, and N * events raw usage events for May 2026 written straight to the raw layer. Then,
in a temporary warehouse:
  1. `dbt run --select +fct_usage_journal`                       (the journal build: baseline)
  2. `dbt run --select +fct_billing_lines +fct_credit_balances --exclude +fct_usage_journal`
                                                                  (rating only)
and prints both times and their ratio (rating / journal) measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from usagebill.catalog import EXAMPLES_DIR, load_catalog  # noqa: E402
from usagebill.dbt_cli import dbt_path_args  # noqa: E402

PLANS = ["payg"] * 5 + ["starter"] * 3 + ["growth"] * 2 + ["enterprise_annual"]
GPU_TYPES = ["a100", "h100", "l4"]


def write_catalog(directory: Path, customers: int, rng: random.Random) -> None:
    shutil.copytree(EXAMPLES_DIR / "gpu_cloud", directory)
    cust, subs, grants = ["customers:"], ["subscriptions:"], ["credit_grants:"]
    for i in range(customers):
        cid = f"cus_{i:06d}"
        cust.append(
            f"  - {{id: {cid}, name: Customer {i}, currency: USD, country: US, created_at: 2026-01-01}}"
        )
        plan = PLANS[i % len(PLANS)]
        start = (
            "2026-05-01"
            if plan == "enterprise_annual"
            else f"2026-0{rng.randint(1, 5)}-{rng.randint(1, 28):02d}"
        )
        trial = 14 if i % 17 == 0 else 0
        subs.append(
            f"  - {{id: sub_{i:06d}, customer_id: {cid}, plan_id: {plan}, start_date: {start}, "
            f"billing_anchor_day: 1, trial_days: {trial}}}"
        )
        if i % 10 == 0:
            grants.append(
                f'  - {{id: grant_{i:06d}, customer_id: {cid}, amount: "100.00", granted_at: 2026-01-01, '
                f"expires_at: 2027-01-01}}"
            )
    (directory / "customers.yaml").write_text("\n".join(cust) + "\n")
    (directory / "subscriptions.yaml").write_text("\n".join(subs) + "\n")
    (directory / "credits.yaml").write_text("\n".join(grants) + "\n")


def write_events(raw_dir: Path, customers: int, per_customer: int, rng: random.Random) -> int:
    out = raw_dir / "usage_events" / "arrival_date=2026-06-01"
    out.mkdir(parents=True, exist_ok=True)
    start = datetime(2026, 5, 1, tzinfo=UTC)
    arrived = datetime(2026, 6, 1, 1, tzinfo=UTC)
    cols: dict[str, list] = {
        k: []
        for k in (
            "tenant_id",
            "event_id",
            "customer_id",
            "meter",
            "event_ts",
            "quantity",
            "properties_json",
            "dimensions_json",
            "source",
            "source_file",
            "arrived_at",
        )
    }
    n = 0
    for i in range(customers):
        for j in range(per_customer):
            kind = j % 5
            meter = "gpu_ms" if kind < 3 else ("api_calls" if kind == 3 else "storage_gb")
            quantity = {
                "gpu_ms": str(rng.randint(1, 40_000_000)),
                "api_calls": None,
                "storage_gb": f"{rng.randint(1, 5000)}.{rng.randint(0, 99):02d}",
            }[meter]
            dims = (
                {"gpu_type": GPU_TYPES[rng.randint(0, 2)], "region": "us-east-1"} if meter == "gpu_ms" else {}
            )
            cols["tenant_id"].append("default")
            cols["event_id"].append(f"e{i:06d}-{j:03d}")
            cols["customer_id"].append(f"cus_{i:06d}")
            cols["meter"].append(meter)
            cols["event_ts"].append(start + timedelta(seconds=rng.randint(0, 31 * 86400 - 1)))
            cols["quantity"].append(quantity)
            cols["properties_json"].append("{}")
            cols["dimensions_json"].append(json.dumps(dims, sort_keys=True, separators=(",", ":")))
            cols["source"].append("bench")
            cols["source_file"].append("bench.parquet")
            cols["arrived_at"].append(arrived)
            n += 1
    schema = pa.schema(
        [
            ("tenant_id", pa.string()),
            ("event_id", pa.string()),
            ("customer_id", pa.string()),
            ("meter", pa.string()),
            ("event_ts", pa.timestamp("us", tz="UTC")),
            ("quantity", pa.string()),
            ("properties_json", pa.string()),
            ("dimensions_json", pa.string()),
            ("source", pa.string()),
            ("source_file", pa.string()),
            ("arrived_at", pa.timestamp("us", tz="UTC")),
        ]
    )
    pq.write_table(pa.Table.from_pydict(cols, schema=schema), out / "bench.parquet")
    return n


def dbt_run(workdir: Path, raw_dir: Path, warehouse: Path, args: list[str]) -> float:
    env = dict(
        os.environ,
        USAGEBILL_RAW_DIR=str(raw_dir),
        USAGEBILL_WAREHOUSE=str(warehouse),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        USAGEBILL_DBT_TARGET="duckdb",
    )
    project = ROOT / "dbt_project"
    command = [
        str(Path(sys.executable).parent / "dbt"),
        "run",
        *args,
        "--vars",
        '{"as_of_date": "2026-06-01"}',
        *dbt_path_args(project, workdir),
    ]
    began = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit("dbt failed:\n" + "\n".join(done.stdout.splitlines()[-30:]))
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--events-per-customer", type=int, default=10)
    parser.add_argument("--keep", default=None, help="keep the work directory here")
    args = parser.parse_args(argv)
    rng = random.Random(20260501)
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-rating-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        raw, warehouse = workdir / "raw", workdir / "bench.duckdb"
        began = time.perf_counter()
        write_catalog(workdir / "catalog", args.customers, rng)
        events = write_events(raw, args.customers, args.events_per_customer, rng)
        print(
            f"generated {args.customers} customers, {events} events in {time.perf_counter() - began:.1f} s",
            flush=True,
        )
        began = time.perf_counter()
        load_catalog(workdir / "catalog", raw)
        catalog_s = time.perf_counter() - began
        print(f"catalog validate + normalize: {catalog_s:.1f} s", flush=True)
        journal_s = dbt_run(workdir, raw, warehouse, ["--select", "+fct_usage_journal"])
        print(f"journal build (dbt run +fct_usage_journal): {journal_s:.1f} s", flush=True)
        rating_s = dbt_run(
            workdir,
            raw,
            warehouse,
            ["--select", "+fct_billing_lines", "+fct_credit_balances", "--exclude", "+fct_usage_journal"],
        )
        print(f"rating (dbt run +fct_billing_lines, journal excluded): {rating_s:.1f} s", flush=True)
        import duckdb

        con = duckdb.connect(str(warehouse), read_only=True)
        lines, customers, total = con.execute(
            "select count(*), count(distinct customer_id), sum(amount_rounded) from billing.fct_billing_lines "
            "where period_start >= date '2026-05-01' and period_start < date '2026-06-01'"
        ).fetchall()[0]
        con.close()
        print(f"May 2026: {lines} billing lines for {customers} customers, total {total} USD")
        print(f"ratio rating / journal build = {rating_s / journal_s:.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
