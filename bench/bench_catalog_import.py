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
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from usagebill.catalog import EXAMPLES_DIR, load_catalog  # noqa: E402

PLANS = [
    ("payg", "USD", "US"),
    ("starter", "USD", "US"),
    ("growth", "USD", "US"),
    ("payg_eur", "EUR", "DE"),
    ("starter_eur", "EUR", "FR"),
    ("payg_jpy", "JPY", "JP"),
]
CUSTOMER_COLUMNS = ["id", "name", "country", "currency", "customer_type", "created_at"]
SUBSCRIPTION_COLUMNS = ["id", "customer_id", "plan_id", "start_date", "billing_anchor_day"]


def rows(count: int) -> tuple[list[list[str]], list[list[str]]]:
    customers, subscriptions = [], []
    for i in range(count):
        plan, currency, country = PLANS[i % len(PLANS)]
        customers.append([f"cus_{i}", f"Customer {i}", country, currency, "business", "2026-03-01"])
        subscriptions.append([f"sub_{i}", f"cus_{i}", plan, "2026-03-01", "1"])
    return customers, subscriptions


def base(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("meters.yaml", "plans.yaml"):
        shutil.copyfile(EXAMPLES_DIR / "gpu_cloud" / name, folder / name)
    return folder


def write_yaml(folder: Path, customers: list[list[str]], subscriptions: list[list[str]]) -> None:
    with open(folder / "customers.yaml", "w", encoding="utf-8") as fh:
        fh.write("customers:\n")
        for c in customers:
            fh.write(
                f"  - {{id: {c[0]}, name: {c[1]}, country: {c[2]}, currency: {c[3]}, customer_type: {c[4]}, "
                f"created_at: {c[5]}}}\n"
            )
    with open(folder / "subscriptions.yaml", "w", encoding="utf-8") as fh:
        fh.write("subscriptions:\n")
        for s in subscriptions:
            fh.write(
                f"  - {{id: {s[0]}, customer_id: {s[1]}, plan_id: {s[2]}, start_date: {s[3]}, "
                f"billing_anchor_day: {s[4]}}}\n"
            )


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
    customers, subscriptions = rows(args.customers)
    print(
        f"{args.customers:,} customers + {args.customers:,} subscriptions; load average {os.getloadavg()[0]:.1f}"
    )
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench_catalog_import_") as tmp:
        for label, writer in (("YAML", write_yaml), ("CSV", write_csv), ("Parquet", write_parquet)):
            folder = base(Path(tmp) / label)
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
