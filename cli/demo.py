"""`make demo`: generate the GPU-cloud demo dataset, materialize every asset into the DuckDB
warehouse, export to local Stripe / marketplace servers, and print a summary.

Deterministic: the same seed gives the same files and tables; a second run loads nothing
twice and exports nothing twice (the export ledgers say so in the summary).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
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


class DemoLog:
    """The terminal shows one line per step and the summary; everything else (Dagster's run logs, dbt's
    output, warnings of libraries) goes to a log file whose path the demo prints.

    Works at the file-descriptor level, so the output of subprocesses (dbt) is captured too.
    ``--verbose`` (or USAGEBILL_DEMO_VERBOSE=1) keeps everything on the terminal.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.terminal = sys.stdout
        self._saved: list[int] = []
        self._file = None

    def __enter__(self) -> DemoLog:
        if self.path is None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        self._file = open(self.path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 (closed in __exit__)
        self._saved = [os.dup(1), os.dup(2)]
        self.terminal = os.fdopen(os.dup(self._saved[0]), "w", buffering=1, encoding="utf-8")
        os.dup2(self._file.fileno(), 1)
        os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if self.path is None:
            return
        if exc_type is not None:
            self.say(f"the demo stopped; the full log is in {self.path}")
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for fd in self._saved:
            os.close(fd)
        self.terminal.close()
        self.terminal = sys.stdout
        if self._file is not None:
            self._file.close()

    def say(self, message: str) -> None:
        """A line for the person watching (and for the log, so that it reads in order)."""
        print(message, file=self.terminal, flush=True)
        if self.path is not None:
            print(message, flush=True)


LOG = DemoLog(None)


def step(message: str) -> None:
    LOG.say(f"==> {message}")


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


def _outcome(result) -> str:
    """'succeeded: 97 assets, 412 checks passed' (or FAILED with the failed steps), from the run's events."""
    events = result.all_events
    materialized = {e.asset_key for e in events if e.event_type_value == "ASSET_MATERIALIZATION"}
    checks = [e for e in events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    passed = sum(1 for e in checks if e.event_specific_data.passed)
    text = f"{len(materialized)} assets materialized, {passed} of {len(checks)} checks passed"
    if result.success:
        return f"succeeded ({text})"
    failed = sorted({e.step_key for e in events if e.event_type_value == "STEP_FAILURE"})
    return f"FAILED in {', '.join(failed)} ({text})"


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
    result = defs.resolve_job_def(DAILY_BILLING_JOB).execute_in_process(instance=instance, tags=range_tags)
    LOG.say(f"    billing run {_outcome(result)} in {time.monotonic() - started:.0f} s")
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
    result = defs.resolve_job_def(HOURLY_EXPORTS_JOB).execute_in_process(instance=instance, tags=hourly_tags)
    LOG.say(f"    marketplace run {_outcome(result)} in {time.monotonic() - started:.0f} s")
    if not result.success:
        raise SystemExit("the marketplace run failed: open `make dev` and look at the failed run's logs")

    step("Refreshing the marts that read the export ledgers")
    result = defs.resolve_job_def(EXPORT_LEDGER_MARTS_JOB).execute_in_process(instance=instance)
    if not result.success:
        raise SystemExit(
            "refreshing the ledger marts failed: open `make dev` and look at the failed run's logs"
        )


DAGSTER_INSTANCE_SETTINGS = "telemetry:\n  enabled: false\n"


def prepare_dagster_home() -> Path:
    """The demo's Dagster instance, with Dagster's telemetry off."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    text = settings.read_text(encoding="utf-8") if settings.exists() else ""
    if "telemetry" not in text:
        settings.write_text(text + DAGSTER_INSTANCE_SETTINGS, encoding="utf-8")
    return home


def main(argv: list[str] | None = None) -> int:
    global LOG
    parser = argparse.ArgumentParser(prog="usagebill demo", description=__doc__)
    parser.add_argument("--size", default="small", help="demo data size: tiny | small (default)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--prepare-only", action="store_true", help="only generate data and parse dbt (make dev)"
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=os.environ.get("USAGEBILL_DEMO_VERBOSE") == "1",
        help="print Dagster's and dbt's full output instead of writing it to warehouse/demo.log",
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("USAGEBILL_AS_OF_DATE", DEMO_AS_OF.isoformat())
    # Absolute locations for every process the demo starts (dbt views embed the raw path).
    os.environ.setdefault("USAGEBILL_RAW_DIR", str(raw_dir()))
    os.environ.setdefault("USAGEBILL_WAREHOUSE", str(warehouse_path()))
    as_of = date.fromisoformat(os.environ["USAGEBILL_AS_OF_DATE"])
    prepare_dagster_home()
    warehouse_path().parent.mkdir(parents=True, exist_ok=True)
    log_path = (
        None if args.verbose else warehouse_path().parent / ("dev.log" if args.prepare_only else "demo.log")
    )

    started = time.monotonic()
    with DemoLog(log_path) as LOG:
        if log_path is not None:
            LOG.say(f"usagebill demo: the full log (Dagster, dbt) is in {log_path}")
        step(f"Generating the demo dataset (size={args.size}, seed={args.seed}) into {data_dir()}")
        from ingestion.demo_data import generate

        report = generate(data_dir(), size=args.size, seed=args.seed, progress=lambda m: print(m, flush=True))
        LOG.say(
            f"    {report.customers} customers, {report.subscriptions} subscriptions, {report.events:,} events "
            f"(+{report.duplicates:,} duplicates, {report.malformed:,} malformed, {report.late:,} late)"
        )
        if report.catalog_kept:
            LOG.say(
                f"    kept your edited catalog files ({', '.join(report.catalog_kept)}) in {data_dir() / 'catalog'}; "
                f"the demo's versions are in {data_dir() / 'demo_catalog'}"
            )

        step("Parsing the dbt project")
        parse_dbt_project()
        if args.prepare_only:
            return 0

        with ExitStack() as stack:
            step("Starting local export servers")
            export_targets = start_local_servers(stack, warehouse_path().parent / "local_servers")
            for line in export_targets:
                LOG.say(f"    {line}")
            materialize_everything(as_of)

        from usagebill.summary import build_summary

        step(f"Summary (as of {as_of}, {time.monotonic() - started:.0f} s in all)")
        summary = build_summary(warehouse_path(), as_of=as_of)
    print(summary)
    for line in export_targets:
        print(f"Exports: {line}")
    print(
        "\nWhere to look next:\n"
        f'  query         .venv/bin/usagebill sql "select * from billing.fct_invoices limit 5"  (read-only)\n'
        f"  warehouse     {warehouse_path()}  (or the DuckDB CLI: duckdb -readonly {warehouse_path()})\n"
        f"  raw layer     {raw_dir()}  (quarantined events: raw/quarantine)\n"
        f"  invoices      {reports_dir() / 'invoices'}  (HTML and PDF)\n"
        + (f"  full log      {log_path}\n" if log_path else "")
        + "  Dagster UI    make dev  ->  http://127.0.0.1:3000\n"
        "  dbt docs      make docs ->  http://127.0.0.1:8081"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
