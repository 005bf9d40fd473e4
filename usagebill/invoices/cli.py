"""`usagebill invoices <action>`: load-config | render | recompute.

load-config                     validate data/catalog/issuer.yaml and tax_rates.yaml (or the
                                shipped examples) and write them to the raw layer
render [--out DIR] [--number N] [--workers N] [--force] [--progress-seconds S]
                                HTML + PDF for every issued invoice and credit/debit note that is
                                new or changed since the last render (manifest.json)
recompute --invoice-id X --as-of YYYY-MM-DD
                                recompute an issued invoice as of a date from the journal and the
                                versioned catalog and print the comparison with what was issued
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from usagebill import paths


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date: use YYYY-MM-DD, e.g. 2026-06-12"
        ) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="usagebill invoices", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    actions = parser.add_subparsers(dest="action", required=True)
    load = actions.add_parser("load-config", help="issuer.yaml + tax_rates.yaml -> raw Parquet")
    load.add_argument(
        "--catalog", type=Path, default=None, help="default: USAGEBILL_CATALOG_DIR or data/catalog"
    )
    load.add_argument(
        "--raw-dir", type=Path, default=None, help="default: USAGEBILL_RAW_DIR or warehouse/raw"
    )
    render = actions.add_parser("render", help="write HTML and PDF documents")
    render.add_argument("--out", type=Path, default=None, help="default: USAGEBILL_REPORTS_DIR/invoices")
    render.add_argument("--number", default=None, help="only the document with this number")
    render.add_argument("--warehouse", type=Path, default=None, help="default: USAGEBILL_WAREHOUSE")
    render.add_argument("--force", action="store_true", help="re-render documents already rendered")
    render.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes rendering documents (default: USAGEBILL_DOCUMENT_WORKERS or the number of cores)",
    )
    render.add_argument(
        "--progress-seconds",
        type=float,
        default=5.0,
        help="seconds between progress lines (documents written, rate, time left); default 5",
    )
    recompute = actions.add_parser("recompute", help="recompute an issued invoice as of a date")
    recompute.add_argument(
        "--invoice-id", required=True, help="invoice id (inv_...) or number (UB-2026-000001)"
    )
    recompute.add_argument(
        "--as-of", required=True, type=_date, help="YYYY-MM-DD: journal rows arrived before it"
    )
    recompute.add_argument("--warehouse", type=Path, default=None, help="default: USAGEBILL_WAREHOUSE")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.action == "load-config":
        from usagebill.invoices.tax_config import TaxConfigError, write_raw

        try:
            write_raw(args.catalog, args.raw_dir)
        except TaxConfigError as error:
            print(f"usagebill invoices load-config: {error}", file=sys.stderr)
            return 1
        return 0
    if args.action == "render":
        from usagebill.invoices.documents import render_all

        try:
            if not 0 <= args.progress_seconds <= 3600:
                raise ValueError(f"--progress-seconds {args.progress_seconds}: use 0 to 3600 seconds")
            render_all(
                args.out,
                args.warehouse,
                args.number,
                force=args.force,
                workers=args.workers,
                progress_seconds=args.progress_seconds,
            )
        except (FileNotFoundError, RuntimeError, ValueError) as error:
            print(f"usagebill invoices render: {error}", file=sys.stderr)
            return 1
        return 0
    from usagebill.invoices.recompute import RecomputeError, format_comparison, recompute_invoice

    try:
        comparison = recompute_invoice(args.invoice_id, args.as_of, args.warehouse or paths.warehouse_path())
    except RecomputeError as error:
        print(f"usagebill invoices recompute: {error}", file=sys.stderr)
        return 1
    print(format_comparison(comparison))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
