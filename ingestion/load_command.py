"""`usagebill load`: landing files (and S3 drops, and cost exports) into the raw layer.

The command composes three loaders that do not know each other: ingestion.landing (local landing
files), ingestion.s3_drops (objects in a bucket) and ingestion.costs (FOCUS / CUR cost exports).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

from ingestion.landing import load_landing


def main(argv: list[str] | None = None) -> int:
    from usagebill import paths

    parser = argparse.ArgumentParser(
        prog="usagebill load", description="Load landing files into the raw layer."
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="default: USAGEBILL_DATA_DIR or data/")
    parser.add_argument(
        "--raw-dir", type=Path, default=None, help="default: USAGEBILL_RAW_DIR or warehouse/raw/"
    )
    parser.add_argument(
        "--arrival-date",
        type=date.fromisoformat,
        action="append",
        default=None,
        help="only files that landed on this day (repeatable)",
    )
    parser.add_argument(
        "--s3-bucket",
        default=os.environ.get("USAGEBILL_S3_BUCKET"),
        help="also load s3://BUCKET/PREFIX (default: USAGEBILL_S3_BUCKET)",
    )
    parser.add_argument("--s3-prefix", default=os.environ.get("USAGEBILL_S3_PREFIX", ""))
    parser.add_argument("--no-costs", action="store_true", help="skip data/costs/*.csv")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or paths.data_dir()
    raw_dir = args.raw_dir or paths.raw_dir()
    started = time.monotonic()
    print(f"loading {data_dir / 'landing' / 'usage'} into {raw_dir}", flush=True)
    report = load_landing(
        data_dir, raw_dir, arrival_dates=args.arrival_date, progress=lambda m: print(m, flush=True)
    )
    if args.s3_bucket:
        from ingestion.s3_drops import load_s3

        print(f"loading s3://{args.s3_bucket}/{args.s3_prefix}", flush=True)
        report.merge(
            load_s3(
                args.s3_bucket,
                args.s3_prefix,
                raw_dir,
                arrival_dates=args.arrival_date,
                progress=lambda m: print(m, flush=True),
            )
        )
    print(f"usage: {report.summary()} in {time.monotonic() - started:.1f} s")
    if not args.no_costs:
        from ingestion.costs import load_costs

        costs = load_costs(data_dir, raw_dir, progress=lambda m: print(m, flush=True))
        print(f"costs: {costs.summary()}")
    if report.files_changed:
        print("files changed after loading (see raw/quarantine, rule file_changed):", file=sys.stderr)
        for name in report.files_changed:
            print(f"  {name}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
