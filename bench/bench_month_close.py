"""Benchmark: a whole month close at 100 million events and 100,000 customers on one machine.

    .venv/bin/python bench/bench_month_close.py [--workdir .bench/month_close] [--keep]
    BENCH_SCALE=0.01 .venv/bin/python bench/bench_month_close.py    # 1M events, 1,000 customers
    BENCH_SCALE=1 .venv/bin/python bench/bench_month_close.py --generate-only --raw /data/raw100m
    BENCH_SCALE=1 .venv/bin/python bench/bench_month_close.py --raw /data/raw100m --results r.jsonl

Writes a month of synthetic usage (April 2026) straight to the raw layer with pyarrow (seeded):
BENCH_SCALE x 100,000,000 events for BENCH_SCALE x 100,000 customers on the demo's meters
(gpu_ms with GPU type dimensions, api_calls, storage_gb gauge) and price models (the demo plans:
pay as you go, starter, growth, in USD, EUR and JPY), 1 % re-sent duplicates and 2 % late
arrivals. `--generate-only` stops there (with `--raw DIR`: writes into DIR, with a manifest);
`--raw DIR` reuses such a layer (hard-linked into the work folder, checked against the scale
first). Then runs the month close the way the daily job does, step by step:

  catalog      validate the catalog (YAML plans, bulk Parquet customers) into raw/catalog
  raw config   issuer, tax rates, marketplace catalog (1 % of the customers buy through AWS, Azure
               or Google) and feeds, cloud costs (the same loaders as the daily job's raw assets)
  usage dbt    journal + hourly/daily/monthly rollups over the month's arrival window (one dbt build)
  close dbt    rating, invoices, analytics (dbt build of everything else, as of 2026-05-04)
  hand SQL     baseline: the same journal (sorted) + daily rollup by one hand-written DuckDB script
  documents    invoice documents (HTML + PDF) of every invoice
  marketplace  the hourly usage reports of the month's last hours to AWS, Azure and Google (the
               local contract fakes, replayed hour by hour as the hourly schedule runs them)
  stripe       export to the local Stripe-compatible server at the configured rate; a sample of
               the first --stripe-invoices invoices when the month has more than 5,000
  incremental  (--incremental) day 1 vs day 30 of the daily run (bench/bench_daily_incremental.py)

Each step's result (status, wall and CPU seconds, peak resident memory of the whole process tree
sampled every 0.2 s, disk used by the work folder, details) is appended to a JSONL file as soon as
the step ends (--results, default <workdir>/results.jsonl, kept when the work folder is removed)
and printed. A failing step is recorded with its error; the steps that do not depend on it still
run. dbt's per-node lines are streamed as they come. The end prints a markdown table of the steps
and one of the goals with the values reached. DuckDB's memory_limit and temp_directory come from
USAGEBILL_DUCKDB_MEMORY_LIMIT / USAGEBILL_DUCKDB_TEMP_DIR (profiles.yml). No timed assertion: the
figures go to docs/benchmarks.md ("Month close").
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
import traceback
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
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
from bench.month_close_parts import (  # noqa: E402
    RawLayerError,
    ResultsFile,
    check_raw,
    link_usage,
    markdown_table,
    marketplace_customers,
    stripe_sample,
    verdict,
    write_manifest,
    write_marketplace_identities,
)
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
    """Samples the process tree's RSS every 0.2 s while a step runs; .peak is the maximum seen. With
    a `label`, logs a line every `heartbeat` seconds (the step is alive: time so far, RSS now)."""

    def __init__(self, label: str = "", heartbeat: float = 60.0) -> None:
        self.peak = 0
        self.label, self.heartbeat = label, heartbeat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = last = time.monotonic()
        while not self._stop.is_set():
            now_rss = tree_rss(os.getpid())
            self.peak = max(self.peak, now_rss)
            if self.label and time.monotonic() - last >= self.heartbeat:
                last = time.monotonic()
                log(
                    f"  ... {self.label}: running for {(last - started) / 60:.1f} min, process tree RSS "
                    f"{now_rss / 2**30:.2f} GiB (peak {self.peak / 2**30:.2f}), load average {os.getloadavg()[0]:.1f}"
                )
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
FAILED: set[str] = set()  # steps that failed or were skipped: the steps that need them are skipped
RESULTS_FILE: ResultsFile | None = None


def cpu_seconds() -> float:
    """User + system CPU of this process and of its children that have ended (dbt, the document
    pool): on a shared machine the wall clock measures the other sessions too, this does not."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def record(row: dict[str, Any]) -> None:
    RESULTS.append(row)
    if RESULTS_FILE is not None:
        RESULTS_FILE.append(row)


def step(
    name: str,
    action: Callable[[], Any],
    work: Path,
    *,
    needs: tuple[str, ...] = (),
    details: Callable[[Any], dict[str, Any]] | None = None,
) -> Any:
    """Run one step, measure it and record its result at once. An exception is recorded as the
    step's error (status failed) and the run goes on; a step whose `needs` did not complete is
    recorded as skipped. Returns the action's result (None when it failed or was skipped)."""
    missing = [n for n in needs if n in FAILED]
    if missing:
        FAILED.add(name)
        reason = f"needs {', '.join(missing)}, which did not complete"
        log(f"{name}: SKIPPED ({reason})")
        record({"step": name, "status": "skipped", "error": reason})
        return None
    log(f"{name} ...")
    started, cpu_started = time.perf_counter(), cpu_seconds()
    result, error = None, None
    with PeakMemory(name) as memory:
        try:
            result = action()
        except Exception as exc:  # recorded, and the steps that do not need this one go on
            traceback.print_exc()
            error = f"{type(exc).__name__}: {exc}"
    elapsed = time.perf_counter() - started
    row: dict[str, Any] = {
        "step": name,
        "status": "ok" if error is None else "failed",
        "seconds": round(elapsed, 1),
        "cpu_seconds": round(cpu_seconds() - cpu_started, 1),
        "load_average": round(os.getloadavg()[0], 1),
        "peak_rss_gib": round(memory.peak / 2**30, 2),
        "disk_gib": round(disk_used(work) / 2**30, 2),
    }
    if error is not None:
        FAILED.add(name)
        row["error"] = error[-3000:]
    elif details is not None:
        try:
            row.update(details(result))
        except Exception as exc:  # the step's figures stand; say what could not be described
            row["details_error"] = f"{type(exc).__name__}: {exc}"
    record(row)
    status = "" if error is None else f" FAILED ({error.splitlines()[0][:300]})"
    log(
        f"{name}: {row['seconds']} s ({row['cpu_seconds']} s CPU, load average {row['load_average']}), peak RSS "
        f"{row['peak_rss_gib']} GiB (process tree), disk {row['disk_gib']} GiB{status}"
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
class DbtBuildFailed(RuntimeError):
    pass


def dbt_build(env: dict[str, str], work: Path, *args: str) -> None:
    """`dbt build` with its lines streamed as they come (each node's start and end), and its slowest
    nodes (target/run_results.json) logged at the end. Raises DbtBuildFailed with dbt's last lines."""
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
    tail: deque[str] = deque(maxlen=40)
    with subprocess.Popen(
        command,
        env=dict(env, PYTHONUNBUFFERED="1", DBT_USE_COLORS="false"),
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip())
            print(f"    dbt| {line.rstrip()}", flush=True)
        code = proc.wait()
    for line in slowest_nodes(work):
        log(f"  slowest: {line}")
    if code != 0:
        raise DbtBuildFailed(
            f"dbt build exited with {code}; its last lines:\n"
            + "\n".join(tail)
            + f"\n(full log: {work / 'logs'})"
        )


def slowest_nodes(work: Path, count: int = 8) -> list[str]:
    """The `count` slowest nodes of the last dbt command (target/run_results.json), as text."""
    try:
        results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return []
    results.sort(key=lambda r: r.get("execution_time", 0), reverse=True)
    return [
        f"{r['unique_id']} {r.get('execution_time', 0):.1f} s ({r.get('status')})" for r in results[:count]
    ]


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


# -- the steps after dbt -------------------------------------------------------------------------------
def hand_sql(work: Path, raw: Path, env: dict[str, str]) -> None:
    import duckdb

    con = duckdb.connect(str(work / "hand.duckdb"))
    try:
        con.execute(f"set memory_limit = '{env['USAGEBILL_DUCKDB_MEMORY_LIMIT']}'")
        con.execute(f"set temp_directory = '{env['USAGEBILL_DUCKDB_TEMP_DIR']}'")
        con.execute(journal_bench.HAND_WRITTEN_JOURNAL_SQL.format(raw=raw))
    finally:
        con.close()


def invoice_counts(warehouse: Path) -> dict[str, Any]:
    """Invoices of the close by status and billing period, and per invoiced customer."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        total, customers = con.execute(
            "select count(*), count(distinct customer_id) from billing.fct_invoices"
        ).fetchone()
        by_status = dict(
            con.execute("select status, count(*) from billing.fct_invoices group by 1").fetchall()
        )
        periods = con.execute(
            "select cast(period_start as varchar), count(*) from billing.fct_invoices group by 1 order by 1"
        ).fetchall()
    return {
        "invoices": total,
        "invoiced_customers": customers,
        "invoices_per_customer": round(total / customers, 2) if customers else None,
        "invoices_by_status": by_status,
        "invoices_by_period_start": dict(periods),
    }


def documents(work: Path, warehouse: Path) -> dict[str, Any]:
    from usagebill.invoices.documents import default_workers, render_all

    counts = invoice_counts(warehouse)
    log(
        f"documents: {counts['invoices']:,} invoices for {counts['invoiced_customers']:,} customers "
        f"({counts['invoices_per_customer']} per customer; by period start {counts['invoices_by_period_start']}); "
        f"{default_workers()} rendering processes"
    )
    written = render_all(work / "reports" / "invoices", warehouse, log=log, progress_seconds=15.0)
    return counts | {"documents": len(written) // 2, "workers": default_workers()}


def marketplace_reports(hours: int, warehouse: Path) -> dict[str, Any]:
    """Report the month's last `hours` hours to each marketplace in fake mode, replayed hour by hour
    (each hour judged at its end + 10 minutes) as the hourly schedule runs them
    (dagster_project/defs/marketplace: report(marketplace, start, end, replay=True))."""
    from exports.marketplace.run import report

    end = datetime.combine(MONTH_START + timedelta(days=DAYS), datetime.min.time(), tzinfo=UTC)
    start = end - timedelta(hours=hours)
    out: dict[str, Any] = {"hours": hours, "first_hour": start.isoformat()}
    for marketplace in ("aws", "azure", "google"):
        started = time.perf_counter()
        summary = report(marketplace, start, end, replay=True, log=log)
        seconds = time.perf_counter() - started
        log(f"marketplace {marketplace}: {summary} in {seconds:.1f} s")
        out[marketplace] = {
            "seconds": round(seconds, 1),
            "records": summary.planned,
            "calls": summary.calls,
            "states": dict(summary.states),
        }
        if summary.states.get("failed"):
            raise RuntimeError(f"{marketplace}: {summary.states['failed']} record(s) refused: {summary}")
    return out


def stripe_export(warehouse: Path, limit: int | None) -> dict[str, Any]:
    """The Stripe export of the close (exports.stripe.exporter.run_export, settings from the
    environment) to the local server, of the first `limit` invoices when a limit is given."""
    from exports.stripe.exporter import run_export
    from exports.stripe.settings import StripeSettings

    settings = StripeSettings.from_env()
    moments: list[float] = []

    def hook(position: str, call_number: int, name: str) -> None:
        moments.append(time.monotonic())

    seen: dict[str, int] = {}
    estimate = (
        ""
        if limit is None
        else f" (about 8 calls an invoice: about {limit * 8 / settings.requests_per_second / 60:.0f} min for {limit:,})"
    )
    log(
        f"stripe: exporting {'all invoices' if limit is None else f'at most {limit:,} invoices'} at "
        f"{settings.requests_per_second:g} requests/s with {settings.workers} workers{estimate}"
    )
    with stripe_sample(limit, seen):
        summary = run_export(warehouse=warehouse, hook=hook, progress=log)
    rate = settings.requests_per_second
    window = max(moments) - min(moments) if len(moments) > 1 else summary.seconds
    achieved = summary.calls_per_second
    sample = seen.get("sample", 0) < seen.get("total", 0)
    log(
        f"stripe: {'a SAMPLE of ' if sample else ''}{seen.get('sample', 0):,} of {seen.get('total', 0):,} "
        f"invoices: {summary.api_calls:,} calls in {summary.seconds:.1f} s = {achieved:.1f} calls/s vs the "
        f"configured {rate:g}/s = {achieved / rate:.2f} (goal >= 0.80); first call to last answer "
        f"{window:.1f} s = {summary.api_calls / max(window, 1e-9):.1f} calls/s; {settings.workers} workers"
    )
    if summary.failed:
        raise RuntimeError(f"{len(summary.failed)} failed, e.g. {summary.failed[:3]}")
    return {
        "sample": sample,
        "invoices_exported": seen.get("sample", 0),
        "invoices_exportable": seen.get("total", 0),
        "sent": len(summary.sent),
        "skipped": len(summary.skipped),
        "blocked": len(summary.blocked),
        "api_calls": summary.api_calls,
        "rate_limited": summary.rate_limited,
        "calls_per_second": round(achieved, 1),
        "calls_per_second_first_to_last_call": round(summary.api_calls / max(window, 1e-9), 1),
        "configured_rate": rate,
        "ratio_to_configured": round(achieved / rate, 2),
        "ratio_to_configured_first_to_last_call": round(summary.api_calls / max(window, 1e-9) / rate, 2),
        "workers": settings.workers,
    }


# -- the summary -----------------------------------------------------------------------------------
STEP_USAGE = "usage dbt (journal + rollups)"
STEP_CLOSE = "close dbt (rating, invoices, analytics)"
STEP_HAND = "hand SQL baseline (journal + daily)"
STEP_DOCUMENTS = "documents (HTML + PDF)"
STEP_STRIPE = "stripe export (local server)"
STEP_MARKETPLACE = "marketplace reports (AWS, Azure, Google fakes)"


def summary(scale: float, events: int, customers: int) -> str:
    """The steps and the goals of issue 12 with the values reached, as markdown."""
    ok = {r["step"]: r for r in RESULTS if r.get("status") == "ok"}

    def fmt(value: Any, unit: str = "") -> str:
        return "" if value is None else f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"

    steps = markdown_table(
        ["step", "status", "wall", "CPU", "peak RSS (tree)", "disk (work folder)"],
        [
            [
                r["step"],
                r["status"] + (f": {r['error'].splitlines()[0][:120]}" if r.get("error") else ""),
                fmt(r.get("seconds"), " s"),
                fmt(r.get("cpu_seconds"), " s"),
                fmt(r.get("peak_rss_gib"), " GiB"),
                fmt(r.get("disk_gib"), " GiB"),
            ]
            for r in RESULTS
            if "step" in r
        ],
    )
    goals: list[list[str]] = []
    usage, close, hand = ok.get(STEP_USAGE), ok.get(STEP_CLOSE), ok.get(STEP_HAND)
    if usage and close:
        wall = usage["seconds"] + close["seconds"]
        cpu = usage["cpu_seconds"] + close["cpu_seconds"]
        rss = max(usage["peak_rss_gib"], close["peak_rss_gib"])
        goals.append(
            [
                "dbt part of the close (journal through analytics) <= 600 s",
                f"{wall:.0f} s wall ({cpu:.0f} s CPU)",
                verdict(wall, 600),
            ]
        )
        goals.append(["peak RSS of the dbt part <= 6 GiB", f"{rss:.2f} GiB", verdict(rss, 6)])
    else:
        goals.append(
            [
                "dbt part of the close <= 600 s, peak RSS <= 6 GiB",
                "a dbt step did not complete",
                "not measured",
            ]
        )
    if usage and hand:
        ratio = usage["seconds"] / max(hand["seconds"], 0.1)
        cpu_ratio = usage["cpu_seconds"] / max(hand["cpu_seconds"], 0.1)
        goals.append(
            [
                "journal + rollups <= 1.5 x hand-written DuckDB script",
                f"{ratio:.2f} wall, {cpu_ratio:.2f} CPU",
                verdict(ratio, 1.5),
            ]
        )
    docs = ok.get(STEP_DOCUMENTS)
    if docs and docs.get("documents"):
        per_100k = docs["seconds"] / docs["documents"] * 100_000
        cpu_100k = docs["cpu_seconds"] / docs["documents"] * 100_000 / max(docs.get("workers", 1), 1)
        goals.append(
            [
                "100,000 invoice documents <= 15 min",
                f"{docs['documents']:,} in {docs['seconds']:.0f} s; 100,000 at this rate: {per_100k / 60:.1f} min "
                f"(from CPU per document on {docs.get('workers')} processes: {cpu_100k / 60:.1f} min); "
                f"{docs.get('invoices_per_customer')} invoices per customer",
                verdict(per_100k, 900),
            ]
        )
    stripe = ok.get(STEP_STRIPE)
    if stripe and stripe.get("api_calls"):
        # a sample still reads every invoice of the month before its first call: its rate is judged
        # from the first call to the last answer; a whole export from start to end
        sample = stripe["sample"]
        ratio = stripe["ratio_to_configured_first_to_last_call" if sample else "ratio_to_configured"]
        goals.append(
            [
                "Stripe export >= 80 % of the configured rate",
                (
                    f"a SAMPLE of {stripe['invoices_exported']:,} of {stripe['invoices_exportable']:,} invoices: "
                    f"{stripe['calls_per_second_first_to_last_call']} calls/s from the first call to the last answer"
                    if sample
                    else f"all {stripe['invoices_exported']:,} invoices: {stripe['calls_per_second']} calls/s"
                )
                + f" of {stripe['configured_rate']:g}/s = {ratio:.2f} ({stripe['calls_per_second']} calls/s over the "
                f"whole step, {stripe['api_calls']:,} calls, {stripe['rate_limited']} rate-limited)",
                verdict(ratio, 0.8, at_most=False),
            ]
        )
    market = ok.get(STEP_MARKETPLACE)
    if market:
        parts = [
            f"{m}: {market[m]['records']:,} records, {market[m]['calls']:,} calls, {market[m]['seconds']} s"
            for m in ("aws", "azure", "google")
            if m in market
        ]
        goals.append(
            [
                f"marketplace reports, the month's last {market['hours']} hours (no goal)",
                "; ".join(parts),
                "measured",
            ]
        )
    times = {r["step"]: r for r in RESULTS if r.get("status") == "ok"}
    day1, day30 = times.get("incremental day 1 window"), times.get("incremental day 30 window")
    if day1 and day30:
        goals.append(
            [
                "day 30 <= 1.2 x day 1 (daily incremental run)",
                f"{day30['seconds'] / max(day1['seconds'], 0.1):.2f} wall, {day30['cpu_seconds'] / max(day1['cpu_seconds'], 0.1):.2f} CPU",
                verdict(day30["seconds"] / max(day1["seconds"], 0.1), 1.2),
            ]
        )
    title = f"Month close, BENCH_SCALE={scale:g}: {events:,} events, {customers:,} customers"
    return f"### {title}\n\n{steps}\n\n{markdown_table(['goal', 'reached', 'verdict'], goals)}\n"


# -- main ---------------------------------------------------------------------------------------------
def stripe_limit(text: str) -> int | None:
    """--stripe-invoices: a positive whole number, or `all`."""
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: use a whole number of invoices, e.g. 5000, or all"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: export at least 1 invoice (or use --skip-stripe)")
    return value


def preflight(work: Path, raw_source: Path | None, events: int) -> None:
    """Fail now rather than after an hour: dbt present, the export servers' modules importable,
    enough disk for the run (about 6x the raw layer at full scale, measured at 10 %)."""
    if not Path(DBT).exists() and shutil.which(DBT) is None:
        sys.exit(f"dbt not found ({DBT}): run `make install-dev`")
    import exports.fakes.stripe_server  # noqa: F401
    import exports.marketplace.run  # noqa: F401
    import usagebill.invoices.documents  # noqa: F401

    need = int(events / 100_000_000 * 25 * 2**30) + 2**30
    free = shutil.disk_usage(work.parent if work.parent.exists() else Path.cwd()).free
    if free < need:
        sys.exit(
            f"{free / 2**30:.1f} GiB free for the work folder {work}, the run needs about {need / 2**30:.0f} GiB "
            "(raw layer, warehouse, DuckDB spill, documents): free space or use --workdir elsewhere"
        )
    log(f"free disk for the work folder: {free / 2**30:.1f} GiB (about {need / 2**30:.0f} GiB needed)")
    if raw_source is not None and (raw_source == work or work in raw_source.parents):
        sys.exit(f"--raw {raw_source} is inside the work folder {work}, which the run deletes: move it")


def main(argv: list[str] | None = None) -> int:
    global RESULTS_FILE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / ".bench" / "month_close")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--raw",
        type=Path,
        help="a raw layer written by --generate-only for this BENCH_SCALE: reused, not generated",
    )
    parser.add_argument(
        "--generate-only",
        action="store_true",
        help="write the raw usage layer (into --raw DIR if given) and stop",
    )
    parser.add_argument(
        "--results", type=Path, help="JSONL file of the step results (default: <workdir>/results.jsonl)"
    )
    parser.add_argument("--skip-documents", action="store_true")
    parser.add_argument("--skip-stripe", action="store_true")
    parser.add_argument("--skip-marketplace", action="store_true")
    parser.add_argument("--skip-hand-sql", action="store_true")
    parser.add_argument(
        "--stripe-invoices",
        type=stripe_limit,
        default=5_000,
        metavar="N|all",
        help="export the first N invoices (issue date, invoice id); default: all when <= 5,000, else 5,000",
    )
    parser.add_argument(
        "--marketplace-hours",
        type=int,
        default=24,
        help="the month's last hours reported to the marketplaces",
    )
    parser.add_argument(
        "--incremental",
        action="store_true",
        help="also run day 1 vs day 30 of the daily incremental run (long; bench/bench_daily_incremental.py)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.marketplace_hours <= DAYS * 24:
        parser.error(f"--marketplace-hours {args.marketplace_hours}: use 1 to {DAYS * 24}")
    scale = bench_scale()
    events, customers = int(100_000_000 * scale), max(10, int(100_000 * scale))
    work = args.workdir.resolve()
    raw_source = args.raw.resolve() if args.raw else None

    if args.generate_only:
        target = raw_source or work / "raw"
        if (target / "usage_events").exists():
            sys.exit(f"{target} already holds a raw layer: reuse it with --raw {target}, or delete it first")
        log(f"scale {scale}: generating {events:,} events for {customers:,} customers into {target}")
        started = time.perf_counter()
        rows = write_usage(target, events, customers)
        write_manifest(
            target,
            events=events,
            customers=customers,
            rows=rows,
            seed=42,
            month_start=MONTH_START.isoformat(),
            days=DAYS,
            seconds=round(time.perf_counter() - started, 1),
        )
        log(f"raw layer: {rows:,} rows in {target / 'usage_events'}; reuse it with --raw {target}")
        return 0

    preflight(work, raw_source, events)
    raw_info: dict[str, Any] = {}
    if raw_source is not None:
        try:
            raw_info = check_raw(raw_source, events, customers, MONTH_START, DAYS, scale)
        except RawLayerError as exc:
            sys.exit(str(exc))
        log(
            f"--raw {raw_source}: {raw_info['rows']:,} rows in {raw_info['files']} files over {raw_info['days']} days"
        )
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results_path = (args.results or work / "results.jsonl").resolve()
    RESULTS_FILE = ResultsFile(results_path)
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
    # One dbt node at a time: each heavy query gets the whole memory_limit and DuckDB still uses
    # both cores inside it (two rollups at once ran out of memory at 100M events).
    env.setdefault("USAGEBILL_DBT_THREADS", "1")
    env.setdefault("USAGEBILL_DUCKDB_TEMP_DIR", str(work / "duckdb_tmp"))
    os.environ.update(env)
    log(
        f"scale {scale}: {events:,} events, {customers:,} customers; work folder {work}; results {results_path}"
    )
    log(
        f"DuckDB memory_limit={env['USAGEBILL_DUCKDB_MEMORY_LIMIT']} temp_directory={env['USAGEBILL_DUCKDB_TEMP_DIR']}"
        f" dbt threads={env['USAGEBILL_DBT_THREADS']}"
    )
    record(
        {
            "run": {
                "scale": scale,
                "events": events,
                "customers": customers,
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "raw": str(raw_source) if raw_source else "generated",
                "cores": os.cpu_count(),
                "load_average": round(os.getloadavg()[0], 1),
                "duckdb_memory_limit": env["USAGEBILL_DUCKDB_MEMORY_LIMIT"],
            }
        }
    )

    catalog = work / "data" / "catalog"
    write_catalog(catalog, customers)
    # 1 % of the customers (at least 3) buy through a marketplace: their invoices are not exported to
    # Stripe (one channel per customer), their usage is reported hourly to AWS, Azure or Google
    buyers = marketplace_customers(customers, max(3, customers // 100), len(common.PLANS))
    per_marketplace = write_marketplace_identities(
        catalog / "marketplace_customers.yaml", buyers, "2026-03-01T00:00:00Z"
    )
    log(f"marketplace customers: {per_marketplace}")
    if raw_source is not None:
        how = link_usage(raw_source, raw, log)
        record({"step": "raw layer reused", "status": "ok", "source": str(raw_source), "how": how} | raw_info)
    else:
        rows = step(
            "generate usage (not part of the close)", lambda: write_usage(raw, events, customers), work
        )
        if rows is None:
            FAILED.add("raw layer")
        else:
            log(f"raw layer: {rows:,} rows")

    from usagebill.catalog import load_catalog

    step_catalog = "catalog (bulk Parquet customers + subscriptions, validated)"
    step_config = "raw configuration (issuer, tax rates, marketplace, costs)"
    step(step_catalog, lambda: load_catalog(catalog, raw), work, needs=("raw layer",))
    step(step_config, lambda: write_raw_configuration(work), work, needs=(step_catalog,))
    window = {
        "min_date": MONTH_START.isoformat(),
        "max_date": (MONTH_START + timedelta(days=DAYS)).isoformat(),
        "as_of_date": AS_OF.isoformat(),
    }
    step(
        STEP_USAGE,
        lambda: dbt_build(env, work, "--select", "+tag:partitioned_daily", "--vars", json.dumps(window)),
        work,
        needs=(step_catalog, step_config),
    )
    step(
        STEP_CLOSE,
        lambda: dbt_build(
            env,
            work,
            "--exclude",
            "+tag:partitioned_daily",
            "--vars",
            json.dumps({"as_of_date": AS_OF.isoformat()}),
        ),
        work,
        needs=(STEP_USAGE,),
    )
    if not args.skip_hand_sql:
        step(STEP_HAND, lambda: hand_sql(work, raw, env), work, needs=("raw layer",))
    if not args.skip_documents:
        step(
            STEP_DOCUMENTS, lambda: documents(work, warehouse), work, needs=(STEP_CLOSE,), details=lambda r: r
        )
    if not (args.skip_stripe and args.skip_marketplace):
        from exports.local_servers import start_local_export_servers

        with ExitStack() as stack:
            os.environ.pop("STRIPE_API_BASE", None)
            os.environ.pop("STRIPE_API_KEY", None)
            os.environ.pop("USAGEBILL_MARKETPLACE_MODE", None)
            for line in start_local_export_servers(stack, work / "local_servers"):
                log(line)
            if not args.skip_marketplace:
                step(
                    STEP_MARKETPLACE,
                    lambda: marketplace_reports(args.marketplace_hours, warehouse),
                    work,
                    needs=(STEP_CLOSE,),
                    details=lambda r: r,
                )
            if not args.skip_stripe:
                step(
                    STEP_STRIPE,
                    lambda: stripe_export(warehouse, args.stripe_invoices),
                    work,
                    needs=(STEP_CLOSE,),
                    details=lambda r: r,
                )

    if args.incremental:
        incremental_runs(env, work, raw)

    try:
        text = summary(scale, events, customers)
    except Exception:  # the step results are in the results file already; say why the table is missing
        traceback.print_exc()
        text = f"(no summary table: see the error above; the step results are in {results_path})"
    record({"summary_markdown": text})
    log("summary")
    print(text, flush=True)
    log(f"results: {results_path}")
    if not args.keep:
        for entry in work.iterdir():
            if entry != results_path:
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    return 1 if FAILED else 0


if __name__ == "__main__":
    raise SystemExit(main())
