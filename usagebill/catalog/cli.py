"""`usagebill catalog validate|load [--catalog DIR] [--raw-dir DIR]`."""

from __future__ import annotations

import argparse
import sys

from usagebill import paths
from usagebill.catalog import CatalogError, load_catalog, validate_catalog


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="usagebill catalog", description=__doc__)
    parser.add_argument(
        "action",
        choices=["validate", "load"],
        help="validate: check the YAML; load: validate then write Parquet under <raw>/catalog/",
    )
    parser.add_argument("--catalog", default=None, help="catalog directory (default USAGEBILL_CATALOG_DIR)")
    parser.add_argument("--raw-dir", default=None, help="raw layer directory (default USAGEBILL_RAW_DIR)")
    args = parser.parse_args(argv)
    catalog_dir = args.catalog or str(paths.catalog_dir())
    try:
        if args.action == "validate":
            catalog = validate_catalog(catalog_dir)
            sizes = ", ".join(
                f"{len(rows)} {name}" for name, rows in catalog.tables.items() if name != "currencies"
            )
            print(f"catalog {catalog_dir} is valid: {sizes}")
        else:
            raw = args.raw_dir or str(paths.raw_dir())
            counts = load_catalog(catalog_dir, raw)
            print(
                f"catalog {catalog_dir} loaded into {raw}/catalog: "
                + ", ".join(f"{n}={c}" for n, c in counts.items())
            )
    except CatalogError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
