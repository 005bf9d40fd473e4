"""The pricing catalog: validate the YAML files, normalize them to Parquet tables for dbt.

from usagebill.catalog import load_catalog
counts = load_catalog("data/catalog", "warehouse/raw")   # raises CatalogError when invalid
"""

from __future__ import annotations

from pathlib import Path

from usagebill.catalog.errors import CatalogError, CatalogIssue
from usagebill.catalog.parse import TABLES, NormalizedCatalog, parse_catalog
from usagebill.catalog.write import write_catalog

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"

__all__ = [
    "EXAMPLES_DIR",
    "TABLES",
    "CatalogError",
    "CatalogIssue",
    "NormalizedCatalog",
    "load_catalog",
    "parse_catalog",
    "validate_catalog",
    "write_catalog",
]


def validate_catalog(catalog_dir: Path | str) -> NormalizedCatalog:
    """Validate the catalog; raise CatalogError (file, path, problem for each issue) when invalid."""
    return parse_catalog(catalog_dir)


def load_catalog(catalog_dir: Path | str, raw_dir: Path | str) -> dict[str, int]:
    """Validate, then write the normalized tables under <raw_dir>/catalog/. Nothing is written when invalid."""
    return write_catalog(parse_catalog(catalog_dir), raw_dir)
