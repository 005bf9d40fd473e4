"""Benchmark: a whole month close at 100 million events and 100,000 customers on one machine.

    .venv/bin/python bench/bench_month_close.py [--workdir .bench/month_close] [--keep]
    BENCH_SCALE=0.01 .venv/bin/python bench/bench_month_close.py    # 1M events, 1,000 customers

Writes a month of synthetic usage (April 2026) straight to the raw layer with pyarrow (seeded):
BENCH_SCALE x 100,000,000 events for BENCH_SCALE x 100,000 customers on the demo's meters
(gpu_ms with GPU type dimensions, api_calls, storage_gb gauge) and price models (the demo plans:
pay as you go, starter, growth, in USD, EUR and JPY), 1 % re-sent duplicates and 2 % late
arrivals. Then runs the month close the way the daily job does, step by step:

  catalog      validate the catalog (YAML plans, 100,000 bulk Parquet customers) into raw/catalog
  raw config   issuer, tax rates, marketplace catalog and feeds, cloud costs (the same loaders as the
               daily job's raw assets)
  usage dbt    journal + hourly/daily/monthly rollups over the month's arrival window (one dbt build)
  close dbt    rating, invoices, analytics (dbt build of everything else, as of 2026-05-04)
  documents    invoice documents (HTML + PDF)
  stripe       export to a local Stripe-compatible server (its rate limit applies)
and, in the same run, the baselines of the goals:
  hand SQL     the same journal (sorted) + daily rollup written by one hand-written DuckDB script
  day 1/day 30 the daily incremental run (journal + rollups) of the first and of the last day

Each step prints its time, the peak resident memory of the whole process tree (this process and
every child, sampled every 0.2 s) and the disk used by the work folder. DuckDB's memory_limit and
temp_directory come from USAGEBILL_DUCKDB_MEMORY_LIMIT / USAGEBILL_DUCKDB_TEMP_DIR (profiles.yml).
Marketplace exports are not part of this close: the synthetic customers buy directly (Stripe);
bench/bench_marketplace.py measures the marketplace reporter. No timed assertion: the figures go
to docs/benchmarks.md ("Month close").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from bench import bench_journal as journal_bench  # noqa: E402
from bench import common  # noqa: E402
from bench.common import DBT, DBT_PROJECT  # noqa: E402
from usagebill.dbt_cli import dbt_path_args  # noqa: E402

MONTH_START = date(2026, 4, 1)
DAYS = 30
AS_OF = date(2026, 5, 4)  # April closes on May 1 + 3 grace days


def log(message: str) -> None:
    print(f"[month_close {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- measuring ---------------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out


def tree_rss(root: int) -> int:
    """Resident memory (bytes) of `root` and all its descendants, from /proc."""
    total, todo, seen = 0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
        todo += _children(pid)
    return total


class PeakMemory:
    """Samples the process tree's RSS every 0.2 s while a step runs; .peak is the maximum seen."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(os.getpid()))
            self._stop.wait(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(os.getpid()))


def disk_used(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


RESULTS: list[dict[str, Any]] = []


def cpu_seconds() -> float:
    """User + system CPU of this process and of its children that have ended (dbt, the document
    pool): on a shared machine the wall clock measures the other sessions too, this does not."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def step(name: str, action: Callable[[], Any], work: Path) -> Any:
    log(f"{name} ...")
    started, cpu_started = time.perf_counter(), cpu_seconds()
    with PeakMemory() as memory:
        result = action()
    elapsed = time.perf_counter() - started
    row = {
        "step": name,
        "seconds": round(elapsed, 1),
        "cpu_seconds": round(cpu_seconds() - cpu_started, 1),
        "load_average": round(os.getloadavg()[0], 1),
        "peak_rss_gib": round(memory.peak / 2**30, 2),
        "disk_gib": round(disk_used(work) / 2**30, 2),
    }
    RESULTS.append(row)
    log(
        f"{name}: {row['seconds']} s ({row['cpu_seconds']} s CPU, load average {row['load_average']}), peak RSS {row['peak_rss_gib']} GiB (process tree), disk {row['disk_gib']} GiB"
    )
    return result


# -- data ---------------------------------------------------------------------------------------------
def write_catalog(catalog: Path, customers: int) -> None:
    """The demo's meters and plans (YAML); `customers` customers spread over the demo plans, with
    their subscriptions, as bulk Parquet files (docs/pricing.md, "Bulk customers...")."""
    from bench.bench_catalog_import import write_parquet

    write_parquet(common.example_base(catalog), *common.catalog_rows(customers))


def write_usage(raw: Path, events: int, customers: int) -> int:
    """A month of usage (DAYS arrival days) with bench_journal's generator, for `customers` customers."""
    journal_bench.CUSTOMERS = customers
    journal_bench.FIRST_DAY = MONTH_START
    rng = np.random.default_rng(42)
    per_day = events // DAYS
    written, previous = 0, None
    for d in range(DAYS):
        arrival = MONTH_START + timedelta(days=d)
        n = per_day if d < DAYS - 1 else events - per_day * (DAYS - 1)
        folder = raw / "usage_events" / f"arrival_date={arrival.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        chunk = 5_000_000
        tables = []
        for offset in range(0, n, chunk):
            size = min(chunk, n - offset)
            table = journal_bench.day_events(rng, d, size, first_id=d * per_day + offset)
            pq.write_table(table, folder / f"bench-{offset // chunk:03d}.parquet", row_group_size=1_000_000)
            written += size
            tables.append(table.slice(0, min(size, 100_000)))
        if previous is not None:
            copies = journal_bench.resend(rng, previous, arrival, n // 100)
            pq.write_table(copies, folder / "bench-retry.parquet")
            written += copies.num_rows
        previous = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        log(f"  usage: {d + 1}/{DAYS} days, {written:,} rows")
    return written


def write_raw_configuration(work: Path) -> None:
    """What the daily job's other raw assets write, with the same loaders: the issuer and tax rates
    (["raw", "catalog_issuer"/"catalog_tax_rates"], from the shipped examples when the catalog folder
    has none), the marketplace offering catalog, identities and revenue feeds (["raw",
    "marketplace_catalog"], ["raw", "marketplace_revenue_feeds"], the samples) and the cloud costs
    (["raw", "cloud_costs"], none here). USAGEBILL_* point at the work folder (set by main)."""
    from exports.marketplace.run import load_raw
    from ingestion.costs import load_costs
    from usagebill.invoices.tax_config import write_raw

    write_raw()
    load_raw(log)
    load_costs(work / "data", work / "raw", progress=log)


# -- running ----------------------------------------------------------------------------------------
def dbt_build(env: dict[str, str], work: Path, *args: str) -> None:
    command = [
        DBT,
        "build",
        *args,
        "--exclude-resource-type",
        "unit_test",
        "--indirect-selection",
        "cautious",
        *dbt_path_args(DBT_PROJECT, work),
    ]
    done = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"dbt build failed:\n{done.stdout[-5000:]}\n{done.stderr[-2000:]}")


def incremental_runs(env: dict[str, str], work: Path, raw: Path) -> None:
    """The daily incremental run of day 1 vs day 30: bench/bench_daily_incremental.py (also standalone)."""
    from bench.bench_daily_incremental import incremental_runs as run

    run(env, work, raw)


def bench_scale() -> float:
    """BENCH_SCALE: a fraction of the full size (0.01 = 1M events), `small` (= 0.01) or `full`/unset (= 1)."""
    text = os.environ.get("BENCH_SCALE", "full")
    named = {"full": 1.0, "small": 0.01}
    try:
        scale = named[text] if text in named else float(text)
    except ValueError:
        sys.exit(f"BENCH_SCALE={text!r}: use a fraction like 0.01, or small / full")
    if not 0 < scale <= 1:
        sys.exit(f"BENCH_SCALE={text!r}: the fraction must be in (0, 1]")
    return scale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / ".bench" / "month_close")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--skip-documents", action="store_true")
    parser.add_argument("--skip-stripe", action="store_true")
    args = parser.parse_args(argv)
    scale = bench_scale()
    events, customers = int(100_000_000 * scale), max(10, int(100_000 * scale))
    work = args.workdir.resolve()
    shutil.rmtree(work, ignore_errors=True)
    raw, warehouse = work / "raw", work / "warehouse.duckdb"
    env = dict(os.environ)
    env.update(
        USAGEBILL_RAW_DIR=str(raw),
        USAGEBILL_WAREHOUSE=str(warehouse),
        USAGEBILL_DATA_DIR=str(work / "data"),
        USAGEBILL_CATALOG_DIR=str(work / "data" / "catalog"),
        USAGEBILL_REPORTS_DIR=str(work / "reports"),
        USAGEBILL_AS_OF_DATE=AS_OF.isoformat(),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    env.setdefault("USAGEBILL_DUCKDB_MEMORY_LIMIT", "5GB")
    env.setdefault("USAGEBILL_DUCKDB_TEMP_DIR", str(work / "duckdb_tmp"))
    os.environ.update(env)
    log(f"scale {scale}: {events:,} events, {customers:,} customers; work folder {work}")
    log(
        f"DuckDB memory_limit={env['USAGEBILL_DUCKDB_MEMORY_LIMIT']} temp_directory={env['USAGEBILL_DUCKDB_TEMP_DIR']}"
    )

    write_catalog(work / "data" / "catalog", customers)
    rows = step("generate usage (not part of the close)", lambda: write_usage(raw, events, customers), work)
    log(f"raw layer: {rows:,} rows")

    from usagebill.catalog import load_catalog

    step(
        "catalog (bulk Parquet customers + subscriptions, validated)",
        lambda: load_catalog(work / "data" / "catalog", raw),
        work,
    )
    step(
        "raw configuration (issuer, tax rates, marketplace, costs)",
        lambda: write_raw_configuration(work),
        work,
    )
    window = {
        "min_date": MONTH_START.isoformat(),
        "max_date": (MONTH_START + timedelta(days=DAYS)).isoformat(),
        "as_of_date": AS_OF.isoformat(),
    }
    usage_s = step(
        "usage dbt (journal + rollups)",
        lambda: dbt_build(env, work, "--select", "+tag:partitioned_daily", "--vars", json.dumps(window)),
        work,
    )
    del usage_s
    step(
        "close dbt (rating, invoices, analytics)",
        lambda: dbt_build(
            env,
            work,
            "--exclude",
            "+tag:partitioned_daily",
            "--vars",
            json.dumps({"as_of_date": AS_OF.isoformat()}),
        ),
        work,
    )

    import duckdb

    def hand_sql() -> None:
        con = duckdb.connect(str(work / "hand.duckdb"))
        try:
            con.execute(f"set memory_limit = '{env['USAGEBILL_DUCKDB_MEMORY_LIMIT']}'")
            con.execute(f"set temp_directory = '{env['USAGEBILL_DUCKDB_TEMP_DIR']}'")
            con.execute(journal_bench.HAND_WRITTEN_JOURNAL_SQL.format(raw=raw))
        finally:
            con.close()

    step("hand SQL baseline (journal + daily)", hand_sql, work)

    if not args.skip_documents:
        from usagebill.invoices.documents import render_all

        step("documents (HTML + PDF)", lambda: render_all(work / "reports" / "invoices", warehouse), work)
    if not args.skip_stripe:
        from exports.local_servers import start_local_export_servers
        from exports.stripe.exporter import run_export

        with ExitStack() as stack:
            os.environ.pop("STRIPE_API_BASE", None)
            os.environ.pop("STRIPE_API_KEY", None)
            for line in start_local_export_servers(stack, work / "local_servers"):
                log(line)
            step("stripe export (local server)", lambda: run_export(warehouse=warehouse), work)

    incremental_runs(env, work, raw)

    times = {r["step"]: r["seconds"] for r in RESULTS}
    cpu = {r["step"]: max(r["cpu_seconds"], 0.1) for r in RESULTS}
    dbt_close = times["usage dbt (journal + rollups)"] + times["close dbt (rating, invoices, analytics)"]
    log("summary")
    print(json.dumps(RESULTS, indent=1))
    print(
        f"dbt part of the close: {dbt_close:.0f} s (goal <= 600 s); peak RSS "
        f"{max(r['peak_rss_gib'] for r in RESULTS if 'dbt' in r['step']):.2f} GiB (goal <= 6)"
    )
    print(
        f"journal + rollups / hand SQL = {times['usage dbt (journal + rollups)'] / times['hand SQL baseline (journal + daily)']:.2f} (goal <= 1.5)"
    )
    print(
        f"day 30 / day 1 incremental = {times['incremental day 30 window'] / times['incremental day 1 window']:.2f} (goal <= 1.2)"
    )
    print(
        "in CPU seconds: journal + rollups / hand SQL = "
        f"{cpu['usage dbt (journal + rollups)'] / cpu['hand SQL baseline (journal + daily)']:.2f}; day 30 / day 1 = "
        f"{cpu['incremental day 30 window'] / cpu['incremental day 1 window']:.2f}"
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
