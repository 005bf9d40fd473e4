"""Benchmark: the usage journal + daily rollup built by dbt vs one hand-written DuckDB statement.

    .venv/bin/python bench/bench_journal.py [--events 10000000] [--days 30] [--workdir .bench/journal]

Writes N raw usage events (default 10,000,000) over D arrival days straight to the raw layer
(raw/usage_events/arrival_date=YYYY-MM-DD/*.parquet, the loaders' schema) with pyarrow, one day at
a time: 80 % GPU ms with dimensions, 18 % API calls, 2 % storage gauge samples; 2 % of each day's
events are late (happened 1-3 days before arrival) and 1 % are re-sent copies of the previous
day's events (duplicates to remove). Then, in scratch warehouses, measured in the same run:

  (a) `dbt run --full-refresh` of the journal and the daily rollup (and the views they read);
  (b) ONE hand-written DuckDB SQL statement over the same files doing the same work: first
      arrival per (tenant_id, event_id), unit multiplier of the meter, canonical dimensions key
      (computed once per distinct dimensions text, as the journal does), daily sum and count per
      tenant, customer, meter, dimensions and event day; it persists only the daily result, the
      dbt run also persists the 10M-row journal (sorted) and the rollup;
      prints (a) / (b)  (goal <= 1.5);
  (b2) for reading (a): the same outputs as (a) written by hand (the sorted journal table,
      then the daily rollup from it), prints (a) / (b2): what dbt itself costs;
  (c) the daily incremental run (journal + daily rollup, Dagster window [day, day + 1)) for
      day 1 of history (empty journal) and for day D (journal holding days 1..D-1);
      prints day D / day 1  (goal <= 1.2); each is the median of 3 runs of the window (a re-run
      is idempotent), because the machine is shared.

Also prints the time of a dbt run that builds one view (dbt's fixed start-up cost), so the
ratios can be read against it. No assertion: numbers are printed, figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bench.common import DBT, DBT_PROJECT  # noqa: E402
from ingestion.landing import USAGE_EVENTS_SCHEMA  # noqa: E402
from usagebill.catalog.write import table_for  # noqa: E402
from usagebill.dbt_cli import dbt_path_args  # noqa: E402

FIRST_DAY = date(2026, 4, 1)
CUSTOMERS = 1000
GPU_DIMENSIONS = [
    json.dumps({"gpu_type": gpu, "region": region}, separators=(",", ":"), sort_keys=True)
    for gpu in ("a100", "h100", "l4")
    for region in ("eu-west-1", "us-east-1")
]
# meter id, name, unit, aggregation: the demo catalog's meters (usagebill/catalog/examples/gpu_cloud)
METERS = [
    {"meter_id": meter, "name": name, "unit": unit, "aggregation": aggregation, "unit_multiplier": "1"}
    for meter, name, unit, aggregation in (
        ("gpu_ms", "GPU time", "ms", "sum"),
        ("api_calls", "API calls", "call", "count"),
        ("storage_gb", "Storage", "GB", "time_weighted_sum"),
    )
]
JOURNAL_AND_DAILY = [
    "stg_catalog__meters",
    "stg_usage__events",
    "int_usage__events_metered",
    "int_usage__gauge_hours",
    "fct_usage_journal",
    "fct_usage_daily",
]
INCREMENTAL = ["fct_usage_journal", "fct_usage_daily"]


def log(message: str) -> None:
    print(f"[bench_journal {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _strings(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def day_events(rng: np.random.Generator, day_index: int, n: int, first_id: int) -> pa.Table:
    """n new events arriving on FIRST_DAY + day_index (2 % of them late by 1-3 days)."""
    arrival = FIRST_DAY + timedelta(days=day_index)
    arrival_start = np.datetime64(arrival.isoformat(), "us")
    late_days = np.where(rng.random(n) < 0.02, rng.integers(1, 4, n), 0)
    late_days = np.minimum(late_days, day_index)  # nothing before the first day
    event_ts = (
        arrival_start
        - late_days.astype("timedelta64[D]").astype("timedelta64[us]")
        + rng.integers(0, 86_400_000_000, n).astype("timedelta64[us]")
    )
    arrived_at = arrival_start + rng.integers(0, 86_400_000_000, n).astype("timedelta64[us]")
    # late events arrive after they happened; same-day events arrive after event_ts too
    arrived_at = np.maximum(arrived_at, event_ts + np.timedelta64(1, "s"))
    arrived_at = np.minimum(arrived_at, arrival_start + np.timedelta64(86_399_999_999, "us"))
    kind = rng.random(n)
    meter = np.where(kind < 0.80, "gpu_ms", np.where(kind < 0.98, "api_calls", "storage_gb"))
    quantity = np.where(
        meter == "gpu_ms",
        rng.integers(1, 10_000, n).astype(str),
        np.where(meter == "storage_gb", (rng.integers(1, 100_000, n) / 10).astype(str), None),
    )
    dimensions = np.where(meter == "gpu_ms", np.array(GPU_DIMENSIONS)[rng.integers(0, 6, n)], "{}")
    customers = _strings("cus_", rng.integers(0, CUSTOMERS, n))
    return pa.table(
        {
            "tenant_id": pa.array(["default"] * n),
            "event_id": _strings("ev", np.arange(first_id, first_id + n)),
            "customer_id": customers,
            "meter": pa.array(meter),
            "event_ts": pa.array(event_ts).cast(pa.timestamp("us", tz="UTC")),
            "quantity": pa.array(quantity, type=pa.string()),
            "properties_json": pa.array(["{}"] * n),
            "dimensions_json": pa.array(dimensions),
            "source": pa.array(["bench"] * n),
            "source_file": pa.array([f"bench/{arrival.isoformat()}.jsonl"] * n),
            "arrived_at": pa.array(arrived_at).cast(pa.timestamp("us", tz="UTC")),
            "arrival_date": pa.array([arrival] * n, type=pa.date32()),
        },
        schema=USAGE_EVENTS_SCHEMA,
    )


def resend(rng: np.random.Generator, previous: pa.Table, arrival: date, n: int) -> pa.Table:
    """n copies of events of the previous day, re-sent (same id and content) on `arrival`."""
    picked = previous.take(
        pa.array(rng.choice(previous.num_rows, size=min(n, previous.num_rows), replace=False))
    )
    start = np.datetime64(arrival.isoformat(), "us")
    arrived = start + rng.integers(0, 86_400_000_000, picked.num_rows).astype("timedelta64[us]")
    picked = picked.set_column(
        picked.schema.get_field_index("arrived_at"),
        "arrived_at",
        pa.array(arrived).cast(pa.timestamp("us", tz="UTC")),
    )
    picked = picked.set_column(
        picked.schema.get_field_index("arrival_date"),
        "arrival_date",
        pa.array([arrival] * picked.num_rows, type=pa.date32()),
    )
    return picked.set_column(
        picked.schema.get_field_index("source_file"),
        "source_file",
        pa.array([f"bench/{arrival.isoformat()}-retry.jsonl"] * picked.num_rows),
    )


def generate(raw: Path, events: int, days: int) -> int:
    """Write the raw layer; return the number of rows written (new events + re-sent copies)."""
    rng = np.random.default_rng(42)
    (raw / "catalog").mkdir(parents=True, exist_ok=True)
    for name, rows in (("meters", METERS), ("customers", []), ("subscriptions", [])):
        pq.write_table(table_for(name, rows), raw / "catalog" / f"{name}.parquet")
    per_day = events // days
    written, previous = 0, None
    for d in range(days):
        arrival = FIRST_DAY + timedelta(days=d)
        n = per_day if d < days - 1 else events - per_day * (days - 1)
        table = day_events(rng, d, n, first_id=d * per_day)
        if previous is not None:
            table = pa.concat_tables([table, resend(rng, previous, arrival, n // 100)])
        folder = raw / "usage_events" / f"arrival_date={arrival.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / "bench.parquet", row_group_size=1_000_000)
        written += table.num_rows
        previous = table
        if d % 5 == 4 or d == days - 1:
            log(f"  wrote {d + 1}/{days} days, {written:,} rows")
    return written


def dbt(env: dict[str, str], work: Path, command: str, models: list[str], *extra: str) -> float:
    args = [
        DBT,
        command,
        "--select",
        *models,
        *dbt_path_args(DBT_PROJECT, work),
        *extra,
    ]
    started = time.perf_counter()
    result = subprocess.run(args, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(
            f"dbt {command} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}\n"
            "Fix the model (or run the failing command by hand with the same env) and rerun the benchmark."
        )
    return elapsed


def env_for(raw: Path, warehouse: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        USAGEBILL_RAW_DIR=str(raw), USAGEBILL_WAREHOUSE=str(warehouse), DBT_SEND_ANONYMOUS_USAGE_STATS="false"
    )
    env.pop("USAGEBILL_DBT_TARGET", None)
    return env


# the journal's dedup (first arrival per (tenant_id, event_id)) and dimension keys, by hand; {raw} is
# formatted by the caller
HAND_WRITTEN_DEDUP = """
with events as (
    select * from read_parquet('{raw}/usage_events/*/*.parquet', hive_partitioning = true, union_by_name = true)
),
first_arrivals as (
    select * from events
    qualify row_number() over (partition by tenant_id, event_id order by arrived_at, source_file) = 1
),
dimension_keys as (
    select dimensions_json, cast(to_json(map_from_entries(list_sort(map_entries(
        cast(json(dimensions_json) as map(varchar, varchar)))))) as varchar) as dimensions_key
    from (select distinct dimensions_json from first_arrivals)
)
"""

HAND_WRITTEN_SQL = (
    "create or replace table daily as"
    + HAND_WRITTEN_DEDUP
    + """,
metered as (
    select
        e.tenant_id, e.customer_id, e.meter as meter_id, k.dimensions_key,
        cast(make_timestamp(epoch_us(e.event_ts)) as date) as usage_date,
        case when m.unit_multiplier::decimal(38, 12) = 1 then coalesce(e.quantity::decimal(38, 12), 1)
             else (coalesce(e.quantity::decimal(38, 12), 1) * m.unit_multiplier::decimal(38, 12))::decimal(38, 12)
        end as quantity
    from first_arrivals e
    join dimension_keys k on e.dimensions_json = k.dimensions_json
    join read_parquet('{raw}/catalog/meters.parquet') m on e.meter = m.meter_id
)
select tenant_id, customer_id, meter_id, usage_date, dimensions_key, sum(quantity) as quantity, count(*) as event_count
from metered
group by all
"""
)


# gauges are time-weighted (GB-hours) in dbt, summed here: compare the other meters' quantities
TOTALS_SQL = (
    """select sum(case when meter_id != 'storage_gb' then quantity end), sum(event_count) from {table}"""
)


# (b2) the same result PLUS the persisted, sorted journal, by hand (two statements)
HAND_WRITTEN_JOURNAL_SQL = (
    "create or replace table journal as"
    + HAND_WRITTEN_DEDUP
    + """select
    e.tenant_id, e.event_id, e.customer_id, e.meter as meter_id,
    make_timestamp(epoch_us(e.event_ts)) as event_ts,
    cast(make_timestamp(epoch_us(e.event_ts)) as date) as event_date,
    date_trunc('hour', make_timestamp(epoch_us(e.event_ts))) as event_hour,
    make_timestamp(epoch_us(e.arrived_at)) as arrived_at, e.arrival_date,
    case when m.unit_multiplier::decimal(38, 12) = 1 then coalesce(e.quantity::decimal(38, 12), 1)
         else (coalesce(e.quantity::decimal(38, 12), 1) * m.unit_multiplier::decimal(38, 12))::decimal(38, 12)
    end as quantity,
    e.properties_json, e.dimensions_json, k.dimensions_key, e.source,
    e.arrival_date > cast(make_timestamp(epoch_us(e.event_ts)) as date) as is_late
from first_arrivals e
join dimension_keys k on e.dimensions_json = k.dimensions_json
join read_parquet('{raw}/catalog/meters.parquet') m on e.meter = m.meter_id
order by event_date, tenant_id, customer_id, event_ts;
create or replace table daily as
select tenant_id, customer_id, meter_id, event_date as usage_date, dimensions_key,
    sum(quantity) as quantity, count(*) as event_count
from journal
group by all;
"""
)


def median_of(runs: int, action: Callable[[], float]) -> float:
    times = sorted(action() for _ in range(runs))
    return times[len(times) // 2]


def timed(label: str, action: Callable[[], float]) -> float:
    log(f"{label} ...")
    elapsed = action()
    log(f"{label}: {elapsed:.2f} s")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="new events to generate (default 10M)")
    parser.add_argument("--days", type=int, default=30, help="arrival days of history (default 30)")
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / ".bench" / "journal")
    parser.add_argument("--keep", action="store_true", help="keep the work directory afterwards")
    args = parser.parse_args(argv)
    if args.days < 3:
        parser.error("--days must be at least 3")
    work: Path = args.workdir.resolve()
    shutil.rmtree(work, ignore_errors=True)
    raw = work / "raw"
    log(f"generating {args.events:,} events over {args.days} days into {raw}")
    rows = generate(raw, args.events, args.days)

    # dbt's fixed cost: one tiny view
    startup = timed(
        "dbt start-up (one view)",
        lambda: dbt(env_for(raw, work / "startup.duckdb"), work, "run", ["stg_catalog__meters"]),
    )
    # (a) dbt: journal + daily rollup from all raw
    full_env = env_for(raw, work / "full.duckdb")
    dbt_time = timed(
        "(a) dbt run --full-refresh journal + daily",
        lambda: dbt(full_env, work, "run", JOURNAL_AND_DAILY, "--full-refresh"),
    )
    con = duckdb.connect(str(work / "full.duckdb"), read_only=True)
    journal_rows = con.execute("select count(*) from usage.fct_usage_journal").fetchall()[0][0]
    dbt_totals = con.execute(TOTALS_SQL.format(table="usage.fct_usage_daily")).fetchall()[0]
    con.close()

    # (b) the same in one hand-written statement
    def hand() -> float:
        con = duckdb.connect(str(work / "hand.duckdb"))
        started = time.perf_counter()
        con.execute(HAND_WRITTEN_SQL.format(raw=raw))
        elapsed = time.perf_counter() - started
        totals = con.execute(TOTALS_SQL.format(table="daily")).fetchall()[0]
        con.close()
        if tuple(totals) != tuple(dbt_totals):
            sys.exit(
                f"the two results differ: dbt {dbt_totals}, hand-written {totals}: fix before comparing times"
            )
        log(f"  same totals as dbt (quantity of non-gauge meters, events): {totals}")
        return elapsed

    hand_time = timed("(b) one hand-written DuckDB statement", hand)

    def hand_with_journal() -> float:
        con = duckdb.connect(str(work / "hand_journal.duckdb"))
        started = time.perf_counter()
        con.execute(HAND_WRITTEN_JOURNAL_SQL.format(raw=raw))
        elapsed = time.perf_counter() - started
        con.close()
        return elapsed

    hand_journal_time = timed("(b2) hand-written journal (sorted, persisted) + daily", hand_with_journal)

    # (c) incremental: day 1 (empty journal) vs day D (journal holds days 1..D-1)
    inc_raw = work / "raw_incremental"
    shutil.copytree(raw / "catalog", inc_raw / "catalog")
    inc_env = env_for(inc_raw, work / "incremental.duckdb")
    dbt(inc_env, work, "run", JOURNAL_AND_DAILY, "--full-refresh")  # empty tables (no usage file yet)

    def link_days(first: int, last: int) -> None:
        for d in range(first, last + 1):
            name = f"arrival_date={(FIRST_DAY + timedelta(days=d)).isoformat()}"
            (inc_raw / "usage_events" / name).mkdir(parents=True, exist_ok=True)
            os.link(
                raw / "usage_events" / name / "bench.parquet",
                inc_raw / "usage_events" / name / "bench.parquet",
            )

    def window(first: int, end: int) -> list[str]:
        return [
            "--vars",
            json.dumps(
                {
                    "min_date": (FIRST_DAY + timedelta(days=first)).isoformat(),
                    "max_date": (FIRST_DAY + timedelta(days=end)).isoformat(),
                }
            ),
        ]

    link_days(0, 0)
    # re-running a window is idempotent: take the median of 3 runs (the machine is shared)
    day1 = timed(
        "(c) incremental run, day 1 (median of 3)",
        lambda: median_of(3, lambda: dbt(inc_env, work, "run", INCREMENTAL, *window(0, 1))),
    )
    link_days(1, args.days - 2)
    timed(
        f"    catch-up days 2..{args.days - 1} (one window, not compared)",
        lambda: dbt(inc_env, work, "run", INCREMENTAL, *window(1, args.days - 1)),
    )
    link_days(args.days - 1, args.days - 1)
    day_n = timed(
        f"(c) incremental run, day {args.days} (median of 3)",
        lambda: median_of(
            3, lambda: dbt(inc_env, work, "run", INCREMENTAL, *window(args.days - 1, args.days))
        ),
    )
    con = duckdb.connect(str(work / "incremental.duckdb"), read_only=True)
    inc_rows = con.execute("select count(*) from usage.fct_usage_journal").fetchall()[0][0]
    con.close()

    print()
    print(
        f"raw rows {rows:,} (new events {args.events:,} + re-sent copies); journal rows {journal_rows:,}"
        f" (incremental journal: {inc_rows:,})"
    )
    print(f"dbt start-up (one view)                 {startup:8.2f} s")
    print(f"(a) dbt journal + daily rollup          {dbt_time:8.2f} s")
    print(f"(b) hand-written DuckDB statement       {hand_time:8.2f} s")
    print(f"    ratio (a)/(b)                       {dbt_time / hand_time:8.2f}   (goal <= 1.5)")
    print(f"(b2) hand-written journal + daily       {hand_journal_time:8.2f} s   (same outputs as (a))")
    print(f"    ratio (a)/(b2)                      {dbt_time / hand_journal_time:8.2f}")
    print(f"(c) incremental day 1                   {day1:8.2f} s")
    print(f"    incremental day {args.days:<3}                 {day_n:8.2f} s")
    print(f"    ratio day {args.days}/day 1                  {day_n / day1:8.2f}   (goal <= 1.2)")
    if journal_rows != inc_rows:
        print(f"WARNING: incremental journal has {inc_rows:,} rows, full build {journal_rows:,}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
