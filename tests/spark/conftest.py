"""A local Spark session with the `spark` target's money settings (profiles.yml, docs/spark.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def money_spark(tmp_path: Path) -> Iterator[Any]:
    """Spark in this process: exact decimals, UTC, few partitions, no UI, tables under tmp_path."""
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.decimalOperations.allowPrecisionLoss", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.warehouse.dir", str(tmp_path / "warehouse"))
        .getOrCreate()
    )
    try:
        yield spark
    finally:
        spark.stop()
