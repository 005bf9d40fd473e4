"""Bulk customers / subscriptions / contract prices (usagebill/catalog/bulk.py): the rows of a CSV or
Parquet file go through the same validation as the YAML items, with the same messages, the path
being the file's row; `usagebill catalog import` installs them beside the YAML and loads them."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from usagebill.catalog import EXAMPLES_DIR, CatalogError, parse_catalog
from usagebill.catalog.cli import main as catalog_main

CUSTOMERS_CSV = """id,name,currency,country,customer_type,tax_exempt,created_at,address_line1,address_city,address_country
cus_1,Acme Inc,USD,US,business,false,2026-01-15,1 Main St,Springfield,US
cus_2,"Kyoto Robotics, KK",JPY,JP,,,2026-02-01,,,
cus_3,Berlin GmbH,EUR,DE,individual,true,,,Berlin,DE
"""
SUBSCRIPTIONS_CSV = """id,customer_id,plan_id,start_date,billing_anchor_day,trial_days,trial_usage_amount
sub_1,cus_1,payg,2026-03-01,1,,
sub_2,cus_2,growth_jpy,2026-03-01,15,14,
sub_3,cus_3,starter_eur,2026-03-01,,,"10.50"
"""
CONTRACT_PRICES_CSV = """contract_id,customer_id,effective_from,effective_to,charge_id,plan_id,model,unit_price,unit_size,tiers
ctr_acme,cus_1,2026-01-01,,gpu,payg,per_unit,0.008,1000,
ctr_acme,cus_1,2026-01-01,,api_calls,payg,graduated,,,"[{""up_to"": ""1000"", ""unit_price"": ""0""}, {""unit_price"": ""0.0004""}]"
"""


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """The gpu_cloud example plans without customers.yaml / subscriptions.yaml: they come in bulk."""
    target = tmp_path / "catalog"
    shutil.copytree(EXAMPLES_DIR / "gpu_cloud", target)
    for name in ("customers.yaml", "subscriptions.yaml"):
        (target / name).unlink(missing_ok=True)
    return target


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(catalog: Path) -> list[str]:  # noqa: D103
    with pytest.raises(CatalogError) as info:
        parse_catalog(catalog)
    return [str(issue) for issue in info.value.issues]


def test_good_csv_rows_become_the_same_rows_as_yaml(catalog: Path, tmp_path: Path) -> None:
    write(catalog, "customers.csv", CUSTOMERS_CSV)
    write(catalog, "subscriptions.csv", SUBSCRIPTIONS_CSV)
    write(catalog, "contract_prices.csv", CONTRACT_PRICES_CSV)
    bulk = parse_catalog(catalog).tables
    # the same catalog written as YAML gives the same normalized rows
    yaml_dir = tmp_path / "yaml"
    shutil.copytree(catalog, yaml_dir)
    for name in ("customers.csv", "subscriptions.csv", "contract_prices.csv"):
        (yaml_dir / name).unlink()
    write(
        yaml_dir,
        "customers.yaml",
        """customers:
  - {id: cus_1, name: Acme Inc, currency: USD, country: US, customer_type: business, tax_exempt: false,
     created_at: 2026-01-15, address: {line1: 1 Main St, city: Springfield, country: US}}
  - {id: cus_2, name: "Kyoto Robotics, KK", currency: JPY, country: JP, created_at: 2026-02-01}
  - {id: cus_3, name: Berlin GmbH, currency: EUR, country: DE, customer_type: individual, tax_exempt: true,
     address: {city: Berlin, country: DE}}
""",
    )
    write(
        yaml_dir,
        "subscriptions.yaml",
        """subscriptions:
  - {id: sub_1, customer_id: cus_1, plan_id: payg, start_date: 2026-03-01, billing_anchor_day: 1}
  - {id: sub_2, customer_id: cus_2, plan_id: growth_jpy, start_date: 2026-03-01, billing_anchor_day: 15, trial_days: 14}
  - {id: sub_3, customer_id: cus_3, plan_id: starter_eur, start_date: 2026-03-01, trial_usage_amount: "10.50"}
""",
    )
    write(
        yaml_dir,
        "contracts.yaml",
        """contracts:
  - id: ctr_acme
    customer_id: cus_1
    effective_from: 2026-01-01
    prices:
      - {charge_id: gpu, plan_id: payg, model: per_unit, unit_price: "0.008", unit_size: "1000"}
      - {charge_id: api_calls, plan_id: payg, model: graduated, tiers: [{up_to: "1000", unit_price: "0"}, {unit_price: "0.0004"}]}
""",
    )
    from_yaml = parse_catalog(yaml_dir).tables
    for table in ("customers", "subscriptions", "contract_prices", "charge_tiers"):
        assert bulk[table] == from_yaml[table], table
    assert [c["customer_id"] for c in bulk["customers"]] == ["cus_1", "cus_2", "cus_3"]
    assert bulk["customers"][0]["address_json"] == '{"city":"Springfield","country":"US","line1":"1 Main St"}'
    assert bulk["customers"][2]["tax_exempt"] is True and bulk["customers"][1]["customer_type"] == "business"
    sub_2 = next(s for s in bulk["subscriptions"] if s["subscription_id"] == "sub_2")
    assert (sub_2["billing_anchor_day"], sub_2["trial_days"], sub_2["currency"]) == (15, 14, "JPY")
    assert [p["price_id"] for p in bulk["contract_prices"]] == ["ctr_acme:0", "ctr_acme:1"]
    assert bulk["contract_prices"][0]["unit_price"] == "0.008"


def test_each_kind_of_bad_row_is_named_by_file_line_and_field(catalog: Path) -> None:
    write(
        catalog,
        "customers.csv",
        """id,name,currency,tax_exempt,created_at,colour
cus_1,Acme,USD,false,2026-01-15,red
cus_2,Bad currency,EUX,,,
cus_1,Duplicate,USD,,,
bad id!,Bad id,USD,,,
cus_5,Bad flag,USD,maybe,2026-13-01,
cus_6,Too few cells
""",
    )
    write(
        catalog,
        "subscriptions.csv",
        """id,customer_id,plan_id,start_date,end_date,billing_anchor_day,trial_usage_amount
sub_1,cus_1,payg,2026-03-01,,1,
sub_2,cus_404,payg,2026-03-01,,1,
sub_3,cus_1,no_plan,2026-03-01,,1,
sub_4,cus_1,payg_jpy,2026-03-01,,31,
sub_5,cus_1,growth,2026-03-01,2026-02-01,x,0.1234567890123
sub_6,cus_1,starter,,,,
""",
    )
    assert problems(catalog) == [
        "customers.csv: column colour: unknown column 'colour'; allowed columns: address_city, address_country, "
        "address_line1, address_line2, address_postal_code, address_state, country, created_at, currency, "
        "customer_type, email, id, metadata, name, tax_exempt, tax_id, tenant_id",
        "customers.csv: line 3.currency: unknown currency 'EUX'; use an ISO 4217 code",
        "customers.csv: line 4.id: duplicate customer id 'cus_1' in tenant 'default'",
        "customers.csv: line 5.id: 'bad id!' is not a valid id (letters, digits, _ . : -; must match "
        "[A-Za-z0-9][A-Za-z0-9_.:\\-]{0,127})",
        "customers.csv: line 6.created_at: '2026-13-01' is not a date YYYY-MM-DD",
        "customers.csv: line 6.tax_exempt: must be true or false, got 'maybe'",
        "customers.csv: line 7: has 2 cells, the header 6",
        # the check across subscriptions (the same meters priced twice) names the row too
        "subscriptions.csv: line 2: sub_1 overlaps sub_4 of the same customer and both price meter(s) api_calls, "
        "gpu_ms, storage_gb: that usage would be billed twice; end one subscription where the other starts",
        "subscriptions.csv: line 3.customer_id: unknown customer 'cus_404'; define it in customers.yaml",
        "subscriptions.csv: line 4.plan_id: unknown plan 'no_plan'; define it in plans.yaml",
        "subscriptions.csv: line 5: sub_4 overlaps sub_5 of the same customer and both price meter(s) api_calls, "
        "gpu_ms, storage_gb: that usage would be billed twice; end one subscription where the other starts",
        "subscriptions.csv: line 5.billing_anchor_day: 31 must be at most 28",
        "subscriptions.csv: line 5.plan_id: plan 'payg_jpy' is priced in JPY but customer 'cus_1' pays in USD; "
        "use the plan variant in USD",
        "subscriptions.csv: line 6.billing_anchor_day: must be an integer, got 'x'",
        "subscriptions.csv: line 6.end_date: 2026-02-01 must be after start_date 2026-03-01 (end is exclusive)",
        "subscriptions.csv: line 6.trial_usage_amount: '0.1234567890123' has 13 decimal places; at most 12 are "
        "kept (DECIMAL(38,12))",
        "subscriptions.csv: line 7.start_date: is required",
    ]


def test_the_messages_are_the_yaml_messages(catalog: Path) -> None:
    # the same bad customer in YAML and in CSV: the same problem text, only the place differs
    write(catalog, "customers.yaml", "customers:\n  - {id: cus_1, currency: EUX}\n")
    write(catalog, "subscriptions.yaml", "subscriptions: []\n")
    yaml_problems = problems(catalog)
    (catalog / "customers.yaml").unlink()
    write(catalog, "customers.csv", "id,currency\ncus_1,EUX\n")
    csv_problems = problems(catalog)
    assert yaml_problems == [
        "customers.yaml: customers[0].currency: unknown currency 'EUX'; use an ISO 4217 code"
    ]
    assert csv_problems == ["customers.csv: line 2.currency: unknown currency 'EUX'; use an ISO 4217 code"]


def test_yaml_and_bulk_customers_are_one_catalog(catalog: Path) -> None:
    write(catalog, "customers.yaml", "customers:\n  - {id: cus_1, currency: USD}\n")
    write(catalog, "customers.csv", "id,currency\ncus_2,EUR\ncus_1,USD\n")
    write(
        catalog, "subscriptions.csv", "id,customer_id,plan_id,start_date\nsub_1,cus_2,payg_eur,2026-03-01\n"
    )
    # an id of customers.yaml used again in the file is a duplicate
    assert problems(catalog) == [
        "customers.csv: line 3.id: duplicate customer id 'cus_1' in tenant 'default'"
    ]


def test_parquet_rows_are_typed_and_floats_refused(catalog: Path) -> None:
    pq.write_table(
        pa.table(
            {
                "id": ["cus_1", "cus_2"],
                "currency": ["USD", "USD"],
                "created_at": pa.array([date(2026, 1, 1), None], pa.date32()),
                "tax_exempt": [True, False],
            }
        ),
        catalog / "customers.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "id": ["sub_1", "sub_2"],
                "customer_id": ["cus_1", "cus_2"],
                "plan_id": ["payg", "payg"],
                "start_date": pa.array([date(2026, 3, 1), date(2026, 3, 1)], pa.date32()),
                "billing_anchor_day": pa.array([1, 29], pa.int32()),
                "trial_usage_amount": pa.array([Decimal("5.25"), None], pa.decimal128(10, 2)),
            }
        ),
        catalog / "subscriptions.parquet",
    )
    assert problems(catalog) == ["subscriptions.parquet: row 2.billing_anchor_day: 29 must be at most 28"]
    pq.write_table(
        pa.table(
            {
                "id": ["sub_1"],
                "customer_id": ["cus_1"],
                "plan_id": ["payg"],
                "start_date": ["2026-03-01"],
                "trial_usage_amount": [5.25],
            }
        ),
        catalog / "subscriptions.parquet",
    )
    assert problems(catalog) == [
        "subscriptions.parquet: column trial_usage_amount: is double: a binary float is not exact; store amounts "
        "as strings or DECIMAL"
    ]


def test_bad_contract_price_rows(catalog: Path) -> None:
    write(catalog, "customers.csv", "id,currency\ncus_1,USD\ncus_2,USD\n")
    write(catalog, "subscriptions.csv", "id,customer_id,plan_id,start_date\n")
    write(
        catalog,
        "contract_prices.csv",
        """contract_id,customer_id,effective_from,charge_id,plan_id,model,unit_price,tiers
ctr_1,cus_1,2026-01-01,gpu,payg,per_unit,0.008,
ctr_1,cus_2,2026-01-01,api_calls,payg,per_unit,0.001,
ctr_1,cus_1,2026-01-01,nope,payg,per_unit,0.001,
ctr_2,cus_9,2026-01-01,gpu,,,0.008,
ctr_3,cus_1,2026-01-01,api_calls,payg,graduated,,"[{""up_to"": "
""",
    )
    found = problems(catalog)
    assert found == [
        "contract_prices.csv: line 3.customer_id: cus_2 differs from cus_1 on line 2 of contract 'ctr_1'; every "
        "row of a contract repeats its tenant_id, customer_id, effective_from and effective_to",
        "contract_prices.csv: line 4.charge_id: no plan charge 'nope' in plan 'payg'",
        "contract_prices.csv: line 5.customer_id: unknown customer 'cus_9'; define it in customers.yaml",
        "contract_prices.csv: line 5.model: is required (one of per_unit, package, graduated, volume, percentage)",
        "contract_prices.csv: line 6.tiers: is not JSON (Expecting value at character 11); e.g. "
        '[{"up_to": "1000", "unit_price": "0.1"}]',
    ]


def test_missing_required_column_and_two_formats(catalog: Path) -> None:
    write(catalog, "customers.csv", "id,name\ncus_1,A\n")
    write(catalog, "subscriptions.csv", "id,customer_id,plan_id,start_date\n")
    assert problems(catalog) == ["customers.csv: required column(s) missing: currency"]
    pq.write_table(pa.table({"id": ["cus_1"], "currency": ["USD"]}), catalog / "customers.parquet")
    assert "customers.parquet: both customers.csv and customers.parquet exist; keep one" in problems(catalog)


def test_import_command_installs_the_files_and_loads_them(
    catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    raw = tmp_path / "raw"
    customers = write(incoming, "crm_export.csv", CUSTOMERS_CSV)
    subscriptions = write(incoming, "subs.csv", SUBSCRIPTIONS_CSV.replace("sub_3,cus_3", "sub_3,cus_404"))
    args = ["import", "--catalog", str(catalog), "--raw-dir", str(raw), "--customers", str(customers)]
    # invalid: nothing installed, nothing written, exit 1 with the problem
    assert catalog_main([*args, "--subscriptions", str(subscriptions)]) == 1
    assert "subs.csv: line 4.customer_id: unknown customer 'cus_404'" in capsys.readouterr().err
    assert not (catalog / "customers.csv").exists() and not raw.exists()
    write(incoming, "subs.csv", SUBSCRIPTIONS_CSV)
    assert catalog_main([*args, "--subscriptions", str(subscriptions)]) == 0
    assert (catalog / "customers.csv").read_text() == CUSTOMERS_CSV
    assert pq.read_table(raw / "catalog" / "customers.parquet").column("customer_id").to_pylist() == [
        "cus_1",
        "cus_2",
        "cus_3",
    ]
    assert pq.read_table(raw / "catalog" / "subscriptions.parquet").num_rows == 3
    # the installed files are what `catalog load` (the daily job's asset) reads from now on
    assert catalog_main(["load", "--catalog", str(catalog), "--raw-dir", str(raw)]) == 0
    assert "customers=3" in capsys.readouterr().out
    # importing Parquet replaces the CSV of the same kind
    pq.write_table(pa.table({"id": ["cus_1"], "currency": ["USD"]}), incoming / "one.parquet")
    write(incoming, "subs1.csv", SUBSCRIPTIONS_CSV.split("sub_2")[0])
    assert (
        catalog_main(
            [*args[:-1], str(incoming / "one.parquet"), "--subscriptions", str(incoming / "subs1.csv")]
        )
        == 0
    )
    assert (catalog / "customers.parquet").exists() and not (catalog / "customers.csv").exists()


def test_bulk_customers_carry_their_tenant_for_the_collector(catalog: Path) -> None:
    from usagebill.catalog.parse import customer_tenants

    # an empty tenant_id cell is the default tenant, as a customers.yaml item without tenant_id
    write(catalog, "customers.csv", "id,tenant_id,currency\ncus_1,acme,USD\ncus_1,globex,USD\ncus_2,,EUR\n")
    assert customer_tenants(catalog) == {
        "cus_1": frozenset({"acme", "globex"}),
        "cus_2": frozenset({"default"}),
    }
    write(catalog, "customers.csv", "id,tenant_id,currency\ncus_1,bad tenant!,USD\n")
    with pytest.raises(CatalogError, match=r"customers.csv: line 2.tenant_id: "):
        customer_tenants(catalog)
