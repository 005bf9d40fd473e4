"""Catalog validation: every error names the file, the path inside it and what is wrong; nothing
is written from a catalog that does not validate; the normalized Parquet output is deterministic."""

from __future__ import annotations

import hashlib
import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from usagebill.catalog import EXAMPLES_DIR, CatalogError, load_catalog, parse_catalog
from usagebill.catalog.cli import main as catalog_main

from .scenario_events import SCENARIO_DIR


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(SCENARIO_DIR, target)
    return target


def edit(catalog: Path, name: str, change) -> None:
    path = catalog / name
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def problems(catalog: Path) -> list[str]:
    with pytest.raises(CatalogError) as info:
        parse_catalog(catalog)
    return [str(issue) for issue in info.value.issues]


def plan(doc: dict, plan_id: str) -> dict:
    return next(p for p in doc["plans"] if p["id"] == plan_id)


def test_scenario_and_example_catalogs_are_valid(tmp_path: Path) -> None:
    assert len(parse_catalog(SCENARIO_DIR).tables["subscriptions"]) == 49
    # the demo generator copies the gpu_cloud example and adds customers + subscriptions
    shutil.copytree(EXAMPLES_DIR / "gpu_cloud", tmp_path / "gpu")
    (tmp_path / "gpu" / "customers.yaml").write_text(
        "customers:\n  - {id: cus_1, name: A, currency: JPY, country: JP, created_at: 2026-05-03}\n"
    )
    (tmp_path / "gpu" / "subscriptions.yaml").write_text(
        "subscriptions:\n  - {id: sub_1, customer_id: cus_1, plan_id: growth_jpy, start_date: 2026-05-03,"
        " billing_anchor_day: 1, trial_days: 0}\n"
    )
    tables = parse_catalog(tmp_path / "gpu").tables
    assert {p["plan_id"] for p in tables["plans"]} >= {
        "payg",
        "starter",
        "growth",
        "enterprise_annual",
        "payg_eur",
        "growth_jpy",
    }


def test_tier_error_names_file_and_full_path(catalog: Path) -> None:
    # the 3rd plan (index 2) is stripe_graduated: make tier 2's up_to lower than tier 1's
    def change(doc: dict) -> None:
        assert doc["plans"][2]["id"] == "stripe_graduated"
        doc["plans"][2]["versions"][0]["charges"][0]["tiers"][1]["up_to"] = "3"

    edit(catalog, "plans.yaml", change)
    assert problems(catalog) == [
        "plans.yaml: plans[2].versions[0].charges[0].tiers[1].up_to: 3 must be greater than the previous "
        "tier's up_to (5)"
    ]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: plan(d, "payg")["versions"][0]["charges"][0].update(unit_price=0.01),
            "plans.yaml: plans[0].versions[0].charges[0].unit_price: 0.01 is a YAML float; write the amount as a quoted",
        ),
        (
            lambda d: plan(d, "payg")["versions"][0]["charges"][0].update(meter="gpu_hours"),
            "plans.yaml: plans[0].versions[0].charges[0].meter: unknown meter 'gpu_hours'; define it in meters.yaml",
        ),
        (
            lambda d: plan(d, "payg")["versions"][0]["charges"][0].update(model="tiered"),
            "plans.yaml: plans[0].versions[0].charges[0].model: 'tiered' is not one of per_unit, package, graduated",
        ),
        (
            lambda d: plan(d, "payg")["versions"][0]["charges"][0].update(unit_prise="1"),
            "plans.yaml: plans[0].versions[0].charges[0].unit_prise: unknown field 'unit_prise'",
        ),
        (
            lambda d: plan(d, "stripe_volume")["versions"][0]["charges"][0]["tiers"][2].update(up_to="20"),
            "plans.yaml: plans[1].versions[0].charges[0].tiers[2].up_to: the last tier must be open-ended",
        ),
        (
            lambda d: plan(d, "lago_package")["versions"][0]["charges"][0].pop("package_size"),
            "plans.yaml: plans[5].versions[0].charges[0].package_size: is required for model package",
        ),
        (
            lambda d: plan(d, "payg").update(currency="XYZ"),
            "plans.yaml: plans[0].currency: unknown currency 'XYZ'",
        ),
        (
            lambda d: plan(d, "versioned")["versions"][1].update(effective_from="2024-01-01"),
            "plans.yaml: plans[22].versions[1].effective_from: 2024-01-01 must be after the previous version's",
        ),
    ],
)
def test_plan_errors(catalog: Path, mutate, expected: str) -> None:
    edit(catalog, "plans.yaml", mutate)
    found = problems(catalog)
    assert any(p.startswith(expected) for p in found), found


def test_cross_file_errors(catalog: Path) -> None:
    def subs(doc: dict) -> None:
        doc["subscriptions"][0]["plan_id"] = "nope"
        doc["subscriptions"][1]["end_date"] = "2020-01-01"
        doc["subscriptions"][2]["billing_anchor_day"] = 31
        doc["subscriptions"][3]["customer_id"] = "c_jpy"  # a USD plan for a JPY customer
        doc["subscriptions"][7]["customer_id"] = "c_vol_25"  # a 2nd subscription pricing meter `units`

    edit(catalog, "subscriptions.yaml", subs)
    edit(catalog, "credits.yaml", lambda d: d["credit_grants"][0].update(amount="10.001"))
    edit(catalog, "meters.yaml", lambda d: d["meters"][1].update(aggregation="median"))
    found = problems(catalog)
    expected = [
        "subscriptions.yaml: subscriptions[0].plan_id: unknown plan 'nope'; define it in plans.yaml",
        "subscriptions.yaml: subscriptions[1].end_date: 2020-01-01 must be after start_date 2026-05-01",
        "subscriptions.yaml: subscriptions[2].billing_anchor_day: 31 must be at most 28",
        "subscriptions.yaml: subscriptions[3].plan_id: plan 'stripe_volume' is priced in USD but customer "
        "'c_jpy' pays in JPY",
        "credits.yaml: credit_grants[0].amount: 10.001 USD is finer than the currency's minor unit (2 places)",
        "meters.yaml: meters[1].aggregation: 'median' is not one of sum, count, max, unique_count, latest",
        "subscriptions.yaml: subscriptions[7]: sub_c_grad_5 overlaps sub_c_vol_25 of the same customer and both "
        "price meter(s) units: that usage would be billed twice",
    ]
    for prefix in expected:
        assert any(p.startswith(prefix) for p in found), (prefix, found)


def test_missing_file_and_bad_yaml(catalog: Path) -> None:
    (catalog / "meters.yaml").unlink()
    (catalog / "discounts.yaml").write_text("discounts: [\n")
    found = problems(catalog)
    assert any(p.startswith("meters.yaml: file is missing") for p in found)
    assert any(p.startswith("discounts.yaml: line ") and "is not valid YAML" in p for p in found)


def test_invalid_catalog_writes_nothing_and_cli_exits_1(
    catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(catalog, "plans.yaml", lambda d: plan(d, "payg")["versions"][0]["charges"][0].update(unit_size="0"))
    raw = tmp_path / "raw"
    assert catalog_main(["load", "--catalog", str(catalog), "--raw-dir", str(raw)]) == 1
    assert not raw.exists()
    err = capsys.readouterr().err
    assert "plans.yaml: plans[0].versions[0].charges[0].unit_size: 0 must be greater than 0" in err
    assert "usagebill catalog validate" in err  # says what to do next


def test_normalized_parquet_is_deterministic_and_exact(tmp_path: Path) -> None:
    first = load_catalog(SCENARIO_DIR, tmp_path / "a")
    load_catalog(SCENARIO_DIR, tmp_path / "b")

    def digest(root: Path) -> dict[str, str]:
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((root / "catalog").iterdir())
        }

    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    # one price row per charge, plus one per dimensional price: 31 plans with 47 charges, gpu_by_type's
    # gpu has a default and an h100 price -> 48 rows
    assert first["plan_charges"] == 48 and first["currencies"] >= 28
    tiers = pq.read_table(tmp_path / "a" / "catalog" / "charge_tiers.parquet").to_pylist()
    graduated = [t for t in tiers if t["price_id"] == "stripe_graduated:v1:units"]
    # amounts are exact decimal strings (no float): lower bounds chain 0 -> 5 -> 10, last tier open
    assert [(t["lower_bound"], t["up_to"], t["unit_price"]) for t in graduated] == [
        ("0", "5", "7.00"),
        ("5", "10", "6.50"),
        ("10", None, "6.00"),
    ]
    assert all(isinstance(Decimal(t["unit_price"]), Decimal) for t in graduated)
