"""`make bench`: run every benchmark in turn. Each prints its figures and the ratio against a
baseline measured in the same run (never a timed assertion). Results are recorded in
docs/benchmarks.md by hand, with the command that produced them.

Sizes can be reduced for a quick look: BENCH_SCALE=small make bench
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL = os.environ.get("BENCH_SCALE", "full") == "small"

BENCHMARKS: list[tuple[str, list[str]]] = [
    ("collector throughput (durable acks)", ["bench/bench_collector.py"]),
    (
        "journal + daily rollup vs hand-written DuckDB SQL; day-30 vs day-1 incremental",
        ["bench/bench_journal.py"] + (["--events", "1000000"] if SMALL else []),
    ),
    (
        "rating a month for 100,000 customers",
        ["bench/bench_rating.py"] + (["--customers", "10000"] if SMALL else []),
    ),
    (
        "bulk catalog import: 100,000 customers from CSV / Parquet vs YAML",
        ["bench/bench_catalog_import.py"] + (["--customers", "10000"] if SMALL else []),
    ),
    (
        "invoice documents/s and CPU per document: fixed-layout writer vs fpdf2 vs Chromium --print-to-pdf",
        ["bench/bench_documents.py"] + (["--documents", "20"] if SMALL else []),
    ),
    ("marketplace hourly report, 50,000 records", ["bench/bench_marketplace.py"]),
    (
        "Stripe export: achieved vs configured request rate (25/s test mode, 100/s live)",
        ["bench/bench_stripe_export.py"] + (["--customers", "40"] if SMALL else []),
    ),
    ("executive report and 6-month pricing back-test vs the analytics marts", ["bench/bench_report.py"]),
    ("month close: 100M events, 100,000 customers (BENCH_SCALE=0.01 for 1M)", ["bench/bench_month_close.py"]),
    (
        "daily incremental run: day 30 vs day 1 (BENCH_SCALE as above; --raw DIR reuses a kept layer)",
        ["bench/bench_daily_incremental.py"],
    ),
]


def main() -> int:
    failures = []
    for title, args in BENCHMARKS:
        script = ROOT / args[0]
        print(f"\n===== {title}: python {' '.join(args)}", flush=True)
        if not script.exists():
            print(f"(missing: {script})")
            failures.append(title)
            continue
        started = time.monotonic()
        result = subprocess.run([sys.executable, *args], cwd=ROOT)
        print(f"===== {title}: exit {result.returncode} after {time.monotonic() - started:.0f} s", flush=True)
        if result.returncode != 0:
            failures.append(title)
    if failures:
        print(f"\nbenchmarks that did not complete: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
