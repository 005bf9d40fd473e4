"""`make demo`: generate the GPU-cloud demo dataset, materialize every asset into the DuckDB
warehouse, export to local Stripe / marketplace servers, and print a summary.

Deterministic: the same seed gives the same files and tables; a second run loads nothing
twice and exports nothing twice (the export ledgers say so in the summary).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

from usagebill.dbt_cli import find_dbt
from usagebill.paths import PROJECT_ROOT, data_dir, dbt_project_dir, raw_dir, reports_dir, warehouse_path

# The demo history is 2026-05-01 .. 2026-11-01 (exclusive); bill as of a few days after its end
# so that October's invoices have closed (grace period) and late events have arrived.
DEMO_HISTORY_START = date(2026, 5, 1)
DEMO_HISTORY_END = date(2026, 11, 1)
DEMO_AS_OF = DEMO_HISTORY_END + timedelta(days=7)


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def parse_dbt_project() -> None:
    """Refresh dbt's manifest so that Dagster's asset graph matches the SQL on disk."""
    subprocess.run(
        [find_dbt() or "dbt", "parse", "--quiet", "--profiles-dir", ".", "--project-dir", "."],
        cwd=dbt_project_dir(),
        check=True,
    )


def start_local_servers(stack: ExitStack, state_dir: Path) -> list[str]:
    """Start contract-faithful local Stripe and marketplace servers unless real credentials are set.

    Returns lines for the summary naming where each export went.
    """
    from exports.local_servers import start_local_export_servers

    return start_local_export_servers(stack, state_dir)


def materialize_everything(as_of: date) -> None:
    import dagster as dg

    from dagster_project.definitions import defs
    from dagster_project.defs.jobs import DAILY_BILLING_JOB, EXPORT_LEDGER_MARTS_JOB, HOURLY_EXPORTS_JOB
    from dagster_project.defs.marketplace import CLOCK_TAG as MARKETPLACE_CLOCK_TAG

    instance = dg.DagsterInstance.get()
    range_tags = {
        "dagster/asset_partition_range_start": DEMO_HISTORY_START.isoformat(),
        "dagster/asset_partition_range_end": (as_of - timedelta(days=1)).isoformat(),
    }
    step(
        f"Materializing every daily asset for {range_tags['dagster/asset_partition_range_start']} .. "
        f"{range_tags['dagster/asset_partition_range_end']} in one run (dbt runs once for the whole range)"
    )
    started = time.monotonic()
    result = defs.get_job_def(DAILY_BILLING_JOB).execute_in_process(instance=instance, tags=range_tags)
    print(
        f"    billing run {'succeeded' if result.success else 'FAILED'} in {time.monotonic() - started:.0f} s"
    )
    if not result.success:
        raise SystemExit("the billing run failed: open `make dev` and look at the failed run's logs")

    hourly_start = f"{(DEMO_HISTORY_END - timedelta(days=1)).isoformat()}-00:00"
    hourly_end = f"{(DEMO_HISTORY_END - timedelta(days=1)).isoformat()}-23:00"
    hourly_tags = {
        "dagster/asset_partition_range_start": hourly_start,
        "dagster/asset_partition_range_end": hourly_end,
    }
    # The demo replays the last day of history as production runs it: each hour is reported 10 minutes
    # after it ends (the hourly schedule), so every hour is judged inside its marketplace window.
    # Only against the local fakes (a real marketplace uses its own clock); USAGEBILL_MARKETPLACE_NOW,
    # when set, wins.
    if os.environ.get("USAGEBILL_MARKETPLACE_MODE") == "fake" and not os.environ.get(
        "USAGEBILL_MARKETPLACE_NOW"
    ):
        hourly_tags[MARKETPLACE_CLOCK_TAG] = "replay"
    clock = (
        hourly_tags.get(MARKETPLACE_CLOCK_TAG) or os.environ.get("USAGEBILL_MARKETPLACE_NOW") or "wall clock"
    )
    step(f"Reporting marketplace usage hourly for {hourly_start} .. {hourly_end} (clock: {clock})")
    started = time.monotonic()
    result = defs.get_job_def(HOURLY_EXPORTS_JOB).execute_in_process(instance=instance, tags=hourly_tags)
    print(
        f"    marketplace run {'succeeded' if result.success else 'FAILED'} in {time.monotonic() - started:.0f} s"
    )
    if not result.success:
        raise SystemExit("the marketplace run failed: open `make dev` and look at the failed run's logs")

    step("Refreshing the marts that read the export ledgers")
    result = defs.get_job_def(EXPORT_LEDGER_MARTS_JOB).execute_in_process(instance=instance)
    if not result.success:
        raise SystemExit(
            "refreshing the ledger marts failed: open `make dev` and look at the failed run's logs"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="usagebill demo", description=__doc__)
    parser.add_argument("--size", default="small", help="demo data size: tiny | small (default)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--prepare-only", action="store_true", help="only generate data and parse dbt (make dev)"
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("USAGEBILL_AS_OF_DATE", DEMO_AS_OF.isoformat())
    # Absolute locations for every process the demo starts (dbt views embed the raw path).
    os.environ.setdefault("USAGEBILL_RAW_DIR", str(raw_dir()))
    os.environ.setdefault("USAGEBILL_WAREHOUSE", str(warehouse_path()))
    as_of = date.fromisoformat(os.environ["USAGEBILL_AS_OF_DATE"])
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home"))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    (Path(os.environ["DAGSTER_HOME"]) / "dagster.yaml").touch()
    warehouse_path().parent.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    step(f"Generating the demo dataset (size={args.size}, seed={args.seed}) into {data_dir()}")
    from ingestion.demo_data import main as generate

    generate(["--size", args.size, "--seed", str(args.seed), "--out", str(data_dir())])

    step("Parsing the dbt project")
    parse_dbt_project()
    if args.prepare_only:
        return 0

    with ExitStack() as stack:
        step("Starting local export servers")
        export_targets = start_local_servers(stack, warehouse_path().parent / "local_servers")
        for line in export_targets:
            print(f"    {line}")
        materialize_everything(as_of)

    from usagebill.summary import build_summary

    step(f"Summary (as of {as_of}, {time.monotonic() - started:.0f} s in all)")
    print(build_summary(warehouse_path(), as_of=as_of))
    for line in export_targets:
        print(f"Exports: {line}")
    print(
        "\nWhere to look next:\n"
        f"  warehouse     {warehouse_path()}  (duckdb {warehouse_path().name} -> select * from billing.fct_invoices)\n"
        f"  raw layer     {raw_dir()}  (quarantined events: raw/quarantine)\n"
        f"  invoices      {reports_dir() / 'invoices'}  (HTML and PDF)\n"
        "  Dagster UI    make dev  ->  http://127.0.0.1:3000\n"
        "  dbt docs      make docs ->  http://127.0.0.1:8081"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
