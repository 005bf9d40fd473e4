"""decimal_text (macros/pricing/money.sql): a DECIMAL as plain text for JSON, the same on both engines.

Spark casts a DECIMAL to text with java.math.BigDecimal.toString, which uses an exponent for every
|x| < 0.000001 at scale 12 ('0E-12' for zero): the graduated-tier unit test saw `"flat_fee":"0E-12"`
on Spark where DuckDB writes "0.000000000000" (docs/spark.md, "dbt unit tests on both engines").
"""

from __future__ import annotations

import duckdb
import jinja2
import pytest

from tests.spark.test_spark_parity import _java_missing
from usagebill.paths import dbt_project_dir

# value -> the text written by hand: 12 decimals, no exponent, sign kept
CASES = [
    ("0", "0.000000000000"),
    ("0.000000000001", "0.000000000001"),
    ("-0.000000000001", "-0.000000000001"),
    ("0.0000001", "0.000000100000"),
    ("-0.000000999999", "-0.000000999999"),
    ("0.000001", "0.000001000000"),
    ("12.5", "12.500000000000"),
    ("-3", "-3.000000000000"),
    ("12345678901234567890123456.123456789012", "12345678901234567890123456.123456789012"),
]


def _macros() -> object:
    """The macros of money.sql as Jinja callables (dbt's `{% macro %}` is Jinja's)."""
    text = (dbt_project_dir() / "macros" / "pricing" / "money.sql").read_text()
    env = jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])
    env.globals["dbt"] = type("dbt", (), {"type_string": staticmethod(lambda: "varchar")})
    return env.from_string(text).module


def _select(macro: object) -> str:
    values = " union all ".join(
        f"select {n} as n, cast('{v}' as decimal(38, 12)) as x" for n, (v, _) in enumerate(CASES)
    )
    return f"select n, {macro('x')} as text from ({values}) as t order by n"  # type: ignore[operator]


def test_duckdb_writes_plain_decimals() -> None:
    rows = duckdb.sql(_select(_macros().default__decimal_text)).fetchall()
    assert [r[1] for r in rows] == [text for _, text in CASES]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(_java_missing() is not None, reason=_java_missing() or "")
def test_spark_writes_the_same_plain_decimals(money_spark) -> None:
    macros = _macros()
    rows = money_spark.sql(_select(macros.spark__decimal_text)).collect()
    assert [r[1] for r in rows] == [text for _, text in CASES]
    # the plain cast (the defect): exponents below 0.000001
    plain = money_spark.sql("select cast(cast('0' as decimal(38, 12)) as string)").collect()[0][0]
    assert plain == "0E-12"
