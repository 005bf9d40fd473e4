"""Catalog input strictness (issue 9): a typo must never change a price silently.

- duplicate keys in any YAML mapping are an error naming the file and the line;
- one percentage scale (percent, 0..100) for percentage charges and discounts, with bounds;
- a price field that the charge's model does not read is an error;
- one error per problem: no follow-on "is required" after a refused value, no "None" in a message,
  no hint suggesting a value that is itself refused.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from usagebill.catalog import CatalogError, parse_catalog

from .scenario_events import SCENARIO_DIR


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(SCENARIO_DIR, target)
    return target


def problems(catalog: Path) -> list[str]:
    with pytest.raises(CatalogError) as info:
        parse_catalog(catalog)
    return [str(issue) for issue in info.value.issues]


def set_charge(catalog: Path, plan_id: str, **fields: object) -> int:
    """Update the first charge of plan `plan_id` (YAML round trip); returns the plan's index."""
    path = catalog / "plans.yaml"
    doc = yaml.safe_load(path.read_text())
    index = next(i for i, p in enumerate(doc["plans"]) if p["id"] == plan_id)
    charge = doc["plans"][index]["versions"][0]["charges"][0]
    for key, value in fields.items():
        if value is None:
            charge.pop(key, None)
        else:
            charge[key] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return index


# -- duplicate keys ---------------------------------------------------------------------------------
def test_two_plans_blocks_are_an_error_naming_file_and_line(catalog: Path) -> None:
    # PyYAML's default loaders keep the second `plans:` and silently drop every plan of the first
    text = (catalog / "plans.yaml").read_text()
    lines_before = text.count("\n")
    (catalog / "plans.yaml").write_text(text + "plans:\n  - {id: extra, currency: USD, versions: []}\n")
    found = problems(catalog)
    assert found == [
        f"plans.yaml: line {lines_before + 1}, column 1: duplicate key 'plans' (first at line 1); YAML would "
        "keep only the last one: remove one or merge them"
    ]


def test_duplicate_key_inside_a_charge(catalog: Path) -> None:
    (catalog / "plans.yaml").write_text(
        "plans:\n"
        "  - id: payg\n"
        "    currency: USD\n"
        "    versions:\n"
        "      - version: 1\n"
        "        effective_from: 2025-01-01\n"
        "        charges:\n"
        '          - {id: gpu, type: usage, meter: gpu_ms, model: per_unit, unit_price: "0.01", unit_price: "0.02"}\n'
    )
    (found,) = problems(catalog)
    assert found.startswith("plans.yaml: line 8, column ")
    assert "duplicate key 'unit_price' (first at line 8)" in found


def test_duplicate_keys_in_other_files_and_merge_keys_still_work(catalog: Path) -> None:
    (catalog / "customers.yaml").write_text(
        "base: &base {currency: USD, country: US}\n"
        "customers:\n"
        "  - {<<: *base, id: c1}\n"  # a YAML merge key is not a duplicate
        "  - {id: c2, currency: USD, currency: EUR}\n"
    )
    found = problems(catalog)
    assert found == [
        "customers.yaml: line 4, column 29: duplicate key 'currency' (first at line 4); YAML would keep only "
        "the last one: remove one or merge them"
    ]  # and no cascade of "unknown customer" errors from the other files


# -- one percentage scale ---------------------------------------------------------------------------
@pytest.mark.parametrize("rate", ["100.5", "290", "-1"])
def test_percentage_charge_rate_outside_the_percent_scale(catalog: Path, rate: str) -> None:
    index = set_charge(catalog, "payments", rate=rate)
    (found,) = problems(catalog)
    path = f"plans.yaml: plans[{index}].versions[0].charges[0].rate: "
    if rate.startswith("-"):
        assert found == f"{path}-1 must be at least 0" or "percent scale" in found
    else:
        assert found == (
            f"{path}{rate} is outside the catalog's percent scale: write percentages in percent from 0 to 100 "
            '("2.9" = 2.9 %, "20" = 20 %)'
        )


def test_discount_percent_outside_the_percent_scale(catalog: Path) -> None:
    path = catalog / "discounts.yaml"
    doc = yaml.safe_load(path.read_text())
    index = next(i for i, d in enumerate(doc["discounts"]) if d["type"] == "percentage")
    doc["discounts"][index]["percent"] = "150"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    # one error (no follow-on "is required for a percentage discount")
    assert problems(catalog) == [
        f"discounts.yaml: discounts[{index}].percent: 150 is outside the catalog's percent scale: write "
        'percentages in percent from 0 to 100 ("2.9" = 2.9 %, "20" = 20 %)'
    ]


# -- fields that do not belong to the model -----------------------------------------------------------
@pytest.mark.parametrize(
    ("plan_id", "field", "value", "model"),
    [
        ("payg", "package_size", "100", "per_unit"),
        ("payg", "free_events", 3, "per_unit"),
        ("lago_package", "unit_price", "1", "package"),
        ("lago_package", "block_rounding", "up", "package"),
        ("payments", "unit_size", "1000", "percentage"),
        ("payments", "included_units", "10", "percentage"),
        ("stripe_graduated", "rate", "2", "graduated"),
        ("payg", "tiers", [{"up_to": None, "unit_price": "1"}], "per_unit"),
    ],
)
def test_field_not_of_the_model_is_an_error(
    catalog: Path, plan_id: str, field: str, value: object, model: str
) -> None:
    index = set_charge(catalog, plan_id, **{field: value})
    (found,) = problems(catalog)
    assert found.startswith(
        f"plans.yaml: plans[{index}].versions[0].charges[0].{field}: does not belong to model {model}"
    ), found


def test_amount_on_a_usage_charge_and_unit_price_on_a_fee(catalog: Path) -> None:
    usage = set_charge(catalog, "payg", amount="5")
    fee = set_charge(catalog, "flat100", unit_price="1")
    found = problems(catalog)
    assert [f.split(": does not belong")[0] for f in found] == [
        f"plans.yaml: plans[{usage}].versions[0].charges[0].amount",
        f"plans.yaml: plans[{fee}].versions[0].charges[0].unit_price",
    ]


# -- one error per problem ----------------------------------------------------------------------------
def test_refused_required_value_is_one_error(catalog: Path) -> None:
    # a YAML float refused for package_size used to add "package_size: is required for model package"
    index = set_charge(catalog, "lago_package", package_size=100.0)
    assert problems(catalog) == [
        f"plans.yaml: plans[{index}].versions[0].charges[0].package_size: 100.0 is a YAML float; write the "
        'amount as a quoted string, e.g. "100.0"'
    ]


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_inf_and_nan_get_no_hint_that_is_itself_refused(catalog: Path, value: float) -> None:
    index = set_charge(catalog, "payg", unit_price=value)
    (found,) = problems(catalog)
    assert found.startswith(f"plans.yaml: plans[{index}].versions[0].charges[0].unit_price: ")
    assert "inf" not in found.split(": ", 2)[2].split(" is not")[1]
    assert "nan" not in found.split(": ", 2)[2].split(" is not")[1]
    assert 'such as "0.01"' in found


def test_float_hint_is_a_valid_amount(catalog: Path) -> None:
    # 1e-05 as a hint would itself be refused (no exponent allowed): the hint is 0.00001
    index = set_charge(catalog, "payg", unit_price=1e-05)
    assert problems(catalog) == [
        f"plans.yaml: plans[{index}].versions[0].charges[0].unit_price: 1e-05 is a YAML float; write the "
        'amount as a quoted string, e.g. "0.00001"'
    ]


def test_no_none_and_no_follow_on_errors_for_unknown_plan_or_bad_period(catalog: Path) -> None:
    path = catalog / "subscriptions.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["subscriptions"][0]["plan_id"] = "nope"
    doc["subscriptions"][1]["billing_period"] = "weekly"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    found = problems(catalog)
    assert found == [
        "subscriptions.yaml: subscriptions[0].plan_id: unknown plan 'nope'; define it in plans.yaml",
        "subscriptions.yaml: subscriptions[1].billing_period: 'weekly' is not one of monthly, quarterly, annual",
    ]
    assert not any("None" in f for f in found)


def test_unknown_customer_currency_is_one_error(catalog: Path) -> None:
    path = catalog / "customers.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["customers"][0]["currency"] = "XXY"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    found = problems(catalog)
    assert found == ["customers.yaml: customers[0].currency: unknown currency 'XXY'; use an ISO 4217 code"]


# -- bill_charges_monthly / bill_monthly / block_rounding fields ---------------------------------------
def test_monthly_usage_settings_are_checked(catalog: Path) -> None:
    path = catalog / "plans.yaml"
    doc = yaml.safe_load(path.read_text())
    by_id = {p["id"]: (i, p) for i, p in enumerate(doc["plans"])}
    payg_index, payg = by_id["payg"]
    payg["bill_charges_monthly"] = True  # a monthly plan
    q_index, quarterly = by_id["quarterly_calls_monthly"]
    quarterly["versions"][0]["charges"][0]["bill_monthly"] = True  # a recurring fee
    quarterly["versions"][0]["charges"].append(
        {"id": "calls2", "type": "usage", "meter": "api_calls", "model": "per_unit", "unit_price": "2"}
    )  # the same meter as `calls` (monthly) but billed with the quarter
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    found = problems(catalog)
    assert [f.split(": ", 2)[1] for f in found] == [
        f"plans[{payg_index}].bill_charges_monthly",
        f"plans[{q_index}].versions[0].charges[0].bill_monthly",
        f"plans[{q_index}].versions[0].charges[3].bill_monthly",
    ], found


def test_block_rounding_tiers_end_on_block_boundaries(catalog: Path) -> None:
    path = catalog / "plans.yaml"
    doc = yaml.safe_load(path.read_text())
    index = next(i for i, p in enumerate(doc["plans"]) if p["id"] == "graduated_blocks_up")
    doc["plans"][index]["versions"][0]["charges"][0]["tiers"][0]["up_to"] = "250"
    doc["plans"][index]["versions"][0]["charges"][0]["block_rounding"] = "nearest"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert problems(catalog) == [
        f"plans.yaml: plans[{index}].versions[0].charges[0].block_rounding: 'nearest' is not one of none, up, down"
    ]
    doc["plans"][index]["versions"][0]["charges"][0]["block_rounding"] = "up"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert problems(catalog) == [
        f"plans.yaml: plans[{index}].versions[0].charges[0].tiers[0].up_to: 250 is not a whole number of "
        "blocks of unit_size 100; with block_rounding up every tier must end on a block boundary"
    ]
