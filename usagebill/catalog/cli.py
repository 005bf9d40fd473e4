"""`usagebill catalog validate|load|import [--catalog DIR] [--raw-dir DIR]`.

import: bulk customers, subscriptions and contract prices (CSV, Parquet, or a PostgreSQL query),
validated with the rest of the catalog, then installed in the catalog folder as customers.csv /
customers.parquet ... (where the daily job's catalog asset reads them) and loaded into the raw
layer. Nothing is installed or written when the catalog does not validate.

    usagebill catalog import --customers crm.csv --subscriptions subs.parquet
    usagebill catalog import --customers-sql "select id, name, currency from accounts" \\
        --connection-env CRM_DATABASE_URL
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from usagebill import paths
from usagebill.catalog import CatalogError, load_catalog, validate_catalog

KINDS = ("customers", "subscriptions", "contract_prices")


def _bulk_sources(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    from usagebill.catalog.bulk import SUFFIXES, SqlSource

    sources: dict[str, Any] = {}
    for kind in KINDS:
        path, sql = getattr(args, kind), getattr(args, f"{kind}_sql")
        if path and sql:
            parser.error(f"--{kind.replace('_', '-')} and --{kind.replace('_', '-')}-sql: give one")
        if path is not None:
            if path.suffix not in SUFFIXES:
                parser.error(f"--{kind.replace('_', '-')} {path}: use a .csv or .parquet file")
            sources[kind] = path
        elif sql:
            if not args.connection_env:
                parser.error("--*-sql needs --connection-env NAME (the variable holding the PostgreSQL DSN)")
            sources[kind] = SqlSource(sql, args.connection_env)
    if not sources:
        parser.error(
            "import: give at least one of --customers, --subscriptions, --contract-prices (or --*-sql)"
        )
    return sources


def fetch_to_parquet(source: Any, kind: str, folder: Path) -> Path:
    """A query's rows, fetched once (read-only), as <folder>/<kind>.parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from usagebill.catalog.bulk import MAX_ROWS
    from usagebill.postgres import fetch_rows

    rows = fetch_rows(
        source.connection_env, source.sql, what=f"bulk {kind} ({source.name})", max_rows=MAX_ROWS
    )
    target = folder / f"{kind}.parquet"
    pq.write_table(pa.Table.from_pylist(rows), target)
    return target


def install(sources: dict[str, Path], catalog_dir: Path) -> list[Path]:
    """Copy each bulk file into the catalog folder under its conventional name, replacing the file
    of the other format; atomic per file."""
    from usagebill.catalog.bulk import SUFFIXES

    installed = []
    for kind, source in sources.items():
        target = catalog_dir / f"{kind}{source.suffix}"
        if source.resolve() != target.resolve():
            tmp = catalog_dir / f".{target.name}.tmp"
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        for suffix in SUFFIXES:
            other = catalog_dir / f"{kind}{suffix}"
            if other != target and other.exists():
                other.unlink()
        installed.append(target)
    return installed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="usagebill catalog", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "action",
        choices=["validate", "load", "import"],
        help="validate: check the YAML; load: validate then write Parquet under <raw>/catalog/; "
        "import: bulk customers/subscriptions/contract prices, validated, installed and loaded",
    )
    parser.add_argument("--catalog", default=None, help="catalog directory (default USAGEBILL_CATALOG_DIR)")
    parser.add_argument("--raw-dir", default=None, help="raw layer directory (default USAGEBILL_RAW_DIR)")
    for kind in KINDS:
        flag = kind.replace("_", "-")
        parser.add_argument(
            f"--{flag}", type=Path, default=None, help=f"import: {kind} from a CSV or Parquet file"
        )
        parser.add_argument(f"--{flag}-sql", default=None, help=f"import: {kind} from a PostgreSQL query")
    parser.add_argument(
        "--connection-env", default=None, help="import: the environment variable holding the PostgreSQL DSN"
    )
    args = parser.parse_args(argv)
    catalog_dir = args.catalog or str(paths.catalog_dir())
    raw = args.raw_dir or str(paths.raw_dir())
    try:
        if args.action == "validate":
            catalog = validate_catalog(catalog_dir)
            sizes = ", ".join(
                f"{len(rows)} {name}" for name, rows in catalog.tables.items() if name != "currencies"
            )
            print(f"catalog {catalog_dir} is valid: {sizes}")
        elif args.action == "load":
            counts = load_catalog(catalog_dir, raw)
            print(
                f"catalog {catalog_dir} loaded into {raw}/catalog: "
                + ", ".join(f"{n}={c}" for n, c in counts.items())
            )
        else:
            from usagebill.catalog.bulk import SqlSource
            from usagebill.catalog.parse import parse_catalog
            from usagebill.catalog.write import write_catalog

            sources = _bulk_sources(args, parser)
            with tempfile.TemporaryDirectory(prefix="usagebill-import-") as tmp:
                files = {
                    kind: fetch_to_parquet(source, kind, Path(tmp))
                    if isinstance(source, SqlSource)
                    else source
                    for kind, source in sources.items()
                }
                catalog = parse_catalog(catalog_dir, files)  # nothing is installed when invalid
                installed = install(files, Path(catalog_dir))
            counts = write_catalog(catalog, raw)
            print(
                f"imported {', '.join(str(p) for p in installed)}; catalog loaded into {raw}/catalog: "
                + ", ".join(f"{n}={c}" for n, c in counts.items())
            )
    except CatalogError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"usagebill catalog {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
