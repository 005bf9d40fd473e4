"""Benchmark: 100,000 customers (and their subscriptions) loaded from CSV / Parquet vs from YAML.

    .venv/bin/python bench/bench_catalog_import.py [--customers 100000]

Writes the same N customers and N subscriptions (the gpu_cloud example plans, six plans in USD,
EUR and JPY) three ways beside the example meters and plans: customers.yaml + subscriptions.yaml,
customers.csv + subscriptions.csv, customers.parquet + subscriptions.parquet. Then, for each,
`load_catalog` (validate every row with the same rules, then write raw/catalog/*.parquet) and
prints the seconds (wall clock and CPU of this process), the ratio against YAML measured in the
same run, and the goal (100,000 customers in at most 3 s). YAML runs first, so the one-time
imports (pyarrow's pandas shim) fall on the baseline, not on the bulk formats. No timed assertion.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    CUSTOMER_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    catalog_rows,
    example_base,
    write_yaml,
)
from usagebill.catalog import load_catalog  # noqa: E402


def write_csv(folder: Path, customers: list[list[str]], subscriptions: list[list[str]]) -> None:
    for name, header, data in (
        ("customers", CUSTOMER_COLUMNS, customers),
        ("subscriptions", SUBSCRIPTION_COLUMNS, subscriptions),
    ):
        with open(folder / f"{name}.csv", "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(data)


def write_parquet(folder: Path, customers: list[list[str]], subscriptions: list[list[str]]) -> None:
    for name, header, data in (
        ("customers", CUSTOMER_COLUMNS, customers),
        ("subscriptions", SUBSCRIPTION_COLUMNS, subscriptions),
    ):
        columns = {h: [row[i] for row in data] for i, h in enumerate(header)}
        if "billing_anchor_day" in columns:
            columns["billing_anchor_day"] = [int(v) for v in columns["billing_anchor_day"]]
        pq.write_table(pa.table(columns), folder / f"{name}.parquet")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    customers, subscriptions = catalog_rows(args.customers)
    print(
        f"{args.customers:,} customers + {args.customers:,} subscriptions; load average {os.getloadavg()[0]:.1f}"
    )
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench_catalog_import_") as tmp:
        for label, writer in (("YAML", write_yaml), ("CSV", write_csv), ("Parquet", write_parquet)):
            folder = example_base(Path(tmp) / label)
            writer(folder, customers, subscriptions)
            started, cpu_started = time.perf_counter(), time.process_time()
            counts = load_catalog(folder, Path(tmp) / f"raw_{label}")
            times[label] = time.perf_counter() - started
            cpu[label] = time.process_time() - cpu_started
            assert counts["customers"] == args.customers and counts["subscriptions"] == args.customers
            print(
                f"{label:8s} validate + write raw: {times[label]:6.2f} s ({cpu[label]:6.2f} s CPU; "
                f"load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    for label in ("CSV", "Parquet"):
        print(
            f"{label} / YAML = {times[label] / times['YAML']:.2f} ({times['YAML'] / times[label]:.1f}x faster)"
        )
    for label in ("CSV", "Parquet"):
        scaled, scaled_cpu = (x[label] * 100_000 / args.customers for x in (times, cpu))
        print(f"{label}: 100,000 customers in {scaled:.2f} s, {scaled_cpu:.2f} s of CPU (goal <= 3 s)")
    print(
        "(CPU seconds do not count the time other processes took the cores: on a loaded machine they are the figure to read)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
