"""The set-based credit burn (int_invoice_credit_burn.sql) on Spark SQL equals a one-by-one walk.

The tiny dataset of `make spark-parity` has no credit grants, so parity builds the burn with no rows.
This runs the model's SQL (rendered as in tests/invoicing/test_credit_burn_allocation.py) on a local
Spark session with the target's money settings (exact decimals, UTC) over random grants and
invoices, and compares each (grant, invoice) row with the walk of the documented rule.
"""

from __future__ import annotations

import random

import duckdb
import pytest

from tests.invoicing.test_credit_burn_allocation import _load, _random_case, render_model, walk
from tests.spark.test_spark_parity import _java_missing

pytestmark = [pytest.mark.slow, pytest.mark.skipif(_java_missing() is not None, reason=_java_missing() or "")]

TABLES = ("staging.stg_catalog__credit_grants", "intermediate.int_invoice_lines_taxed")


@pytest.mark.timeout(900)
def test_set_based_burn_on_spark_equals_the_walk(money_spark) -> None:
    spark = money_spark
    spark.sql("create database if not exists intermediate")
    spark.sql("create database if not exists staging")
    for seed in range(3):
        grants, invoices = _random_case(random.Random(seed))
        con = duckdb.connect()
        _load(con, grants, invoices)
        for name in TABLES:
            columns = con.sql(f"describe {name}").fetchall()
            schema = ", ".join(f"{c[0]} {'string' if c[1] == 'VARCHAR' else c[1].lower()}" for c in columns)
            spark.sql(f"drop table if exists {name}")
            spark.createDataFrame(
                con.sql(f"select * from {name}").fetchall(), schema=schema
            ).write.saveAsTable(name)
        rows = spark.sql(
            f"select grant_id, invoice_id, used, remaining_after from ({render_model(con)})"
        ).collect()
        got = {(r[0], r[1]): (r[2], r[3]) for r in rows}
        assert len(got) == len(rows) > 0
        assert got == walk(grants, invoices), f"seed {seed}"
