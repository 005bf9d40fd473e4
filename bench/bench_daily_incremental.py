"""Benchmark: the daily incremental run (journal + rollups) on day 30 vs day 1 (goal <= 1.2).

    .venv/bin/python bench/bench_daily_incremental.py --raw DIR     # an existing raw layer
    BENCH_SCALE=0.1 .venv/bin/python bench/bench_daily_incremental.py [--workdir W] [--keep]

With --raw, DIR is a raw layer holding a month of usage (usage_events/arrival_date=2026-04-01 ..
2026-04-30) and the catalog, as bench/bench_month_close.py writes it (`--keep`, then W/raw).
Without --raw, it writes one the same way (BENCH_SCALE x 100M events, seeded) into W/raw.

The run, in a warehouse of its own (W/incremental.duckdb, the raw layer hard-linked into W):
  setup    the tables created EMPTY (a full refresh over the raw layer without usage: a first run
           of an incremental model ignores the window and rebuilds from all raw events)
  day 1    arrival day 2026-04-01 linked in, window [04-01, 04-02): journal + rollups on nothing
  days 2-29  (setup, ONE window run [04-02, 04-30)) so the journal holds 29 days
  day 30   arrival day 2026-04-30 linked in, window [04-30, 05-01)
Prints each window's wall and CPU seconds (user + system of dbt, from getrusage: on a shared
machine the wall clock measures the other sessions too), the slowest dbt nodes, and
day 30 / day 1. No timed assertion: the figures go to docs/benchmarks.md ("Month close").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bench import bench_month_close as close  # noqa: E402

DAY_1, DAY_30 = "incremental day 1 window", "incremental day 30 window"


def incremental_runs(env: dict[str, str], work: Path, raw: Path) -> None:
    """The daily incremental run (`+tag:partitioned_daily`) of day 1 on an empty journal vs day 30 on
    a journal holding days 1..29, in a warehouse of its own; results go to close.RESULTS."""
    inc_raw = work / "raw_incremental"
    shutil.rmtree(inc_raw, ignore_errors=True)
    for entry in raw.iterdir():
        if entry.name != "usage_events":
            shutil.copytree(entry, inc_raw / entry.name, copy_function=os.link)
    (inc_raw / "usage_events").mkdir(parents=True, exist_ok=True)
    warehouse = work / "incremental.duckdb"
    warehouse.unlink(missing_ok=True)
    inc_env = dict(env, USAGEBILL_WAREHOUSE=str(warehouse), USAGEBILL_RAW_DIR=str(inc_raw))
    start, days, as_of = close.MONTH_START, close.DAYS, close.AS_OF

    def window(first: int, last: int) -> str:
        return json.dumps(
            {
                "min_date": (start + timedelta(days=first)).isoformat(),
                "max_date": (start + timedelta(days=last)).isoformat(),
                "as_of_date": as_of.isoformat(),
            }
        )

    setup = "incremental setup: empty tables"
    close.step(
        setup,
        lambda: close.dbt_build(
            inc_env, work, "--select", "+tag:partitioned_daily", "--full-refresh", "--vars", window(0, 0)
        ),
        work,
    )
    done: list[str] = []
    for label, first, last in (
        ("day 1 window", 0, 1),
        (f"days 2-{days - 1} (setup, one window)", 1, days - 1),
        ("day 30 window", days - 1, days),
    ):
        for d in range(first, last):  # the arrival days landed so far (the tests check every raw event)
            name = f"arrival_date={(start + timedelta(days=d)).isoformat()}"
            shutil.copytree(
                raw / "usage_events" / name, inc_raw / "usage_events" / name, copy_function=os.link
            )
        vars_ = window(first, last)
        close.step(  # each window needs the earlier ones (a failed step is recorded, the run goes on)
            f"incremental {label}",
            lambda v=vars_: close.dbt_build(inc_env, work, "--select", "+tag:partitioned_daily", "--vars", v),
            work,
            needs=(setup, *done),
        )
        done.append(f"incremental {label}")


def summary() -> str:
    """Day 1 and day 30 wall + CPU seconds and their ratios (CPU is the figure on a loaded machine)."""
    rows = {r["step"]: r for r in close.RESULTS}
    one, thirty = rows.get(DAY_1, {}), rows.get(DAY_30, {})
    if one.get("status", "ok") != "ok" or thirty.get("status", "ok") != "ok" or not one or not thirty:
        return f"day 1 / day 30: not measured ({one.get('error') or thirty.get('error') or 'a step did not run'})"
    return (
        f"day 1: {one['seconds']} s wall, {one['cpu_seconds']} s CPU; "
        f"day 30: {thirty['seconds']} s wall, {thirty['cpu_seconds']} s CPU; "
        f"day 30 / day 1 = {thirty['seconds'] / max(one['seconds'], 0.1):.2f} wall, "
        f"{thirty['cpu_seconds'] / max(one['cpu_seconds'], 0.1):.2f} CPU (goal <= 1.2)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--raw", type=Path, help="an existing raw layer with a month of usage (else generate)"
    )
    parser.add_argument("--workdir", type=Path, default=PROJECT_ROOT / ".bench" / "daily_incremental")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    work = args.workdir.resolve()
    if args.raw is not None:
        raw = args.raw.resolve()
        if not (raw / "usage_events").is_dir():
            sys.exit(f"--raw {raw}: no usage_events folder; write one with bench/bench_month_close.py --keep")
        if work == raw or work in raw.parents:
            sys.exit(f"--workdir {work} must not contain --raw {raw} (the work folder is deleted)")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = dict(os.environ)
    env.update(
        USAGEBILL_DATA_DIR=str(work / "data"),
        USAGEBILL_CATALOG_DIR=str(work / "data" / "catalog"),
        USAGEBILL_REPORTS_DIR=str(work / "reports"),
        USAGEBILL_AS_OF_DATE=close.AS_OF.isoformat(),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    env.setdefault("USAGEBILL_DUCKDB_MEMORY_LIMIT", "5GB")
    env.setdefault("USAGEBILL_DBT_THREADS", "1")  # as bench_month_close: one heavy query at a time
    env.setdefault("USAGEBILL_DUCKDB_TEMP_DIR", str(work / "duckdb_tmp"))
    if args.raw is None:
        raw = work / "raw"
        scale = close.bench_scale()
        events, customers = int(100_000_000 * scale), max(10, int(100_000 * scale))
        env["USAGEBILL_RAW_DIR"] = str(raw)
        os.environ.update(env)
        close.log(f"scale {scale}: {events:,} events, {customers:,} customers into {raw}")
        close.write_catalog(work / "data" / "catalog", customers)
        close.step("generate usage (not measured)", lambda: close.write_usage(raw, events, customers), work)
        from usagebill.catalog import load_catalog

        load_catalog(work / "data" / "catalog", raw)
        close.write_raw_configuration(work)
    incremental_runs(env, work, raw)
    close.log("summary")
    print(json.dumps(close.RESULTS, indent=1))
    verdict = summary()
    print(verdict)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if "not measured" in verdict else 0


if __name__ == "__main__":
    raise SystemExit(main())
