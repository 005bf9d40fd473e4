"""Where usagebill keeps its files. Every location can be moved with an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _path(env_name: str, default: Path) -> Path:
    value = os.environ.get(env_name)
    return Path(value).resolve() if value else default


def data_dir() -> Path:
    """Landing zone for incoming usage files, catalog YAML and cost exports (USAGEBILL_DATA_DIR)."""
    return _path("USAGEBILL_DATA_DIR", PROJECT_ROOT / "data")


def warehouse_path() -> Path:
    """The embedded DuckDB warehouse file (USAGEBILL_WAREHOUSE)."""
    return _path("USAGEBILL_WAREHOUSE", PROJECT_ROOT / "warehouse" / "usagebill.duckdb")


def raw_dir() -> Path:
    """Raw layer: Parquet files written by the loaders, read by dbt sources (USAGEBILL_RAW_DIR)."""
    return _path("USAGEBILL_RAW_DIR", PROJECT_ROOT / "warehouse" / "raw")


def spark_dir() -> Path:
    """Spark's metastore, table files and ledger snapshots (USAGEBILL_SPARK_DIR; docs/spark.md)."""
    return _path("USAGEBILL_SPARK_DIR", warehouse_path().parent / "spark")


def catalog_dir() -> Path:
    """Pricing catalog YAML files (USAGEBILL_CATALOG_DIR)."""
    return _path("USAGEBILL_CATALOG_DIR", data_dir() / "catalog")


def reports_dir() -> Path:
    """Generated reports and invoice documents (USAGEBILL_REPORTS_DIR)."""
    return _path("USAGEBILL_REPORTS_DIR", PROJECT_ROOT / "reports")


def dbt_project_dir() -> Path:
    return PROJECT_ROOT / "dbt_project"
