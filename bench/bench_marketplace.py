"""Benchmark: one hourly AWS report for 10,000 customers x 5 dimensions (50,000 records), built, written to
the ledger and sent through the real boto3 client to the contract fake on 127.0.0.1 (2,000 calls of 25).

Baseline measured in the same run: building the 50,000 records (planning from the billed amounts) without
the ledger or any call. Prints both times and the ratio.

    .venv/bin/python bench/bench_marketplace.py [--customers 10000] [--dimensions 5]
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exports.fakes.aws_metering import FakeAwsMetering  # noqa: E402
from exports.marketplace.aws import AwsMeteringTransport, make_client  # noqa: E402
from exports.marketplace.billable import BilledHour, BilledSeries  # noqa: E402
from exports.marketplace.catalog import (  # noqa: E402
    Dimension,
    Listing,
    MarketplaceIdentity,
    OfferingCatalog,
    StatePeriod,
)
from exports.marketplace.ledger import Ledger  # noqa: E402
from exports.marketplace.planning import ReportedTotals, plan_hour  # noqa: E402
from exports.marketplace.reporter import report_hours  # noqa: E402

HOUR = datetime(2026, 5, 10, 12, tzinfo=UTC)


def setup(customers: int, dimensions: int):
    dims = tuple(
        Dimension("aws", "gpu", f"dim_{d}", f"meter_{d}", "usd_cent", Decimal("0.01"), "USD", None)
        for d in range(dimensions)
    )
    catalog = OfferingCatalog(
        "USD",
        Decimal("1"),
        {"aws": Decimal("3"), "azure": Decimal("3"), "google": Decimal("3")},
        {"aws": 6, "azure": 24, "google": 1},
        (Listing("aws", "gpu", ("payg",), "prod-1", None, None, None, dims),),
    )
    since = (StatePeriod("subscribed", HOUR - timedelta(days=9)),)
    identities = [
        MarketplaceIdentity(
            f"cus_{n:05d}",
            "aws",
            "gpu",
            account_id=f"{n:012d}",
            license_arn=f"arn:aws:license-manager::{n:012d}:license:l-{n:08x}",
            states=since,
        )
        for n in range(customers)
    ]
    # every customer billed an amount with a fractional cent in each dimension this hour
    billed = BilledSeries(
        BilledHour(i.customer_id, f"meter_{d}", (), HOUR, Decimal(n % 997) / 100 + Decimal("0.004"), "USD")
        for n, i in enumerate(identities)
        for d in range(dimensions)
    )
    return catalog, identities, billed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--dimensions", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    import pandas  # noqa: F401  (DuckDB imports it on the first Arrow insert: keep the one-time import out)

    catalog, identities, billed = setup(args.customers, args.dimensions)
    now = HOUR + timedelta(hours=1, minutes=5)
    records = args.customers * args.dimensions
    print(
        f"marketplace bench: {args.customers:,} customers x {args.dimensions} dimensions = {records:,} records"
    )

    started = time.perf_counter()
    rows = plan_hour("aws", HOUR, now, catalog, identities, billed, ReportedTotals([]), {})
    baseline = time.perf_counter() - started
    assert len(rows) == records
    print(f"  baseline: build {len(rows):,} records (no ledger, no calls): {baseline:.2f} s")

    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeAwsMetering({i.license_arn for i in identities}, now=lambda: now) as fake,
    ):
        transport = AwsMeteringTransport(make_client(endpoint_url=fake.url), now=lambda: now)
        ledger = Ledger(Path(tmp) / "bench.duckdb", run_id="bench")
        report = functools.partial(
            report_hours,
            "aws",
            [HOUR],
            catalog=catalog,
            identities=identities,
            billed=billed,
            ledger=ledger,
            transport=transport,
            now=now,
        )
        started = time.perf_counter()
        summary = report(chunk_size=5_000, log=lambda m: print(f"    {m}"))
        full = time.perf_counter() - started
        assert summary.states["acknowledged"] == records, summary
        assert len(fake.records) == records and max(fake.batch_sizes) == 25
        rerun_started = time.perf_counter()
        again = report(log=lambda _m: None)
        rerun = time.perf_counter() - rerun_started
        assert again.calls == 0
    print(
        f"  full: build + ledger + {summary.calls:,} BatchMeterUsage calls to the fake: {full:.2f} s "
        f"({records / full:,.0f} records/s)"
    )
    print(f"  ratio full / baseline: {full / baseline:.1f}x")
    print(f"  re-run of the same hour (ledger says done, 0 calls): {rerun:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
