"""Issuer / tax-rate configuration: validation errors name the file, field and fix; the example
fallback is announced; the currency seed mirrors usagebill.money.MINOR_UNITS."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from usagebill.invoices.tax_config import TaxConfigError, load_issuer, load_tax_rates, write_raw
from usagebill.money import MINOR_UNITS

SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"


def test_falls_back_to_examples_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = write_raw(tmp_path / "catalog", tmp_path / "raw")
    out = capsys.readouterr().out
    assert "issuer.yaml not found; using the example" in out and "tax_rates.yaml not found" in out
    con = duckdb.connect()
    issuer = con.execute(
        f"select legal_name, country, tax_id, payment_terms_days from '{written['catalog_issuer']}'"
    ).fetchall()
    assert issuer == [("GPU Cloud SAS", "FR", "FR40123456789", 30)]
    rate = con.execute(
        f"select rate, inclusive from '{written['catalog_tax_rates']}' where tax_rate_id = 'fr_vat_20'"
    )
    assert rate.fetchall() == [("0.20", False)]


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "tax_rates:\n  - {id: a, country: FR, percent: 20.0, valid_from: 2020-01-01}\n",
            "tax_rates[0].percent is a YAML float",
        ),
        (
            'tax_rates:\n  - {id: a, country: FR, percent: "120", valid_from: 2020-01-01}\n',
            "is outside the catalog's percent scale",
        ),
        (
            # the former fraction field is refused with the scale to use (a typo never changes a price)
            'tax_rates:\n  - {id: a, country: FR, rate: "0.20", valid_from: 2020-01-01}\n',
            'write percent: "20" for 20 %',
        ),
        (
            'tax_rates:\n  - {id: a, country: FR, percent: "20", percent: "5.5", valid_from: 2020-01-01}\n',
            "duplicate key 'percent'",
        ),
        (
            'tax_rates:\n  - {id: a, country: France, percent: "20", valid_from: 2020-01-01}\n',
            "ISO 3166-1 alpha-2",
        ),
        ('tax_rates:\n  - {id: a, country: FR, percent: "20"}\n', "tax_rates[0].valid_from is required"),
        (
            'tax_rates:\n  - {id: a, country: FR, percent: "20", valid_from: 2020-01-01}\n'
            '  - {id: a, country: DE, percent: "19", valid_from: 2020-01-01}\n',
            "is used twice",
        ),
    ],
)
def test_bad_tax_rates_are_refused_with_the_field(tmp_path: Path, yaml_text: str, message: str) -> None:
    (tmp_path / "tax_rates.yaml").write_text(yaml_text)
    with pytest.raises(TaxConfigError) as error:
        load_tax_rates(tmp_path)
    assert message in str(error.value) and str(tmp_path / "tax_rates.yaml") in str(error.value)


def test_issuer_needs_a_tax_id(tmp_path: Path) -> None:
    (tmp_path / "issuer.yaml").write_text(
        "issuer: {id: x, legal_name: X SA, address: {line1: a}, country: FR, invoice_prefix: 'X-'}\n"
    )
    with pytest.raises(TaxConfigError, match=r"issuer.tax_id is required"):
        load_issuer(tmp_path)


def test_currency_seed_mirrors_money_minor_units() -> None:
    with (SEEDS / "invoicing_currency_minor_units.csv").open() as handle:
        seed = {row["currency"]: int(row["minor_unit"]) for row in csv.DictReader(handle)}
    assert seed == MINOR_UNITS
    assert (seed["JPY"], seed["USD"], seed["EUR"], seed["KWD"]) == (0, 2, 2, 3)


def test_dagster_defs_expose_the_documents_asset() -> None:
    import dagster as dg

    from dagster_project.defs.invoicing import defs

    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"raw/catalog_issuer", "raw/catalog_tax_rates", "reports/invoice_documents"} <= keys
    node = graph.get(dg.AssetKey(["reports", "invoice_documents"]))
    assert {k.to_user_string() for k in node.parent_keys} == {
        "billing/fct_invoices",
        "billing/fct_credit_notes",
    }
